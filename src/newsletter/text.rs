//! Newsletter body → plain text, for the `text/plain` part of a multipart/alternative mail.
//!
//! Text-only mail clients, screen readers and spam filters see only this part, so it has to read on
//! its own: wrapped at a fixed width, links as numbered references listed at the end (like notes in
//! a letter), images as their alt text, tables as lines a reader can follow.
//!
//! Rendering is two steps. pulldown-cmark's events are first gathered into a small block tree, so a
//! list knows whether it is tight and a table knows every column's width before a line is printed.
//! The tree is then rendered to lines, each container narrowing the width for its children and
//! prefixing their lines (list markers, `> `, code indentation).
//!
//! This is the one walker over a body's events besides the site's Markdown pass
//! ([`crate::parse::markdown::render`]), and it stays one on purpose: it needs the block
//! structure (tight lists, column widths, nesting) before it writes a line, which the facts of
//! the pass do not keep and an HTML renderer has no use for. It reads the same dialect
//! ([`crate::parse::markdown::options`]) over the same text, so both parts of a mail agree.

use std::collections::HashMap;

use pulldown_cmark::{Alignment, Event, LinkType, Options, Parser, Tag, TagEnd};

use crate::wrap::{GLUE, char_count, wrap_lines};
pub use crate::wrap::{heading, wrap};

/// The label of an image's alt text. The plain-text format is fixed by the newsletter's layout,
/// not by a theme, so it lives here rather than in a template.
const IMAGE_LABEL: &str = "Bild";
/// The label of a footnote reference and its definition, "[Fußnote 1]".
const FOOTNOTE_LABEL: &str = "Fußnote";

/// Containers (quotes, lists, list items, footnotes) nested deeper than this are not opened: their
/// content joins the innermost open one. Rendering recurses per level, and a hostile body of
/// thousands of `>` must not overflow the stack; no real newsletter nests this deep.
const MAX_DEPTH: usize = 24;

/// Nested content is never squeezed narrower than this (unless the whole width is narrower):
/// a few overlong lines read better than a column of single words.
const MIN_WIDTH: usize = 20;

/// Links collected while rendering, printed as numbered references at the end of the mail.
#[derive(Debug, Default)]
pub struct References {
    /// In order of first use: the position is the number less one.
    urls: Vec<String>,
    numbers: HashMap<String, usize>,
}

impl References {
    pub fn new() -> References {
        References::default()
    }

    /// Returns the number for `url` (the same URL gets the same number every time; numbers start at 1).
    pub fn number(&mut self, url: &str) -> usize {
        if let Some(&number) = self.numbers.get(url) {
            return number;
        }
        self.urls.push(url.to_owned());
        self.numbers.insert(url.to_owned(), self.urls.len());
        self.urls.len()
    }

    /// The reference list, e.g. "[1] https://example.org/a\n[2] https://example.org/b\n" (empty string if none).
    /// Long URLs are never broken.
    pub fn render(&self) -> String {
        self.urls
            .iter()
            .enumerate()
            .map(|(index, url)| format!("[{}] {url}\n", index + 1))
            .collect()
    }
}

/// Renders a Markdown body (the site's dialect, [`crate::parse::markdown::options`]) as plain text wrapped at `width` columns (72 in practice). `link` maps a link or image destination as written
/// (e.g. "@/aktuelles/x.md#anker", "https://…", "/static/x.pdf") to the absolute URL to print, or None to print
/// the text only (unpublished targets). Links are printed as "text [n]" with n from `refs`; a link whose text
/// equals its URL (autolinks, mailto:) is printed just as the address, no reference. Images print as
/// "[Bild: alt text]" (no reference needed).
///
/// The result has no trailing spaces, never two blank lines in a row, and ends with exactly one
/// "\n" (an empty body gives just "\n"). Lines are at most `width` chars except where a single word
/// (a URL) or a code line is longer, or nesting is deeper than the width allows.
pub fn markdown_to_text(
    markdown: &str,
    link: &dyn Fn(&str) -> Option<String>,
    refs: &mut References,
    width: usize,
) -> String {
    let blocks = Builder::new(link, refs).build(markdown);
    finish(render_blocks(&blocks, width, true))
}

/// The site's Markdown dialect, so the text part reads the body as the HTML part does.
fn options() -> Options {
    crate::parse::markdown::options()
}

