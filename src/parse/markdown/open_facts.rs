//! `[offen: Name der oder des Datenschutzbeauftragten]` in a body: a fact the editor does not
//! know yet, shown to readers as the site's text for it ("wird ergänzt") and listed by `check`.
//!
//! pulldown-cmark leaves brackets that do not form a link as text, but it may cut a text into
//! several events (`[`, `offen: …`, `]`) and puts soft line breaks between lines. This step joins
//! each run of text events, finds the form in it and hands the rest on unchanged, so it works
//! wherever text does: paragraphs, lists, tables, headings, link texts. Code spans are `Code`
//! events and code blocks are skipped, so the form stays literal there; so it does in an image's
//! alternative text, which must stay plain text, and after a backslash (`\[offen: …]`).

use std::collections::VecDeque;
use std::ops::Range;

use pulldown_cmark::{CowStr, Event, Tag, TagEnd};

use crate::yaml::fact::OPEN_WORD;

/// The element around the reader's text (class `open-fact`: themes style it, the preview
/// outlines it). Both tags are constant and harmless, so the raw HTML
/// checks need not read them again (a body may have thousands).
pub const OPEN_TAG: &str = "<span class=\"open-fact\">";
pub const CLOSE_TAG: &str = "</span>";

/// Open facts of one body that are reported one by one; a body with more (a pasted list, or a
/// hostile file of millions) has the rest counted, so `check` stays readable and small.
pub const MAX_REPORTED: usize = 100;

/// One open fact in the text, where it is written in the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// What is missing, as the editor described it (for `check`, never for readers).
    pub description: Option<String>,
    /// Byte range of `[offen: …]` in the body.
    pub range: Range<usize>,
}

/// Wraps a stream of pulldown-cmark events and replaces the form with the reader's text.
pub struct OpenFactsInText<'a, I> {
    inner: I,
    body: &'a str,
    /// What readers see instead, HTML-escaped once.
    text: String,
    ready: VecDeque<(Event<'a>, Range<usize>)>,
    /// Inside a code block or an image, where text stays as written.
    literal_depth: usize,
    /// The first [`MAX_REPORTED`] forms, in order.
    pub found: Vec<Found>,
    /// How many more there are.
    pub more: usize,
}

impl<'a, I: Iterator<Item = (Event<'a>, Range<usize>)>> OpenFactsInText<'a, I> {
    pub fn new(inner: I, body: &'a str, text: &str) -> Self {
        OpenFactsInText {
            inner,
            body,
            text: text.to_string(),
            ready: VecDeque::new(),
            literal_depth: 0,
            found: Vec::new(),
            more: 0,
        }
    }

    fn pull(&mut self) -> Option<(Event<'a>, Range<usize>)> {
        let item = self.inner.next()?;
        match &item.0 {
            Event::Start(Tag::CodeBlock(_) | Tag::Image { .. }) => self.literal_depth += 1,
            Event::End(TagEnd::CodeBlock | TagEnd::Image) => {
                self.literal_depth = self.literal_depth.saturating_sub(1)
            }
            _ => {}
        }
        Some(item)
    }

    /// Replaces the form in one run of text events; a run without it is handed on as it came.
    fn expand(&mut self, run: Vec<(Event<'a>, Range<usize>)>) {
        // Most text has no bracket at all: nothing to join.
        if !run
            .iter()
            .any(|(e, _)| matches!(e, Event::Text(t) if t.contains('[')))
        {
            self.ready.extend(run);
            return;
        }
        let joined: String = run
            .iter()
            .map(|(e, _)| match e {
                Event::Text(t) => t.as_ref(),
                _ => "\n",
            })
            .collect();
        let span = run.first().map_or(0, |(_, r)| r.start)..run.last().map_or(0, |(_, r)| r.end);
        let forms = find_forms(&joined);
        let written = self.body.get(span.clone()).unwrap_or_default();
        let mut searched = 0;
        let mut rest = 0;
        let mut any = false;
        for (open, close) in forms {
            // The same form in the source, to know where it is and whether it was escaped.
            let at = find_open(written, searched);
            if let Some(at) = at {
                searched = at + 1;
                let before = self.body.get(..span.start + at).unwrap_or_default();
                if before.ends_with('\\') {
                    continue;
                }
            }
            let description = joined
                .get(open + OPEN_WORD.len() + 2..close)
                .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|d| !d.is_empty());
            let range = match at {
                Some(at) => {
                    let end = written
                        .get(at..)
                        .and_then(|tail| tail.find(']'))
                        .map_or(written.len(), |e| at + e + 1);
                    span.start + at..span.start + end
                }
                None => span.clone(),
            };
            if self.found.len() < MAX_REPORTED {
                self.found.push(Found {
                    description,
                    range: range.clone(),
                });
            } else {
                self.more += 1;
            }
            if open > rest {
                self.ready.push_back((
                    Event::Text(CowStr::from(
                        joined.get(rest..open).unwrap_or_default().to_string(),
                    )),
                    span.clone(),
                ));
            }
            // The element's events carry the form's own range: later steps that read the
            // source of an event (the raw HTML checks) then read a few bytes, not the paragraph.
            self.ready
                .push_back((Event::InlineHtml(OPEN_TAG.into()), range.clone()));
            self.ready
                .push_back((Event::Text(self.text.clone().into()), range.clone()));
            self.ready
                .push_back((Event::InlineHtml(CLOSE_TAG.into()), range.clone()));
            rest = close + 1;
            any = true;
        }
        if !any {
            self.ready.extend(run);
        } else if rest < joined.len() {
            let tail = joined.get(rest..).unwrap_or_default().to_string();
            self.ready
                .push_back((Event::Text(CowStr::from(tail)), span));
        }
    }
}

