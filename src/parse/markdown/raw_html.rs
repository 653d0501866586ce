//! Raw HTML read as a browser reads it, for the Markdown pass and the e-mail sanitiser.
//!
//! Editors may write HTML inside Markdown (`<abbr title="…">`, `<kbd>`, `<br>`, `<details>`),
//! but nothing that runs script, sends data, embeds other sites or changes how the rest of the
//! page is parsed may reach a reader. Patterns miss what browsers accept (`<ScRiPt>`,
//! `java&#x09;script:`, unquoted attributes, a tag left open so the next paragraph becomes its
//! attributes), so every fragment goes through html5ever's tokenizer — the HTML standard's own
//! algorithm — and the checks read its tokens.
//!
//! Positions come from feeding the tokenizer up to one `>` at a time: a tag or a comment is
//! complete exactly when the `>` that ends it has been read, so its end is known, and its start
//! is the `<` that opens it after the previous token.

use std::borrow::Cow;
use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

/// An attribute as the browser sees it: name in lower case, value with entities decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub name: String,
    pub value: String,
    /// Byte offset of the name in the input, where the source spells it recognisably.
    pub at: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Start {
        name: String,
        attrs: Vec<Attr>,
    },
    End {
        name: String,
    },
    Comment(String),
    Doctype,
    /// Text (character data, also inside `<title>` or `<style>`), entities decoded.
    Text(String),
}

/// A token and its byte range in the input (for text: empty, at the end of the token before).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned {
    pub token: Tok,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Default)]
pub struct Tokens {
    pub tokens: Vec<Spanned>,
    /// The input ends outside every tag and comment, and outside `<script>`, `<style>`,
    /// `<title>` and their kin: what follows it is read as it would be on its own.
    pub complete: bool,
    /// The raw-text element (`style`, `script`, `title`, …) still open at the end, if any.
    pub open_raw_text: Option<String>,
}

/// Stands after the input to see whether the tokenizer is back in its data state.
const SENTINEL_NAME: &str = "ozg-site-end-of-fragment";
const SENTINEL: &str = "<ozg-site-end-of-fragment>";

#[derive(Default)]
struct Sink {
    tokens: RefCell<Vec<Tok>>,
    open_raw_text: RefCell<Option<String>>,
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut tokens = self.tokens.borrow_mut();
        match token {
            Token::TagToken(tag) => {
                let name = tag.name.to_string();
                let result = match tag.kind {
                    TagKind::StartTag => raw_text_state(&name),
                    TagKind::EndTag => TokenSinkResult::Continue,
                };
                match tag.kind {
                    TagKind::StartTag => {
                        if !matches!(result, TokenSinkResult::Continue) {
                            *self.open_raw_text.borrow_mut() = Some(name.clone());
                        }
                        let attrs = tag
                            .attrs
                            .iter()
                            .map(|a| Attr {
                                name: a.name.local.to_string(),
                                value: a.value.to_string(),
                                at: None,
                            })
                            .collect();
                        tokens.push(Tok::Start { name, attrs });
                    }
                    TagKind::EndTag => {
                        let mut open = self.open_raw_text.borrow_mut();
                        if open.as_deref() == Some(name.as_str()) {
                            *open = None;
                        }
                        tokens.push(Tok::End { name });
                    }
                }
                return result;
            }
            Token::CommentToken(c) => tokens.push(Tok::Comment(c.to_string())),
            Token::CharacterTokens(t) => match tokens.last_mut() {
                Some(Tok::Text(text)) => text.push_str(&t),
                _ => tokens.push(Tok::Text(t.to_string())),
            },
            Token::DoctypeToken(_) => tokens.push(Tok::Doctype),
            Token::NullCharacterToken | Token::EOFToken | Token::ParseError(_) => {}
        }
        TokenSinkResult::Continue
    }
}

