//! Accessibility checks for editors (BITV 2.0 / WCAG 2.1), run by `ozg-site check`.
//!
//! Each finding names the file, line and column, says what an auditor would object to, and gives
//! the editor a German hint. Every check has an id; a page silences one with a reason in its front
//! matter (`ignore_checks: [{check: link-text, reason: "…"}]`), so exceptions are deliberate and
//! visible in review.

pub mod external;

use std::path::Path;

use crate::diagnostics::{Diagnostic, Location};
use crate::parse::markdown::Rendered;
use crate::parse::markdown::facts::{Facts, Link};
use crate::site::Site;

/// Every check: id and what it looks for.
pub const CHECKS: &[(&str, &str)] = &[
    ("image-alt", "images without alternative text"),
    ("link-text", "link texts that mean nothing out of context"),
    (
        "heading-order",
        "headings that skip a level, or a second first-level heading",
    ),
    (
        "page-heading",
        "pages without exactly one first-level heading",
    ),
    (
        "file-link",
        "links to files without type and size in the link text",
    ),
    ("table-header", "tables without a header row"),
    ("http-link", "links with http:// instead of https://"),
    (
        "dead-link",
        "links to other sites that do not answer (only with --external)",
    ),
];

/// Link texts that say nothing about where they lead (WCAG 2.4.4), compared in lower case
/// without punctuation.
const VAGUE_LINK_TEXTS: &[&str] = &[
    "hier",
    "hier klicken",
    "klicken sie hier",
    "klick hier",
    "mehr",
    "mehr dazu",
    "mehr erfahren",
    "mehr lesen",
    "weiter",
    "weiterlesen",
    "link",
    "dieser link",
    "diesen link",
    "zum link",
    "details",
    "click here",
    "here",
    "more",
    "read more",
];

/// File types whose links must say type and size, so readers know what they get.
const FILE_TYPES: &[&str] = &[
    "pdf", "doc", "docx", "odt", "xls", "xlsx", "ods", "ppt", "pptx", "odp", "zip", "csv", "ics",
    "mp4", "mp3",
];

use crate::parse::markdown::DECORATIVE;

/// A page or section as the checks see it.
pub(crate) struct Document<'a> {
    pub file: &'a crate::load::SourceFile,
    pub split: &'a crate::parse::front_matter::Split,
    pub body: &'a Rendered,
    /// URL path without the base path.
    pub path: &'a str,
    pub ignored: &'a [crate::parse::kinds::IgnoredCheck],
}

impl Document<'_> {
    pub fn ignores(&self, check: &str) -> bool {
        self.ignored.iter().any(|i| i.check == check)
    }
}

/// Every published page and section.
pub(crate) fn documents(site: &Site) -> impl Iterator<Item = Document<'_>> {
    let pages = site.pages.iter().map(|p| Document {
        file: &p.file,
        split: &p.split,
        body: &p.body,
        path: &p.path,
        ignored: &p.common.ignore_checks,
    });
    let sections = site.sections.iter().map(|s| Document {
        file: &s.file,
        split: &s.split,
        body: &s.body,
        path: &s.path,
        ignored: &s.front.ignore_checks,
    });
    pages.chain(sections)
}

/// All findings for the site's Markdown bodies, without those silenced in front matter.
pub fn audit(site: &Site) -> Vec<Diagnostic> {
    let mut findings = Vec::new();
    for doc in documents(site) {
        let found = audit_body(&doc.body.facts, &doc.file.shown, &doc.file.text);
        findings.extend(
            found
                .into_iter()
                .filter(|d| !d.code.is_some_and(|c| doc.ignores(c))),
        );
    }
    findings
}

