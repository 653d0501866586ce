//! Markdown body → HTML, in the one pass over pulldown-cmark's events.
//!
//! Besides HTML the pass yields what later stages need, so no stage parses a body again: the
//! table of contents (heading ids are what `#anchor` links are checked against), the teaser, the
//! `@/` links to check, the word count, where each `<img>` is in the HTML (for responsive
//! images), the images and frames written as raw HTML, and the [`facts::Facts`] the checks, the
//! external link check, the search index and the newsletter read (links, images, headings,
//! table headers and plain text, with positions).
//!
//! The steps: [`open_facts`] turns `[offen: …]` into the reader's text, `body::BodyRenderer`
//! changes events where the site wants more than CommonMark and keeps the teaser, headings and
//! images, `safety` judges raw HTML and addresses, and [`facts`] reads the events as written.
//!
//! It also refuses what must not reach a reader: raw HTML that runs script, sends data, embeds
//! other sites or changes how the page is parsed, and `javascript:`/`vbscript:`/`data:` addresses
//! in links and images ([`raw_html`]).

mod body;
pub mod facts;
pub mod open_facts;
pub mod raw_html;
mod safety;

pub use super::escape::escape;

use std::ops::Range;
use std::path::Path;

use pulldown_cmark::{Options, Parser};
use serde::Serialize;

use crate::diagnostics::{Diagnostic, Location};

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

pub use super::link::Resolved;

pub struct MarkdownOptions<'a> {
    pub heading_anchors: bool,
    pub task_done_label: &'a str,
    pub task_open_label: &'a str,
    /// Address prefixes an `<iframe src>` may start with (`markdown.trusted_embeds` in site.yaml).
    pub trusted_embeds: &'a [String],
    /// What readers see for `[offen: …]` (`markdown.open_fact_text`); without it the form is an
    /// error, since there is nothing honest to show.
    pub open_fact_text: Option<&'a str>,
    /// Keep the plain text for the search index ([`facts::Facts::text`]): only a site with a
    /// search page needs it, and on a large one it is as big as the bodies.
    pub search_text: bool,
    /// Collect [`Rendered::facts`] beyond the search text: the links, images, headings and table
    /// heads the checks and the e-mails read. Without it they stay empty (`build` reads none).
    pub check_facts: bool,
    /// Soft hyphens in the words of at least this many letters in headings and table cells
    /// (`markdown.hyphenate_min_length`; 0: none). Ids, the toc's titles, the facts and the
    /// search text are made from the text as written.
    pub hyphenate_min_length: usize,
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
    /// Where the start tag is in [`Rendered::html`] (unknown when it is not written as it is).
    pub html: Option<Range<usize>>,
    /// The markers the start tag begins and ends after, and the offsets from them.
    written: Option<((usize, usize), (usize, usize))>,
}

/// An `<img>` in [`Rendered::html`], from Markdown or raw HTML, for the responsive image step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageTag {
    /// Where the tag is in the HTML.
    pub html: Range<usize>,
    /// The address as the editor meant it (entities decoded).
    pub src: String,
    /// Where the address (for raw HTML: the tag) is written.
    pub location: Location,
}

#[derive(Debug, Default, Clone)]
pub struct Rendered {
    pub html: String,
    /// The teaser: content before `<!-- more -->`, else the first paragraph.
    pub summary: Option<String>,
    pub toc: Vec<Heading>,
    /// Every `@/` target the body links to and what it resolved to, in order.
    pub internal_links: Vec<(String, Resolved)>,
    pub anchors_to_check: Vec<AnchorRef>,
    pub word_count: usize,
    pub diagnostics: Vec<Diagnostic>,
    pub raw_elements: Vec<RawElement>,
    /// Every `[offen: …]` of the body, for `check` (the first [`open_facts::MAX_REPORTED`]).
    pub open_facts: Vec<OpenText>,
    /// How many more `[offen: …]` the body has.
    pub open_facts_more: usize,
    /// Every `<img>` of `html`, in order.
    pub images: Vec<ImageTag>,
    /// What the checks and the other outputs read of the body.
    pub facts: facts::Facts,
    /// The body has a code block (highlighted or not), so its page needs `syntax.css`.
    pub has_code: bool,
}

const MORE_MARKER: &str = "<!-- more -->";

pub(crate) fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
}

