//! Markdown body → HTML, in one pass over pulldown-cmark's events.
//!
//! Besides HTML the pass yields what later stages need without parsing again: the table of contents
//! (heading ids are what `#anchor` links are checked against), the teaser, the `@/` links to check,
//! the word count, and the images and frames written as raw HTML.
//!
//! It also refuses what must not reach a reader: raw HTML that runs script, sends data, embeds
//! other sites or changes how the page is parsed, and `javascript:`/`vbscript:`/`data:` addresses
//! in links and images ([`raw_html`]).

pub mod open_facts;
pub mod raw_html;

pub use super::escape::escape;
use super::highlight::highlight;

use std::ops::Range;
use std::path::Path;

use pulldown_cmark::{
    CodeBlockKind, CowStr, Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd,
};
use serde::Serialize;

use crate::diagnostics::{Diagnostic, Location};
use crate::slug::slugify;

/// The title a decorative image carries instead of alternative text: `![](bild.png "dekorativ")`.
pub const DECORATIVE: &str = "dekorativ";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heading {
    pub level: u8,
    pub id: String,
    pub title: String,
}

/// An `@/page.md#anchor` link whose anchor can only be checked once every page is rendered.
#[derive(Debug, Clone)]
pub struct AnchorRef {
    pub target: String,
    pub anchor: String,
    pub location: Location,
}

/// What a link target in `@/` form turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Url(String),
    /// The page exists but is not published yet (scheduled or draft): render the text only.
    Unpublished,
    Missing {
        suggestion: Option<String>,
    },
}

pub struct MarkdownOptions<'a> {
    pub heading_anchors: bool,
    pub task_done_label: &'a str,
    pub task_open_label: &'a str,
    /// Address prefixes an `<iframe src>` may start with (`markdown.trusted_embeds` in site.yaml).
    pub trusted_embeds: &'a [String],
    /// What readers see for `[offen: …]` (`markdown.open_fact_text`); without it the form is an
    /// error, since there is nothing honest to show.
    pub open_fact_text: Option<&'a str>,
}

/// `[offen: …]` in the body: what the editor still has to fill in, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenText {
    pub description: Option<String>,
    pub location: Location,
}

/// The file a body belongs to, for positions in diagnostics.
pub struct BodySource<'a> {
    pub path: &'a Path,
    pub file_text: &'a str,
    /// Where the body starts in the file, in bytes.
    pub offset: usize,
}

/// An `<img>` or `<iframe>` written as raw HTML, for the stages that judge them: an e-mail shows
/// no frames, and its images need alt text and an address mail programs can load.
#[derive(Debug, Clone)]
pub struct RawElement {
    pub name: String,
    pub src: Option<String>,
    pub alt: Option<String>,
    pub location: Location,
}

#[derive(Debug, Default, Clone)]
pub struct Rendered {
    pub html: String,
    /// The teaser: content before `<!-- more -->`, else the first paragraph.
    pub summary: Option<String>,
    pub toc: Vec<Heading>,
    pub anchors_to_check: Vec<AnchorRef>,
    pub word_count: usize,
    pub diagnostics: Vec<Diagnostic>,
    pub raw_elements: Vec<RawElement>,
    /// Every `[offen: …]` of the body, for `check` (the first [`open_facts::MAX_REPORTED`]).
    pub open_facts: Vec<OpenText>,
    /// How many more `[offen: …]` the body has.
    pub open_facts_more: usize,
}

const MORE_MARKER: &str = "<!-- more -->";
const TABLE_OPEN: &str = "<div class=\"table-scroll\" tabindex=\"0\">\n";
const TABLE_CLOSE: &str = "</div>\n";

pub(crate) fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
}

