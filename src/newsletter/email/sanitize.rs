//! The last pass over an edition's e-mail: only the e-mail subset the theme uses leaves it.
//!
//! The HTML comes from a theme (MJML written by a Tera template, with `mj-raw` anything goes) and
//! from editors' Markdown, so it is treated as untrusted. The head is written here, not taken
//! over: the title (as text), fixed `meta` tags and the one Outlook settings block. The body goes
//! through ammonia with an explicit allow-list — tables, the inline `style` attribute, images
//! with an https address (or the site's own, for the preview over http), links to https, http,
//! mailto and tel, headings, lists, emphasis — and
//! `style` values lose every declaration that loads or runs something. Comments survive ammonia
//! only to be judged here: Outlook reads `<!--[if mso]>…<![endif]-->` as HTML, so a conditional
//! comment stays only if it holds nothing but the ghost tables MJML writes for Outlook.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use crate::newsletter::UNSUBSCRIBE_URL;
use crate::parse::markdown::escape;
use crate::parse::markdown::raw_html::{self, Tok, filter_style, tokenize, unsafe_css};

/// Elements of the e-mail subset: what MJML's output and the Markdown pass produce.
const TAGS: &[&str] = &[
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "details",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "font",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "samp",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
    "wbr",
];

/// Elements that go with everything inside them: their content is code, another document, a
/// form, or text that only makes sense inside them.
const DROPPED_WITH_CONTENT: &[&str] = &[
    "script",
    "style",
    "title",
    "noscript",
    "iframe",
    "noembed",
    "noframes",
    "object",
    "embed",
    "applet",
    "frameset",
    "frame",
    "template",
    "textarea",
    "select",
    "xmp",
    "plaintext",
    "svg",
    "math",
    "form",
    "button",
    "canvas",
];

/// Attributes any element of the subset may keep. No `background` (an image address), no event
/// handlers, nothing that names an address.
const GENERIC_ATTRIBUTES: &[&str] = &[
    "style",
    "class",
    "id",
    "align",
    "valign",
    "width",
    "height",
    "role",
    "dir",
    "lang",
    "title",
    "bgcolor",
    "border",
    "cellpadding",
    "cellspacing",
    "aria-label",
    "aria-roledescription",
    "aria-hidden",
];

const TAG_ATTRIBUTES: &[(&str, &[&str])] = &[
    ("a", &["href", "name", "target", "rel"]),
    ("img", &["src", "alt"]),
    ("td", &["colspan", "rowspan", "scope", "headers"]),
    ("th", &["colspan", "rowspan", "scope", "headers"]),
    ("ol", &["start", "type", "reversed"]),
    ("ul", &["type"]),
    ("li", &["value"]),
    ("col", &["span"]),
    ("colgroup", &["span"]),
    ("details", &["open"]),
    ("font", &["color", "face", "size"]),
    // The Markdown pass marks highlighted code with its language and lets tables scroll.
    ("pre", &["data-lang"]),
    ("div", &["tabindex"]),
];

/// Schemes a link may have; images need https (checked in [`filter_attribute`]).
const LINK_SCHEMES: &[&str] = &["https", "http", "mailto", "tel"];

/// Tags and attributes Outlook's ghost tables (inside conditional comments) consist of.
const GHOST_TAGS: &[&str] = &["table", "tbody", "tr", "td"];
const GHOST_ATTRIBUTES: &[&str] = &[
    "align",
    "bgcolor",
    "border",
    "cellpadding",
    "cellspacing",
    "class",
    "height",
    "role",
    "style",
    "valign",
    "width",
];

/// Outlook's settings for images and scaling, as MJML writes them; the only thing in the head
/// besides the title and fixed `meta` tags.
const OUTLOOK_SETTINGS: &str = "\n\n<!--[if mso]>\n<noscript>\n<xml>\n<o:OfficeDocumentSettings>\n  <o:AllowPNG/>\n  <o:PixelsPerInch>96</o:PixelsPerInch>\n</o:OfficeDocumentSettings>\n</xml>\n</noscript>\n<![endif]-->\n\n";