/// Renders `body` (the part of `source` after the front matter) to HTML, with its facts.
///
/// This is the one parse of a page body: every later stage reads [`Rendered`].
pub fn render(
    body: &str,
    source: &BodySource<'_>,
    resolve: &dyn Fn(&str) -> Resolved,
    opts: &MarkdownOptions<'_>,
) -> Rendered {
    let mut collector = facts::Collector::new(source.offset);
    let mut renderer = body::BodyRenderer::new(body, source, resolve, opts);
    let mut parser = Parser::new_ext(body, options()).into_offset_iter();
    let (found, more) = {
        // The facts are read before the open facts step changes anything.
        let written = parser.by_ref().inspect(|(event, range)| {
            if opts.check_facts {
                collector.observe(event, range, body);
            }
        });
        let mut stream = open_facts::OpenFactsInText::new(
            written,
            body,
            opts.open_fact_text.unwrap_or_default(),
        );
        for (event, range) in stream.by_ref() {
            renderer.event(event, range);
        }
        (std::mem::take(&mut stream.found), stream.more)
    };
    for (_, definition) in parser.reference_definitions().iter() {
        renderer
            .safety
            .reference_definition(&definition.dest, &definition.span);
    }
    let (mut out, teaser_problem) = renderer.finish(body.len(), collector.facts);
    out.open_facts_more = more;
    let locate = |range: &Range<usize>| {
        Location::at_offset(
            source.path,
            source.file_text,
            source.offset + range.start,
            range.end - range.start,
        )
    };
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
    out.diagnostics
        .sort_by_key(|d| d.location.as_ref().map(|l| (l.line, l.column)));
    out.diagnostics.extend(teaser_problem);
    out
}

