//! The site model as template values: what `page`, `section` and friends contain.
//!
//! Summaries are built once per page and shared (tera values are reference-counted), so a section
//! listing ten thousand pages holds references, never copies of page bodies.

use jiff::civil::Time;
use serde_json::json;
use tera::Value;

use crate::parse::kinds::KindFields;
use crate::site::{Page, PageId, Section, SectionId, Site};
use crate::time::{local_to_zoned, rfc3339};

/// The `paginator` of a list page's template: its pages, where it stands among `total`, and the
/// addresses of the pages around it (`page_url(k)` is the address of page `k`, 1-based).
pub(super) fn paginator(
    pages: Vec<Value>,
    n: usize,
    total: usize,
    page_url: &dyn Fn(usize) -> String,
) -> Value {
    let url_or_none = |cond: bool, k: usize| {
        if cond {
            Value::from(page_url(k))
        } else {
            Value::none()
        }
    };
    obj(vec![
        ("pages", Value::from(pages)),
        ("current", Value::from(n)),
        ("current_url", Value::from(page_url(n))),
        ("total", Value::from(total)),
        ("previous_url", url_or_none(n > 1, n.saturating_sub(1))),
        ("next_url", url_or_none(n < total, n + 1)),
        ("first_url", Value::from(page_url(1))),
        ("last_url", Value::from(page_url(total))),
    ])
}