/// Collapses every run of ASCII whitespace (including hard breaks) to one space.
fn collapse(text: &str) -> String {
    text.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

/// The width left for content under a prefix of `prefix` columns.
fn narrower(width: usize, prefix: usize) -> usize {
    width.saturating_sub(prefix).max(width.min(MIN_WIDTH))
}

/// Joins rendered lines into the final text: trailing spaces trimmed, blank lines at the edges
/// dropped, runs of blank lines collapsed to one, exactly one final "\n".
fn finish(lines: Vec<String>) -> String {
    let mut out = String::new();
    let mut blank_pending = false;
    for line in lines.iter().flat_map(|line| line.split('\n')) {
        let line = line.trim_end();
        if line.is_empty() {
            blank_pending = !out.is_empty();
            continue;
        }
        if blank_pending {
            out.push('\n');
            blank_pending = false;
        }
        out.push_str(line);
        out.push('\n');
    }
    if out.is_empty() {
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Block tree

#[derive(Debug)]
enum Block {
    /// Inline text; "\n" marks a hard break.
    Paragraph(String),
    Heading {
        level: u8,
        text: String,
    },
    List {
        start: Option<u64>,
        tight: bool,
        items: Vec<Vec<Block>>,
    },
    Quote(Vec<Block>),
    Code(String),
    Table(Table),
    Rule,
    Footnote {
        number: usize,
        blocks: Vec<Block>,
    },
}

#[derive(Debug, Default)]
struct Table {
    aligns: Vec<Alignment>,
    head: Vec<String>,
    rows: Vec<Vec<String>>,
    /// The row being read.
    row: Vec<String>,
}

#[derive(Debug)]
enum FrameKind {
    Root,
    Quote,
    List {
        start: Option<u64>,
        tight: bool,
        items: Vec<Vec<Block>>,
    },
    Item,
    Footnote(usize),
}

/// An open container and the blocks finished inside it so far.
#[derive(Debug)]
struct Frame {
    kind: FrameKind,
    blocks: Vec<Block>,
}

struct OpenLink {
    dest: String,
    /// `<https://…>` or `<name@example.org>`: the text is the address.
    autolink: bool,
    /// Where the link text starts in the inline buffer.
    start: usize,
}

/// Gathers pulldown-cmark's events into blocks. Inline content of the block being read collects in
/// `inline` as finished plain text; links and images cut their text back out of it when they end.
struct Builder<'a> {
    link: &'a dyn Fn(&str) -> Option<String>,
    refs: &'a mut References,
    frames: Vec<Frame>,
    /// Containers past MAX_DEPTH that were not opened, still to be ended.
    flattened: usize,
    inline: String,
    links: Vec<OpenLink>,
    images: Vec<usize>,
    table: Option<Table>,
    code: Option<String>,
    html: Option<String>,
    /// Footnote labels in order of first appearance; the position is the number.
    footnotes: Vec<String>,
    in_metadata: bool,
}

impl<'a> Builder<'a> {
    fn new(link: &'a dyn Fn(&str) -> Option<String>, refs: &'a mut References) -> Builder<'a> {
        Builder {
            link,
            refs,
            frames: vec![Frame {
                kind: FrameKind::Root,
                blocks: Vec::new(),
            }],
            flattened: 0,
            inline: String::new(),
            links: Vec::new(),
            images: Vec::new(),
            table: None,
            code: None,
            html: None,
            footnotes: Vec::new(),
            in_metadata: false,
        }
    }

    fn build(mut self, markdown: &str) -> Vec<Block> {
        for event in Parser::new_ext(markdown, options()) {
            self.event(event);
        }
        // pulldown-cmark balances its events; this only guards against a future version that does not.
        self.end_code_block();
        self.end_html_block();
        self.end_table();
        self.flush();
        while self.frames.len() > 1 || self.flattened > 0 {
            self.close();
        }
        self.frames
            .pop()
            .map(|frame| frame.blocks)
            .unwrap_or_default()
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.text(&text),
            Event::Code(text) | Event::InlineMath(text) | Event::DisplayMath(text) => {
                self.push_inline(&text)
            }
            Event::Html(html) => self.html(&html),
            Event::InlineHtml(html) => self.inline.push_str(&strip_html(&html)),
            Event::FootnoteReference(label) => {
                let number = self.footnote_number(&label);
                self.push_glued(&format!("[{FOOTNOTE_LABEL} {number}]"));
            }
            Event::SoftBreak => self.inline.push(' '),
            Event::HardBreak => self.inline.push('\n'),
            Event::Rule => {
                self.flush();
                self.push_block(Block::Rule);
            }
            Event::TaskListMarker(done) => self.inline.push_str(if done { "[x] " } else { "[ ] " }),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => {
                self.flush();
                self.mark_list_loose();
            }
            Tag::Heading { .. }
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition => self.flush(),
            Tag::BlockQuote(_) => self.open(FrameKind::Quote),
            Tag::List(start) => self.open(FrameKind::List {
                start,
                tight: true,
                items: Vec::new(),
            }),
            Tag::Item => self.open(FrameKind::Item),
            Tag::FootnoteDefinition(label) => {
                let number = self.footnote_number(&label);
                self.open(FrameKind::Footnote(number));
            }
            Tag::CodeBlock(_) => {
                self.flush();
                self.code = Some(String::new());
            }
            Tag::HtmlBlock => {
                self.flush();
                self.html = Some(String::new());
            }
            Tag::Table(aligns) => {
                self.flush();
                self.table = Some(Table {
                    aligns,
                    ..Table::default()
                });
            }
            Tag::Link {
                link_type,
                dest_url,
                ..
            } => self.links.push(OpenLink {
                dest: dest_url.to_string(),
                autolink: matches!(link_type, LinkType::Autolink | LinkType::Email),
                start: self.inline.len(),
            }),
            Tag::Image { .. } => self.images.push(self.inline.len()),
            Tag::MetadataBlock(_) => self.in_metadata = true,
            Tag::TableHead
            | Tag::TableRow
            | Tag::TableCell
            | Tag::Emphasis
            | Tag::Strong
            | Tag::Strikethrough
            | Tag::Superscript
            | Tag::Subscript => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition => self.flush(),
            TagEnd::Heading(level) => {
                let text = std::mem::take(&mut self.inline);
                self.push_block(Block::Heading {
                    level: level as u8,
                    text,
                });
            }
            TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::Item | TagEnd::FootnoteDefinition => {
                self.flush();
                self.close();
            }
            TagEnd::CodeBlock => self.end_code_block(),
            TagEnd::HtmlBlock => self.end_html_block(),
            TagEnd::Table => self.end_table(),
            TagEnd::TableCell => {
                let cell = std::mem::take(&mut self.inline);
                if let Some(table) = &mut self.table {
                    table.row.push(cell);
                }
            }
            TagEnd::TableHead => {
                if let Some(table) = &mut self.table {
                    table.head = std::mem::take(&mut table.row);
                }
            }
            TagEnd::TableRow => {
                if let Some(table) = &mut self.table {
                    let row = std::mem::take(&mut table.row);
                    table.rows.push(row);
                }
            }
            TagEnd::Link => self.end_link(),
            TagEnd::Image => self.end_image(),
            TagEnd::MetadataBlock(_) => self.in_metadata = false,
            TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript => {}
        }
    }

    fn text(&mut self, text: &str) {
        if self.in_metadata {
            return;
        }
        if let Some(code) = &mut self.code {
            push_code(code, text);
        } else if let Some(html) = &mut self.html {
            html.push_str(text);
        } else {
            self.push_inline(text);
        }
    }

    /// Appends text as it reads: line ends and tabs become spaces (soft breaks are events of their
    /// own), other control characters go, so nothing can fake a glue or a terminal escape.
    fn push_inline(&mut self, text: &str) {
        for c in text.chars() {
            match c {
                '\n' | '\r' | '\t' => self.inline.push(' '),
                c if c.is_control() => {}
                c => self.inline.push(c),
            }
        }
    }

    /// Appends `text` bound to the word before it by unbreakable spaces: a reference never starts a line.
    fn push_glued(&mut self, text: &str) {
        let kept = self.inline.trim_end_matches(' ').len();
        self.inline.truncate(kept);
        if !self.inline.is_empty() && !self.inline.ends_with('\n') {
            self.inline.push(GLUE);
        }
        self.inline.push_str(&text.replace(' ', &GLUE.to_string()));
    }

    /// Cuts the inline text from `start` on (a link's or image's text) out of the buffer.
    fn take_inline_from(&mut self, start: usize) -> String {
        if self.inline.is_char_boundary(start) {
            self.inline.split_off(start)
        } else {
            String::new()
        }
    }

    fn end_link(&mut self) {
        let Some(open) = self.links.pop() else {
            return;
        };
        let text = self.take_inline_from(open.start);
        let shown = collapse(&text);
        let Some(url) = (self.link)(&open.dest) else {
            self.inline.push_str(&text);
            return;
        };
        if shown.is_empty() {
            self.inline.push_str(&url);
        } else if open.autolink || is_address(&shown, &open.dest, &url) {
            self.inline.push_str(&text);
        } else {
            let number = self.refs.number(&url);
            self.inline.push_str(&text);
            self.push_glued(&format!("[{number}]"));
        }
    }

    fn end_image(&mut self) {
        let Some(start) = self.images.pop() else {
            return;
        };
        let alt = collapse(&self.take_inline_from(start));
        self.inline.push_str(&image_label(&alt));
    }

    fn end_code_block(&mut self) {
        if let Some(code) = self.code.take() {
            self.push_block(Block::Code(code));
        }
    }

    fn end_html_block(&mut self) {
        if let Some(html) = self.html.take() {
            self.push_html_paragraphs(&html);
        }
    }

    fn end_table(&mut self) {
        if let Some(table) = self.table.take() {
            self.push_block(Block::Table(table));
        }
    }

    fn html(&mut self, html: &str) {
        match &mut self.html {
            Some(buffer) => buffer.push_str(html),
            None => {
                self.flush();
                self.push_html_paragraphs(html);
            }
        }
    }

    fn push_html_paragraphs(&mut self, html: &str) {
        for paragraph in strip_html(html).split("\n\n") {
            if !paragraph.trim().is_empty() {
                self.push_block(Block::Paragraph(paragraph.to_owned()));
            }
        }
    }

    fn footnote_number(&mut self, label: &str) -> usize {
        if let Some(index) = self.footnotes.iter().position(|known| known == label) {
            return index + 1;
        }
        self.footnotes.push(label.to_owned());
        self.footnotes.len()
    }

    /// Ends the inline text read so far as a paragraph: at a block's start and end, and where a
    /// tight list item's text (which has no paragraph of its own) meets a nested block.
    fn flush(&mut self) {
        // Inside a table the buffer holds the current cell, which only its end takes.
        if self.table.is_some() {
            return;
        }
        let text = std::mem::take(&mut self.inline);
        self.links.clear();
        self.images.clear();
        if !text.trim().is_empty() {
            self.push_block(Block::Paragraph(text));
        }
    }

    fn push_block(&mut self, block: Block) {
        if let Some(frame) = self.frames.last_mut() {
            frame.blocks.push(block);
        }
    }

    /// A paragraph directly in a list item makes the list loose: its items get blank lines between them.
    fn mark_list_loose(&mut self) {
        if self.flattened > 0 {
            return;
        }
        let [.., parent, top] = self.frames.as_mut_slice() else {
            return;
        };
        if let (FrameKind::List { tight, .. }, FrameKind::Item) = (&mut parent.kind, &top.kind) {
            *tight = false;
        }
    }

    fn open(&mut self, kind: FrameKind) {
        self.flush();
        let item_in_list = matches!(kind, FrameKind::Item)
            && matches!(
                self.frames.last(),
                Some(Frame {
                    kind: FrameKind::List { .. },
                    ..
                })
            );
        if self.flattened == 0 && (self.frames.len() < MAX_DEPTH || item_in_list) {
            self.frames.push(Frame {
                kind,
                blocks: Vec::new(),
            });
        } else {
            self.flattened += 1;
        }
    }

    fn close(&mut self) {
        if self.flattened > 0 {
            self.flattened -= 1;
            return;
        }
        if self.frames.len() < 2 {
            return;
        }
        let Some(frame) = self.frames.pop() else {
            return;
        };
        let Some(parent) = self.frames.last_mut() else {
            return;
        };
        match frame.kind {
            FrameKind::Quote => parent.blocks.push(Block::Quote(frame.blocks)),
            FrameKind::List {
                start,
                tight,
                mut items,
            } => {
                // Blocks outside any item only arrive when the items were flattened away.
                if !frame.blocks.is_empty() {
                    items.push(frame.blocks);
                }
                parent.blocks.push(Block::List {
                    start,
                    tight,
                    items,
                });
            }
            FrameKind::Item => match &mut parent.kind {
                FrameKind::List { items, .. } => items.push(frame.blocks),
                _ => parent.blocks.extend(frame.blocks),
            },
            FrameKind::Footnote(number) => parent.blocks.push(Block::Footnote {
                number,
                blocks: frame.blocks,
            }),
            FrameKind::Root => parent.blocks.extend(frame.blocks),
        }
    }
}