/// What the tree builder tells the tokenizer after these start tags in HTML content. Browsers run
/// with scripting on, so `<noscript>` is raw text too (mXSS payloads rely on parsers that differ).
fn raw_text_state(name: &str) -> TokenSinkResult<()> {
    match name {
        "title" | "textarea" => TokenSinkResult::RawData(RawKind::Rcdata),
        "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => {
            TokenSinkResult::RawData(RawKind::Rawtext)
        }
        "script" => TokenSinkResult::RawData(RawKind::ScriptData),
        "plaintext" => TokenSinkResult::Plaintext,
        _ => TokenSinkResult::Continue,
    }
}

fn run(tokenizer: &Tokenizer<Sink>, queue: &BufferQueue) {
    // Only a sink asking to run a script stops the tokenizer early; this one never does.
    while let html5ever::TokenizerResult::Script(()) = tokenizer.feed(queue) {}
}

/// Tokenizes `html` as the body of a page would be, with the byte range of every tag and comment.
pub fn tokenize(html: &str) -> Tokens {
    tokenize_in(html, true)
}

/// Tokenizes `html` in one go: the same tokens, several times faster, but every range is empty.
fn tokenize_unplaced(html: &str) -> Tokens {
    tokenize_in(html, false)
}

fn tokenize_in(html: &str, placed: bool) -> Tokens {
    let tokenizer = Tokenizer::new(Sink::default(), TokenizerOpts::default());
    let queue = BufferQueue::default();
    let mut out = Tokens::default();
    let mut fed = 0;
    // Where the next token can start: the end of the previous one.
    let mut from = 0;
    let chunk_ends = html
        .match_indices('>')
        .map(|(i, _)| i + 1)
        .filter(|_| placed)
        .chain(std::iter::once(html.len()));
    for end in chunk_ends {
        // `>` is ASCII, so every chunk boundary is a character boundary.
        let Some(chunk) = html.get(fed..end).filter(|c| !c.is_empty()) else {
            continue;
        };
        queue.push_back(StrTendril::from_slice(chunk));
        run(&tokenizer, &queue);
        fed = end;
        let done = std::mem::take(&mut *tokenizer.sink.tokens.borrow_mut());
        for token in done {
            out.tokens.push(if placed {
                place(html, token, &mut from, end)
            } else {
                Spanned {
                    token,
                    start: 0,
                    end: 0,
                }
            });
        }
    }
    queue.push_back(StrTendril::from_slice(SENTINEL));
    run(&tokenizer, &queue);
    tokenizer.end();
    let after: Vec<Tok> = tokenizer.sink.tokens.borrow_mut().drain(..).collect();
    let mut rest = after.into_iter().peekable();
    // Text still held back belongs to the input.
    while let Some(Tok::Text(text)) = rest.next_if(|t| matches!(t, Tok::Text(_))) {
        // Inside `<title>` or `<style>` the sentinel itself is text; it is not the input's.
        let text = text
            .strip_suffix(SENTINEL)
            .map_or(text.clone(), str::to_string);
        out.tokens.push(Spanned {
            token: Tok::Text(text),
            start: from,
            end: from,
        });
    }
    out.complete = matches!(
        rest.next(),
        Some(Tok::Start { name, attrs }) if name == SENTINEL_NAME && attrs.is_empty()
    );
    out.open_raw_text = tokenizer.sink.open_raw_text.borrow().clone();
    out
}

/// Gives `token`, completed by the `>` just before `end`, its range, and moves `from` past it.
fn place(html: &str, token: Tok, from: &mut usize, end: usize) -> Spanned {
    if let Tok::Text(_) = token {
        return Spanned {
            token,
            start: *from,
            end: *from,
        };
    }
    let region = html.get(*from..end).unwrap_or_default();
    let start = *from + find_start(region, &token).unwrap_or(0);
    *from = end;
    let token = match token {
        Tok::Start { name, attrs } => {
            let source = html.get(start..end).unwrap_or_default();
            Tok::Start {
                attrs: locate_attributes(source, start, attrs),
                name,
            }
        }
        other => other,
    };
    Spanned { token, start, end }
}