/// Renders `body` (the part of `source` after the front matter) to HTML.
pub fn render(
    body: &str,
    source: &BodySource<'_>,
    resolve: &dyn Fn(&str) -> Resolved,
    opts: &MarkdownOptions<'_>,
) -> Rendered {
    let mut out = Rendered::default();
    let mut events: Vec<Event<'_>> = Vec::new();
    let mut summary_cut: Option<usize> = None;
    // A teaser cut inside an HTML block could end inside a tag, which list pages then continue.
    let mut marker_in_html_block: Option<Range<usize>> = None;
    let mut first_paragraph: (Option<usize>, Option<usize>) = (None, None);
    let mut depth = 0usize;
    let mut used_ids: Vec<String> = Vec::new();

    // A heading's events are held back until its end, to make its id from its text.
    type HeadingBuf<'a> = (
        HeadingLevel,
        Option<CowStr<'a>>,
        Vec<CowStr<'a>>,
        Vec<Event<'a>>,
    );
    let mut heading: Option<HeadingBuf<'_>> = None;
    let mut code: Option<(Option<String>, String)> = None;
    let mut dropping_link = false;

    let locate = |range: &std::ops::Range<usize>| {
        Location::at_offset(
            source.path,
            source.file_text,
            source.offset + range.start,
            range.end - range.start,
        )
    };

    let mut safety = Safety {
        body,
        source,
        policy: raw_html::Policy {
            trusted_embeds: opts.trusted_embeds,
        },
        block: None,
        diagnostics: Vec::new(),
        elements: Vec::new(),
    };
    let mut parser = Parser::new_ext(body, options()).into_offset_iter();
    let mut facts = open_facts::OpenFactsInText::new(
        parser.by_ref(),
        body,
        opts.open_fact_text.unwrap_or_default(),
    );
    for (event, range) in facts.by_ref() {
        safety.event(&event, &range);
        if let Event::Text(t) = &event {
            out.word_count += count_words(t);
        }
        // Code blocks are collected whole so syntect sees complete lines.
        if let Some((lang, text)) = &mut code {
            match event {
                Event::Text(t) => text.push_str(&t),
                Event::End(TagEnd::CodeBlock) => {
                    let html = highlight(lang.as_deref(), text);
                    events.push(Event::Html(html.into()));
                    code = None;
                    depth -= 1;
                }
                _ => {}
            }
            continue;
        }
        let event = match event {
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) if dest_url.starts_with("@/") => {
                let internal = dest_url.strip_prefix("@/").unwrap_or(&dest_url);
                let (target, anchor) = match internal.split_once('#') {
                    Some((t, a)) => (t.to_string(), Some(a.to_string())),
                    None => (internal.to_string(), None),
                };
                match resolve(&target) {
                    Resolved::Url(url) => {
                        if let Some(anchor) = &anchor {
                            out.anchors_to_check.push(AnchorRef {
                                target: target.clone(),
                                anchor: anchor.clone(),
                                location: locate(&range),
                            });
                        }
                        let dest = match anchor {
                            Some(a) => format!("{url}#{a}"),
                            None => url,
                        };
                        Event::Start(Tag::Link {
                            link_type,
                            dest_url: dest.into(),
                            title,
                            id,
                        })
                    }
                    Resolved::Unpublished => {
                        dropping_link = true;
                        continue;
                    }
                    Resolved::Missing { suggestion } => {
                        let hint = match suggestion {
                            Some(s) => format!("did you mean `@/{s}`?"),
                            None => "write the path of an existing file relative to `content/`, e.g. `@/aktuelles/beitrag.md`".into(),
                        };
                        out.diagnostics.push(
                            Diagnostic::error(format!("link to a missing page `{dest_url}`"))
                                .at(locate(&range))
                                .hint(hint),
                        );
                        Event::Start(Tag::Link {
                            link_type,
                            dest_url,
                            title,
                            id,
                        })
                    }
                }
            }
            Event::End(TagEnd::Link) if dropping_link => {
                dropping_link = false;
                continue;
            }
            Event::TaskListMarker(done) => {
                let (checked, label) = if done {
                    (" checked", opts.task_done_label)
                } else {
                    ("", opts.task_open_label)
                };
                Event::Html(
                    format!(
                        "<input type=\"checkbox\" disabled{checked} aria-label=\"{}\"> ",
                        escape(label)
                    )
                    .into(),
                )
            }
            // `![](bild.jpg "dekorativ")` marks a decorative image (see `audit`): empty alt, and
            // the marker is not shown as a tooltip.
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) if title.as_ref() == DECORATIVE => Event::Start(Tag::Image {
                link_type,
                dest_url,
                title: "".into(),
                id,
            }),
            Event::Html(ref h) | Event::InlineHtml(ref h) if h.trim() == MORE_MARKER => {
                if summary_cut.is_none() {
                    summary_cut = Some(events.len());
                    marker_in_html_block = safety.block.is_some().then(|| range.clone());
                }
                continue;
            }
            other => other,
        };

        if let Some((_, _, _, inner)) = &mut heading {
            match event {
                Event::End(TagEnd::Heading(_)) => {
                    let Some((level, id, classes, inner)) = heading.take() else {
                        continue;
                    };
                    events.push(finish_heading(
                        level,
                        id,
                        &classes,
                        inner,
                        &mut used_ids,
                        &mut out.toc,
                        opts.heading_anchors,
                    ));
                    depth -= 1;
                }
                e => inner.push(e),
            }
            continue;
        }

        match event {
            Event::Start(Tag::Heading {
                level, id, classes, ..
            }) => {
                depth += 1;
                heading = Some((level, id, classes, Vec::new()));
            }
            Event::Start(Tag::CodeBlock(kind)) => {
                depth += 1;
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => info
                        .split([' ', ',', '{'])
                        .next()
                        .filter(|l| !l.is_empty())
                        .map(str::to_string),
                    CodeBlockKind::Indented => None,
                };
                code = Some((lang, String::new()));
            }
            Event::Start(t @ Tag::Table(_)) => {
                // Wide tables scroll inside their own box on phones instead of crushing words;
                // tabindex lets keyboard users scroll it (WCAG 2.1.1).
                depth += 1;
                events.push(Event::Html(TABLE_OPEN.into()));
                events.push(Event::Start(t));
            }
            Event::End(TagEnd::Table) => {
                depth = depth.saturating_sub(1);
                events.push(Event::End(TagEnd::Table));
                events.push(Event::Html(TABLE_CLOSE.into()));
            }
            Event::Start(t) => {
                if depth == 0 && t == Tag::Paragraph && first_paragraph.0.is_none() {
                    first_paragraph.0 = Some(events.len());
                }
                depth += 1;
                events.push(Event::Start(t));
            }
            Event::End(t) => {
                depth = depth.saturating_sub(1);
                let closes_first = depth == 0
                    && t == TagEnd::Paragraph
                    && first_paragraph.0.is_some()
                    && first_paragraph.1.is_none();
                events.push(Event::End(t));
                if closes_first {
                    first_paragraph.1 = Some(events.len());
                }
            }
            e => events.push(e),
        }
    }

    let found = std::mem::take(&mut facts.found);
    out.open_facts_more = facts.more;
    drop(facts);
    for (i, fact) in found.into_iter().enumerate() {
        let mut location = locate(&fact.range);
        // A line of megabytes is not worth a copy per fact; the position says where it is.
        if location
            .source_line
            .as_ref()
            .is_some_and(|l| l.len() > 1000)
        {
            location.source_line = None;
        }
        if opts.open_fact_text.is_none() && i == 0 {
            out.diagnostics.push(
                Diagnostic::error(
                    "`[offen: …]` needs the text readers see instead, and site.yaml has none",
                )
                .at(location.clone())
                .hint("add to site.yaml: `markdown: {open_fact_text: \"wird ergänzt\"}`"),
            );
        }
        out.open_facts.push(OpenText {
            description: fact.description,
            location,
        });
    }
    for (_, definition) in parser.reference_definitions().iter() {
        safety.reference_definition(&definition.dest, &definition.span);
    }
    out.diagnostics.append(&mut safety.diagnostics);
    out.diagnostics
        .sort_by_key(|d| d.location.as_ref().map(|l| (l.line, l.column)));
    out.raw_elements = safety.elements;

    let teaser_range = match (summary_cut, first_paragraph) {
        (Some(cut), _) => Some(0..cut),
        (None, (Some(start), Some(end))) => Some(start..end),
        _ => None,
    };
    if let Some(range) = teaser_range {
        let teaser = events
            .get(range)
            .unwrap_or_default()
            .iter()
            .filter(|e| !matches!(e, Event::FootnoteReference(_)))
            .cloned();
        let mut summary = String::new();
        pulldown_cmark::html::push_html(&mut summary, teaser);
        if let Some(marker) = &marker_in_html_block
            && !raw_html::tokenize(&summary).complete
        {
            out.diagnostics.push(
                Diagnostic::error("`<!-- more -->` stands inside a tag of raw HTML, so the teaser would end inside it")
                    .at(locate(marker))
                    .hint("Setzen Sie <!-- more --> zwischen zwei Absätze, außerhalb von HTML-Tags; sonst wird in Übersichten der folgende Inhalt Teil des Tags."),
            );
        }
        if !summary.trim().is_empty() {
            out.summary = Some(summary);
        }
    }
    out.html.reserve(body.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut out.html, events.into_iter());
    out
}