/// Every `ignore_checks` entry must name a check and give a reason.
pub fn check_ignores(site: &Site) -> Result<(), crate::diagnostics::Diagnostics> {
    let mut errors = crate::diagnostics::Diagnostics::new();
    for doc in documents(site) {
        let yaml = doc.split.yaml_source(doc.file);
        for i in doc.ignored {
            if !CHECKS.iter().any(|(id, _)| *id == i.check) {
                let closest = CHECKS
                    .iter()
                    .map(|(id, _)| (strsim::normalized_levenshtein(id, &i.check), id))
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .filter(|(score, _)| *score > 0.5)
                    .map(|(_, id)| format!("did you mean `{id}`? "))
                    .unwrap_or_default();
                errors.push(
                    Diagnostic::error(format!("there is no check `{}`", i.check))
                        .at(yaml.value_location(&i.check, "ignore_checks"))
                        .hint(format!(
                            "{closest}the checks are: {}",
                            CHECKS
                                .iter()
                                .map(|(id, _)| *id)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                );
            } else if i.reason.trim().is_empty() {
                errors.push(
                    Diagnostic::error(format!("switching off `{}` needs a reason", i.check))
                        .at(yaml.value_location(&i.check, "ignore_checks"))
                        .hint("write why the check does not apply here, e.g. reason: \"Zitat aus dem Original\""),
                );
            }
        }
    }
    if errors.has_errors() {
        Err(errors)
    } else {
        Ok(())
    }
}

/// Checks the built pages for their first-level heading: the theme puts the title there, the body
/// must not add another (that is `heading-order`'s business), and a theme must not forget it.
/// `output` gives the text of a built file by its path in the output (`aktuelles/x/index.html`).
pub fn audit_output(site: &Site, output: &dyn Fn(&str) -> Option<String>) -> Vec<Diagnostic> {
    let mut findings = Vec::new();
    for doc in documents(site) {
        if doc.ignores("page-heading") {
            continue;
        }
        let (path, shown) = (doc.path, &doc.file.shown);
        let folder = path.trim_matches('/');
        let file = if folder.is_empty() {
            "index.html".to_string()
        } else {
            format!("{folder}/index.html")
        };
        let Some(html) = output(&file) else {
            continue;
        };
        let count = html.matches("<h1").count();
        if count != 1 {
            findings.push(
                Diagnostic::warning(format!(
                    "the page {path} has {count} first-level headings (<h1>), not one"
                ))
                .code("page-heading")
                .in_file(shown)
                .hint("Jede Seite braucht genau eine Hauptüberschrift: den Titel. Überschriften im Text beginnen mit ## (Ebene 2)."),
            );
        }
    }
    findings
}

/// The findings in one body's facts; `shown` and `file_text` place them in its file.
fn audit_body(facts: &Facts, shown: &Path, file_text: &str) -> Vec<Diagnostic> {
    let locate = |r: &std::ops::Range<usize>| facts.locate(shown, file_text, r, 80);
    let mut findings = Vec::new();
    let mut last_level = 1;
    for heading in &facts.headings {
        let level = usize::from(heading.level);
        if level == 1 {
            findings.push(
                Diagnostic::warning("a second first-level heading: the page title is already one")
                    .code("heading-order")
                    .at(locate(&heading.range))
                    .hint("Der Seitentitel ist die Hauptüberschrift. Beginnen Sie Überschriften im Text mit ## (Ebene 2)."),
            );
        } else if level > last_level + 1 {
            findings.push(
                Diagnostic::warning(format!(
                    "heading level {level} follows level {last_level}: a level is skipped"
                ))
                .code("heading-order")
                .at(locate(&heading.range))
                .hint(format!(
                    "Screenreader-Nutzende springen über Überschriften durch die Seite. Verwenden Sie hier {} statt {}.",
                    "#".repeat(last_level + 1),
                    "#".repeat(level)
                )),
            );
        }
        last_level = level;
    }
    for image in &facts.images {
        if image.alt.trim().is_empty() && !image.decorative() {
            findings.push(
                Diagnostic::warning("this image has no alternative text")
                    .code("image-alt")
                    .at(locate(&image.range))
                    .hint(format!("Beschreiben Sie, was das Bild zeigt: ![Das Team beim Workshop](bild.jpg). Ist das Bild nur Schmuck, schreiben Sie ![](bild.jpg \"{DECORATIVE}\").")),
            );
        }
    }
    for link in &facts.links {
        findings.extend(check_link(link, &locate(&link.range)));
    }
    for head in facts.table_heads.iter().filter(|h| h.empty) {
        findings.push(
            Diagnostic::warning("this table has no header row")
                .code("table-header")
                .at(locate(&head.range))
                .hint("Geben Sie jeder Spalte in der ersten Zeile eine Überschrift; Screenreader lesen sie zu jeder Zelle vor."),
        );
    }
    // In the order they are written, as an editor reads them.
    findings.sort_by_key(|d| d.location.as_ref().map(|l| (l.line, l.column)));
    findings
}

fn check_link(link: &Link, at: &Location) -> Vec<Diagnostic> {
    let mut findings = Vec::new();
    let text = link.text.trim();
    let normal: String = text
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let bare_url =
        text.starts_with("http://") || text.starts_with("https://") || text.starts_with("www.");
    let mailto = link.dest.starts_with("mailto:");
    if VAGUE_LINK_TEXTS.contains(&normal.as_str()) || (bare_url && !mailto) {
        findings.push(
            Diagnostic::warning(format!("the link text `{text}` says nothing about where it leads"))
                .code("link-text")
                .at(at.clone())
                .hint("Der Linktext muss allein verständlich sein, z. B. „Anmeldung zur 70. OZG-Sprechstunde“ statt „hier“; Screenreader lesen Links oft als Liste vor."),
        );
    }
    if link.dest.starts_with("http://") {
        findings.push(
            Diagnostic::warning(format!("`{}` is not encrypted", link.dest))
                .code("http-link")
                .at(at.clone())
                .hint("Verwenden Sie https:// – fast alle Seiten bieten es an; prüfen Sie den Link im Browser."),
        );
    }
    let path = link.dest.split(['#', '?']).next().unwrap_or_default();
    let extension = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_lowercase())
        .filter(|e| !e.contains('/'));
    if let Some(ext) = extension
        && FILE_TYPES.contains(&ext.as_str())
        && !link.dest.starts_with("@/")
    {
        let lower = text.to_lowercase();
        let says_type = lower.contains(&ext);
        let says_size = ["byte", "kb", "mb", "gb"].iter().any(|u| lower.contains(u));
        if !(says_type && says_size) {
            findings.push(
                Diagnostic::warning(format!(
                    "the link to a {} file does not say its type and size",
                    ext.to_uppercase()
                ))
                .code("file-link")
                .at(at.clone())
                .hint(format!(
                    "Nennen Sie Dateityp und Größe im Linktext, z. B. „Präsentation ({}, 1,2 MB)“, oder führen Sie die Datei unter `downloads:` im Kopf der Seite auf – dann erzeugt ozg-site die Angabe selbst.",
                    ext.to_uppercase()
                )),
            );
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(body: &str) -> Facts {
        let source = crate::parse::markdown::BodySource {
            path: Path::new("content/x.md"),
            file_text: body,
            offset: 0,
        };
        let opts = crate::parse::markdown::MarkdownOptions {
            heading_anchors: true,
            task_done_label: "erledigt",
            task_open_label: "offen",
            trusted_embeds: &[],
            open_fact_text: Some("wird ergänzt"),
            search_text: true,
            check_facts: true,
            hyphenate_min_length: 10,
        };
        let resolve = |_: &str| crate::parse::markdown::Resolved::Url("/a/".into());
        crate::parse::markdown::render(body, &source, &resolve, &opts).facts
    }

    fn codes(body: &str) -> Vec<&'static str> {
        audit_body(&facts(body), Path::new("content/x.md"), body)
            .into_iter()
            .filter_map(|d| d.code)
            .collect()
    }

    #[test]
    fn each_check_trips_and_passes() {
        assert_eq!(codes("Mehr [hier](@/a.md)."), ["link-text"]);
        assert_eq!(
            codes("Mehr zur [Sprechstunde 70](@/a.md)."),
            Vec::<&str>::new()
        );
        assert_eq!(
            codes("Siehe [https://ozg.de](https://ozg.de)."),
            ["link-text"]
        );
        assert_eq!(
            codes("[Schreiben Sie uns](mailto:a@b.de)"),
            Vec::<&str>::new()
        );
        assert_eq!(codes("![](bild.png)"), ["image-alt"]);
        assert_eq!(codes("![](bild.png \"dekorativ\")"), Vec::<&str>::new());
        assert_eq!(codes("![Team beim Workshop](bild.png)"), Vec::<&str>::new());
        assert_eq!(codes("## A\n\n#### B\n"), ["heading-order"]);
        assert_eq!(codes("# Titel\n"), ["heading-order"]);
        assert_eq!(
            codes("## A\n\n### B\n\n## C\n\n### D\n"),
            Vec::<&str>::new()
        );
        assert_eq!(codes("[Folien](/f.pdf)"), ["file-link"]);
        assert_eq!(codes("[Folien (PDF, 1,2 MB)](/f.pdf)"), Vec::<&str>::new());
        assert_eq!(codes("| | |\n|---|---|\n| a | b |\n"), ["table-header"]);
        assert_eq!(
            codes("| A | B |\n|---|---|\n| a | b |\n"),
            Vec::<&str>::new()
        );
        assert_eq!(
            codes("[Portal des Landes](http://sachsen-anhalt.de)"),
            ["http-link"]
        );
    }

    #[test]
    fn findings_point_at_the_link() {
        let body = "Text.\n\nMehr [hier](@/a.md).\n";
        let d = &audit_body(&facts(body), Path::new("content/x.md"), body)[0];
        let loc = d.location.as_ref().unwrap();
        assert_eq!((loc.line, loc.column), (3, 6));
    }
}
