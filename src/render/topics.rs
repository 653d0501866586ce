//! The topic pages: `/themen/` lists every declared topic, `/themen/<slug>/` the published pages
//! of one (paginated like a section, `seite/2/` on), each with its Atom feed at
//! `/themen/<slug>/atom.xml` (the site feed's template, so both read alike).
//!
//! Templates: `topics.html` gets `topics` (each `{slug, title, description, url, permalink,
//! feed_url, count}`); `topic.html` gets `topic` (the same for one topic), `paginator` (as a
//! paginated section's, always present) and `section` (title, description, url and permalink of
//! the topic, so the base template's title, description and canonical address work unchanged).
//! Both get `ancestors` (the home page, for the breadcrumbs).

use tera::{Context, Value};

use super::Sink;
use super::context::{ancestors, obj, paginator};
use super::outputs::{Extras, FEED_FILE, write_feed};
use super::templates::Templates;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::site::topics::{PAGE_SIZE, TOPICS_PATH, Topic};
use crate::site::{PageId, Site};

pub const INDEX_TEMPLATE: &str = "topics.html";
pub const TEMPLATE: &str = "topic.html";

/// Writes the topic pages `which` may have changed; returns how many files it wrote.
pub fn write(
    site: &Site,
    templates: &Templates,
    summaries: &[Value],
    sink: &dyn Sink,
    which: &Extras<'_>,
) -> Result<usize, Diagnostics> {
    if site.topics.is_empty() {
        return Ok(0);
    }
    // After a patch only the topics of the patched pages can differ (joining or leaving a topic
    // is built in full, so `/themen/` and its counts stay as they are).
    let wanted = |t: &Topic| match which {
        Extras::All => true,
        Extras::After(a) => a.pages.iter().any(|p| t.pages.contains(p)),
    };
    let mut errors = Diagnostics::new();
    for name in [INDEX_TEMPLATE, TEMPLATE] {
        if !templates.has(name) {
            errors.push(
                Diagnostic::error(format!(
                    "site.yaml declares topics but the theme has no `{name}` template"
                ))
                .in_file(crate::config::CONFIG_FILE)
                .hint(format!(
                    "add `templates/{name}` to the theme, or remove `themen:` from site.yaml"
                )),
            );
        }
    }
    if errors.has_errors() {
        return Err(errors);
    }
    let crumbs = ancestors(site, Site::ROOT);
    let mut written = 0;
    let mut record = |r: Result<usize, Diagnostic>| match r {
        Ok(n) => written += n,
        Err(d) => errors.push(d),
    };
    if matches!(which, Extras::All) {
        record(write_index(site, templates, sink, &crumbs));
    }
    for topic in site.topics.iter().filter(|t| wanted(t)) {
        record(write_topic(
            site, templates, summaries, sink, topic, &crumbs,
        ));
        // The feed lists the dated pages (news, Sprechstunden, events, editions): Atom needs a
        // date for each entry, and a project has none to give.
        let dated: Vec<PageId> = topic
            .pages
            .iter()
            .copied()
            .filter(|p| site.pages[*p].fields.date().is_some())
            .collect();
        let title = format!("{} – {}", topic.title, site.config.site.title);
        record(
            write_feed(
                site,
                templates,
                summaries,
                sink,
                &topic.path,
                &title,
                &dated,
            )
            .map(|()| 1),
        );
    }
    if errors.has_errors() {
        Err(errors)
    } else {
        Ok(written)
    }
}

/// A topic as templates see it.
pub fn topic_value(site: &Site, topic: &Topic) -> Value {
    let config = &site.config;
    obj(vec![
        ("slug", Value::from(topic.slug.as_str())),
        ("title", Value::from(topic.title.as_str())),
        ("description", Value::from(topic.description.as_str())),
        ("url", Value::from(config.url(&topic.path))),
        ("permalink", Value::from(config.permalink(&topic.path))),
        (
            "feed_url",
            Value::from(config.url(&format!("{}{FEED_FILE}", topic.path))),
        ),
        ("count", Value::from(topic.pages.len())),
    ])
}

fn write_index(
    site: &Site,
    templates: &Templates,
    sink: &dyn Sink,
    crumbs: &Value,
) -> Result<usize, Diagnostic> {
    let topics: Vec<Value> = site.topics.iter().map(|t| topic_value(site, t)).collect();
    let mut ctx = Context::new();
    ctx.insert_value("topics", Value::from(topics));
    ctx.insert_value("ancestors", crumbs.clone());
    ctx.insert_value("topics_url", Value::from(site.config.url(TOPICS_PATH)));
    ctx.insert_value(
        "topics_permalink",
        Value::from(site.config.permalink(TOPICS_PATH)),
    );
    let html = templates.render(INDEX_TEMPLATE, &ctx, None)?;
    sink.write(&format!("{TOPICS_PATH}index.html"), html.as_bytes())?;
    Ok(1)
}

fn write_topic(
    site: &Site,
    templates: &Templates,
    summaries: &[Value],
    sink: &dyn Sink,
    topic: &Topic,
    crumbs: &Value,
) -> Result<usize, Diagnostic> {
    let config = &site.config;
    let value = topic_value(site, topic);
    let section = obj(vec![
        ("title", Value::from(topic.title.as_str())),
        ("description", Value::from(topic.description.as_str())),
        ("url", Value::from(config.url(&topic.path))),
        ("permalink", Value::from(config.permalink(&topic.path))),
        ("kind", Value::from("topic")),
    ]);
    let chunks: Vec<&[PageId]> = if topic.pages.is_empty() {
        vec![&[]]
    } else {
        topic.pages.chunks(PAGE_SIZE).collect()
    };
    let total = chunks.len();
    let page_url = |n: usize| match n {
        0 | 1 => config.url(&topic.path),
        n => config.url(&format!("{}seite/{n}/", topic.path)),
    };
    for (i, chunk) in chunks.iter().enumerate() {
        let n = i + 1;
        let pages: Vec<Value> = chunk.iter().map(|p| summaries[*p].clone()).collect();
        let mut ctx = Context::new();
        ctx.insert_value("topic", value.clone());
        ctx.insert_value("section", section.clone());
        ctx.insert_value("ancestors", crumbs.clone());
        ctx.insert_value("topics_url", Value::from(config.url(TOPICS_PATH)));
        ctx.insert_value("paginator", paginator(pages, n, total, &page_url));
        let html = templates.render(TEMPLATE, &ctx, None)?;
        let out = match n {
            1 => format!("{}index.html", topic.path),
            n => format!("{}seite/{n}/index.html", topic.path),
        };
        sink.write(&out, html.as_bytes())?;
    }
    Ok(total)
}