/// The checks of what may reach a reader, fed every event of the pass.
struct Safety<'s> {
    body: &'s str,
    source: &'s BodySource<'s>,
    policy: raw_html::Policy<'s>,
    /// The HTML block being read: pulldown-cmark gives it line by line.
    block: Option<Fragment>,
    diagnostics: Vec<Diagnostic>,
    elements: Vec<RawElement>,
}

impl Safety<'_> {
    fn event(&mut self, event: &Event<'_>, range: &Range<usize>) {
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
                    block.push(html, range, self.body);
                }
            }
            // Inline HTML is always one whole tag or comment, and checked on its own: the text
            // between two of them is escaped, so it can neither open nor close a tag.
            Event::Html(html) | Event::InlineHtml(html) => {
                let mut fragment = Fragment::default();
                fragment.push(html, range, self.body);
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

    fn reference_definition(&mut self, dest: &str, span: &Range<usize>) {
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
            self.elements.push(RawElement {
                name: element.name,
                src: element.src,
                alt: element.alt,
                location,
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

/// Where the address starts in a written link (`[x](here)`) or definition (`[x]: here`).
fn destination_start(written: &str, after: &str) -> usize {
    let Some(i) = written.rfind(after).map(|i| i + after.len()) else {
        return 0;
    };
    let rest = written.get(i..).unwrap_or_default();
    i + (rest.len() - rest.trim_start().len()) + usize::from(rest.trim_start().starts_with('<'))
}

/// Raw HTML as the browser gets it, and where each of its lines is in the body: a block inside
/// a quote or list loses its `> ` or indentation, so text offsets are not body offsets.
#[derive(Default)]
struct Fragment {
    text: String,
    /// (offset in `text`, offset in the body) of each line.
    lines: Vec<(usize, usize)>,
}

impl Fragment {
    fn push(&mut self, html: &str, range: &Range<usize>, body: &str) {
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

fn finish_heading<'a>(
    level: HeadingLevel,
    explicit_id: Option<CowStr<'a>>,
    classes: &[CowStr<'a>],
    inner: Vec<Event<'a>>,
    used_ids: &mut Vec<String>,
    toc: &mut Vec<Heading>,
    anchors: bool,
) -> Event<'a> {
    let mut title = String::new();
    for e in &inner {
        if let Event::Text(t) | Event::Code(t) = e {
            title.push_str(t);
        }
    }
    let base = match &explicit_id {
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
    while used_ids.contains(&id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    used_ids.push(id.clone());
    let level_n = level as u8;
    let has_link = inner
        .iter()
        .any(|e| matches!(e, Event::Start(Tag::Link { .. })));
    let mut inner_html = String::new();
    pulldown_cmark::html::push_html(&mut inner_html, inner.into_iter());
    let class_attr = if classes.is_empty() {
        String::new()
    } else {
        format!(
            " class=\"{}\"",
            escape(
                &classes
                    .iter()
                    .map(|c| c.as_ref())
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        )
    };
    // The heading text itself is the anchor link (as on MDN): screen readers hear the heading
    // once, and the link is as large as the heading. Headings that contain a link stay plain.
    let html = if anchors && !has_link {
        format!(
            "<h{level_n} id=\"{id}\"{class_attr}><a class=\"heading-anchor\" href=\"#{id}\">{inner_html}</a></h{level_n}>\n",
            id = escape(&id)
        )
    } else {
        format!(
            "<h{level_n} id=\"{id}\"{class_attr}>{inner_html}</h{level_n}>\n",
            id = escape(&id)
        )
    };
    toc.push(Heading {
        level: level_n,
        id,
        title,
    });
    Event::Html(html.into())
}

/// Words for the reading time: runs of non-whitespace bytes. A byte loop, because Unicode-aware
/// `split_whitespace` was the single hottest spot of a 10,000-page build.
fn count_words(text: &str) -> usize {
    let mut words = 0;
    let mut in_word = false;
    for &b in text.as_bytes() {
        let space = b.is_ascii_whitespace();
        words += usize::from(!space && !in_word);
        in_word = !space;
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: MarkdownOptions<'static> = MarkdownOptions {
        heading_anchors: true,
        task_done_label: "erledigt",
        task_open_label: "offen",
        trusted_embeds: &[],
        open_fact_text: Some("wird ergänzt"),
    };

    fn md(body: &str) -> Rendered {
        md_with(body, &|k| {
            if k == "projekte/gdst.md" {
                Resolved::Url("/projekte/gdst/".into())
            } else if k == "later.md" {
                Resolved::Unpublished
            } else {
                Resolved::Missing {
                    suggestion: Some("projekte/gdst.md".into()),
                }
            }
        })
    }

    fn md_with(body: &str, resolve: &dyn Fn(&str) -> Resolved) -> Rendered {
        let file = format!("---\ntitle: x\n---\n{body}");
        let src = BodySource {
            path: Path::new("content/a.md"),
            file_text: &file,
            offset: 17,
        };
        render(body, &src, resolve, &OPTS)
    }

    #[test]
    fn decorative_images_have_empty_alt_and_no_tooltip() {
        let r = md("![](/schmuck.png \"dekorativ\")\n");
        assert!(
            r.html.contains("<img src=\"/schmuck.png\" alt=\"\" />"),
            "{}",
            r.html
        );
    }

    #[test]
    fn german_heading_ids_are_unique_and_linked() {
        let r = md("## Größe\n\n## Größe\n\n### Über uns {#ueber}\n");
        let ids: Vec<_> = r.toc.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["groesse", "groesse-1", "ueber"]);
        assert!(
            r.html.contains(
                "<h2 id=\"groesse\"><a class=\"heading-anchor\" href=\"#groesse\">Größe</a></h2>"
            ),
            "{}",
            r.html
        );
    }

    #[test]
    fn internal_links_resolve_and_keep_anchor() {
        let r = md("Siehe [GDST](@/projekte/gdst.md#ziele).\n");
        assert!(
            r.html.contains("href=\"/projekte/gdst/#ziele\""),
            "{}",
            r.html
        );
        assert_eq!(r.anchors_to_check.len(), 1);
        assert_eq!(r.anchors_to_check[0].anchor, "ziele");
    }

    #[test]
    fn missing_link_reports_line_and_column() {
        let r = md("Text\n\nSiehe [X](@/projekte/gdts.md).\n");
        let d = &r.diagnostics[0];
        let loc = d.location.as_ref().unwrap();
        assert_eq!((loc.line, loc.column), (6, 7));
        assert!(d.hint.as_ref().unwrap().contains("@/projekte/gdst.md"));
    }

    #[test]
    fn unpublished_link_becomes_plain_text() {
        let r = md("Bald: [Tür 6](@/later.md).\n");
        assert!(r.html.contains("Bald: Tür 6."), "{}", r.html);
        assert!(!r.html.contains("href"));
    }

    #[test]
    fn summary_from_more_marker_or_first_paragraph() {
        let r = md("Eins.\n\nZwei.\n\n<!-- more -->\n\nDrei.\n");
        assert_eq!(r.summary.as_deref(), Some("<p>Eins.</p>\n<p>Zwei.</p>\n"));
        let r = md("## Titel\n\nErster Absatz.\n\nZweiter.\n");
        assert_eq!(r.summary.as_deref(), Some("<p>Erster Absatz.</p>\n"));
        let r = md("- a\n- b\n\nAbsatz.\n");
        assert_eq!(r.summary.as_deref(), Some("<p>Absatz.</p>\n"));
    }

    #[test]
    fn gfm_extensions() {
        let r = md(
            "| a | b |\n|---|---|\n| 1 | 2 |\n\n~~alt~~\n\n- [x] fertig\n- [ ] offen\n\nText[^1]\n\n[^1]: Fußnote\n",
        );
        assert!(
            r.html
                .contains("<div class=\"table-scroll\" tabindex=\"0\">\n<table>")
                && r.html.contains("<th>a</th>")
        );
        assert!(r.html.contains("<del>alt</del>"));
        assert!(r.html.contains("checked aria-label=\"erledigt\""));
        assert!(r.html.contains("footnote"));
    }

    #[test]
    fn code_is_highlighted_with_classes_only() {
        let r = md("```rust\nfn main() {}\n```\n");
        assert!(
            r.html.contains("<pre class=\"code\" data-lang=\"rust\">"),
            "{}",
            r.html
        );
        assert!(r.html.contains("class=\"hl-"), "{}", r.html);
        assert!(!r.html.contains("style="));
        let plain = md("```unbekannt\n<b>\n```\n");
        assert!(plain.html.contains("&lt;b&gt;"));
    }

    #[test]
    fn word_count_matches_split_whitespace_for_normal_text() {
        for t in ["", " ", "eins", " zwei  Wörter ", "Größe\tund\nÄnderung  ."] {
            assert_eq!(count_words(t), t.split_whitespace().count(), "{t:?}");
        }
    }

    fn errors_at(r: &Rendered) -> Vec<(usize, usize, String)> {
        r.diagnostics
            .iter()
            .map(|d| {
                let l = d.location.as_ref().unwrap();
                (l.line, l.column, d.message.clone())
            })
            .collect()
    }

    #[test]
    fn raw_html_that_runs_script_is_refused_where_it_is_written() {
        // The body starts on line 4 of the file.
        let r = md(
            "Text <kbd>Strg</kbd>.\n\n> Zitat <img src=x onerror=alert(1)>\n\n- Punkt\n\n  <SCRIPT>alert(1)</SCRIPT>\n\n## Titel <script>x</script>\n",
        );
        let found = errors_at(&r);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!((found[0].0, found[0].1), (6, 20));
        assert!(found[0].2.contains("`onerror`"));
        assert_eq!((found[1].0, found[1].1), (10, 3));
        assert_eq!((found[2].0, found[2].1), (12, 10));
        assert!(
            r.diagnostics[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("aus Sicherheitsgründen")
        );
    }

    #[test]
    fn script_links_are_refused_in_every_markdown_form() {
        let r = md(
            "[a](javascript:alert(1)) ![b](data:image/png;base64,AA) <JavaScript:alert(1)>\n\n[c][ref] [d](java&#x09;script:alert(1))\n\n[ref]: vbscript:msgbox(1)\n",
        );
        let found = errors_at(&r);
        let schemes: Vec<&str> = found
            .iter()
            .map(|(_, _, m)| m.split('`').nth(1).unwrap())
            .collect();
        assert_eq!(
            schemes,
            [
                "javascript:",
                "data:",
                "javascript:",
                "javascript:",
                "vbscript:"
            ],
            "{found:?}"
        );
        assert_eq!((found[0].0, found[0].1), (4, 5));
        assert_eq!((found[2].0, found[2].1), (4, 58));
        assert_eq!((found[4].0, found[4].1), (8, 8));
    }

    #[test]
    fn a_tag_left_open_across_a_blank_line_is_refused() {
        // The paragraph after the blank line would otherwise become the div's attributes:
        // Markdown does not escape quotes in text.
        let r = md("<div title=\"\n\n\" onmouseover=\"alert(1)\" x=\"\n\n\">Hallo</div>\n");
        let found = errors_at(&r);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].0, found[0].1), (4, 1));
        assert!(found[0].2.contains("ends inside a tag"));
    }

    #[test]
    fn harmless_raw_html_stays_and_images_are_reported_as_facts() {
        let body = "Das <abbr title=\"Onlinezugangsgesetz\">OZG</abbr>, <kbd>Strg</kbd><br>\n\n<details><summary>Mehr</summary>\n\nText\n\n</details>\n\n<img src=\"/bild.png\">\n";
        let r = md(body);
        assert_eq!(errors_at(&r), []);
        assert!(
            r.html
                .contains("<abbr title=\"Onlinezugangsgesetz\">OZG</abbr>")
        );
        assert!(r.html.contains("<details><summary>Mehr</summary>"));
        assert_eq!(r.raw_elements.len(), 1);
        assert_eq!(r.raw_elements[0].src.as_deref(), Some("/bild.png"));
        assert_eq!(r.raw_elements[0].alt, None);
        assert_eq!(r.raw_elements[0].location.line, 12);
    }

    #[test]
    fn an_iframe_passes_only_from_a_trusted_prefix() {
        let body =
            "<iframe src=\"https://www.youtube-nocookie.com/embed/x\" title=\"Video\"></iframe>\n";
        assert_eq!(errors_at(&md(body)).len(), 1);
        let trusted = vec!["https://www.youtube-nocookie.com/embed/".to_string()];
        let opts = MarkdownOptions {
            trusted_embeds: &trusted,
            ..OPTS
        };
        let file = format!("---\ntitle: x\n---\n{body}");
        let src = BodySource {
            path: Path::new("content/a.md"),
            file_text: &file,
            offset: 17,
        };
        let r = render(body, &src, &|_| Resolved::Unpublished, &opts);
        assert_eq!(errors_at(&r), []);
        assert!(r.html.contains("<iframe src="));
    }

    #[test]
    fn a_teaser_cut_inside_a_tag_is_refused() {
        let r = md("<div title=\"\n<!-- more -->\n\">Text</div>\n");
        let found = errors_at(&r);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].0, found[0].1), (5, 1));
        // Between blocks, or between complete tags, the marker cuts as before.
        let r = md("<div>\n<b>Eins</b>\n<!-- more -->\nZwei\n</div>\n");
        assert_eq!(errors_at(&r), []);
        assert_eq!(r.summary.as_deref(), Some("<div>\n<b>Eins</b>\n"));
    }

    #[test]
    fn counts_words() {
        assert_eq!(md("Eins zwei drei.\n\n## Vier\n").word_count, 4);
    }
}
