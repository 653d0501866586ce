//! The checks of what may reach a reader, fed every event of the Markdown pass: raw HTML that
//! runs script or changes how the page is parsed, and script addresses in links and images
//! ([`raw_html`]). The `<img>` and `<iframe>` elements that pass are kept as facts, with where
//! they are in the body and in the HTML the pass writes.

use std::ops::Range;

use pulldown_cmark::{Event, LinkType, Tag, TagEnd};

use super::{BodySource, MORE_MARKER, RawElement, destination_start, open_facts, raw_html};
use crate::diagnostics::{Diagnostic, Location};

/// The checks of what may reach a reader, fed every event of the pass.
pub(super) struct Safety<'s> {
    pub body: &'s str,
    pub source: &'s BodySource<'s>,
    pub policy: raw_html::Policy<'s>,
    /// The HTML block being read: pulldown-cmark gives it line by line.
    pub block: Option<Fragment>,
    pub diagnostics: Vec<Diagnostic>,
    pub elements: Vec<RawElement>,
}

impl Safety<'_> {
    /// `mark`: the marker the pass writes just before this event's HTML, for raw HTML events.
    pub fn event(&mut self, event: &Event<'_>, range: &Range<usize>, mark: Option<usize>) {
        match event {
            Event::Start(Tag::HtmlBlock) => self.block = Some(Fragment::default()),
            Event::End(TagEnd::HtmlBlock) => {
                if let Some(block) = self.block.take() {
                    self.check_html(&block);
                }
            }
            // The teaser marker is not written out, so it is not read either.
            Event::Html(html) | Event::InlineHtml(html) if html.trim() == MORE_MARKER => {}
            // An open fact's element (`[offen: …]`): two fixed, harmless tags.
            Event::InlineHtml(html)
                if html.as_ref() == open_facts::OPEN_TAG
                    || html.as_ref() == open_facts::CLOSE_TAG => {}
            Event::Html(html) if self.block.is_some() => {
                if let Some(block) = &mut self.block {
                    block.push(html, range, self.body, mark);
                }
            }
            // Inline HTML is always one whole tag or comment, and checked on its own: the text
            // between two of them is escaped, so it can neither open nor close a tag.
            Event::Html(html) | Event::InlineHtml(html) => {
                let mut fragment = Fragment::default();
                fragment.push(html, range, self.body, mark);
                self.check_html(&fragment);
            }
            // Reference links are checked at their definition, where the address is written.
            Event::Start(
                Tag::Link {
                    link_type: link_type @ (LinkType::Inline | LinkType::Autolink),
                    dest_url,
                    ..
                }
                | Tag::Image {
                    link_type: link_type @ (LinkType::Inline | LinkType::Autolink),
                    dest_url,
                    ..
                },
            ) => {
                let written = self.body.get(range.clone()).unwrap_or_default();
                let at = match link_type {
                    LinkType::Autolink => 1,
                    _ => destination_start(written, "]("),
                };
                self.check_destination(dest_url, range.start + at);
            }
            _ => {}
        }
    }

    pub fn reference_definition(&mut self, dest: &str, span: &Range<usize>) {
        let written = self.body.get(span.clone()).unwrap_or_default();
        self.check_destination(dest, span.start + destination_start(written, "]:"));
    }

    fn check_destination(&mut self, dest: &str, at: usize) {
        if let Some(scheme) = raw_html::dangerous_scheme(dest) {
            let problem = raw_html::Problem::ScriptUrl {
                attribute: None,
                scheme,
            };
            self.diagnostics.push(
                Diagnostic::error(problem.message())
                    .at(self.locate(at, dest.len()))
                    .hint(problem.hint(&self.policy)),
            );
        }
    }

    fn check_html(&mut self, fragment: &Fragment) {
        let checked = raw_html::check(&fragment.text, &self.policy);
        for finding in checked.findings {
            let location = self.locate(fragment.body_offset(finding.at), finding.len);
            self.diagnostics.push(
                Diagnostic::error(finding.problem.message())
                    .at(location)
                    .hint(finding.problem.hint(&self.policy)),
            );
        }
        for element in checked.elements {
            let location = self.locate(fragment.body_offset(element.at), element.name.len() + 1);
            let written = fragment
                .written_at(element.at, false)
                .zip(fragment.written_at(element.end, true));
            self.elements.push(RawElement {
                name: element.name,
                src: element.src,
                alt: element.alt,
                location,
                html: None,
                written,
            });
        }
    }

    fn locate(&self, body_offset: usize, len: usize) -> Location {
        Location::at_offset(
            self.source.path,
            self.source.file_text,
            self.source.offset + body_offset,
            len,
        )
    }
}

/// Raw HTML as the browser gets it, and where each of its lines is in the body: a block inside
/// a quote or list loses its `> ` or indentation, so text offsets are not body offsets.
#[derive(Default)]
pub(super) struct Fragment {
    text: String,
    /// (offset in `text`, offset in the body) of each line.
    lines: Vec<(usize, usize)>,
    /// (offset in `text`, marker) of each event: the pass writes an event's HTML as it is,
    /// right after its marker, so a text offset is a known place in the output.
    events: Vec<(usize, usize)>,
}

impl Fragment {
    fn push(&mut self, html: &str, range: &Range<usize>, body: &str, mark: Option<usize>) {
        if let Some(mark) = mark {
            self.events.push((self.text.len(), mark));
        }
        let written = body.get(range.clone()).unwrap_or_default();
        let mut searched = 0;
        for line in html.split_inclusive('\n') {
            let key = line.trim_end_matches(['\n', '\r']);
            let found = written
                .get(searched..)
                .filter(|_| !key.is_empty())
                .and_then(|rest| rest.find(key))
                .map(|i| searched + i);
            self.lines
                .push((self.text.len(), range.start + found.unwrap_or(searched)));
            if let Some(i) = found {
                searched = i + key.len();
            }
            self.text.push_str(line);
        }
    }

    /// The marker before the event that holds text offset `at` (with `end`: the event that ends
    /// at it), and how far into that event's HTML `at` is.
    fn written_at(&self, at: usize, end: bool) -> Option<(usize, usize)> {
        let i = self
            .events
            .partition_point(|(t, _)| if end { *t < at } else { *t <= at })
            .checked_sub(1)?;
        self.events.get(i).map(|(text, mark)| (*mark, at - text))
    }

    fn body_offset(&self, at: usize) -> usize {
        let line = self
            .lines
            .partition_point(|(t, _)| *t <= at)
            .saturating_sub(1);
        self.lines
            .get(line)
            .map_or(0, |(text, body)| body + at.saturating_sub(*text))
    }
}