/// Whether a link's text is its address already, so a reference would only repeat it.
fn is_address(text: &str, dest: &str, url: &str) -> bool {
    text == dest || text == url || url.strip_prefix("mailto:") == Some(text)
}

fn image_label(alt: &str) -> String {
    if alt.is_empty() {
        format!("[{IMAGE_LABEL}]")
    } else {
        format!("[{IMAGE_LABEL}: {alt}]")
    }
}

/// Code keeps its lines; tabs become spaces because mail clients disagree on tab stops.
fn push_code(code: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\t' => code.push_str("    "),
            '\n' => code.push('\n'),
            c if c.is_control() => {}
            c => code.push(c),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Raw HTML

/// Elements whose boundaries separate paragraphs in the text.
const HTML_BLOCK_ELEMENTS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tr",
    "ul",
];

/// The text of raw HTML: tags go, comments and script/style contents go entirely, entities are
/// decoded. `<br>` gives "\n", a block element's boundary "\n\n"; the source's own line ends are
/// spaces, as in a browser.
fn strip_html(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        let (text, from_lt) = rest.split_at_checked(lt).unwrap_or((rest, ""));
        push_html_text(&mut out, text);
        rest = from_lt;
        if let Some(comment) = rest.strip_prefix("<!--") {
            rest = comment.split_once("-->").map_or("", |(_, after)| after);
        } else if !starts_tag(rest) {
            // A "<" that starts no tag ("a < b") is text.
            out.push('<');
            rest = rest.strip_prefix('<').unwrap_or_default();
        } else if let Some(end) = tag_end(rest) {
            // `end` is the index of a `>` after the `<`, so both parts exist.
            let tag = rest.get(1..end).unwrap_or_default();
            rest = apply_tag(&mut out, tag, rest.get(end + 1..).unwrap_or_default());
        } else {
            // A tag that never closes swallows the rest, as in a browser, so the HTML part shows the same.
            rest = "";
        }
    }
    push_html_text(&mut out, rest);
    out
}