/// Where in `region` (the text between the previous token and this one's `>`) `token` starts.
/// Before it there is only character data, in which a `<` followed by the tag's name always
/// starts a tag, so the first such `<` is this one.
fn find_start(region: &str, token: &Tok) -> Option<usize> {
    let bytes = region.as_bytes();
    let opens = region.match_indices('<').map(|(i, _)| i);
    match token {
        Tok::Start { name, .. } => {
            let mut opens = opens;
            opens.find(|&i| names_tag(bytes, i + 1, name))
        }
        Tok::End { name } => {
            let mut opens = opens;
            opens.find(|&i| bytes.get(i + 1) == Some(&b'/') && names_tag(bytes, i + 2, name))
        }
        Tok::Comment(_) | Tok::Doctype => {
            let mut opens = opens;
            opens.find(|&i| matches!(bytes.get(i + 1), Some(b'!' | b'/' | b'?')))
        }
        Tok::Text(_) => None,
    }
}

/// Whether `bytes[at..]` spells `name` (in any case) followed by the end of a tag name.
fn names_tag(bytes: &[u8], at: usize, name: &str) -> bool {
    let Some(candidate) = bytes.get(at..at + name.len()) else {
        return false;
    };
    candidate.eq_ignore_ascii_case(name.as_bytes())
        && bytes
            .get(at + name.len())
            .is_none_or(|b| b.is_ascii_whitespace() || matches!(b, b'/' | b'>'))
}

/// The first index from `i` on whose byte is not `keep` (or the end of `bytes`).
fn skip_while(bytes: &[u8], mut i: usize, keep: impl Fn(u8) -> bool) -> usize {
    while bytes.get(i).copied().is_some_and(&keep) {
        i += 1;
    }
    i
}

/// Finds each attribute's name in the tag's source. Only for pointing at it: what the attribute
/// *is* comes from the tokenizer. Values are skipped as the tokenizer skips them, so a name inside
/// another attribute's quoted value is not taken for the attribute.
fn locate_attributes(source: &str, offset: usize, mut attrs: Vec<Attr>) -> Vec<Attr> {
    let bytes = source.as_bytes();
    let byte = |i: usize| bytes.get(i).copied();
    let space = |b: u8| matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ');
    let mut found: Vec<(String, usize)> = Vec::new();
    let mut i = skip_while(bytes, 1, |b| !space(b) && !matches!(b, b'/' | b'>'));
    loop {
        i = skip_while(bytes, i, |b| space(b) || b == b'/');
        if byte(i).is_none_or(|b| b == b'>') {
            break;
        }
        let name_start = i;
        // A name may begin with `=`; after that, `=` ends it.
        i = skip_while(bytes, i + 1, |b| {
            !space(b) && !matches!(b, b'/' | b'>' | b'=')
        });
        if let Some(name) = source.get(name_start..i) {
            found.push((name.to_ascii_lowercase(), offset + name_start));
        }
        i = skip_while(bytes, i, space);
        if byte(i) != Some(b'=') {
            continue;
        }
        i = skip_while(bytes, i + 1, space);
        i = match byte(i) {
            Some(q @ (b'"' | b'\'')) => skip_while(bytes, i + 1, |b| b != q) + 1,
            _ => skip_while(bytes, i, |b| !space(b) && b != b'>'),
        };
    }
    for attr in &mut attrs {
        if let Some(k) = found.iter().position(|(n, _)| *n == attr.name) {
            attr.at = Some(found.remove(k).1);
        }
    }
    attrs
}

/// What a site allows beyond the safe subset.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policy<'a> {
    /// Address prefixes (`https://www.youtube-nocookie.com/embed/`) an `<iframe src>` may start with.
    pub trusted_embeds: &'a [String],
}

/// Why an element may not be written as raw HTML; each reason has its own advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Runs script.
    Script,
    /// Collects or sends what readers type.
    Form,
    /// Shows another site's or program's content inside the page.
    Embed,
    /// Changes the whole page: its base address, redirects, style sheets.
    Page,
    /// Makes browsers read what follows differently (SVG, MathML, raw-text elements): the way
    /// most sanitiser bypasses work.
    Parsing,
}

