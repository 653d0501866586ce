//! The Markdown pass's renderer: one method per kind of event, state in named fields.
//!
//! Events come in after the open-fact step ([`super::open_facts`]) and leave as the events
//! pulldown-cmark's HTML writer gets, changed where the site wants more than CommonMark gives:
//! `@/` links resolved, headings with ids (and anchor links), highlighted code, tables in a
//! scrolling box, task list boxes with labels, decorative images without tooltip. On the way it
//! keeps what later stages need: the teaser, the table of contents, the anchors to check, the
//! word count, the search text, and where every `<img>` ends up in the HTML.

use std::cell::Cell;
use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, CowStr, Event, HeadingLevel, Tag, TagEnd};

use super::facts::{Facts, SearchText};
use super::safety::Safety;
use super::{
    AnchorRef, BodySource, DECORATIVE, Heading, ImageTag, MORE_MARKER, MarkdownOptions, Rendered,
    Resolved, count_words, destination_start, escape, open_facts, raw_html,
};
use crate::diagnostics::{Diagnostic, Location};
use crate::hyphenate::{hyphenate, strip};
use crate::parse::highlight::highlight;
use crate::parse::link::{LinkTarget, missing_page};
use crate::slug::slugify;

const TABLE_OPEN: &str = "<div class=\"table-scroll\" tabindex=\"0\">\n";
const TABLE_CLOSE: &str = "</div>\n";

/// A place in the HTML to be written that the pass wants to know the offset of. It travels as
/// an empty inline HTML event (which pulldown-cmark never produces and which writes nothing) and
/// is taken out of the stream as the HTML is written.
const MARK: &str = "";

/// What a marker stands for.
enum Mark {
    /// Before the HTML of a raw HTML event.
    Html,
    /// Before a Markdown image: its address and where that is written in the body.
    ImageStart { src: String, src_at: usize },
    /// After a Markdown image.
    ImageEnd,
}

/// A heading whose events are held back until its end, to make its id from its text.
struct PendingHeading<'a> {
    level: HeadingLevel,
    id: Option<CowStr<'a>>,
    classes: Vec<CowStr<'a>>,
    inner: Vec<Event<'a>>,
}

/// A code block, collected whole so the highlighter sees complete lines.
struct PendingCode {
    lang: Option<String>,
    text: String,
}

/// The pass's state between events; `event` takes them one by one, `finish` writes the HTML.
pub(super) struct BodyRenderer<'a, 's> {
    source: &'s BodySource<'s>,
    opts: &'s MarkdownOptions<'s>,
    resolve: &'s dyn Fn(&str) -> Resolved,
    pub out: Rendered,
    pub safety: Safety<'s>,
    search: SearchText,
    /// What the HTML writer gets, markers included.
    events: Vec<Event<'a>>,
    /// Nesting of blocks, to find the first top-level paragraph.
    depth: usize,
    /// Where `<!-- more -->` cut the events, if it did.
    summary_cut: Option<usize>,
    /// A teaser cut inside an HTML block could end inside a tag, which list pages then continue.
    marker_in_html_block: Option<Range<usize>>,
    first_paragraph: (Option<usize>, Option<usize>),
    used_ids: Vec<String>,
    heading: Option<PendingHeading<'a>>,
    code: Option<PendingCode>,
    /// Inside a link to a page not published yet: its text stays, the link goes.
    dropping_link: bool,
    /// What each marker in `events` stands for, in order.
    marks: Vec<Mark>,
    /// Where the table cell being read starts in `events`: its text gets soft hyphens at its end.
    cell_start: Option<usize>,
}

impl<'a, 's> BodyRenderer<'a, 's> {
    pub fn new(
        body: &'s str,
        source: &'s BodySource<'s>,
        resolve: &'s dyn Fn(&str) -> Resolved,
        opts: &'s MarkdownOptions<'s>,
    ) -> Self {
        BodyRenderer {
            source,
            opts,
            resolve,
            out: Rendered::default(),
            safety: Safety {
                body,
                source,
                policy: raw_html::Policy {
                    trusted_embeds: opts.trusted_embeds,
                },
                block: None,
                diagnostics: Vec::new(),
                elements: Vec::new(),
            },
            search: SearchText::default(),
            events: Vec::new(),
            depth: 0,
            summary_cut: None,
            marker_in_html_block: None,
            first_paragraph: (None, None),
            used_ids: Vec::new(),
            heading: None,
            code: None,
            dropping_link: false,
            marks: Vec::new(),
            cell_start: None,
        }
    }