/// Where the address starts in a written link (`[x](here)`) or definition (`[x]: here`).
fn destination_start(written: &str, after: &str) -> usize {
    let Some(i) = written.rfind(after).map(|i| i + after.len()) else {
        return 0;
    };
    let rest = written.get(i..).unwrap_or_default();
    i + (rest.len() - rest.trim_start().len()) + usize::from(rest.trim_start().starts_with('<'))
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
        search_text: true,
        check_facts: true,
        hyphenate_min_length: 10,
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
                "<h2 id=\"groesse\">Größe<a class=\"heading-anchor\" href=\"#groesse\" tabindex=\"-1\" aria-hidden=\"true\">#</a></h2>"
            ),
            "{}",
            r.html
        );
    }

    #[test]
    fn a_heading_with_a_link_keeps_it_and_gets_the_anchor_after_it() {
        let r = md("## Mehr zur [GDST](@/projekte/gdst.md)\n");
        assert_eq!(
            r.html,
            "<h2 id=\"mehr-zur-gdst\">Mehr zur <a href=\"/projekte/gdst/\">GDST</a><a class=\"heading-anchor\" href=\"#mehr-zur-gdst\" tabindex=\"-1\" aria-hidden=\"true\">#</a></h2>\n"
        );
    }

    #[test]
    fn headings_and_table_cells_get_soft_hyphens_but_ids_code_and_links_do_not() {
        let r = md(concat!(
            "## Registermodernisierung mit `Registermodernisierung`\n\n",
            "Zusammenarbeit im Absatz bleibt ganz.\n\n",
            "| Zusammenarbeit | Code |\n|---|---|\n",
            "| [Serviceangebote](https://example.org/serviceangebote) | `Onlinezugangsgesetz` |\n",
            "| ![Registermodernisierung](bild.png) Bild | https://example.org/zusammenarbeit |\n",
        ));
        let shy = |s: &str| s.replace('|', "\u{ad}");
        for part in [
            shy(
                "<h2 id=\"registermodernisierung-mit-registermodernisierung\">Re|gis|ter|mo|der|ni|sie|rung mit <code>Registermodernisierung</code>",
            ),
            "<p>Zusammenarbeit im Absatz bleibt ganz.</p>".to_string(),
            shy("<th>Zu|sam|men|ar|beit</th>"),
            shy(
                "<td><a href=\"https://example.org/serviceangebote\">Ser|vice|an|ge|bo|te</a></td>",
            ),
            "<td><code>Onlinezugangsgesetz</code></td>".to_string(),
            "<img src=\"bild.png\" alt=\"Registermodernisierung\" /> Bild".to_string(),
            "<td>https://example.org/zusammenarbeit</td>".to_string(),
        ] {
            assert!(r.html.contains(&part), "{part}\nin\n{}", r.html);
        }
        assert_eq!(
            r.toc[0].title,
            "Registermodernisierung mit Registermodernisierung"
        );
        assert!(!r.facts.text.contains('\u{ad}'), "{}", r.facts.text);
        assert_eq!(
            r.facts.headings[0].title,
            "Registermodernisierung mit Registermodernisierung"
        );
        // With the threshold at 0 nothing is hyphenated.
        let file = "---\ntitle: x\n---\n## Registermodernisierung\n";
        let src = BodySource {
            path: Path::new("content/a.md"),
            file_text: file,
            offset: 17,
        };
        let opts = MarkdownOptions {
            hyphenate_min_length: 0,
            ..OPTS
        };
        let plain = render(
            "## Registermodernisierung\n",
            &src,
            &|_| Resolved::Unpublished,
            &opts,
        );
        assert!(!plain.html.contains('\u{ad}'), "{}", plain.html);
    }

    #[test]
    fn a_teaser_has_no_soft_hyphens() {
        let r = md(
            "## Registermodernisierung\n\nEins.\n\n| Zusammenarbeit |\n|---|\n\n<!-- more -->\n\nZwei.\n",
        );
        let summary = r.summary.unwrap_or_default();
        assert!(summary.contains("Zusammenarbeit"), "{summary}");
        assert!(!summary.contains('\u{ad}'), "{summary}");
        assert!(r.html.contains('\u{ad}'), "{}", r.html);
    }

    #[test]
    fn only_code_blocks_make_a_page_need_syntax_css() {
        assert!(md("```rust\nfn main() {}\n```\n").has_code);
        assert!(md("Text\n\n    eingerückt\n").has_code);
        assert!(!md("Nur `Code` im Satz.\n").has_code);
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
    fn the_pass_keeps_the_facts_later_stages_read() {
        // The body starts on line 4 of the file.
        let body = "## Ziele\n\nMehr [hier](@/later.md) und [`Code` Text](https://example.org/a).\n\n![Team beim Workshop](team.png) ![](schmuck.png \"dekorativ\")\n\n| | |\n|---|---|\n| a | b |\n\n#### Tief\n";
        let r = md(body);
        let f = &r.facts;
        let links: Vec<(&str, &str)> = f
            .links
            .iter()
            .map(|l| (l.dest.as_str(), l.text.as_str()))
            .collect();
        assert_eq!(
            links,
            [
                ("@/later.md", "hier"),
                ("https://example.org/a", "Code Text")
            ]
        );
        let file = format!("---\ntitle: x\n---\n{body}");
        let at = f.locate(Path::new("content/a.md"), &file, &f.links[0].range, 80);
        assert_eq!(
            (at.line, at.column),
            (6, 6),
            "a body range placed in the file"
        );
        let images: Vec<(&str, &str, bool)> = f
            .images
            .iter()
            .map(|i| (i.src.as_str(), i.alt.as_str(), i.decorative()))
            .collect();
        assert_eq!(
            images,
            [
                ("team.png", "Team beim Workshop", false),
                ("schmuck.png", "", true)
            ]
        );
        let headings: Vec<(u8, &str)> = f
            .headings
            .iter()
            .map(|h| (h.level, h.title.as_str()))
            .collect();
        assert_eq!(headings, [(2, "Ziele"), (4, "Tief")]);
        assert_eq!(f.table_heads.len(), 1);
        assert!(f.table_heads[0].empty);
        assert_eq!(
            r.internal_links,
            [("later.md".to_string(), Resolved::Unpublished)]
        );
        assert_eq!(
            f.text,
            "Ziele Mehr hier und Code Text. Team beim Workshop a b Tief"
        );
    }

    #[test]
    fn every_img_is_found_where_it_is_in_the_html() {
        let r = md(
            "Bild ![Eins](eins.png \"Titel\")\n\n## Mit ![Zwei](zwei.png)\n\n<p>\n<IMG SRC='drei.png' alt=\"Drei\">\n</p>\n\nText <img src=\"vier.png\"> mehr.\n",
        );
        let tags: Vec<&str> = r.images.iter().map(|i| &r.html[i.html.clone()]).collect();
        assert_eq!(
            tags,
            [
                "<img src=\"eins.png\" alt=\"Eins\" title=\"Titel\" />",
                "<img src=\"zwei.png\" alt=\"Zwei\" />",
                "<IMG SRC='drei.png' alt=\"Drei\">",
                "<img src=\"vier.png\">"
            ],
            "{}",
            r.html
        );
        let srcs: Vec<(&str, usize, usize)> = r
            .images
            .iter()
            .map(|i| (i.src.as_str(), i.location.line, i.location.column))
            .collect();
        assert_eq!(
            srcs,
            [
                ("eins.png", 4, 14),
                ("zwei.png", 6, 16),
                ("drei.png", 9, 1),
                ("vier.png", 12, 6)
            ]
        );
        // Inside an image's alternative text an image is text, not a place for one.
        let nested = md("![Außen ![innen](x.png) <img src=\"y.png\">](a.png)\n");
        let tags: Vec<&str> = nested
            .images
            .iter()
            .map(|i| &nested.html[i.html.clone()])
            .collect();
        assert_eq!(tags.len(), 1, "{tags:?} in {}", nested.html);
        assert!(tags[0].starts_with("<img src=\"a.png\""), "{tags:?}");
        // The markers that found them leave no trace.
        let plain = md_with("Bild ![Eins](eins.png \"Titel\")\n", &|_| {
            Resolved::Unpublished
        });
        assert_eq!(
            plain.html,
            "<p>Bild <img src=\"eins.png\" alt=\"Eins\" title=\"Titel\" /></p>\n"
        );
    }

    #[test]
    fn counts_words() {
        assert_eq!(md("Eins zwei drei.\n\n## Vier\n").word_count, 4);
    }
}