/// The elements that never pass, with why. `iframe` passes only as a trusted embed.
pub fn forbidden_element(name: &str) -> Option<Reason> {
    Some(match name {
        "script" | "noscript" => Reason::Script,
        "form" | "input" | "button" | "select" | "textarea" | "keygen" | "isindex" => Reason::Form,
        "iframe" | "frame" | "frameset" | "object" | "embed" | "applet" | "param" | "portal"
        | "fencedframe" => Reason::Embed,
        "base" | "meta" | "link" | "style" => Reason::Page,
        "svg" | "math" | "template" | "xmp" | "plaintext" | "noembed" | "noframes" => {
            Reason::Parsing
        }
        _ => return None,
    })
}

/// Attributes a trusted embed may have besides `src`. Not `name`: a link with that `target`
/// could load any address into the frame.
const EMBED_ATTRIBUTES: &[&str] = &[
    "title",
    "width",
    "height",
    "allow",
    "allowfullscreen",
    "loading",
    "referrerpolicy",
    "sandbox",
    "frameborder",
    "class",
    "id",
    "style",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Element {
        name: String,
        reason: Reason,
    },
    EventHandler {
        element: String,
        attribute: String,
    },
    ScriptUrl {
        /// The attribute it is in; `None` for a Markdown link or image.
        attribute: Option<String>,
        scheme: &'static str,
    },
    UnsafeStyle {
        element: String,
        what: &'static str,
    },
    UntrustedEmbed {
        src: Option<String>,
    },
    EmbedAttribute {
        attribute: String,
    },
    /// The fragment ends inside a tag, a comment or a raw-text element: what follows would be read
    /// as part of it.
    Unterminated {
        open: Option<String>,
    },
}

/// A problem at a byte range of the checked text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub at: usize,
    pub len: usize,
    pub problem: Problem,
}

/// An element that later stages judge: e-mails cannot show frames, and their images need alt text
/// and an address mail programs can load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub src: Option<String>,
    pub alt: Option<String>,
    pub at: usize,
    /// Where the start tag ends (after its `>`).
    pub end: usize,
}

#[derive(Debug, Default)]
pub struct Checked {
    pub findings: Vec<Finding>,
    /// The `<img>` and `<iframe>` elements that passed.
    pub elements: Vec<Element>,
}

/// Every problem of one fragment of raw HTML, and its images and frames.
pub fn check(fragment: &str, policy: &Policy<'_>) -> Checked {
    // Positions cost a tokenizer call per `>`; most fragments need none.
    let quick = check_tokens(fragment, &tokenize_unplaced(fragment), policy);
    if quick.findings.is_empty() && quick.elements.is_empty() {
        return quick;
    }
    check_tokens(fragment, &tokenize(fragment), policy)
}