/// Whether the "<" that `s` starts with opens a tag (or a declaration), as HTML reads it.
fn starts_tag(s: &str) -> bool {
    s.as_bytes()
        .get(1)
        .is_some_and(|b| b.is_ascii_alphabetic() || matches!(b, b'/' | b'!' | b'?'))
}

/// The byte index of the `>` closing the tag `s` starts with, skipping `>` in quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut quote: Option<u8> = None;
    let mut previous = b'<';
    for (index, &byte) in bytes.iter().enumerate().skip(1) {
        match quote {
            Some(q) if byte == q => quote = None,
            Some(_) => {}
            None if byte == b'>' => return Some(index),
            None if (byte == b'"' || byte == b'\'') && previous == b'=' => quote = Some(byte),
            None => {}
        }
        if !byte.is_ascii_whitespace() {
            previous = byte;
        }
    }
    None
}

/// Adds what the tag `tag` (the text between `<` and `>`) stands for, and returns the input left
/// after it: past the end of a script or style element, whose content is no text.
fn apply_tag<'h>(out: &mut String, tag: &str, rest: &'h str) -> &'h str {
    let closing = tag.starts_with('/');
    let name: String = tag
        .trim_start_matches('/')
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    match name.as_str() {
        "br" => out.push('\n'),
        "img" => out.push_str(&image_label(&collapse(&decode_entities(
            &html_attribute(tag, "alt").unwrap_or_default(),
        )))),
        "script" | "style" if !closing && !tag.ends_with('/') => {
            let close = format!("</{name}");
            return match find_ignore_case(rest, &close) {
                Some(at) => rest
                    .get(at..)
                    .and_then(|close| close.split_once('>'))
                    .map_or("", |(_, after)| after),
                None => "",
            };
        }
        name if HTML_BLOCK_ELEMENTS.contains(&name) => out.push_str("\n\n"),
        _ => {}
    }
    rest
}

/// The byte index of the first `needle` (ASCII) in `haystack`, ignoring ASCII case.
fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

/// The value of attribute `name` in a tag's text, quoted or not.
fn html_attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    // `lower` has the bytes of `tag` in the same places, so an index into one fits the other.
    while let Some(found) = lower.get(from..).and_then(|l| l.find(name)) {
        let at = from + found;
        from = at + name.len();
        let preceded_by_space = lower
            .get(..at)
            .is_some_and(|l| l.ends_with(|c: char| c.is_ascii_whitespace()));
        let after = tag.get(from..).unwrap_or_default().trim_start();
        let Some(value) = after.strip_prefix('=') else {
            continue;
        };
        if !preceded_by_space {
            continue;
        }
        let value = value.trim_start();
        return Some(match value.chars().next() {
            Some(q @ ('"' | '\'')) => value
                .strip_prefix(q)
                .unwrap_or_default()
                .split(q)
                .next()
                .unwrap_or_default()
                .to_owned(),
            _ => value
                .split(|c: char| c.is_ascii_whitespace() || c == '/')
                .next()
                .unwrap_or_default()
                .to_owned(),
        });
    }
    None
}

fn push_html_text(out: &mut String, text: &str) {
    for c in decode_entities(text).chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
}

/// Decodes `&name;`, `&#123;` and `&#x7b;`; an unknown or malformed entity stays as written.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, after)) = rest.split_once('&') {
        out.push_str(before);
        // Entity names are short: looking no further keeps a text full of "&" linear.
        let decoded = after
            .bytes()
            .take(12)
            .position(|b| b == b';')
            .and_then(|end| Some((entity(after.get(..end)?)?, after.get(end + 1..)?)));
        match decoded {
            Some((c, after_entity)) => {
                out.extend(c);
                rest = after_entity;
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character an entity name stands for; `Some(None)` for one that stands for nothing (a soft hyphen).
fn entity(name: &str) -> Option<Option<char>> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return Some(char::from_u32(code).filter(|c| !c.is_control() && *c != '\u{ad}'));
    }
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "shy" => return Some(None),
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "szlig" => 'ß',
        "euro" => '€',
        "sect" => '§',
        "copy" => '©',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "bdquo" => '„',
        "ldquo" => '“',
        "rdquo" => '”',
        "sbquo" => '‚',
        "lsquo" => '‘',
        "rsquo" => '’',
        _ => return None,
    };
    Some(Some(c))
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// Renders blocks to lines at `width`, with a blank line between blocks unless they are the parts
/// of a tight list item.
fn render_blocks(blocks: &[Block], width: usize, blank_between: bool) -> Vec<String> {
    let mut out = Vec::new();
    for block in blocks {
        let lines = render_block(block, width);
        if lines.is_empty() {
            continue;
        }
        if blank_between && !out.is_empty() {
            out.push(String::new());
        }
        out.extend(lines);
    }
    out
}

fn render_block(block: &Block, width: usize) -> Vec<String> {
    match block {
        Block::Paragraph(text) => paragraph_lines(text, width),
        Block::Heading { level, text } => heading_lines(text, *level, width),
        Block::List {
            start,
            tight,
            items,
        } => list_lines(*start, *tight, items, width),
        Block::Quote(blocks) => render_blocks(blocks, narrower(width, 2), true)
            .into_iter()
            .map(|line| {
                if line.is_empty() {
                    ">".to_owned()
                } else {
                    format!("> {line}")
                }
            })
            .collect(),
        Block::Code(code) => code_lines(code),
        Block::Table(table) => table_lines(table, width),
        Block::Rule => vec!["-".repeat(width.max(3))],
        Block::Footnote { number, blocks } => {
            let marker = format!("[{FOOTNOTE_LABEL} {number}] ");
            let inner = render_blocks(blocks, narrower(width, char_count(&marker)), true);
            hanging(&marker, inner)
        }
    }
}

/// Wraps inline text; each hard-broken part starts a new line.
fn paragraph_lines(text: &str, width: usize) -> Vec<String> {
    text.split('\n')
        .map(collapse)
        .filter(|part| !part.is_empty())
        .flat_map(|part| wrap_lines(&part, width, "", ""))
        .collect()
}

fn heading_lines(text: &str, level: u8, width: usize) -> Vec<String> {
    let wrapped = wrap_lines(&collapse(text), width, "", "").join("\n");
    heading(&wrapped, level)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn list_lines(start: Option<u64>, tight: bool, items: &[Vec<Block>], width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let marker = match start {
            Some(first) => format!("{}. ", first.saturating_add(index as u64)),
            None => "- ".to_owned(),
        };
        let inner = render_blocks(item, narrower(width, char_count(&marker)), !tight);
        if !tight && !out.is_empty() {
            out.push(String::new());
        }
        out.extend(hanging(&marker, inner));
    }
    out
}