    fn locate(&self, range: &Range<usize>) -> Location {
        Location::at_offset(
            self.source.path,
            self.source.file_text,
            self.source.offset + range.start,
            range.end - range.start,
        )
    }

    /// One event of the body, with its byte range in the body.
    pub fn event(&mut self, event: Event<'a>, range: Range<usize>) {
        let mark = self.mark_raw_html(&event);
        self.safety.event(&event, &range, mark);
        if self.opts.search_text {
            self.search.observe(&event);
        }
        if let Event::Text(t) = &event {
            self.out.word_count += count_words(t);
        }
        if self.code.is_some() {
            self.on_code_content(event);
            return;
        }
        let Some(event) = self.transform(event, &range) else {
            return;
        };
        if self.heading.is_some() {
            self.on_heading_content(event);
            return;
        }
        match event {
            Event::Start(Tag::Heading {
                level, id, classes, ..
            }) => self.on_heading_start(level, id, classes),
            Event::Start(Tag::CodeBlock(kind)) => self.on_code_start(kind),
            Event::Start(t @ Tag::Table(_)) => self.on_table_start(t),
            Event::End(TagEnd::Table) => self.on_table_end(),
            Event::Start(Tag::TableCell) => {
                self.cell_start = Some(self.events.len() + 1);
                self.on_start(Tag::TableCell);
            }
            Event::End(TagEnd::TableCell) => {
                if let Some(start) = self.cell_start.take()
                    && start <= self.events.len()
                {
                    let cell = self.events.split_off(start);
                    let hyphenated = soft_hyphens(cell, self.opts.hyphenate_min_length);
                    self.events.extend(hyphenated);
                }
                self.on_end(TagEnd::TableCell);
            }
            Event::Start(t) => self.on_start(t),
            Event::End(t) => self.on_end(t),
            e => self.events.push(e),
        }
    }

    /// A marker before each raw HTML event that is written as it is, so the `<img>` elements
    /// the raw HTML checks find in it can be found in the HTML.
    fn mark_raw_html(&mut self, event: &Event<'a>) -> Option<usize> {
        let (Event::Html(html) | Event::InlineHtml(html)) = event else {
            return None;
        };
        if html.trim() == MORE_MARKER
            || html.as_ref() == open_facts::OPEN_TAG
            || html.as_ref() == open_facts::CLOSE_TAG
        {
            return None;
        }
        Some(self.mark(Mark::Html))
    }

    fn mark(&mut self, mark: Mark) -> usize {
        self.marks.push(mark);
        let event = Event::InlineHtml(MARK.into());
        match &mut self.heading {
            Some(h) => h.inner.push(event),
            None => self.events.push(event),
        }
        self.marks.len() - 1
    }

