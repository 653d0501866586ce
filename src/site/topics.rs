//! Topics ("Themen"): what news, Sprechstunden, events, projects, advent doors and editions share.
//!
//! `site.yaml` declares them (`themen:`, [`crate::config::TopicConfig`]); a page names its own in
//! front matter (`themen: [gdst, zsa]`), checked here against the declared ones with a "did you
//! mean" for a near miss. The site model keeps, for each declared topic, its published pages in
//! the order its list shows them: newest first by [`Page::topic_date`], pages without a date last
//! by title. A draft or a page scheduled for later is never in a topic, exactly as it is in no
//! section: only published pages are placed at all.

use super::{Page, PageId};
use crate::config::TopicConfig;
use crate::diagnostics::Diagnostic;
use crate::time::LocalDate;
use crate::yaml::YamlSource;
use crate::yaml::located::Located;

/// Where the list of all topics is; each topic's list is below it (`/themen/gdst/`).
pub const TOPICS_PATH: &str = "/themen/";

/// A declared topic with its published pages.
#[derive(Debug, Clone)]
pub struct Topic {
    pub slug: String,
    pub title: String,
    pub description: String,
    /// URL path without the base path: `/themen/gdst/`.
    pub path: String,
    /// Published pages, newest first; pages without a date last, by title.
    pub pages: Vec<PageId>,
}

/// The address of the topic `slug` (a checked slug: lower-case letters, digits and `-`).
pub fn path_of(slug: &str) -> String {
    format!("{TOPICS_PATH}{slug}/")
}

/// The declared topics, each with the published pages that name it, in list order.
pub fn collect(declared: &[TopicConfig], pages: &[Page]) -> Vec<Topic> {
    let mut topics: Vec<Topic> = declared
        .iter()
        .map(|t| Topic {
            slug: t.slug.text.clone(),
            title: t.title.clone(),
            description: t.description.clone(),
            path: path_of(t.slug.as_str()),
            pages: Vec::new(),
        })
        .collect();
    for (id, page) in pages.iter().enumerate() {
        for &t in &page.topics {
            if let Some(topic) = topics.get_mut(t) {
                topic.pages.push(id);
            }
        }
    }
    for topic in &mut topics {
        order(&mut topic.pages, pages);
    }
    topics
}