/// Puts `marker` before the first line and indents the others to match (blank lines stay empty).
fn hanging(marker: &str, lines: Vec<String>) -> Vec<String> {
    if lines.is_empty() {
        return vec![marker.trim_end().to_owned()];
    }
    let indent = " ".repeat(char_count(marker));
    lines
        .into_iter()
        .enumerate()
        .map(|(index, line)| match (index, line.is_empty()) {
            (0, _) => format!("{marker}{line}"),
            (_, true) => line,
            (_, false) => format!("{indent}{line}"),
        })
        .collect()
}

fn code_lines(code: &str) -> Vec<String> {
    let mut lines: Vec<String> = code
        .lines()
        .map(|line| {
            let line = line.trim_end();
            if line.is_empty() {
                String::new()
            } else {
                format!("    {line}")
            }
        })
        .collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// A table as aligned columns if every row fits the width, else one "Header: value" block per row:
/// a reader can follow a narrow table across, but a wrapped wide one not at all.
fn table_lines(table: &Table, width: usize) -> Vec<String> {
    let head: Vec<String> = table.head.iter().map(|cell| collapse(cell)).collect();
    let rows: Vec<Vec<String>> = table
        .rows
        .iter()
        .map(|row| row.iter().map(|cell| collapse(cell)).collect())
        .collect();
    let columns = rows
        .iter()
        .map(Vec::len)
        .chain([head.len()])
        .max()
        .unwrap_or(0);
    if columns == 0 {
        return Vec::new();
    }
    aligned_table(table, &head, &rows, columns, width)
        .unwrap_or_else(|| table_as_blocks(&head, &rows, columns, width))
}

fn cell(row: &[String], column: usize) -> &str {
    row.get(column).map_or("", String::as_str)
}

fn aligned_table(
    table: &Table,
    head: &[String],
    rows: &[Vec<String>],
    columns: usize,
    width: usize,
) -> Option<Vec<String>> {
    let column_widths: Vec<usize> = (0..columns)
        .map(|column| {
            std::iter::once(head)
                .chain(rows.iter().map(Vec::as_slice))
                .map(|row| char_count(&cell(row, column).replace(GLUE, " ")))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |row: &[String]| -> String {
        column_widths
            .iter()
            .enumerate()
            .map(|(column, &column_width)| {
                let align = table.aligns.get(column).copied().unwrap_or(Alignment::None);
                pad(&cell(row, column).replace(GLUE, " "), column_width, align)
            })
            .collect::<Vec<_>>()
            .join(" | ")
            .trim_end()
            .to_owned()
    };
    let head_line = line(head);
    let body: Vec<String> = rows.iter().map(|row| line(row)).collect();
    let widest = body
        .iter()
        .chain([&head_line])
        .map(|l| char_count(l))
        .max()
        .unwrap_or(0);
    if widest > width {
        return None;
    }
    let mut out = Vec::new();
    if !head_line.is_empty() {
        out.push(head_line);
        out.push("-".repeat(widest));
    }
    out.extend(body);
    Some(out)
}

fn pad(text: &str, width: usize, align: Alignment) -> String {
    let fill = width.saturating_sub(char_count(text));
    let (left, right) = match align {
        Alignment::Right => (fill, 0),
        Alignment::Center => (fill / 2, fill - fill / 2),
        Alignment::None | Alignment::Left => (0, fill),
    };
    format!("{}{text}{}", " ".repeat(left), " ".repeat(right))
}

fn table_as_blocks(
    head: &[String],
    rows: &[Vec<String>],
    columns: usize,
    width: usize,
) -> Vec<String> {
    if rows.is_empty() {
        return wrap_lines(&head.join(" | "), width, "", "  ");
    }
    let mut out = Vec::new();
    for row in rows {
        if !out.is_empty() {
            out.push(String::new());
        }
        for column in 0..columns {
            let value = cell(row, column);
            if value.is_empty() {
                continue;
            }
            let label = cell(head, column);
            let text = if label.is_empty() {
                value.to_owned()
            } else {
                format!("{label}: {value}")
            };
            out.extend(wrap_lines(&text, width, "", "  "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "https://ozg.sachsen-anhalt.de";

    /// Resolves links as the newsletter does: `@/` pages to the site, "@/entwurf.md" unpublished,
    /// site paths to the site, absolute URLs as they are.
    fn resolve(dest: &str) -> Option<String> {
        if let Some(target) = crate::parse::link::LinkTarget::parse(dest) {
            if target.key.starts_with("entwurf") {
                return None;
            }
            let path = target.key.trim_end_matches(".md");
            return Some(target.with_anchor(&format!("{SITE}/{path}/")));
        }
        if dest.starts_with('/') {
            return Some(format!("{SITE}{dest}"));
        }
        Some(dest.to_owned())
    }

    fn render_with(markdown: &str, refs: &mut References, width: usize) -> String {
        markdown_to_text(markdown, &resolve, refs, width)
    }

    fn render(markdown: &str) -> String {
        render_with(markdown, &mut References::new(), 72)
    }

    /// The promises every output keeps, whatever the input.
    fn assert_well_formed(text: &str) {
        assert!(text.ends_with('\n'), "no final newline: {text:?}");
        assert!(
            !text.ends_with("\n\n") || text == "\n",
            "more than one final newline: {text:?}"
        );
        assert!(
            !text.contains("\n\n\n"),
            "two blank lines in a row: {text:?}"
        );
        for line in text.lines() {
            assert_eq!(line, line.trim_end(), "trailing space in {text:?}");
            assert!(!line.contains(GLUE), "glue left in {text:?}");
        }
    }

    fn longest_line(text: &str) -> usize {
        text.lines().map(char_count).max().unwrap_or(0)
    }

    const LONG_GERMAN: &str = "Die Umsetzung des Onlinezugangsgesetzes in Sachsen-Anhalt schreitet \
        voran: Über 400 Verwaltungsleistungen sind inzwischen digital verfügbar, darunter \
        Anträge auf Wohngeld, Elterngeld und die Ummeldung von Fahrzeugen. Die Kommunen \
        erhalten für die Anbindung ihrer Fachverfahren Unterstützung durch das Ministerium \
        für Infrastruktur und Digitales. Schöne Grüße aus Magdeburg, Halle und Dessau-Roßlau!";

    #[test]
    fn paragraph_wraps_at_72_counting_chars_not_bytes() {
        let text = render(LONG_GERMAN);
        assert_well_formed(&text);
        assert!(text.lines().count() > 3);
        assert!(longest_line(&text) <= 72, "{text}");
        // Umlauts take two bytes each: lines longer than 72 bytes show the width counts chars.
        assert!(text.lines().any(|line| line.len() > 72), "{text}");
        // Filled greedily: the next word would not have fit on the line.
        let lines: Vec<&str> = text.lines().collect();
        for pair in lines.windows(2) {
            let next_word = pair[1].split(' ').next().unwrap_or("");
            assert!(
                char_count(pair[0]) + 1 + char_count(next_word) > 72,
                "{text}"
            );
        }
        assert_eq!(collapse(&text), collapse(LONG_GERMAN));
    }

    #[test]
    fn paragraphs_are_separated_by_one_blank_line_and_soft_breaks_become_spaces() {
        let text = render("Liebe Leserinnen\nund Leser,\n\n\n\nes gibt Neuigkeiten.");
        assert_eq!(
            text,
            "Liebe Leserinnen und Leser,\n\nes gibt Neuigkeiten.\n"
        );
    }

    #[test]
    fn hard_break_starts_a_new_line() {
        let text = render(
            "Ministerium für Infrastruktur und Digitales  \nTurmschanzenstraße 30\\\n39114 Magdeburg",
        );
        assert_eq!(
            text,
            "Ministerium für Infrastruktur und Digitales\nTurmschanzenstraße 30\n39114 Magdeburg\n"
        );
    }

    #[test]
    fn long_url_stays_whole_on_its_own_line() {
        let url = "https://www.onlinezugangsgesetz.de/Webs/OZG/DE/umsetzung/digitalisierungsprogramm-foederal/digitalisierungsprogramm-foederal-node.html";
        let text = render(&format!(
            "Alle Einzelheiten zur föderalen Umsetzung stehen unter {url} im Überblick."
        ));
        assert_well_formed(&text);
        assert!(text.lines().any(|line| line == url), "{text}");
        assert!(
            text.lines()
                .filter(|line| *line != url)
                .all(|line| char_count(line) <= 72)
        );
        let mut refs = References::new();
        refs.number(url);
        assert_eq!(refs.render(), format!("[1] {url}\n"));
    }

    #[test]
    fn hyphenated_compounds_are_never_broken() {
        let text = markdown_to_text(
            "Die Ende-zu-Ende-Digitalisierung der Kfz-Zulassung in Sachsen-Anhalt",
            &resolve,
            &mut References::new(),
            20,
        );
        for word in [
            "Ende-zu-Ende-Digitalisierung",
            "Kfz-Zulassung",
            "Sachsen-Anhalt",
        ] {
            assert!(
                text.lines().any(|line| line.contains(word)),
                "{word} broken in {text}"
            );
        }
    }

    #[test]
    fn links_get_numbered_references_and_the_same_url_the_same_number() {
        let mut refs = References::new();
        let text = render_with(
            "Lesen Sie den [Jahresbericht](@/aktuelles/jahresbericht.md#fazit), die \
             [Förderrichtlinie](/static/richtlinie.pdf) und noch einmal den \
             [Bericht](@/aktuelles/jahresbericht.md#fazit).",
            &mut refs,
            72,
        );
        assert_well_formed(&text);
        assert_eq!(
            text,
            "Lesen Sie den Jahresbericht [1], die Förderrichtlinie [2] und noch\neinmal den Bericht [1].\n"
        );
        assert_eq!(
            refs.render(),
            format!(
                "[1] {SITE}/aktuelles/jahresbericht/#fazit\n[2] {SITE}/static/richtlinie.pdf\n"
            )
        );
        assert_eq!(refs.number(&format!("{SITE}/static/richtlinie.pdf")), 2);
    }

    #[test]
    fn references_continue_across_bodies_and_render_empty_without_links() {
        let mut refs = References::new();
        assert_eq!(refs.render(), "");
        render_with("[Termine](https://example.org/termine)", &mut refs, 72);
        let text = render_with("[Übersicht](https://example.org/übersicht)", &mut refs, 72);
        assert_eq!(text, "Übersicht [2]\n");
    }

    #[test]
    fn reference_number_never_starts_a_line() {
        let text = render(
            "Hier finden Sie den vollständigen Bericht über die Einführung des [Bürgerkontos](https://example.org/konto).",
        );
        assert!(text.lines().all(|line| !line.starts_with('[')), "{text}");
        assert!(text.contains("Bürgerkontos [1]"), "{text}");
    }

    #[test]
    fn link_text_equal_to_url_gets_no_reference() {
        let mut refs = References::new();
        let text = render_with(
            "Web: <https://ozg.sachsen-anhalt.de/>, Post: <poststelle@mid.sachsen-anhalt.de>, \
             auch [https://example.org/ä](https://example.org/ä) oder \
             [info@example.org](mailto:info@example.org).",
            &mut refs,
            72,
        );
        assert_eq!(
            text,
            "Web: https://ozg.sachsen-anhalt.de/, Post:\n\
             poststelle@mid.sachsen-anhalt.de, auch https://example.org/ä oder\n\
             info@example.org.\n"
        );
        assert_eq!(refs.render(), "");
    }

    #[test]
    fn mailto_link_with_other_text_gets_a_reference() {
        let mut refs = References::new();
        let text = render_with("[Schreiben Sie uns](mailto:ozg@example.org)", &mut refs, 72);
        assert_eq!(text, "Schreiben Sie uns [1]\n");
        assert_eq!(refs.render(), "[1] mailto:ozg@example.org\n");
    }

    #[test]
    fn unpublished_link_prints_text_only() {
        let mut refs = References::new();
        let text = render_with(
            "Demnächst: [die Förderübersicht](@/entwurf.md#tabelle).",
            &mut refs,
            72,
        );
        assert_eq!(text, "Demnächst: die Förderübersicht.\n");
        assert_eq!(refs.render(), "");
    }

    #[test]
    fn link_without_text_prints_its_url() {
        let text = render("Siehe [](@/aktuelles/termine.md).");
        assert_eq!(text, format!("Siehe {SITE}/aktuelles/termine/.\n"));
    }

    #[test]
    fn image_prints_alt_text_without_reference() {
        let mut refs = References::new();
        let text = render_with(
            "![Karte der Landkreise in Sachsen-Anhalt](/static/karte.png)\n\n![](/static/leer.png)\n\n\
             [![Logo des Landesportals](/static/logo.png)](https://www.sachsen-anhalt.de)",
            &mut refs,
            72,
        );
        assert_eq!(
            text,
            "[Bild: Karte der Landkreise in Sachsen-Anhalt]\n\n[Bild]\n\n[Bild: Logo des Landesportals] [1]\n"
        );
        assert_eq!(refs.render(), "[1] https://www.sachsen-anhalt.de\n");
    }

    #[test]
    fn headings_are_underlined_with_blank_lines_around() {
        let text = render("Einleitung\n## Neue Dienste für Bürger\nText\n### Förderung\nMehr");
        assert_eq!(
            text,
            "Einleitung\n\nNeue Dienste für Bürger\n=======================\n\nText\n\nFörderung\n---------\n\nMehr\n"
        );
    }

    #[test]
    fn heading_attributes_do_not_show() {
        let text = render("## Übersicht der Änderungen {#aenderungen .wichtig}\n\nInhalt");
        assert_eq!(
            text,
            "Übersicht der Änderungen\n========================\n\nInhalt\n"
        );
    }

    #[test]
    fn heading_underline_counts_chars() {
        assert_eq!(heading("Größe", 1), "Größe\n=====");
        assert_eq!(heading("Überblick", 2), "Überblick\n=========");
        assert_eq!(heading("Fußnoten", 3), "Fußnoten\n--------");
        assert_eq!(heading("Ämter", 6), "Ämter\n-----");
        assert_eq!(heading("  ", 2), "");
        assert_eq!(
            heading("Zwei\nZeilen länger", 2),
            "Zwei\nZeilen länger\n============="
        );
    }

    #[test]
    fn long_heading_is_wrapped_and_underlined_to_its_longest_line() {
        let text = markdown_to_text(
            "## Änderungen bei der Beantragung von Wohngeld",
            &resolve,
            &mut References::new(),
            28,
        );
        assert_eq!(
            text,
            "Änderungen bei der\nBeantragung von Wohngeld\n========================\n"
        );
    }

    #[test]
    fn bullet_list_has_hanging_indent() {
        let text = markdown_to_text(
            "- Wohngeld online beantragen, auch für Menschen ohne eigenes Konto\n- Ummeldung",
            &resolve,
            &mut References::new(),
            40,
        );
        assert_eq!(
            text,
            "- Wohngeld online beantragen, auch für\n  Menschen ohne eigenes Konto\n- Ummeldung\n"
        );
    }

    #[test]
    fn nested_lists_indent_two_more_per_level() {
        let text = render("- Landkreise\n  - Börde\n    - Oschersleben\n  - Harz\n- Städte");
        assert_eq!(
            text,
            "- Landkreise\n  - Börde\n    - Oschersleben\n  - Harz\n- Städte\n"
        );
    }

    #[test]
    fn ordered_list_hanging_indent_matches_number() {
        let text = markdown_to_text(
            "9. Antrag ausfüllen und alle Nachweise hochladen\n10. Bescheid abwarten und prüfen lassen",
            &resolve,
            &mut References::new(),
            30,
        );
        assert_eq!(
            text,
            "9. Antrag ausfüllen und alle\n   Nachweise hochladen\n10. Bescheid abwarten und\n    prüfen lassen\n"
        );
    }

    #[test]
    fn list_in_ordered_list_is_indented_under_the_text() {
        let text = render("1. Schritt eins\n   - Prüfung\n2. Schritt zwei");
        assert_eq!(text, "1. Schritt eins\n   - Prüfung\n2. Schritt zwei\n");
    }

    #[test]
    fn loose_list_separates_items_with_blank_lines() {
        let text = render("- Erster Punkt\n\n- Zweiter Punkt\n\n  Mit Absatz");
        assert_eq!(text, "- Erster Punkt\n\n- Zweiter Punkt\n\n  Mit Absatz\n");
    }

    #[test]
    fn task_list_items_show_their_state() {
        let text = render("- [x] Förderantrag gestellt\n- [ ] Bescheid erhalten");
        assert_eq!(
            text,
            "- [x] Förderantrag gestellt\n- [ ] Bescheid erhalten\n"
        );
    }

    #[test]
    fn block_quote_prefixes_every_line_and_wraps_narrower() {
        let text = render(&format!("> {LONG_GERMAN}\n>\n> Zweiter Absatz"));
        assert_well_formed(&text);
        assert!(longest_line(&text) <= 72, "{text}");
        assert!(
            text.lines()
                .all(|line| line == ">" || line.starts_with("> ")),
            "{text}"
        );
        assert!(text.contains("\n>\n> Zweiter Absatz\n"), "{text}");
        assert_eq!(render("> > Zitat im Zitat"), "> > Zitat im Zitat\n");
    }

    #[test]
    fn code_block_is_indented_and_never_wrapped() {
        let line = format!(
            "curl -X POST {SITE}/api/v1/antraege/wohngeld --data '{{\"größe\": 72}}' --header 'Accept: application/json'"
        );
        let text = render(&format!(
            "Aufruf:\n\n```sh\n{line}\n\n\tletzte Zeile   \n```\n\nFertig."
        ));
        assert_eq!(
            text,
            format!("Aufruf:\n\n    {line}\n\n        letzte Zeile\n\nFertig.\n")
        );
    }

    #[test]
    fn inline_code_emphasis_and_strikethrough_are_plain() {
        let text = render("Mit `ozg-site build` wird *alles* **neu** ~~später~~ ***übersetzt***.");
        assert_eq!(
            text,
            "Mit ozg-site build wird alles neu später übersetzt.\n"
        );
    }

    #[test]
    fn table_that_fits_is_aligned() {
        let text = render(
            "| Landkreis | Leistungen | Quote |\n|---|:---:|---:|\n| Börde | 120 | 85 % |\n| Altmarkkreis Salzwedel | 9 | 7 % |",
        );
        assert_eq!(
            text,
            "Landkreis              | Leistungen | Quote\n\
             -------------------------------------------\n\
             Börde                  |    120     |  85 %\n\
             Altmarkkreis Salzwedel |     9      |   7 %\n"
        );
    }

    #[test]
    fn table_too_wide_prints_header_value_blocks() {
        let text = render(
            "| Leistung | Beschreibung | Status |\n|---|---|---|\n\
             | Wohngeld | Antrag auf Mietzuschuss oder Lastenzuschuss für selbst genutztes Wohneigentum | online |\n\
             | Elterngeld | Antrag nach der Geburt | |",
        );
        assert_well_formed(&text);
        assert!(longest_line(&text) <= 72, "{text}");
        assert_eq!(
            text,
            "Leistung: Wohngeld\n\
             Beschreibung: Antrag auf Mietzuschuss oder Lastenzuschuss für selbst\n  \
             genutztes Wohneigentum\n\
             Status: online\n\
             \n\
             Leistung: Elterngeld\n\
             Beschreibung: Antrag nach der Geburt\n"
        );
    }

    #[test]
    fn link_in_table_cell_keeps_its_reference() {
        let mut refs = References::new();
        let text = render_with(
            "| Dienst | Link |\n|---|---|\n| Wohngeld | [Antrag](https://example.org/w) |",
            &mut refs,
            72,
        );
        assert_eq!(
            text,
            "Dienst   | Link\n---------------------\nWohngeld | Antrag [1]\n"
        );
    }

    #[test]
    fn horizontal_rule_spans_the_width() {
        let text = render("Oben\n\n---\n\nUnten");
        assert_eq!(text, format!("Oben\n\n{}\n\nUnten\n", "-".repeat(72)));
    }

    #[test]
    fn raw_html_keeps_text_and_comments_vanish() {
        let text = render(
            "Vorschau-Text.\n\n<!-- more -->\n\n<div class=\"hinweis\">\n<p>Bitte&nbsp;beachten: <b>Änderung</b> &amp; mehr</p>\n<p>Zweiter<br>Teil</p>\n</div>\n\n\
             Ein <span title=\"a > b\">Satz</span> mit <abbr>OZG</abbr>.<!-- weg -->",
        );
        assert_eq!(
            text,
            "Vorschau-Text.\n\nBitte\u{a0}beachten: Änderung & mehr\n\nZweiter\nTeil\n\nEin Satz mit OZG.\n"
        );
    }

    #[test]
    fn html_script_style_and_images() {
        let text = render(
            "<div><style>p { color: red }</style><script>alert('x')</script><img src=\"a.png\" alt=\"Karte &amp; Plan\"></div>",
        );
        assert_eq!(text, "[Bild: Karte & Plan]\n");
    }

    #[test]
    fn multi_line_html_comment_disappears() {
        assert_eq!(
            render("<!--\nNotiz für die Redaktion:\nnoch prüfen\n-->\n\nText"),
            "Text\n"
        );
    }

    #[test]
    fn footnotes_are_numbered_and_defined_in_place() {
        let text = render(
            "Die Quote stieg deutlich.[^quelle] Mehr dazu später.[^2]\n\n[^quelle]: Statistisches Landesamt Sachsen-Anhalt, Bericht über die Digitalisierung 2024.\n\n[^2]: Ausgabe März.",
        );
        assert_eq!(
            text,
            "Die Quote stieg deutlich. [Fußnote 1] Mehr dazu später. [Fußnote 2]\n\n\
             [Fußnote 1] Statistisches Landesamt Sachsen-Anhalt, Bericht über die\n            \
             Digitalisierung 2024.\n\n\
             [Fußnote 2] Ausgabe März.\n"
        );
    }

    #[test]
    fn wrap_puts_first_and_indent_before_lines() {
        assert_eq!(
            wrap(
                "Anträge für Wohngeld können jetzt online gestellt werden",
                24,
                "- ",
                "  "
            ),
            "- Anträge für Wohngeld\n  können jetzt online\n  gestellt werden"
        );
        assert_eq!(wrap("", 72, "- ", "  "), "-");
        let url = "https://example.org/ein/sehr/langer/pfad/der/nicht/passt";
        assert_eq!(
            wrap(&format!("Siehe {url} dort"), 20, "", "  "),
            format!("Siehe\n  {url}\n  dort")
        );
    }

    #[test]
    fn wrap_counts_umlauts_as_one_column() {
        let text = wrap("Übergrößenänderungsüberprüfung äöü äöü", 34, "", "");
        assert_eq!(text, "Übergrößenänderungsüberprüfung äöü\näöü");
    }

    #[test]
    fn deep_nesting_neither_overflows_nor_loses_text() {
        let quotes = format!("{}Tief verschachtelt", "> ".repeat(5000));
        let text = render(&quotes);
        assert_well_formed(&text);
        assert!(text.contains("Tief verschachtelt"));

        let mut list = String::new();
        for depth in 0..200 {
            list.push_str(&format!("{}- Ebene {depth}\n", "  ".repeat(depth)));
        }
        let text = render(&list);
        assert_well_formed(&text);
        assert!(
            text.contains("Ebene 0") && text.contains("Ebene 199"),
            "{text}"
        );
    }

    #[test]
    fn odd_inputs_never_panic_and_keep_the_promises() {
        let inputs = [
            "",
            " \n\n \t",
            "#",
            "# \n## \n### {#leer}",
            "## Nur Überschriften\n### Noch eine\n#### Und noch eine",
            "- ",
            "- [ ]",
            "1. eins\n2.",
            "* a\n  * b\n    * c\n      *",
            "> ",
            ">>>>>>>>> Zitat",
            "```\nnicht geschlossen",
            "`",
            "[Text](",
            "[Text]()",
            "![](",
            "[^fehlt]",
            "[^a]: nur Definition",
            "<",
            "<div",
            "<!--",
            "<script>",
            "&#0; &#xFFFFFFFF; &#55296; &; &amp &auml;",
            "| a |\n|---|",
            "|a|b|\n|-|-|\n|1|2|3|4|",
            "||\n|-|\n||",
            "---",
            "***\n___",
            "\u{1f}\u{1b}[31mrot\u{1b}[0m\u{0}",
            "Ümläute ß ẞ 🎉 漢字 e\u{301}",
            "- a\n\n  ```\n  code\n  ```\n- b",
            "1. [Link](@/entwurf.md) ![Bild](x.png)\n   > Zitat\n   > - Liste",
            "+++\ntitle = 'x'\n+++",
            "Wort\\\n\\\n\\\nWort",
            "[a](https://x.org) [a](https://x.org) <https://x.org>",
            "<p>offen <b>fett",
            "<img alt='Einzel' src=x><img alt=ohne src=y><img src=z>",
        ];
        for input in inputs {
            for width in [0, 1, 5, 20, 72, 200] {
                let text = render_with(input, &mut References::new(), width);
                assert_well_formed(&text);
            }
        }
    }

    #[test]
    fn large_hostile_inputs_finish() {
        // Each of these was quadratic in a first version; at this size that would take minutes.
        let inputs = [
            format!("<div>{}</div>", "&".repeat(200_000)),
            format!("<div>{}", "<a".repeat(100_000)),
            format!("<div>{}", "<script></script>".repeat(20_000)),
            (0..20_000)
                .map(|n| format!("[Seite {n}](https://example.org/{n}) "))
                .collect(),
        ];
        for input in &inputs {
            assert_well_formed(&render(input));
        }
    }

    #[test]
    fn empty_body_is_one_newline() {
        assert_eq!(render(""), "\n");
        assert_eq!(render("<!-- more -->"), "\n");
    }
}