fn check_tokens(fragment: &str, tokens: &Tokens, policy: &Policy<'_>) -> Checked {
    let mut out = Checked::default();
    for spanned in &tokens.tokens {
        let Tok::Start { name, attrs } = &spanned.token else {
            continue;
        };
        let tag_at = spanned.start;
        let tag_len = name.len() + 1;
        let trusted_embed = name == "iframe"
            && attrs
                .iter()
                .find(|a| a.name == "src")
                .is_some_and(|src| is_trusted_embed(&src.value, policy.trusted_embeds));
        if let Some(reason) = forbidden_element(name).filter(|_| !trusted_embed) {
            let problem = if name == "iframe" {
                Problem::UntrustedEmbed {
                    src: attrs
                        .iter()
                        .find(|a| a.name == "src")
                        .map(|a| a.value.clone()),
                }
            } else {
                Problem::Element {
                    name: name.clone(),
                    reason,
                }
            };
            out.findings.push(Finding {
                at: tag_at,
                len: tag_len,
                problem,
            });
            continue;
        }
        for attr in attrs {
            let (at, len) = (attr.at.unwrap_or(tag_at), attr.name.len().max(1));
            if let Some(problem) = attribute_problem(name, attr, trusted_embed) {
                out.findings.push(Finding { at, len, problem });
            }
        }
        if matches!(name.as_str(), "img" | "iframe") {
            let value = |n: &str| attrs.iter().find(|a| a.name == n).map(|a| a.value.clone());
            out.elements.push(Element {
                name: name.clone(),
                src: value("src"),
                alt: value("alt"),
                at: tag_at,
                end: spanned.end,
            });
        }
    }
    let open_is_reported = tokens
        .open_raw_text
        .as_deref()
        .is_some_and(|n| forbidden_element(n).is_some());
    if !tokens.complete && !open_is_reported {
        let from = tokens
            .tokens
            .iter()
            .rev()
            .find(|t| !matches!(t.token, Tok::Text(_)))
            .map_or(0, |t| t.end);
        let at = fragment
            .get(from..)
            .and_then(|rest| rest.find('<'))
            .map_or(from, |i| from + i);
        out.findings.push(Finding {
            at,
            len: 1,
            problem: Problem::Unterminated {
                open: tokens.open_raw_text.clone(),
            },
        });
    }
    out
}

fn attribute_problem(element: &str, attr: &Attr, trusted_embed: bool) -> Option<Problem> {
    let name = attr.name.as_str();
    if name.starts_with("on") {
        return Some(Problem::EventHandler {
            element: element.to_string(),
            attribute: name.to_string(),
        });
    }
    if trusted_embed && name != "src" && !EMBED_ATTRIBUTES.contains(&name) {
        return Some(Problem::EmbedAttribute {
            attribute: name.to_string(),
        });
    }
    if is_url_attribute(name)
        && let Some(scheme) = url_candidates(&attr.value).find_map(dangerous_scheme)
    {
        return Some(Problem::ScriptUrl {
            attribute: Some(name.to_string()),
            scheme,
        });
    }
    if name == "style"
        && let Some(what) = unsafe_css(&attr.value)
    {
        return Some(Problem::UnsafeStyle {
            element: element.to_string(),
            what,
        });
    }
    None
}

/// Attributes browsers follow or load as an address (`xlink:href`, `formaction`, `srcset`, …).
/// Names ending in `src`/`href` count too, so lazy loaders' `data-src` is not a way around.
pub fn is_url_attribute(name: &str) -> bool {
    let local = name.rsplit(':').next().unwrap_or(name);
    matches!(
        local,
        "action"
            | "formaction"
            | "srcset"
            | "imagesrcset"
            | "data"
            | "codebase"
            | "cite"
            | "background"
            | "poster"
            | "longdesc"
            | "manifest"
            | "ping"
            | "usemap"
            | "icon"
            | "classid"
            | "archive"
            | "profile"
            | "base"
            | "content"
    ) || local.ends_with("src")
        || local.ends_with("href")
}

/// The value itself and each comma- or space-separated part (`srcset`, `ping`, `archive`).
fn url_candidates(value: &str) -> impl Iterator<Item = &str> {
    std::iter::once(value).chain(
        value
            .split([',', ' ', '\t', '\n', '\r', '\x0c'])
            .filter(|p| !p.is_empty()),
    )
}

/// The scheme of `url` if it is one that runs code or hides content (`javascript:`, `vbscript:`,
/// `data:`), read as browsers read it: case does not matter, and control characters and
/// whitespace anywhere before the colon are ignored (browsers drop tabs and newlines, older ones
/// more; ignoring all of them only refuses more).
pub fn dangerous_scheme(url: &str) -> Option<&'static str> {
    let mut scheme = String::new();
    for c in url.chars() {
        if c == ':' {
            return match scheme.as_str() {
                "javascript" => Some("javascript"),
                "vbscript" => Some("vbscript"),
                "data" => Some("data"),
                _ => None,
            };
        }
        if c.is_control() || c.is_whitespace() {
            continue;
        }
        if !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) || scheme.len() > 16 {
            return None;
        }
        scheme.push(c.to_ascii_lowercase());
    }
    None
}