    /// The site's changes to single events; `None` when the event is not written.
    fn transform(&mut self, event: Event<'a>, range: &Range<usize>) -> Option<Event<'a>> {
        Some(match event {
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) if dest_url.starts_with("@/") => {
                let dest_url = self.on_internal_link(dest_url, range)?;
                Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                })
            }
            Event::End(TagEnd::Link) if self.dropping_link => {
                self.dropping_link = false;
                return None;
            }
            Event::TaskListMarker(done) => self.on_task_marker(done),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let written = self.safety.body.get(range.clone()).unwrap_or_default();
                self.mark(Mark::ImageStart {
                    src: dest_url.to_string(),
                    src_at: range.start + destination_start(written, "]("),
                });
                // `![](bild.jpg "dekorativ")` marks a decorative image: empty alt, and the
                // marker is not shown as a tooltip.
                let title = if title.as_ref() == DECORATIVE {
                    "".into()
                } else {
                    title
                };
                Event::Start(Tag::Image {
                    link_type,
                    dest_url,
                    title,
                    id,
                })
            }
            Event::Html(ref h) | Event::InlineHtml(ref h) if h.trim() == MORE_MARKER => {
                if self.summary_cut.is_none() {
                    self.summary_cut = Some(self.events.len());
                    self.marker_in_html_block = self.safety.block.is_some().then(|| range.clone());
                }
                return None;
            }
            other => other,
        })
    }

    /// `@/target#anchor`: the URL to link to, or `None` if the link is left out (its text stays).
    fn on_internal_link(
        &mut self,
        dest_url: CowStr<'a>,
        range: &Range<usize>,
    ) -> Option<CowStr<'a>> {
        let Some(target) = LinkTarget::parse(&dest_url) else {
            return Some(dest_url);
        };
        let resolved = (self.resolve)(target.key);
        self.out
            .internal_links
            .push((target.key.to_string(), resolved.clone()));
        match resolved {
            Resolved::Url(url) => {
                if let Some(anchor) = target.anchor {
                    self.out.anchors_to_check.push(AnchorRef {
                        target: target.key.to_string(),
                        anchor: anchor.to_string(),
                        location: self.locate(range),
                    });
                }
                Some(target.with_anchor(&url).into())
            }
            Resolved::Unpublished => {
                self.dropping_link = true;
                None
            }
            Resolved::Missing { suggestion } => {
                self.out
                    .diagnostics
                    .push(missing_page(&dest_url, suggestion.as_deref()).at(self.locate(range)));
                Some(dest_url)
            }
        }
    }

    fn on_task_marker(&self, done: bool) -> Event<'a> {
        let (checked, label) = if done {
            (" checked", self.opts.task_done_label)
        } else {
            ("", self.opts.task_open_label)
        };
        Event::Html(
            format!(
                "<input type=\"checkbox\" disabled{checked} aria-label=\"{}\"> ",
                escape(label)
            )
            .into(),
        )
    }

    fn on_heading_start(
        &mut self,
        level: HeadingLevel,
        id: Option<CowStr<'a>>,
        classes: Vec<CowStr<'a>>,
    ) {
        self.depth += 1;
        self.heading = Some(PendingHeading {
            level,
            id,
            classes,
            inner: Vec::new(),
        });
    }

    fn on_heading_content(&mut self, event: Event<'a>) {
        if !matches!(event, Event::End(TagEnd::Heading(_))) {
            let image = matches!(event, Event::End(TagEnd::Image));
            if let Some(h) = &mut self.heading {
                h.inner.push(event);
            }
            if image {
                self.mark(Mark::ImageEnd);
            }
            return;
        }
        let Some(heading) = self.heading.take() else {
            return;
        };
        self.depth -= 1;
        // The id and the toc's title come from the text as written, before soft hyphens.
        let (open, close) = self.finish_heading(&heading);
        self.events.push(Event::Html(open.into()));
        self.events
            .extend(soft_hyphens(heading.inner, self.opts.hyphenate_min_length));
        self.events.push(Event::Html(close.into()));
    }

    /// The heading's id (unique on the page) and its tags; its content is written between them.
    fn finish_heading(&mut self, heading: &PendingHeading<'a>) -> (String, String) {
        let mut title = String::new();
        for e in &heading.inner {
            if let Event::Text(t) | Event::Code(t) = e {
                title.push_str(t);
            }
        }
        let base = match &heading.id {
            Some(id) => id.to_string(),
            None => {
                let s = slugify(&title);
                if s.is_empty() {
                    "abschnitt".to_string()
                } else {
                    s
                }
            }
        };
        let mut id = base.clone();
        let mut n = 1;
        while self.used_ids.contains(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        self.used_ids.push(id.clone());
        let level = heading.level as u8;
        let class_attr = if heading.classes.is_empty() {
            String::new()
        } else {
            format!(
                " class=\"{}\"",
                escape(
                    &heading
                        .classes
                        .iter()
                        .map(|c| c.as_ref())
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            )
        };
        let escaped = escape(&id);
        // The heading's text stays plain text (soft hyphens can break it, and a link inside
        // stays the only one). The self-link after it is for pointing: out of the Tab order
        // and hidden from screen readers (axe's `aria-hidden-focus` accepts `tabindex="-1"`),
        // so it adds no Tab stop and no "#" to hear per heading; the theme places it in the
        // margin, where it takes no space. Keyboard and screen-reader users reach sections
        // through the contents list (`partials/toc.html`, `page.show_toc`), whose links are
        // the same `#id`s.
        let tags = if self.opts.heading_anchors {
            (
                format!("<h{level} id=\"{escaped}\"{class_attr}>"),
                format!(
                    "<a class=\"heading-anchor\" href=\"#{escaped}\" tabindex=\"-1\" aria-hidden=\"true\">#</a></h{level}>\n"
                ),
            )
        } else {
            (
                format!("<h{level} id=\"{escaped}\"{class_attr}>"),
                format!("</h{level}>\n"),
            )
        };
        self.out.toc.push(Heading { level, id, title });
        tags
    }

    fn on_code_start(&mut self, kind: CodeBlockKind<'a>) {
        self.depth += 1;
        self.out.has_code = true;
        let lang = match kind {
            CodeBlockKind::Fenced(info) => info
                .split([' ', ',', '{'])
                .next()
                .filter(|l| !l.is_empty())
                .map(str::to_string),
            CodeBlockKind::Indented => None,
        };
        self.code = Some(PendingCode {
            lang,
            text: String::new(),
        });
    }

    fn on_code_content(&mut self, event: Event<'a>) {
        match event {
            Event::Text(t) => {
                if let Some(code) = &mut self.code {
                    code.text.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some(code) = self.code.take() {
                    let html = highlight(code.lang.as_deref(), &code.text);
                    self.events.push(Event::Html(html.into()));
                }
                self.depth -= 1;
            }
            _ => {}
        }
    }

    /// Wide tables scroll inside their own box on phones instead of crushing words; tabindex
    /// lets keyboard users scroll it (WCAG 2.1.1).
    fn on_table_start(&mut self, table: Tag<'a>) {
        self.depth += 1;
        self.events.push(Event::Html(TABLE_OPEN.into()));
        self.events.push(Event::Start(table));
    }

    fn on_table_end(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        self.events.push(Event::End(TagEnd::Table));
        self.events.push(Event::Html(TABLE_CLOSE.into()));
    }

    fn on_start(&mut self, tag: Tag<'a>) {
        if self.depth == 0 && tag == Tag::Paragraph && self.first_paragraph.0.is_none() {
            self.first_paragraph.0 = Some(self.events.len());
        }
        self.depth += 1;
        self.events.push(Event::Start(tag));
    }

    fn on_end(&mut self, tag: TagEnd) {
        self.depth = self.depth.saturating_sub(1);
        let closes_first = self.depth == 0
            && tag == TagEnd::Paragraph
            && self.first_paragraph.0.is_some()
            && self.first_paragraph.1.is_none();
        let image = tag == TagEnd::Image;
        self.events.push(Event::End(tag));
        if image {
            self.mark(Mark::ImageEnd);
        }
        if closes_first {
            self.first_paragraph.1 = Some(self.events.len());
        }
    }

    /// The teaser: content before `<!-- more -->`, else the first paragraph; and the problem
    /// with it, if any.
    fn summary(&mut self) -> Option<Diagnostic> {
        let teaser_range = match (self.summary_cut, self.first_paragraph) {
            (Some(cut), _) => Some(0..cut),
            (None, (Some(start), Some(end))) => Some(start..end),
            _ => None,
        };
        let range = teaser_range?;
        let teaser = self
            .events
            .get(range)
            .unwrap_or_default()
            .iter()
            .filter(|e| !matches!(e, Event::FootnoteReference(_)))
            .cloned();
        let mut summary = String::new();
        pulldown_cmark::html::push_html(&mut summary, teaser);
        let problem = self
            .marker_in_html_block
            .as_ref()
            .filter(|_| !raw_html::tokenize(&summary).complete)
            .map(|marker| {
                Diagnostic::error("`<!-- more -->` stands inside a tag of raw HTML, so the teaser would end inside it")
                    .at(self.locate(marker))
                    .hint("Setzen Sie <!-- more --> zwischen zwei Absätze, außerhalb von HTML-Tags; sonst wird in Übersichten der folgende Inhalt Teil des Tags.")
            });
        if !summary.trim().is_empty() {
            // Teasers end up in meta descriptions and feeds too: plain words, no soft hyphens.
            self.out.summary = Some(strip(&summary).into_owned());
        }
        problem
    }

    /// Writes the HTML and says where each image is in it; the teaser's problem comes apart,
    /// as it is reported after the body's others.
    pub fn finish(mut self, body_len: usize, mut facts: Facts) -> (Rendered, Option<Diagnostic>) {
        let teaser_problem = self.summary();
        facts.text = std::mem::take(&mut self.search.text);
        self.out.facts = facts;
        let mut html = String::with_capacity(body_len * 3 / 2);
        let written = Cell::new(0);
        let mut at = Vec::with_capacity(self.marks.len());
        let events = std::mem::take(&mut self.events).into_iter().filter(|e| {
            let is_mark = matches!(e, Event::InlineHtml(h) if h.is_empty());
            if is_mark {
                at.push(written.get());
            }
            !is_mark
        });
        // Writing into a `String` cannot fail.
        let _ = pulldown_cmark::html::write_html_fmt(
            Counting {
                out: &mut html,
                written: &written,
            },
            events,
        );
        // The model keeps every body for the whole build: no slack beyond its bytes (a tenth of
        // a large site's memory otherwise).
        html.shrink_to_fit();
        self.out.html = html;
        self.place_images(&at);
        self.out.diagnostics.append(&mut self.safety.diagnostics);
        self.out.raw_elements = self.safety.elements;
        (self.out, teaser_problem)
    }

    /// Every `<img>` of the HTML with its place, Markdown images and raw HTML ones in order.
    fn place_images(&mut self, at: &[usize]) {
        let mut images = Vec::new();
        // Images open inside an image's alternative text too.
        let mut open: Vec<(usize, &str, usize)> = Vec::new();
        for (i, mark) in self.marks.iter().enumerate() {
            match mark {
                Mark::ImageStart { src, src_at } => open.push((i, src, *src_at)),
                Mark::ImageEnd => {
                    if let Some((s, src, src_at)) = open.pop()
                        && let (Some(from), Some(to)) = (at.get(s), at.get(i))
                    {
                        images.push(ImageTag {
                            html: *from..*to,
                            src: src.to_string(),
                            location: Location::at_offset(
                                self.source.path,
                                self.source.file_text,
                                self.source.offset + src_at,
                                src.len(),
                            ),
                        });
                    }
                }
                Mark::Html => {}
            }
        }
        let place = |(mark, offset): (usize, usize)| at.get(mark).map(|a| a + offset);
        for element in &mut self.safety.elements {
            element.html = element
                .written
                .and_then(|(from, to)| Some(place(from)?..place(to)?));
            if element.name == "img"
                && let (Some(html), Some(src)) = (&element.html, &element.src)
            {
                images.push(ImageTag {
                    html: html.clone(),
                    src: src.clone(),
                    location: element.location.clone(),
                });
            }
        }
        // An image or raw `<img>` inside an image's alternative text is written as text there,
        // not as a tag: only whole tags are places to put an image.
        let html = &self.out.html;
        images.retain(|i| {
            html.get(i.html.clone()).is_some_and(|tag| {
                tag.get(..4).is_some_and(|t| t.eq_ignore_ascii_case("<img")) && tag.ends_with('>')
            })
        });
        images.sort_by_key(|i| i.html.start);
        self.out.images = images;
    }
}

/// `events` (a heading's or table cell's content) with soft hyphens in their text: adjacent
/// text events joined first, so a word or an address split by the parser (at `&amp;`, `_`, …)
/// is judged whole. An image's alternative text is written as an attribute and stays as it is,
/// code spans and raw HTML are other events and stay too.
fn soft_hyphens(events: Vec<Event<'_>>, min_length: usize) -> Vec<Event<'_>> {
    if min_length == 0 {
        return events;
    }
    let mut out: Vec<Event<'_>> = Vec::with_capacity(events.len());
    let mut in_image = 0usize;
    let mut text: Option<String> = None;
    let flush = |text: &mut Option<String>, out: &mut Vec<Event<'_>>| {
        if let Some(t) = text.take() {
            out.push(Event::Text(hyphenate(&t, min_length).into_owned().into()));
        }
    };
    for event in events {
        match event {
            Event::Text(t) if in_image == 0 => text.get_or_insert_with(String::new).push_str(&t),
            other => {
                flush(&mut text, &mut out);
                match &other {
                    Event::Start(Tag::Image { .. }) => in_image += 1,
                    Event::End(TagEnd::Image) => in_image = in_image.saturating_sub(1),
                    _ => {}
                }
                out.push(other);
            }
        }
    }
    flush(&mut text, &mut out);
    out
}

/// Passes the HTML on and counts its bytes, so the markers know where they are.
struct Counting<'o> {
    out: &'o mut String,
    written: &'o Cell<usize>,
}

impl std::fmt::Write for Counting<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.out.push_str(s);
        self.written.set(self.out.len());
        Ok(())
    }
}
