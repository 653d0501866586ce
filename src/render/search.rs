//! The site search's index: every published page as title, type, date and plain text, in one
//! JSON file the search page's script reads. Built only when a page uses the `search.html`
//! template, so sites without a search page carry no index. Unpublished and scheduled content
//! is never in it: it is built from the published site only.

use pulldown_cmark::{Event, Parser, TagEnd};
use serde_json::json;

use crate::parse::markdown;
use crate::site::Site;

pub const INDEX_FILE: &str = "suchindex.json";
pub const TEMPLATE: &str = "search.html";
/// Enough text for snippets and matching; long pages are found by their beginning and title.
const MAX_TEXT: usize = 6000;

/// Whether the site has a search page.
pub fn wanted(site: &Site) -> bool {
    site.pages
        .iter()
        .any(|p| p.common.template.as_deref() == Some(TEMPLATE))
}

/// The index as JSON: `[{url, title, type, date, text}]`; `type` is the section's title.
pub fn index(site: &Site) -> String {
    let open_fact_text = site
        .config
        .site
        .markdown
        .open_fact_text
        .as_deref()
        .unwrap_or_default();
    let docs: Vec<serde_json::Value> = site
        .pages
        .iter()
        .filter(|p| p.common.template.as_deref() != Some(TEMPLATE))
        .map(|p| {
            let section = &site.sections[p.section];
            let kind = if section.parent.is_none() {
                "Seite".to_string()
            } else {
                section.front.title.clone()
            };
            let mut text = p.common.description.clone().unwrap_or_default();
            text.push(' ');
            text.push_str(&plain_text(p.split.body(&p.file.text), open_fact_text));
            let text: String = text.trim().chars().take(MAX_TEXT).collect();
            json!({
                "url": site.config.url(&p.path),
                "title": p.common.title,
                "type": kind,
                "date": p.fields.date().map(|d| d.0.strftime("%d.%m.%Y").to_string()),
                "text": text,
            })
        })
        .collect();
    serde_json::Value::from(docs).to_string()
}

/// The words of a Markdown body, without markup, blocks separated by spaces; `[offen: …]` is
/// what readers see for it (the editor's description stays out of the index).
fn plain_text(body: &str, open_fact_text: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let parser = Parser::new_ext(body, markdown::options()).into_offset_iter();
    for (event, _) in markdown::open_facts::OpenFactsInText::new(parser, body, open_fact_text) {
        match event {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::SoftBreak | Event::HardBreak => out.push(' '),
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item | TagEnd::TableCell,
            ) => out.push(' '),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::plain_text;

    #[test]
    fn markup_goes_words_stay() {
        assert_eq!(
            plain_text(
                "## Digital-Lotsen\n\nDie **Lotsen** helfen [hier](@/x.md).\n\n- eins\n- zwei\n",
                ""
            ),
            "Digital-Lotsen Die Lotsen helfen hier. eins zwei"
        );
    }

    #[test]
    fn an_open_fact_is_indexed_as_readers_see_it() {
        assert_eq!(
            plain_text("Datenschutz: [offen: Name der DSB]\n", "wird ergänzt"),
            "Datenschutz: wird ergänzt"
        );
    }
}