/// Builds a tera map from pairs.
pub fn obj(pairs: Vec<(&'static str, Value)>) -> Value {
    let mut map = tera::Map::with_capacity(pairs.len());
    for (k, v) in pairs {
        map.insert(k.into(), v);
    }
    Value::from(map)
}

fn opt_string(s: Option<String>) -> Value {
    s.map_or_else(Value::none, Value::from)
}

/// Everything about a page except its body and table of contents.
pub fn page_summary(site: &Site, page: &Page) -> Value {
    let config = &site.config;
    let date = page.fields.date();
    let date_rfc3339 = date.and_then(|d| {
        local_to_zoned(d.0.to_datetime(Time::midnight()), &config.tz)
            .ok()
            .map(|z| rfc3339(&z))
    });
    let mut fields = page.fields.to_json();
    if let (KindFields::Sprechstunde(_), Some(map)) = (&page.fields, fields.as_object_mut()) {
        map.insert("slides".into(), json!(page.slides));
    }
    let reading_time = page.body.word_count.div_ceil(200).max(1);
    let section = &site.sections[page.section];
    let calendar = section
        .front
        .calendar
        .as_ref()
        .filter(|_| page.starts_at.is_some());
    let calendar_url = calendar.map(|c| config.url(&format!("{}{}", page.path, c.event_file)));
    // The link label names the file's size, like every other file link on the site.
    let calendar_size = calendar.map(|c| {
        crate::site::human_size(super::calendar::page_calendar(site, page, c).len() as u64)
    });
    obj(vec![
        ("title", Value::from(page.common.title.as_str())),
        ("description", opt_string(page.common.description.clone())),
        ("url", Value::from(config.url(&page.path))),
        ("permalink", Value::from(config.permalink(&page.path))),
        ("slug", Value::from(page.slug.as_str())),
        ("kind", Value::from(page.kind().name())),
        (
            "summary",
            page.body
                .summary
                .as_deref()
                .map_or_else(Value::none, Value::safe_string),
        ),
        ("date", opt_string(date.map(|d| d.to_string()))),
        ("date_rfc3339", opt_string(date_rfc3339)),
        (
            "updated",
            opt_string(page.common.updated.map(|d| d.to_string())),
        ),
        ("weight", Value::from(page.common.weight)),
        ("topics", topic_links(site, &page.topics)),
        ("extra", Value::from_serializable(&page.common.extra)),
        ("downloads", Value::from_serializable(&page.downloads)),
        ("video", Value::from_serializable(&page.video)),
        // The accessibility statement lists them; a theme may show them too.
        (
            "ignore_checks",
            Value::from_serializable(&page.common.ignore_checks),
        ),
        ("calendar_url", opt_string(calendar_url)),
        ("calendar_size", opt_string(calendar_size)),
        ("fields", Value::from_serializable(&fields)),
        (
            "starts_at",
            opt_string(page.starts_at.as_ref().map(rfc3339)),
        ),
        // An open end has no moment to show (the model counts to the end of the day).
        (
            "ends_at",
            opt_string(
                page.ends_at
                    .as_ref()
                    .filter(|_| !page.fields.times().is_some_and(|(_, end)| end.is_open()))
                    .map(rfc3339),
            ),
        ),
        (
            "open",
            Value::from_serializable(&crate::yaml::fact::open_map(&page.fields.open_facts())),
        ),
        ("upcoming", Value::from(page.is_upcoming(&site.now))),
        ("word_count", Value::from(page.body.word_count)),
        ("reading_time", Value::from(reading_time)),
        (
            "source",
            Value::from(page.file.shown.to_string_lossy().replace('\\', "/")),
        ),
    ])
}

/// `[{slug, title, url}]` of a page's topics, in the order its `themen:` names them.
fn topic_links(site: &Site, topics: &[usize]) -> Value {
    Value::from(
        topics
            .iter()
            .filter_map(|t| site.topics.get(*t))
            .map(|t| {
                obj(vec![
                    ("slug", Value::from(t.slug.as_str())),
                    ("title", Value::from(t.title.as_str())),
                    ("url", Value::from(site.config.url(&t.path))),
                ])
            })
            .collect::<Vec<Value>>(),
    )
}

fn link(site: &Site, page: Option<PageId>) -> Value {
    match page {
        Some(id) => {
            let p = &site.pages[id];
            obj(vec![
                ("title", Value::from(p.common.title.as_str())),
                ("url", Value::from(site.config.url(&p.path))),
            ])
        }
        None => Value::none(),
    }
}

/// The full page: its summary plus body, table of contents and neighbours.
pub fn page_full(site: &Site, id: PageId, summary: &Value) -> Value {
    let page = &site.pages[id];
    let mut map = summary.as_map().cloned().unwrap_or_default();
    map.insert("content".into(), Value::safe_string(&page.body.html));
    map.insert("toc".into(), Value::from_serializable(&page.body.toc));
    map.insert("show_toc".into(), Value::from(show_toc(site, &page.body)));
    map.insert("has_code".into(), Value::from(page.body.has_code));
    map.insert("earlier".into(), link(site, page.earlier));
    map.insert("later".into(), link(site, page.later));
    Value::from(map)
}

/// Whether a body is long enough for a contents list: it has `markdown.toc_min_headings`
/// level-2 headings. The list is also the keyboard's way to a section, as the headings'
/// self-links are out of the Tab order.
fn show_toc(site: &Site, body: &crate::parse::markdown::Rendered) -> bool {
    let min = site.config.site.markdown.toc_min_headings;
    let level_2 = body.toc.iter().filter(|h| h.level == 2).count();
    level_2 > 0 && level_2 >= min
}

/// A section with its pages as shared summaries.
pub fn section_value(site: &Site, id: SectionId, summaries: &[Value]) -> Value {
    let s: &Section = &site.sections[id];
    let config = &site.config;
    let pages: Vec<Value> = s.pages.iter().map(|p| summaries[*p].clone()).collect();
    let subsections: Vec<Value> = s
        .subsections
        .iter()
        .map(|c| {
            let c = &site.sections[*c];
            obj(vec![
                ("title", Value::from(c.front.title.as_str())),
                ("url", Value::from(config.url(&c.path))),
                ("description", opt_string(c.front.description.clone())),
            ])
        })
        .collect();
    let mut pairs = vec![
        ("title", Value::from(s.front.title.as_str())),
        ("description", opt_string(s.front.description.clone())),
        ("url", Value::from(config.url(&s.path))),
        ("permalink", Value::from(config.permalink(&s.path))),
        ("kind", Value::from(s.kind.name())),
        ("content", Value::safe_string(&s.body.html)),
        ("toc", Value::from_serializable(&s.body.toc)),
        ("show_toc", Value::from(show_toc(site, &s.body))),
        ("has_code", Value::from(s.body.has_code)),
        ("extra", Value::from_serializable(&s.front.extra)),
        (
            "ignore_checks",
            Value::from_serializable(&s.front.ignore_checks),
        ),
        ("pages", Value::from(pages)),
        ("subsections", Value::from(subsections)),
        (
            "calendar_url",
            opt_string(
                s.front
                    .calendar
                    .as_ref()
                    .map(|c| config.url(&format!("{}{}", s.path, c.file))),
            ),
        ),
        (
            "calendar_size",
            opt_string(s.front.calendar.as_ref().map(|c| {
                crate::site::human_size(super::calendar::section_calendar(site, s, c).len() as u64)
            })),
        ),
        (
            "feed_url",
            opt_string(
                s.front
                    .feed
                    .then(|| config.url(&format!("{}atom.xml", s.path))),
            ),
        ),
        (
            "source",
            Value::from(s.file.shown.to_string_lossy().replace('\\', "/")),
        ),
    ];
    if let Some(adv) = &s.front.advent {
        pairs.push(("advent", advent_value(site, s, adv, summaries)));
    }
    obj(pairs)
}

/// Every day of the calendar; a door's page is present only once it has opened.
fn advent_value(
    site: &Site,
    s: &Section,
    adv: &crate::parse::kinds::AdventSettings,
    summaries: &[Value],
) -> Value {
    let days: Vec<Value> = (1..=adv.days)
        .map(|day| {
            let date = jiff::civil::Date::new(adv.year, 12, day as i8).ok();
            let opens = date
                .and_then(|d| local_to_zoned(d.to_datetime(adv.opens_at.0), &site.config.tz).ok());
            let page = s
                .pages
                .iter()
                .find(|p| site.pages[**p].fields.number() == Some(day.into()))
                .map_or_else(Value::none, |p| summaries[*p].clone());
            obj(vec![
                ("day", Value::from(day)),
                ("date", opt_string(date.map(|d| d.to_string()))),
                ("opens_at", opt_string(opens.as_ref().map(rfc3339))),
                ("page", page),
            ])
        })
        .collect();
    // The season lasts from the first open door to the end of the year; themes show teasers only then.
    let season_end = jiff::civil::Date::new(adv.year.saturating_add(1), 1, 1)
        .ok()
        .and_then(|d| local_to_zoned(d.to_datetime(Time::midnight()), &site.config.tz).ok());
    let any_open = days.iter().any(|d| {
        d.as_map()
            .and_then(|m| m.get(&"page".into()))
            .is_some_and(|p| !p.is_none())
    });
    let active = any_open && season_end.is_some_and(|end| site.now < end);
    obj(vec![
        ("active", Value::from(active)),
        ("year", Value::from(adv.year)),
        (
            "opens_at",
            Value::from(adv.opens_at.0.strftime("%H:%M").to_string()),
        ),
        ("days", Value::from(days)),
    ])
}

/// A section value without its `pages`, for the list pages of a paginated section.
pub fn without_pages(section: &Value) -> Value {
    let mut map = section.as_map().cloned().unwrap_or_default();
    map.remove(&"pages".into());
    Value::from(map)
}

/// `{title, url}` of each section from the home page down to `id`, for breadcrumbs.
pub fn ancestors(site: &Site, id: SectionId) -> Value {
    let list: Vec<Value> = site
        .ancestry(id)
        .into_iter()
        .map(|s| {
            let s = &site.sections[s];
            obj(vec![
                ("title", Value::from(s.front.title.as_str())),
                ("url", Value::from(site.config.url(&s.path))),
            ])
        })
        .collect();
    Value::from(list)
}

pub fn section_link(site: &Site, id: SectionId) -> Value {
    let s = &site.sections[id];
    obj(vec![
        ("title", Value::from(s.front.title.as_str())),
        ("url", Value::from(site.config.url(&s.path))),
        ("kind", Value::from(s.kind.name())),
    ])
}