/// Whether an `<iframe src>` starts with one of the trusted prefixes and stays below it. Exact
/// spelling only: `..` segments (also as `%2e`), backslashes, whitespace and control characters
/// could lead a browser elsewhere on the host or confuse the prefix, so they never match.
pub fn is_trusted_embed(src: &str, prefixes: &[String]) -> bool {
    let src = src.trim_matches(|c: char| c.is_ascii_control() || c == ' ');
    if src
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return false;
    }
    prefixes.iter().any(|prefix| {
        src.strip_prefix(prefix.as_str()).is_some_and(|rest| {
            let path = rest.split(['?', '#']).next().unwrap_or_default();
            path.split('/').all(|segment| {
                let segment = segment.to_ascii_lowercase().replace("%2e", ".");
                segment != "." && segment != ".."
            })
        })
    })
}

/// CSS functions that only compute a value; every other function may load something
/// (`url()`, `image-set()`, `src()`) or, in old browsers, run code (`expression()`).
const HARMLESS_CSS_FUNCTIONS: &[&str] = &[
    // Colours
    "rgb",
    "rgba",
    "hsl",
    "hsla",
    "hwb",
    "lab",
    "lch",
    "oklab",
    "oklch",
    "color",
    "color-mix",
    // Numbers
    "calc",
    "min",
    "max",
    "clamp",
    "abs",
    "round",
    "var",
    "env",
    // Gradients (drawn, not loaded)
    "linear-gradient",
    "radial-gradient",
    "conic-gradient",
    "repeating-linear-gradient",
    "repeating-radial-gradient",
    "repeating-conic-gradient",
    // Transforms
    "translate",
    "translatex",
    "translatey",
    "translatez",
    "translate3d",
    "scale",
    "scalex",
    "scaley",
    "scalez",
    "scale3d",
    "rotate",
    "rotatex",
    "rotatey",
    "rotatez",
    "rotate3d",
    "skew",
    "skewx",
    "skewy",
    "matrix",
    "matrix3d",
    "perspective",
    // Filters other than url(#…)
    "blur",
    "brightness",
    "contrast",
    "drop-shadow",
    "grayscale",
    "hue-rotate",
    "invert",
    "opacity",
    "saturate",
    "sepia",
    // Layout and timing
    "repeat",
    "minmax",
    "fit-content",
    "cubic-bezier",
    "steps",
    "counter",
    "counters",
];

/// Words that load or run something wherever they stand in a declaration.
const UNSAFE_CSS_WORDS: &[&str] = &[
    "expression",
    "behavior",
    "-moz-binding",
    "@import",
    "javascript:",
    "vbscript:",
    "progid:",
];

/// Why a CSS declaration list (a `style` attribute) loads or runs something, if it does: a
/// function other than the harmless ones (`url(` above all), `expression`, `behavior`,
/// `-moz-binding`, `@import`. Read after decoding CSS escapes (`\75 rl(` is `url(`) and removing
/// comments, in lower case.
pub fn unsafe_css(css: &str) -> Option<&'static str> {
    let plain = normalise_css(css);
    let squeezed = plain.replace(' ', "");
    if let Some(word) = UNSAFE_CSS_WORDS.iter().find(|w| squeezed.contains(**w)) {
        return Some(*word);
    }
    let bytes = plain.as_bytes();
    for (i, _) in plain.match_indices('(') {
        let name_start = bytes
            .get(..i)
            .unwrap_or_default()
            .iter()
            .rposition(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')))
            .map_or(0, |p| p + 1);
        let name = plain.get(name_start..i).unwrap_or_default();
        if !HARMLESS_CSS_FUNCTIONS.contains(&name) {
            return Some(if name == "url" {
                "url("
            } else {
                "a function that may load something"
            });
        }
    }
    None
}

