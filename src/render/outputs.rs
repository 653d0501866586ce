//! Files besides pages: `404.html`, Atom feeds, `sitemap.xml`, `robots.txt`.

use std::fmt::Write as _;

use tera::{Context, Value};

use super::Sink;
use super::context::obj;
use super::templates::Templates;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::parse::markdown::escape;
use crate::site::{PageId, Site};
use crate::time::rfc3339;

pub const FEED_FILE: &str = "atom.xml";
/// Templates below this folder are rendered once each to the same path in the output.
pub const EXTRA_FILES_DIR: &str = "files/";

/// Which extra files to write.
pub enum Extras<'a> {
    All,
    /// Those the patched pages may have changed (the preview).
    After(&'a crate::site::Applied),
}

impl Extras<'_> {
    fn feeds(&self, site: &Site) -> bool {
        match self {
            Extras::All => true,
            Extras::After(a) => a.sections.iter().any(|s| site.sections[*s].front.feed),
        }
    }

    fn sitemap(&self) -> bool {
        match self {
            Extras::All => true,
            Extras::After(a) => a.sitemap,
        }
    }

    fn calendar_of_section(&self, section: usize) -> bool {
        match self {
            Extras::All => true,
            Extras::After(a) => a.sections.contains(&section),
        }
    }

    fn calendar_of_page(&self, page: PageId) -> bool {
        match self {
            Extras::All => true,
            Extras::After(a) => a.pages.contains(&page),
        }
    }
}

/// The outcome of each file written so far: every error is reported, not the first one only.
#[derive(Default)]
struct Written(Vec<Result<(), Diagnostic>>);

impl Written {
    fn record(&mut self, result: Result<(), Diagnostic>) {
        self.0.push(result);
    }

    /// The number of files written, or every error.
    fn finish(self) -> Result<usize, Diagnostics> {
        let mut errors = Diagnostics::new();
        let mut files = 0;
        for r in self.0 {
            match r {
                Ok(()) => files += 1,
                Err(d) => errors.push(d),
            }
        }
        if errors.has_errors() {
            Err(errors)
        } else {
            Ok(files)
        }
    }
}

/// Writes the files besides pages, one output after the other; returns how many it wrote.
pub fn write_extras(
    site: &Site,
    templates: &Templates,
    summaries: &[Value],
    staging: &dyn Sink,
    which: Extras<'_>,
) -> Result<usize, Diagnostics> {
    let mut written = Written::default();
    write_404(templates, staging, &mut written);
    if which.feeds(site) {
        write_feeds(site, templates, summaries, staging, &mut written);
    }
    write_calendars(site, staging, &which, &mut written);
    write_theme_files(templates, staging, &mut written);
    write_search_index(site, staging, &mut written);
    if which.sitemap() {
        write_sitemap(site, staging, &mut written);
        write_robots(site, staging, &mut written);
    }
    written.finish()
}

fn write_404(templates: &Templates, staging: &dyn Sink, written: &mut Written) {
    if !templates.has("404.html") {
        written.record(Err(Diagnostic::error("the theme has no `404.html` template").hint(
            "add `templates/404.html` to the theme: every site needs a page for addresses that do not exist",
        )));
        return;
    }
    written.record(
        templates
            .render("404.html", &Context::new(), None)
            .and_then(|html| staging.write("404.html", html.as_bytes())),
    );
}

/// One feed per section with `feed: true`, and the site-wide one combining them.
fn write_feeds(
    site: &Site,
    templates: &Templates,
    summaries: &[Value],
    staging: &dyn Sink,
    written: &mut Written,
) {
    let feed_sections: Vec<usize> = (0..site.sections.len())
        .filter(|s| site.sections[*s].front.feed)
        .collect();
    let Some(first) = feed_sections.first() else {
        return;
    };
    if !templates.has(FEED_FILE) {
        written.record(Err(Diagnostic::error(format!(
            "sections ask for a feed but the theme has no `{FEED_FILE}` template"
        ))
        .in_file(&site.sections[*first].file.shown)
        .hint("add `templates/atom.xml` to the theme, or remove `feed: true`")));
        return;
    }
    let mut all: Vec<PageId> = feed_sections
        .iter()
        .flat_map(|s| site.sections[*s].pages.iter().copied())
        .collect();
    sort_newest_first(site, &mut all);
    let feed = |path: &str, title: &str, pages: &[PageId]| {
        write_feed(site, templates, summaries, staging, path, title, pages)
    };
    written.record(feed("/", &site.config.site.title, &all));
    for s in &feed_sections {
        let section = &site.sections[*s];
        let mut list = section.pages.clone();
        sort_newest_first(site, &mut list);
        let title = format!("{} – {}", section.front.title, site.config.site.title);
        written.record(feed(&section.path, &title, &list));
    }
}