impl<'a, I: Iterator<Item = (Event<'a>, Range<usize>)>> Iterator for OpenFactsInText<'a, I> {
    type Item = (Event<'a>, Range<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(item) = self.ready.pop_front() {
            return Some(item);
        }
        let first = self.pull()?;
        if self.literal_depth > 0 || !matches!(first.0, Event::Text(_)) {
            return Some(first);
        }
        let mut run = vec![first];
        let mut after = None;
        while let Some(item) = self.pull() {
            match item.0 {
                Event::Text(_) | Event::SoftBreak if self.literal_depth == 0 => run.push(item),
                _ => {
                    after = Some(item);
                    break;
                }
            }
        }
        // A soft break ends a line, not the text: one at the end of the run stays a break.
        self.expand(run);
        self.ready.extend(after);
        self.ready.pop_front()
    }
}

/// `(start of "[", index of "]")` of each `[offen: …]` / `[offen:]` in a text, in order. The
/// description ends at the first `]` and may not contain `[`.
fn find_forms(text: &str) -> Vec<(usize, usize)> {
    let mut forms = Vec::new();
    let mut from = 0;
    while let Some(open) = find_open(text, from) {
        let inner = open + OPEN_WORD.len() + 2;
        let Some(len) = text.get(inner..).and_then(|t| t.find([']', '['])) else {
            break;
        };
        let close = inner + len;
        if text.as_bytes().get(close) == Some(&b']') {
            forms.push((open, close));
            from = close + 1;
        } else {
            from = close;
        }
    }
    forms
}

/// The next `[offen:` (any case) at or after `from`.
fn find_open(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let head = OPEN_WORD.len() + 2;
    (from..bytes.len()).find(|&i| {
        bytes.get(i) == Some(&b'[')
            && bytes.get(i + 1..i + head).is_some_and(|w| {
                w.get(..OPEN_WORD.len())
                    .is_some_and(|word| word.eq_ignore_ascii_case(OPEN_WORD.as_bytes()))
                    && w.get(OPEN_WORD.len()) == Some(&b':')
            })
    })
}

// These tests parse on their own: they test this step alone, over a bare parser, with no
// renderer after it. The site parses a body once, in `markdown::render`.
#[cfg(test)]
mod tests {
    use super::*;
    use pulldown_cmark::Parser;