/// CSS in one spelling: escapes decoded, comments gone, whitespace one space, ASCII lower case.
fn normalise_css(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut chars = css.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '\\' => {
                let mut hex = String::new();
                while hex.len() < 6 && chars.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                    hex.extend(chars.next());
                }
                if hex.is_empty() {
                    // `\` before any other character stands for that character.
                    if let Some(next) = chars.next()
                        && next != '\n'
                    {
                        out.push(next.to_ascii_lowercase());
                    }
                } else {
                    if chars.peek().is_some_and(|c| c.is_whitespace()) {
                        chars.next();
                    }
                    let decoded = u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .filter(|c| *c != '\0')
                        .unwrap_or('\u{fffd}');
                    out.push(decoded.to_ascii_lowercase());
                }
            }
            c if c.is_whitespace() || c.is_control() => {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

/// The declarations of a `style` attribute that neither load nor run anything, as written;
/// `None` when none is left. A declaration ends at a `;` outside quotes and brackets.
pub fn filter_style(style: &str) -> Option<Cow<'_, str>> {
    let declarations = split_declarations(style);
    let kept: Vec<&str> = declarations
        .iter()
        .copied()
        .filter(|d| unsafe_css(d).is_none())
        .collect();
    let result = if kept.len() == declarations.len() {
        Cow::Borrowed(style)
    } else {
        Cow::Owned(kept.join(";"))
    };
    // Whatever the split made of odd quoting, the result as a whole must pass too.
    (unsafe_css(&result).is_none() && !result.trim().is_empty()).then_some(result)
}

