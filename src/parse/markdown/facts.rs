//! What the stages after the Markdown pass read of a body, so none of them parses it again: the
//! links and images as written (with where), the headings, the tables' header rows and the plain
//! text for the search index. Zola's `Rendered { internal_links, external_links, toc }` is the
//! model.
//!
//! The facts are taken from the events as pulldown-cmark gives them, before the pass changes
//! anything: a link to a page not published yet is still a link here (its text is still checked),
//! and `[offen: …]` is still written as it is. Only the search text is what readers see.

use std::ops::Range;

use pulldown_cmark::{Event, HeadingLevel, Tag, TagEnd};

use super::DECORATIVE;
use crate::diagnostics::Location;

/// How much plain text a body keeps for the search index: snippets and matching need the
/// beginning, and long pages are found by it and by their title.
pub const SEARCH_TEXT_CHARS: usize = 6000;

/// The facts of one body. Ranges are byte ranges in the body; [`Facts::locate`] turns one into a
/// position in the file.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// Where the body starts in its file, in bytes.
    pub offset: usize,
    /// Every link, `@/` ones unresolved (as written).
    pub links: Vec<Link>,
    /// Every Markdown image (`![alt](src "title")`); raw HTML `<img>` are in
    /// [`super::Rendered::raw_elements`].
    pub images: Vec<Image>,
    pub headings: Vec<HeadingFact>,
    /// The header row of every table.
    pub table_heads: Vec<TableHead>,
    /// The body as readers read it, without markup, whitespace collapsed to single spaces,
    /// `[offen: …]` as the site's text for it; the first [`SEARCH_TEXT_CHARS`] characters (and
    /// one more).
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub dest: String,
    /// The link text as plain text (code spans and images' alternative texts included).
    pub text: String,
    pub range: Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub src: String,
    /// The alternative text as plain text.
    pub alt: String,
    pub title: String,
    pub range: Range<usize>,
    /// Where `src` is written, in the body.
    pub src_at: usize,
}

impl Image {
    /// Marked as decoration (`![](bild.png "dekorativ")`): no alternative text needed.
    pub fn decorative(&self) -> bool {
        self.title.trim() == DECORATIVE
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadingFact {
    /// 1 to 6.
    pub level: u8,
    /// The heading's text and code, as written (not trimmed).
    pub title: String,
    pub range: Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableHead {
    /// No header cell has any text.
    pub empty: bool,
    pub range: Range<usize>,
}

impl Facts {
    /// The position of `range` (a body range) in `file_text`, underlining at most `max_len` bytes.
    pub fn locate(
        &self,
        path: &std::path::Path,
        file_text: &str,
        range: &Range<usize>,
        max_len: usize,
    ) -> Location {
        Location::at_offset(
            path,
            file_text,
            self.offset + range.start,
            (range.end - range.start).min(max_len),
        )
    }
}

/// Reads the parser's events as they come and keeps the facts.
#[derive(Default)]
pub(super) struct Collector {
    pub facts: Facts,
    link: Option<Link>,
    image: Option<Image>,
    heading: Option<HeadingFact>,
    table_head: Option<(Range<usize>, String)>,
}

impl Collector {
    pub fn new(offset: usize) -> Collector {
        Collector {
            facts: Facts {
                offset,
                ..Facts::default()
            },
            ..Collector::default()
        }
    }

    pub fn observe(&mut self, event: &Event<'_>, range: &Range<usize>, body: &str) {
        match event {
            Event::Start(Tag::Link { dest_url, .. }) => {
                self.link = Some(Link {
                    dest: dest_url.to_string(),
                    text: String::new(),
                    range: range.clone(),
                })
            }
            Event::End(TagEnd::Link) => self.facts.links.extend(self.link.take()),
            Event::Start(Tag::Image {
                dest_url, title, ..
            }) => {
                let written = body.get(range.clone()).unwrap_or_default();
                self.image = Some(Image {
                    src: dest_url.to_string(),
                    alt: String::new(),
                    title: title.to_string(),
                    range: range.clone(),
                    src_at: range.start + super::destination_start(written, "]("),
                })
            }
            Event::End(TagEnd::Image) => self.facts.images.extend(self.image.take()),
            Event::Start(Tag::Heading { level, .. }) => {
                self.heading = Some(HeadingFact {
                    level: heading_number(*level),
                    title: String::new(),
                    range: range.clone(),
                })
            }
            Event::End(TagEnd::Heading(_)) => self.facts.headings.extend(self.heading.take()),
            Event::Start(Tag::TableHead) => self.table_head = Some((range.clone(), String::new())),
            Event::End(TagEnd::TableHead) => {
                if let Some((range, text)) = self.table_head.take() {
                    self.facts.table_heads.push(TableHead {
                        empty: text.trim().is_empty(),
                        range,
                    });
                }
            }
            Event::Text(t) | Event::Code(t) => {
                for text in [
                    self.link.as_mut().map(|l| &mut l.text),
                    self.image.as_mut().map(|i| &mut i.alt),
                    self.heading.as_mut().map(|h| &mut h.title),
                    self.table_head.as_mut().map(|(_, text)| text),
                ]
                .into_iter()
                .flatten()
                {
                    text.push_str(t);
                }
            }
            _ => {}
        }
    }
}

fn heading_number(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// The search text, built from the events readers see: words of text and code, blocks and
/// lines apart by one space.
#[derive(Default)]
pub(super) struct SearchText {
    pub text: String,
    chars: usize,
    space: bool,
}

impl SearchText {
    pub fn observe(&mut self, event: &Event<'_>) {
        match event {
            Event::Text(t) | Event::Code(t) => self.push(t),
            Event::SoftBreak
            | Event::HardBreak
            | Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item | TagEnd::TableCell,
            ) => self.space = true,
            _ => {}
        }
    }

    /// One character more than the index takes is kept, so the index never ends where this
    /// text was cut (it trims the end).
    fn push(&mut self, text: &str) {
        for c in text.chars() {
            if self.chars > SEARCH_TEXT_CHARS {
                return;
            }
            if c.is_whitespace() {
                self.space = true;
                continue;
            }
            if self.space && !self.text.is_empty() {
                self.text.push(' ');
                self.chars += 1;
                if self.chars > SEARCH_TEXT_CHARS {
                    return;
                }
            }
            self.space = false;
            self.text.push(c);
            self.chars += 1;
        }
    }
}