    fn html(body: &str) -> (String, Vec<Found>) {
        let parser = Parser::new_ext(body, crate::parse::markdown::options()).into_offset_iter();
        let mut facts = OpenFactsInText::new(parser, body, "wird ergänzt");
        let mut out = String::new();
        pulldown_cmark::html::push_html(&mut out, facts.by_ref().map(|(e, _)| e));
        (out, facts.found)
    }

    #[test]
    fn the_form_becomes_the_readers_text() {
        let body = "Datenschutz: [offen: Name der oder des Datenschutzbeauftragten].\n";
        let (out, found) = html(body);
        assert_eq!(
            out,
            "<p>Datenschutz: <span class=\"open-fact\">wird ergänzt</span>.</p>\n"
        );
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].description.as_deref(),
            Some("Name der oder des Datenschutzbeauftragten")
        );
        assert_eq!(
            &body[found[0].range.clone()],
            "[offen: Name der oder des Datenschutzbeauftragten]"
        );
    }

    #[test]
    fn it_works_in_tables_lists_headings_and_across_lines() {
        let (out, found) = html("| Rolle | Name |\n|---|---|\n| DSB | [offen: Name] |\n");
        assert!(
            out.contains("<td><span class=\"open-fact\">wird ergänzt</span></td>"),
            "{out}"
        );
        assert_eq!(found.len(), 1);
        let (out, _) = html("## Kontakt: [Offen: Telefon]\n\n- eins [offen:] zwei\n");
        assert!(
            out.contains("<h2>Kontakt: <span class=\"open-fact\">wird ergänzt</span></h2>"),
            "{out}"
        );
        assert!(
            out.contains("<li>eins <span class=\"open-fact\">wird ergänzt</span> zwei</li>"),
            "{out}"
        );
        let (out, found) = html("Name: [offen: Name der\noder des DSB] und\nmehr\n");
        assert!(
            out.contains("Name: <span class=\"open-fact\">wird ergänzt</span> und\nmehr"),
            "{out}"
        );
        assert_eq!(
            found[0].description.as_deref(),
            Some("Name der oder des DSB")
        );
    }

    #[test]
    fn code_images_escapes_and_links_keep_it_literal() {
        let body = "`[offen: x]`\n\n```\n[offen: y]\n```\n\n![[offen: z]](a.png)\n\n\\[offen: w]\n\n[offen: v](https://example.org/)\n";
        let (out, found) = html(body);
        assert!(found.is_empty(), "{found:?}");
        assert!(out.contains("<code>[offen: x]</code>"), "{out}");
        assert!(out.contains("[offen: y]\n</code></pre>"), "{out}");
        assert!(out.contains("alt=\"[offen: z]\""), "{out}");
        assert!(out.contains("<p>[offen: w]</p>"), "{out}");
        assert!(
            out.contains("<a href=\"https://example.org/\">offen: v</a>"),
            "{out}"
        );
        // Not the form: no colon, another word, an unclosed bracket.
        let (out, found) = html("[offen] [ofen: x] [offen: nie geschlossen\n");
        assert!(found.is_empty());
        assert!(
            out.contains("[offen] [ofen: x] [offen: nie geschlossen"),
            "{out}"
        );
    }

    #[test]
    fn every_form_is_replaced_but_only_the_first_are_listed() {
        let body = "[offen: a] ".repeat(MAX_REPORTED + 50);
        let parser = Parser::new_ext(&body, crate::parse::markdown::options()).into_offset_iter();
        let mut facts = OpenFactsInText::new(parser, &body, "folgt");
        let mut out = String::new();
        pulldown_cmark::html::push_html(&mut out, facts.by_ref().map(|(e, _)| e));
        assert_eq!(
            out.matches("<span class=\"open-fact\">folgt</span>")
                .count(),
            MAX_REPORTED + 50
        );
        assert_eq!((facts.found.len(), facts.more), (MAX_REPORTED, 50));
    }

    #[test]
    fn markup_in_the_description_does_not_reach_readers() {
        let (out, found) = html("A [offen: 3 &lt; 4 &amp; C] B\n");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].description.as_deref(), Some("3 < 4 & C"));
        assert_eq!(
            out,
            "<p>A <span class=\"open-fact\">wird ergänzt</span> B</p>\n"
        );
    }
}