/// The allow-list; images may also come from `origin` (`http://127.0.0.1:…` in the preview).
fn builder(origin: &str) -> ammonia::Builder<'static> {
    let tag_attributes: HashMap<&str, HashSet<&str>> = TAG_ATTRIBUTES
        .iter()
        .map(|(tag, attrs)| (*tag, attrs.iter().copied().collect()))
        .collect();
    let own = format!("{}/", origin.trim_end_matches('/'));
    let mut builder = ammonia::Builder::empty();
    builder
        .tags(TAGS.iter().copied().collect())
        .clean_content_tags(DROPPED_WITH_CONTENT.iter().copied().collect())
        .generic_attributes(GENERIC_ATTRIBUTES.iter().copied().collect())
        .tag_attributes(tag_attributes)
        .url_schemes(LINK_SCHEMES.iter().copied().collect())
        // Links were made absolute before; the only relative address left is the recipient's
        // own unsubscribe link, filled in at send time.
        .url_relative(ammonia::UrlRelative::Custom(Box::new(keep_placeholder)))
        .link_rel(None)
        .strip_comments(false)
        .attribute_filter(move |element, attribute, value| {
            filter_attribute(element, attribute, value, &own)
        });
    builder
}

fn keep_placeholder(url: &str) -> Option<Cow<'_, str>> {
    (url == UNSUBSCRIBE_URL).then_some(Cow::Borrowed(url))
}

fn filter_attribute<'v>(
    element: &str,
    attribute: &str,
    value: &'v str,
    own: &str,
) -> Option<Cow<'v, str>> {
    let starts = |prefix: &str| {
        value
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    match (element, attribute) {
        (_, "style") => filter_style(value),
        // Mail programs block images over http (and anything else is not an image address).
        ("img", "src") => (starts("https://") || starts(own)).then_some(Cow::Borrowed(value)),
        _ => Some(Cow::Borrowed(value)),
    }
}

/// What the document around the body says: language, direction, title, the body's style.
#[derive(Debug, Default)]
struct Shell {
    lang: Option<String>,
    dir: Option<String>,
    title: String,
    body_style: Option<String>,
    body: std::ops::Range<usize>,
}

fn read_shell(html: &str) -> Shell {
    let tokens = tokenize(html).tokens;
    let mut shell = Shell {
        body: 0..html.len(),
        ..Shell::default()
    };
    let mut in_title = false;
    let mut body_open = false;
    let mut head_end = None;
    for t in &tokens {
        match &t.token {
            Tok::Start { name, attrs } if name == "html" && shell.lang.is_none() => {
                let value = |n: &str| attrs.iter().find(|a| a.name == n).map(|a| a.value.clone());
                shell.lang = value("lang");
                shell.dir = value("dir");
            }
            Tok::Start { name, .. } if name == "title" && !body_open => in_title = true,
            Tok::End { name } if name == "title" => in_title = false,
            Tok::Text(text) if in_title => shell.title.push_str(text),
            Tok::End { name } if name == "head" && head_end.is_none() => head_end = Some(t.end),
            Tok::Start { name, attrs } if name == "body" && !body_open => {
                body_open = true;
                shell.body.start = t.end;
                shell.body_style = attrs
                    .iter()
                    .find(|a| a.name == "style")
                    .map(|a| a.value.clone());
            }
            Tok::End { name } if name == "body" => shell.body.end = t.start,
            _ => {}
        }
    }
    if !body_open {
        shell.body.start = head_end.unwrap_or(0);
    }
    shell.body.end = shell.body.end.max(shell.body.start);
    shell
}