/// Newest first by [`Page::topic_date`]; undated pages after all dated ones, by title; the
/// file's key decides between equals, so the order never depends on the order of loading.
pub fn order(list: &mut [PageId], pages: &[Page]) {
    list.sort_by(|a, b| {
        let (pa, pb) = (&pages[*a], &pages[*b]);
        match (pa.topic_date, pb.topic_date) {
            (Some(da), Some(db)) => db.cmp(&da),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
        .then_with(|| {
            pa.common
                .title
                .to_lowercase()
                .cmp(&pb.common.title.to_lowercase())
        })
        .then_with(|| pa.file.key.cmp(&pb.file.key))
    });
}

/// The declared topics a page's `themen:` names, as indices into `declared` in the order
/// written; every undeclared or repeated one is an error at its place in the file.
pub fn resolve(
    themen: &[Located],
    declared: &[TopicConfig],
    yaml: &YamlSource<'_>,
) -> Result<Vec<usize>, Vec<Diagnostic>> {
    let mut found = Vec::with_capacity(themen.len());
    let mut errors = Vec::new();
    let at = |t: &Located| t.location(yaml.path, yaml.file_text, || yaml.key_location("themen"));
    for t in themen {
        match declared.iter().position(|d| d.slug.as_str() == t.as_str()) {
            Some(i) if found.contains(&i) => errors.push(
                Diagnostic::error(format!("the topic `{}` is named twice", t.as_str()))
                    .at(at(t))
                    .hint("name each topic once in `themen:`; remove this one"),
            ),
            Some(i) => found.push(i),
            None => errors.push(undeclared(t, declared).at(at(t))),
        }
    }
    if errors.is_empty() {
        Ok(found)
    } else {
        Err(errors)
    }
}

/// "There is no topic `gsdt`", with the closest declared slug or title as the likely meaning.
fn undeclared(t: &Located, declared: &[TopicConfig]) -> Diagnostic {
    let written = t.as_str().trim().to_lowercase();
    let closest = declared
        .iter()
        .map(|d| {
            let by_slug = strsim::normalized_damerau_levenshtein(&written, d.slug.as_str());
            let by_title =
                strsim::normalized_damerau_levenshtein(&written, &d.title.to_lowercase());
            (by_slug.max(by_title), d.slug.as_str())
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(score, _)| *score > 0.5)
        .map(|(_, slug)| format!("did you mean „{slug}“? "))
        .unwrap_or_default();
    let known = if declared.is_empty() {
        "site.yaml declares no topics yet".to_string()
    } else {
        let slugs: Vec<&str> = declared.iter().map(|d| d.slug.as_str()).collect();
        format!("the topics of site.yaml are: {}", slugs.join(", "))
    };
    Diagnostic::error(format!(
        "the topic `{}` is not declared",
        crate::diagnostics::printable(t.as_str())
    ))
    .hint(format!(
        "{closest}{known}; name one of them, or declare this one in site.yaml under `themen:` with `slug`, `title` and `description`"
    ))
}

/// The date a page is listed by in its topics: its own date (news, Sprechstunde, event,
/// edition), or for an advent door the day it opens; other pages have none.
pub fn date_of(page_date: Option<LocalDate>, door: Option<(i16, u8)>) -> Option<LocalDate> {
    page_date.or_else(|| {
        let (year, day) = door?;
        jiff::civil::Date::new(year, 12, i8::try_from(day).ok()?)
            .ok()
            .map(LocalDate)
    })
}

/// A section or page at `/themen/…` would be overwritten by the topic pages of a site that
/// declares topics: an error at its file.
pub fn check_addresses(
    sections: &[super::Section],
    pages: &[Page],
    topics: &[Topic],
) -> Vec<Diagnostic> {
    if topics.is_empty() {
        return Vec::new();
    }
    let sections = sections.iter().map(|s| (&s.path, &s.file.shown));
    let pages = pages.iter().map(|p| (&p.path, &p.file.shown));
    sections
        .chain(pages)
        .filter(|(path, _)| path.starts_with(TOPICS_PATH))
        .map(|(path, file)| {
            Diagnostic::error(format!(
                "the address {path} belongs to the topic pages (`themen:` in site.yaml)"
            ))
            .in_file(file)
            .hint("move the file to another folder, or give it another `slug:`")
        })
        .collect()
}

/// The files the topic pages take in the output (the lists, their further pages and feeds), as
/// `/`-separated paths, for the alias checks to keep old addresses off them.
pub fn outputs(topics: &[Topic]) -> Vec<String> {
    if topics.is_empty() {
        return Vec::new();
    }
    let rel = |p: &str| p.trim_start_matches('/').to_string();
    let mut files = vec![format!("{}index.html", rel(TOPICS_PATH))];
    for t in topics {
        files.push(format!("{}index.html", rel(&t.path)));
        files.push(format!("{}atom.xml", rel(&t.path)));
        for n in 2..=t.pages.len().div_ceil(PAGE_SIZE) {
            files.push(format!("{}seite/{n}/index.html", rel(&t.path)));
        }
    }
    files
}

/// How many pages one list page of a topic shows, as `paginate_by: 10` of "Aktuelles".
pub const PAGE_SIZE: usize = 10;

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(slugs: &[(&str, &str)]) -> Vec<TopicConfig> {
        slugs
            .iter()
            .map(|(slug, title)| TopicConfig {
                slug: Located {
                    text: (*slug).to_string(),
                    span: None,
                },
                title: (*title).to_string(),
                description: "Beschreibung.".to_string(),
            })
            .collect()
    }

    fn hint(written: &str, topics: &[TopicConfig]) -> String {
        let t = Located {
            text: written.to_string(),
            span: None,
        };
        undeclared(&t, topics).hint.unwrap_or_default()
    }

    #[test]
    fn a_near_miss_of_a_slug_or_a_title_suggests_the_slug() {
        let topics = declared(&[
            ("gdst", "Gemeinsam Digital für Sachsen-Anhalt (GDST)"),
            ("registermodernisierung", "Registermodernisierung"),
        ]);
        for (written, meant) in [
            ("gsdt", "gdst"),
            ("GDST", "gdst"),
            ("Registermodernisirung", "registermodernisierung"),
            ("gemeinsam digital für sachsen-anhalt", "gdst"),
        ] {
            let h = hint(written, &topics);
            assert!(
                h.starts_with(&format!("did you mean „{meant}“? ")),
                "{written}: {h}"
            );
        }
        let far = hint("wohngeld", &topics);
        assert!(
            far.starts_with("the topics of site.yaml are: gdst, registermodernisierung;"),
            "{far}"
        );
        assert!(hint("x", &[]).starts_with("site.yaml declares no topics yet"));
    }

    #[test]
    fn a_control_character_in_an_undeclared_topic_is_shown_not_sent_to_the_terminal() {
        let t = Located {
            text: "gdst\u{1b}[2J".to_string(),
            span: None,
        };
        let d = undeclared(&t, &declared(&[("gdst", "GDST")]));
        assert!(!d.message.contains('\u{1b}'), "{}", d.message);
    }

    #[test]
    fn a_door_is_dated_by_its_day_and_its_own_date_wins() {
        let date = |s: &str| LocalDate::parse(s).ok();
        assert_eq!(date_of(None, Some((2025, 3))), date("2025-12-03"));
        assert_eq!(date_of(date("2025-11-01"), None), date("2025-11-01"));
        assert_eq!(date_of(None, Some((2025, 40))), None);
        assert_eq!(date_of(None, None), None);
    }
}