fn split_declarations(style: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in style.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (c, quote) {
            ('\\', _) => escaped = true,
            (q, Some(open)) if q == open => quote = None,
            (_, Some(_)) => {}
            ('"' | '\'', None) => quote = Some(c),
            ('(', None) => depth += 1,
            (')', None) => depth = depth.saturating_sub(1),
            (';', None) if depth == 0 => {
                parts.extend(style.get(start..i));
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.extend(style.get(start..));
    parts
}

impl Problem {
    /// What is wrong, for the diagnostic's first line.
    pub fn message(&self) -> String {
        match self {
            Problem::Element { name, .. } => format!("raw HTML `<{name}>` is not allowed"),
            Problem::EventHandler { element, attribute } => {
                format!("the attribute `{attribute}` on `<{element}>` runs a script")
            }
            Problem::ScriptUrl {
                attribute: Some(attribute),
                scheme,
            } => format!("a `{scheme}:` address is not allowed (in `{attribute}`)"),
            Problem::ScriptUrl {
                attribute: None,
                scheme,
            } => format!("a `{scheme}:` address is not allowed as a link or image"),
            Problem::UnsafeStyle { element, what } => {
                format!("the `style` attribute on `<{element}>` loads or runs something (`{what}`)")
            }
            Problem::UntrustedEmbed { src: Some(src) } => format!(
                "`<iframe>` embeds `{}`, which is not a trusted embed",
                shorten(src, 80)
            ),
            Problem::UntrustedEmbed { src: None } => {
                "`<iframe>` without a trusted `src` is not allowed".to_string()
            }
            Problem::EmbedAttribute { attribute } => {
                format!("the attribute `{attribute}` is not allowed on an embedded frame")
            }
            Problem::Unterminated { open: Some(name) } => {
                format!("`<{name}>` is not closed in this raw HTML")
            }
            Problem::Unterminated { open: None } => {
                "this raw HTML ends inside a tag or a comment".to_string()
            }
        }
    }

    /// How to fix it, in German for the editor.
    pub fn hint(&self, policy: &Policy<'_>) -> String {
        const WHY: &str = "Skripte, Formulare und eingebettete Fremdinhalte sind aus Sicherheitsgründen nicht erlaubt: Sie könnten Leserinnen und Lesern schaden.";
        match self {
            Problem::Element { reason, .. } => match reason {
                Reason::Script => format!("{WHY} Entfernen Sie das Element. Soll die Seite etwas Interaktives bieten, baut das Web-Team es ins Theme ein."),
                Reason::Form => format!("{WHY} Für Rückmeldungen verlinken Sie eine Adresse, z. B. [Schreiben Sie uns](mailto:ozg@sachsen-anhalt.de), oder das Formular des Landesportals."),
                Reason::Embed => format!("{WHY} Verlinken Sie den Inhalt stattdessen, z. B. [Video „Das OZG erklärt“ auf YouTube](https://…)."),
                Reason::Page => "Solche Elemente verändern die ganze Seite (Weiterleitungen, Stile, Adressen) und sind deshalb nicht erlaubt. Gestaltung gehört ins Theme; entfernen Sie das Element.".to_string(),
                Reason::Parsing => "SVG, MathML und Elemente wie <template> oder <xmp> lassen Browser den folgenden Text anders lesen; darüber gelangen Skripte an Prüfungen vorbei. Grafiken binden Sie als Bild ein: ![Beschreibung](/bilder/grafik.svg).".to_string(),
            },
            Problem::EventHandler { .. } => "Attribute, die mit „on“ beginnen (onclick, onerror, onload …), führen Skripte aus und sind aus Sicherheitsgründen nicht erlaubt. Entfernen Sie das Attribut.".to_string(),
            Problem::ScriptUrl { .. } => "Adressen mit javascript:, vbscript: oder data: führen Code aus oder verstecken Inhalte und sind aus Sicherheitsgründen nicht erlaubt. Verlinken Sie eine https://-Adresse, eine Seite der Website (@/pfad/seite.md) oder eine Datei aus static/ (/dokumente/datei.pdf).".to_string(),
            Problem::UnsafeStyle { .. } => "In style-Attributen sind url(…) und andere Funktionen, die etwas laden, sowie expression, behavior und @import nicht erlaubt: Sie laden fremde Inhalte oder führen Code aus. Bilder gehören als ![Beschreibung](/bilder/bild.jpg) in den Text.".to_string(),
            Problem::UntrustedEmbed { .. } => {
                let allowed = if policy.trusted_embeds.is_empty() {
                    "Diese Website erlaubt keine eingebetteten Inhalte.".to_string()
                } else {
                    format!(
                        "Eingebettet werden dürfen nur Adressen, die so beginnen: {}.",
                        policy.trusted_embeds.join(", ")
                    )
                };
                format!("{WHY} {allowed} Verlinken Sie den Inhalt stattdessen; soll eine Quelle dauerhaft eingebettet werden, trägt die Technik sie in site.yaml unter `markdown: trusted_embeds:` ein.")
            }
            Problem::EmbedAttribute { .. } => format!(
                "Eingebettete Inhalte dürfen nur src und {} haben. Entfernen Sie das Attribut.",
                EMBED_ATTRIBUTES.join(", ")
            ),
            Problem::Unterminated { open: Some(name) } => format!("Schließen Sie das Element mit </{name}> im selben HTML-Block (ohne Leerzeile dazwischen); sonst wird der ganze folgende Text Teil davon."),
            Problem::Unterminated { open: None } => "Schließen Sie jedes Tag mit > und jeden Kommentar mit -->, bevor eine Leerzeile oder normaler Text folgt; sonst wird der folgende Text Teil des Tags – und damit womöglich ein Attribut, das Skripte ausführt.".to_string(),
        }
    }
}

/// How deeply `html`'s elements nest, counting every start tag of an element that has an end.
pub fn nesting_depth(html: &str) -> usize {
    const VOID: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr",
    ];
    let (mut depth, mut deepest) = (0usize, 0usize);
    for t in tokenize_unplaced(html).tokens {
        match t.token {
            Tok::Start { name, .. } if !VOID.contains(&name.as_str()) => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Tok::End { .. } => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// At most `max` characters of `s`, with `…` when cut; never splits a character.
pub fn shorten(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        Some((i, _)) => Cow::Owned(format!("{}…", s.get(..i).unwrap_or_default())),
        None => Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests;