/// The e-mail HTML with everything outside the e-mail subset gone (see the module comment);
/// `origin` is the site's `scheme://host[:port]`.
pub(super) fn sanitize(html: &str, origin: &str) -> String {
    let shell = read_shell(html);
    let body = html.get(shell.body.clone()).unwrap_or_default();
    let cleaned = builder(origin).clean(body).to_string();
    let body = keep_outlook_comments(&cleaned);
    let lang = shell
        .lang
        .filter(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or_else(|| "de".to_string());
    let dir = shell
        .dir
        .as_deref()
        .filter(|d| matches!(*d, "ltr" | "rtl"))
        .unwrap_or("auto");
    let body_style = shell
        .body_style
        .as_deref()
        .and_then(filter_style)
        .map(|s| format!(" style=\"{}\"", escape(&s)))
        .unwrap_or_default();
    let mut out = String::with_capacity(body.len() + 1024);
    out.push_str("<!DOCTYPE html><html lang=\"");
    out.push_str(&lang);
    out.push_str("\" dir=\"");
    out.push_str(dir);
    out.push_str("\" xmlns=\"http://www.w3.org/1999/xhtml\" xmlns:v=\"urn:schemas-microsoft-com:vml\" xmlns:o=\"urn:schemas-microsoft-com:office:office\"><head><title>");
    out.push_str(&escape_text(&shell.title));
    out.push_str("</title><!--[if !mso]><!--><meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\"><!--<![endif]--><meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    out.push_str(OUTLOOK_SETTINGS);
    out.push_str("</head><body");
    out.push_str(&body_style);
    out.push('>');
    out.push_str(&body);
    out.push_str("</body></html>");
    out
}

/// Text for an element's content: `<`, `>` and `&` escaped, quotes as they are.
fn escape_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `html` without the comments Outlook must not read: every comment but the conditional ones
/// made only of ghost tables, and the `<!--[if !mso]><!-->` … `<!--<![endif]-->` markers.
fn keep_outlook_comments(html: &str) -> String {
    let tokens = tokenize(html).tokens;
    let mut out = String::with_capacity(html.len());
    let mut copied = 0;
    for t in &tokens {
        if let Tok::Comment(data) = &t.token
            && !is_outlook_comment(data)
        {
            out.push_str(html.get(copied..t.start).unwrap_or_default());
            copied = t.end;
        }
    }
    out.push_str(html.get(copied..).unwrap_or_default());
    out
}

fn is_outlook_comment(data: &str) -> bool {
    if data == "[if !mso]><!" || data == "<![endif]" {
        return true;
    }
    let Some((condition, rest)) = data
        .strip_prefix("[if ")
        .and_then(|rest| rest.split_once("]>"))
    else {
        return false;
    };
    let Some(inner) = rest.strip_suffix("<![endif]") else {
        return false;
    };
    condition
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '|' | '!' | '&' | '(' | ')'))
        && is_ghost_table(inner)
}

/// Whether `html` is only table structure with layout attributes. Values holding `<` or `>` are
/// refused: Outlook's Word engine may not read quotes as browsers do.
fn is_ghost_table(html: &str) -> bool {
    let tokens = tokenize(html);
    tokens.complete
        && tokens.tokens.iter().all(|t| match &t.token {
            Tok::Text(_) => true,
            Tok::End { name } => GHOST_TAGS.contains(&name.as_str()),
            Tok::Start { name, attrs } => {
                GHOST_TAGS.contains(&name.as_str())
                    && attrs.iter().all(|a| {
                        GHOST_ATTRIBUTES.contains(&a.name.as_str())
                            && !a.value.contains(['<', '>'])
                            && (a.name != "style" || unsafe_css(&a.value).is_none())
                    })
            }
            Tok::Comment(_) | Tok::Doctype => false,
        })
}

/// What a mail must have, read from the sanitised HTML: an unsubscribe link, an https address and
/// a text alternative for every image — and, as a guard against a mistake in the allow-list,
/// nothing the Markdown checks would refuse.
pub(super) fn check(html: &str) -> Result<(), String> {
    let shell = read_shell(html);
    let body = html.get(shell.body.clone()).unwrap_or_default();
    let mut unsubscribe = false;
    for t in &tokenize(body).tokens {
        let Tok::Start { name, attrs } = &t.token else {
            continue;
        };
        let attr = |n: &str| attrs.iter().find(|a| a.name == n).map(|a| a.value.as_str());
        let tag = || raw_html::shorten(body.get(t.start..t.end).unwrap_or_default(), 120);
        match name.as_str() {
            "a" if attr("href") == Some(UNSUBSCRIBE_URL) => unsubscribe = true,
            "img" if attr("alt").is_none() => {
                return Err(format!(
                    "an image of the e-mail has no `alt` text: {}",
                    tag()
                ));
            }
            "img" if attr("src").is_none() => {
                return Err(format!(
                    "an image of the e-mail has no https:// address (mail programs block others): {}",
                    tag()
                ));
            }
            _ => {}
        }
    }
    if let Some(finding) = raw_html::check(body, &raw_html::Policy::default())
        .findings
        .first()
    {
        return Err(format!(
            "the sanitised e-mail still contains something unsafe ({}); please report this as a bug of ozg-site",
            finding.problem.message()
        ));
    }
    if !unsubscribe {
        return Err(
            "the e-mail has no unsubscribe link: add `<a href=\"{{ recipient.unsubscribe_url }}\">` to its footer"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
