//! The site search's index: every published page as title, type, date and plain text, in one
//! JSON file the search page's script reads. Built only when a page uses the `search.html`
//! template, so sites without a search page carry no index. Unpublished and scheduled content
//! is never in it: it is built from the published site only.

use serde_json::json;

use crate::hyphenate::strip;
use crate::parse::markdown::facts::SEARCH_TEXT_CHARS;
use crate::site::Site;

pub const INDEX_FILE: &str = "suchindex.json";
pub const TEMPLATE: &str = crate::site::SEARCH_TEMPLATE;
/// Enough text for snippets and matching; long pages are found by their beginning and title
/// (the Markdown pass keeps as much of each body).
const MAX_TEXT: usize = SEARCH_TEXT_CHARS;

/// Whether the site has a search page.
pub fn wanted(site: &Site) -> bool {
    crate::site::has_search_page(&site.pages)
}

/// The index as JSON: `[{url, title, type, date, themen, text}]`; `type` is the section's
/// title, `themen` the slugs of the page's topics.
pub fn index(site: &Site) -> String {
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
            text.push_str(&p.body.facts.text);
            // An editor's own `&shy;` would split a word for matching: the index has none.
            let text: String = strip(text.trim()).chars().take(MAX_TEXT).collect();
            json!({
                "url": site.config.url(&p.path),
                "title": strip(&p.common.title),
                "type": kind,
                "date": p.fields.date().map(|d| d.0.strftime("%d.%m.%Y").to_string()),
                "themen": p.topics.iter().filter_map(|t| site.topics.get(*t)).map(|t| t.slug.as_str()).collect::<Vec<_>>(),
                "text": text,
            })
        })
        .collect();
    serde_json::Value::from(docs).to_string()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::parse::markdown::{self, BodySource, MarkdownOptions, Resolved};

    /// The search text the Markdown pass keeps for `body`.
    fn plain_text(body: &str, open_fact_text: &str) -> String {
        let source = BodySource {
            path: Path::new("content/x.md"),
            file_text: body,
            offset: 0,
        };
        let opts = MarkdownOptions {
            heading_anchors: true,
            task_done_label: "erledigt",
            task_open_label: "offen",
            trusted_embeds: &[],
            open_fact_text: Some(open_fact_text),
            search_text: true,
            check_facts: true,
            hyphenate_min_length: 10,
        };
        let resolve = |_: &str| Resolved::Url("/x/".into());
        markdown::render(body, &source, &resolve, &opts).facts.text
    }

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

    #[test]
    fn long_bodies_keep_as_much_text_as_the_index_takes() {
        let body = "Wort ".repeat(markdown::facts::SEARCH_TEXT_CHARS);
        let text = plain_text(&body, "");
        assert_eq!(
            text.chars().count(),
            markdown::facts::SEARCH_TEXT_CHARS + 1,
            "one more than the index takes, so its trimming never meets the cut"
        );
        assert!(text.starts_with("Wort Wort"), "{text}");
    }
}