/// Calendars for sections of dated sessions and events, and one per session.
fn write_calendars(site: &Site, staging: &dyn Sink, which: &Extras<'_>, written: &mut Written) {
    for (section_id, section) in site.sections.iter().enumerate() {
        let Some(settings) = &section.front.calendar else {
            continue;
        };
        if !which.calendar_of_section(section_id) {
            continue;
        }
        let ics = super::calendar::section_calendar(site, section, settings);
        written.record(staging.write(
            &format!("{}{}", section.path, settings.file),
            ics.as_bytes(),
        ));
        for id in &section.pages {
            let page = &site.pages[*id];
            if page.starts_at.is_some() && which.calendar_of_page(*id) {
                let ics = super::calendar::page_calendar(site, page, settings);
                written.record(staging.write(
                    &format!("{}{}", page.path, settings.event_file),
                    ics.as_bytes(),
                ));
            }
        }
    }
}

/// Theme files under `templates/files/` become files at the same path (e.g. the web app manifest).
fn write_theme_files(templates: &Templates, staging: &dyn Sink, written: &mut Written) {
    for name in templates.names_under(EXTRA_FILES_DIR) {
        let out = name
            .strip_prefix(EXTRA_FILES_DIR)
            .unwrap_or(&name)
            .to_string();
        written.record(
            templates
                .render(&name, &Context::new(), None)
                .and_then(|text| staging.write(&out, text.as_bytes())),
        );
    }
}

fn write_search_index(site: &Site, staging: &dyn Sink, written: &mut Written) {
    if super::search::wanted(site) {
        written.record(staging.write(
            super::search::INDEX_FILE,
            super::search::index(site).as_bytes(),
        ));
    }
}

fn write_sitemap(site: &Site, staging: &dyn Sink, written: &mut Written) {
    written.record(staging.write("sitemap.xml", sitemap(site).as_bytes()));
}

fn write_robots(site: &Site, staging: &dyn Sink, written: &mut Written) {
    let robots = format!(
        "User-agent: *\nAllow: /\n\nSitemap: {}\n",
        site.config.permalink("/sitemap.xml")
    );
    written.record(staging.write("robots.txt", robots.as_bytes()));
}

fn sort_newest_first(site: &Site, list: &mut [PageId]) {
    list.sort_by(|a, b| {
        let (pa, pb) = (&site.pages[*a], &site.pages[*b]);
        pb.fields
            .date()
            .cmp(&pa.fields.date())
            .then_with(|| pa.file.key.cmp(&pb.file.key))
    });
}

pub(super) fn write_feed(
    site: &Site,
    templates: &Templates,
    summaries: &[Value],
    staging: &dyn Sink,
    path: &str,
    title: &str,
    pages: &[PageId],
) -> Result<(), Diagnostic> {
    let config = &site.config;
    let entries: Vec<Value> = pages
        .iter()
        .take(config.site.feed.limit)
        .map(|p| summaries[*p].clone())
        .collect();
    // The newest entry's date, so an unchanged site produces a byte-identical feed.
    let updated = pages
        .first()
        .and_then(|p| {
            summaries[*p]
                .as_map()?
                .get(&"date_rfc3339".into())?
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_else(|| rfc3339(&site.now));
    let mut ctx = Context::new();
    ctx.insert_value(
        "feed",
        obj(vec![
            ("title", Value::from(title)),
            (
                "url",
                Value::from(config.permalink(&format!("{path}{FEED_FILE}"))),
            ),
            ("alternate", Value::from(config.permalink(path))),
            ("updated", Value::from(updated)),
            ("entries", Value::from(entries)),
        ]),
    );
    let xml = templates.render(FEED_FILE, &ctx, None)?;
    staging.write(&format!("{path}{FEED_FILE}"), xml.as_bytes())
}

/// The sitemap protocol is fixed, so it is written here rather than left to themes.
fn sitemap(site: &Site) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    let mut entries: Vec<(String, Option<String>)> = site
        .sections
        .iter()
        .map(|s| (site.config.permalink(&s.path), None))
        .chain(site.pages.iter().map(|p| {
            let lastmod = p.common.updated.or(p.fields.date()).map(|d| d.to_string());
            (site.config.permalink(&p.path), lastmod)
        }))
        .chain(
            site.topics
                .first()
                .map(|_| crate::site::topics::TOPICS_PATH)
                .into_iter()
                .chain(site.topics.iter().map(|t| t.path.as_str()))
                .map(|path| (site.config.permalink(path), None)),
        )
        .collect();
    entries.sort();
    for (loc, lastmod) in entries {
        let _ = write!(out, "  <url><loc>{}</loc>", escape(&loc));
        if let Some(m) = lastmod {
            let _ = write!(out, "<lastmod>{m}</lastmod>");
        }
        out.push_str("</url>\n");
    }
    out.push_str("</urlset>\n");
    super::templates::xml_chars(out)
}
