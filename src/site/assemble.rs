//! Loaded files → the site model: sections, pages, URLs, publication, links.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use jiff::Zoned;
use rayon::prelude::*;

use super::links::{
    KeyIndex, check_anchors, point_at_newest, resolve_link_fields, resolve_navigation,
};
use super::{
    Asset, Download, HeldSend, Moment, MomentKind, Page, PageId, Section, Site, Target, Video,
    human_size,
};
use crate::config::Config;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::load::{Origin, STATIC_DIR, SourceFile, Sources, WrittenPathError};
use crate::parse::front_matter::{self, Split};
use crate::parse::kinds::{
    AdventSettings, FileRef, Kind, KindFields, SectionFront, SortBy, parse_page_front,
};
use crate::parse::markdown::{self, BodySource, MarkdownOptions, Rendered};
use crate::slug::Slug;
use crate::time::{local_to_zoned, rfc3339};
use crate::yaml::fact::{self, Fact};

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("4:30"), Some(270));
        assert_eq!(parse_duration("1:02:03"), Some(3723));
        assert_eq!(parse_duration("4:75"), None);
        assert_eq!(parse_duration("vier Minuten"), None);
    }
}

/// Parsed front matter and rendered Markdown of unchanged files, kept between the preview
/// server's rebuilds. A file's entry is used only if its text is byte-identical (same hash) and,
/// for Markdown, every `@/` link in it still resolves the same way: the result is exactly what a
/// fresh parse would give.
#[derive(Default)]
pub struct AssembleCache {
    fronts: std::sync::Mutex<HashMap<(String, u64, Kind), FrontEntry>>,
    bodies: std::sync::Mutex<HashMap<(String, u64), BodyEntry>>,
    /// The Markdown settings the bodies were rendered with; other settings empty the cache.
    markdown_settings: std::sync::Mutex<String>,
}

type FrontEntry = (crate::parse::kinds::CommonFront, KindFields);

struct BodyEntry {
    rendered: std::sync::Arc<Rendered>,
    /// Each `@/` target the body links to and what it resolved to.
    links: Vec<(String, markdown::Resolved)>,
}

impl AssembleCache {
    fn front(&self, key: &(String, u64, Kind)) -> Option<FrontEntry> {
        crate::sync::lock(&self.fronts).get(key).cloned()
    }

    fn keep_front(&self, key: (String, u64, Kind), entry: FrontEntry) {
        crate::sync::lock(&self.fronts).insert(key, entry);
    }

    fn body(&self, key: &(String, u64), index: &KeyIndex) -> Option<std::sync::Arc<Rendered>> {
        let map = crate::sync::lock(&self.bodies);
        let entry = map.get(key)?;
        entry
            .links
            .iter()
            .all(|(target, was)| &index.resolve(target) == was)
            .then(|| entry.rendered.clone())
    }

    fn keep_body(
        &self,
        key: (String, u64),
        rendered: &std::sync::Arc<Rendered>,
        links: Vec<(String, markdown::Resolved)>,
    ) {
        crate::sync::lock(&self.bodies).insert(
            key,
            BodyEntry {
                rendered: rendered.clone(),
                links,
            },
        );
    }

    /// Drops entries of files that no longer exist (or changed), so the cache does not grow.
    fn retain(&self, keys: &std::collections::HashSet<(String, u64)>) {
        crate::sync::lock(&self.fronts).retain(|(k, h, _), _| keys.contains(&(k.clone(), *h)));
        crate::sync::lock(&self.bodies).retain(|k, _| keys.contains(k));
    }
}

#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub now: jiff::Timestamp,
    pub drafts: bool,
    /// Collect the facts of bodies that only the checks and the e-mails read (links, images,
    /// headings, table heads: [`crate::parse::markdown::facts::Facts`]). `build` alone does
    /// without them: it reads none, and on a site of 10,000 pages they cost a tenth of its memory.
    pub check_facts: bool,
}

/// Builds the site model from the loaded sources; every problem found is returned, not just the first.
pub fn assemble(
    config: Config,
    sources: Sources,
    opts: &BuildOptions,
    cache: Option<&AssembleCache>,
) -> Result<Site, Diagnostics> {
    let now = opts.now.to_zoned(config.tz.clone());
    let mut errors = Diagnostics::new();

    let (index_files, page_files): (Vec<SourceFile>, Vec<SourceFile>) = sources
        .markdown
        .into_iter()
        .partition(|f| f.origin == Origin::Content && is_section_index(&f.key));

    let mut sections = build_sections(index_files, &mut errors);
    if sections.is_empty() {
        errors.push(
            Diagnostic::error("the site has no home page")
                .in_file("content/_index.md")
                .hint("create `content/_index.md` with a front matter `title:`"),
        );
        return Err(errors);
    }
    let section_by_dir: HashMap<String, usize> = sections
        .iter()
        .enumerate()
        .map(|(i, s)| (section_dir(&s.file.key).to_string(), i))
        .collect();

    // Parse every page in parallel; each knows its section (and so its kind) from its folder.
    let newsletter_section = sections.iter().position(|s| s.kind == Kind::Newsletter);
    let parsed: Vec<Result<ParsedPage, (String, Diagnostic)>> = page_files
        .into_par_iter()
        .map(|file| {
            let key = file.key.clone();
            parse_page(file, &sections, &section_by_dir, newsletter_section, cache)
                .map_err(|d| (key, d))
        })
        .collect();
    // Pages that failed are treated like unpublished ones from here on, so links to them do not
    // add a second, misleading "missing page" error; the build fails anyway.
    let mut unpublished = HashSet::new();
    let mut parsed_pages = Vec::with_capacity(parsed.len());
    for p in parsed {
        match p {
            Ok(p) => parsed_pages.push(p),
            Err((key, d)) => {
                unpublished.insert(key);
                errors.push(d);
            }
        }
    }

    // Publication: drafts and content scheduled after `now` leave the site entirely here.
    let mut schedule = Vec::new();
    let mut held_sends = Vec::new();
    let mut pages: Vec<Page> = Vec::with_capacity(parsed_pages.len());
    for p in parsed_pages {
        let key = p.file.key.clone();
        match finish_page(p, &sections, &config, &now, opts.drafts) {
            Ok(Placed::Published(page, moments)) => {
                schedule.extend(moments);
                pages.push(*page);
            }
            Ok(Placed::Unpublished { key, moment, send }) => {
                unpublished.insert(key);
                schedule.extend(moment);
                match send {
                    Some(SendAt::Upcoming(m)) => schedule.push(m),
                    Some(SendAt::Held(h)) => held_sends.push(h),
                    None => {}
                }
            }
            Err(ds) => {
                unpublished.insert(key);
                errors.extend(ds);
            }
        }
    }
    // An advent calendar's season ends with the year: teasers for it disappear then.
    for section in &sections {
        let Some(adv) = &section.front.advent else {
            continue;
        };
        let end = jiff::civil::Date::new(adv.year.saturating_add(1), 1, 1)
            .map_err(|e| e.to_string())
            .and_then(|d| local_to_zoned(d.to_datetime(jiff::civil::Time::midnight()), &config.tz));
        if let Ok(end) = end
            && end > now
        {
            schedule.push(Moment {
                at: end,
                file: section.file.shown.clone(),
                what: MomentKind::Ends,
            });
        }
    }
    schedule.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.file.cmp(&b.file)));

    check_collisions(&sections, &pages, &mut errors);
    let assets = place_assets(sources.assets, &pages);
    for page in &mut pages {
        resolve_downloads(page, &config, &mut errors);
    }

    // Section membership and order.
    for (id, page) in pages.iter().enumerate() {
        sections[page.section].pages.push(id);
    }
    for section in &mut sections {
        sort_pages(&mut section.pages, |id| &pages[id], section.sort);
        link_neighbours(section, &mut pages);
    }

    let mut by_key = HashMap::with_capacity(pages.len() + sections.len());
    for (i, s) in sections.iter().enumerate() {
        by_key.insert(s.file.key.clone(), Target::Section(i));
    }
    for (i, p) in pages.iter().enumerate() {
        by_key.insert(p.file.key.clone(), Target::Page(i));
    }

    let topics = super::topics::collect(&config.site.themen, &pages);
    errors.extend(super::topics::check_addresses(&sections, &pages, &topics));
    let index = index_keys(&by_key, unpublished, &sections, &pages, &config);
    let mut config = config;
    errors.extend(point_at_newest(&mut config, &sections, &index));
    let (navigation_errors, mut field_anchors) = resolve_navigation(&mut config, &index);
    errors.extend(navigation_errors);
    for page in &mut pages {
        let (errs, anchors) = resolve_link_fields(page, &index, &config);
        errors.extend(errs);
        field_anchors.extend(anchors);
    }
    render_bodies(
        &mut sections,
        &mut pages,
        &index,
        &config,
        opts.check_facts,
        cache,
        &mut errors,
    );
    errors.extend(check_anchors(&sections, &pages, &by_key, &field_anchors));
    errors.extend(super::legal::check(&config, &sections, &pages, &by_key));
    let open_facts = collect_open_facts(&config, &sections, &pages, &mut errors);
    // Images are read and measured here, so `check` reports what `build` would; their
    // variants are made by `images::make_images`, which alone writes the image cache.
    let mut reserved = Vec::new();
    let bodies = pages
        .iter_mut()
        .map(|p| (&p.body, &mut p.images, &p.file, &p.path))
        .chain(
            sections
                .iter_mut()
                .map(|s| (&s.body, &mut s.images, &s.file, &s.path)),
        );
    for (body, images, file, path) in bodies {
        let (planned, problems) = super::images::plan(body, file, path, &config);
        errors.extend(problems);
        reserved.extend(planned.iter().flat_map(|p| p.outputs(&config)));
        *images = planned;
    }
    // Last: old addresses must not take any output path, resized images included.
    // The variants' paths are taken already, though their files are made later.
    let taken: std::borrow::Cow<[Asset]> = if reserved.is_empty() {
        std::borrow::Cow::Borrowed(&assets)
    } else {
        std::borrow::Cow::Owned(assets.iter().cloned().chain(reserved).collect())
    };
    let redirects = super::aliases::collect(
        &sections,
        &pages,
        &taken,
        &by_key,
        &index,
        &config,
        &mut errors,
    );
    if errors.has_errors() {
        return Err(errors);
    }
    errors.sort();
    if let Some(c) = cache {
        let keys = pages
            .iter()
            .map(|p| (p.file.key.clone(), p.file.hash))
            .chain(sections.iter().map(|s| (s.file.key.clone(), s.file.hash)))
            .collect();
        c.retain(&keys);
    }

    Ok(Site {
        config,
        now,
        drafts: opts.drafts,
        sections,
        pages,
        by_key,
        schedule,
        held_sends,
        assets,
        redirects,
        topics,
        index,
        warnings: errors.into_vec(),
        open_facts,
    })
}

/// Every open fact of the published site, in file order. An edition of the newsletter is sent
/// as it is and cannot be corrected in a reader's inbox, so an open fact in one is an error.
fn collect_open_facts(
    config: &Config,
    sections: &[Section],
    pages: &[Page],
    errors: &mut Diagnostics,
) -> Vec<Diagnostic> {
    let mut found = Diagnostics::new();
    if let Some(contact) = &config.site.contact {
        let yaml = crate::yaml::YamlSource::whole_file(
            std::path::Path::new(crate::config::CONFIG_FILE),
            &config.text,
        );
        for open in contact.open_facts() {
            let at = fact::location(open.fact, &open.key, &yaml);
            found.push(fact::diagnostic(&open.key, open.fact, at));
        }
    }
    if let Some(legal) = &config.site.legal {
        let yaml = crate::yaml::YamlSource::whole_file(
            std::path::Path::new(crate::config::CONFIG_FILE),
            &config.text,
        );
        for open in legal.open_facts() {
            let at = fact::location(open.fact, &open.key, &yaml);
            found.push(fact::diagnostic(&open.key, open.fact, at));
        }
    }
    found.extend(super::legal::open_facts(config, pages));
    for page in pages {
        let yaml = page.split.yaml_source(&page.file);
        for open in page.fields.open_facts() {
            let at = fact::location(open.fact, &open.key, &yaml);
            found.push(fact::diagnostic(&open.key, open.fact, at));
        }
    }
    let bodies = pages
        .iter()
        .map(|p| (&p.body, p.kind(), &p.file.shown))
        .chain(
            sections
                .iter()
                .map(|s| (&s.body, Kind::Page, &s.file.shown)),
        );
    for (body, kind, shown) in bodies {
        if body.open_facts_more > 0 && kind != Kind::Newsletter {
            found.push(fact::text_diagnostic(
                Some(&format!(
                    "{} more `[offen: …]` in this file",
                    body.open_facts_more
                )),
                crate::diagnostics::Location::file(shown),
            ));
        }
        for open in &body.open_facts {
            if kind == Kind::Newsletter {
                errors.push(
                    Diagnostic::error("a newsletter edition cannot leave a fact open: it is sent as it is")
                        .at(open.location.clone())
                        .hint("Tragen Sie die Angabe ein oder lassen Sie den Satz weg: eine verschickte Ausgabe lässt sich nicht mehr ergänzen."),
                );
            } else {
                found.push(fact::text_diagnostic(
                    open.description.as_deref(),
                    open.location.clone(),
                ));
            }
        }
    }
    found.sort();
    found.into_vec()
}

fn index_keys(
    by_key: &HashMap<String, Target>,
    unpublished: HashSet<String>,
    sections: &[Section],
    pages: &[Page],
    config: &Config,
) -> KeyIndex {
    let urls = by_key
        .iter()
        .map(|(k, t)| {
            let path = match t {
                Target::Page(p) => &pages[*p].path,
                Target::Section(s) => &sections[*s].path,
            };
            (k.clone(), config.url(path))
        })
        .collect();
    KeyIndex { urls, unpublished }
}

fn is_section_index(key: &str) -> bool {
    key == "_index.md" || key.ends_with("/_index.md")
}

/// `aktuelles/_index.md` → `aktuelles`; `_index.md` → ``.
pub(super) fn section_dir(key: &str) -> &str {
    key.strip_suffix("_index.md")
        .unwrap_or(key)
        .trim_end_matches('/')
}

fn build_sections(mut files: Vec<SourceFile>, errors: &mut Diagnostics) -> Vec<Section> {
    // Parents before children, root first: sort by depth then path.
    files.sort_by(|a, b| {
        let depth = |k: &str| section_dir(k).split('/').filter(|s| !s.is_empty()).count();
        (depth(&a.key), &a.key).cmp(&(depth(&b.key), &b.key))
    });
    if files.first().map(|f| f.key.as_str()) != Some("_index.md") {
        return Vec::new();
    }
    let mut sections: Vec<Section> = Vec::with_capacity(files.len());
    let mut by_dir: HashMap<String, usize> = HashMap::new();
    for file in files {
        let split = match front_matter::split(&file.text, &file.shown) {
            Ok(s) => s,
            Err(d) => {
                errors.push(d);
                continue;
            }
        };
        let yaml = split.yaml_source(&file);
        let front: SectionFront = match yaml.parse("the front matter of a section (_index.md)") {
            Ok(f) => f,
            Err(d) => {
                errors.push(d);
                continue;
            }
        };
        let dir = section_dir(&file.key).to_string();
        let parent = parent_section(&dir, &by_dir);
        if !dir.is_empty() && parent.is_none() {
            // The root failed to parse; its error is already reported.
            continue;
        }
        for segment in dir.split('/').filter(|s| !s.is_empty()) {
            if let Err(e) = Slug::parse(segment) {
                errors.push(
                    Diagnostic::error(format!("folder name {e}"))
                        .in_file(&file.shown)
                        .hint("rename the folder: its name is the section's URL"),
                );
            }
        }
        let kind = front
            .kind
            .or_else(|| parent.map(|p| sections[p].kind))
            .unwrap_or(Kind::Page);
        if kind == Kind::AdventDoor && front.advent.is_none() && front.kind.is_some() {
            errors.push(
                Diagnostic::error("an advent calendar section needs its `advent` settings")
                    .at(yaml.key_location("kind"))
                    .hint("add `advent: {year: 2025, opens_at: \"12:00\", days: 24}`"),
            );
        }
        if front.calendar.is_some() && !matches!(kind, Kind::Sprechstunde | Kind::Event) {
            errors.push(
                Diagnostic::error("only sections of Sprechstunden or events can have a `calendar`")
                    .at(yaml.key_location("calendar"))
                    .hint("remove `calendar:` or set `kind: sprechstunde` / `kind: event`"),
            );
        }
        for (name, key) in front
            .calendar
            .iter()
            .flat_map(|c| [(&c.file, "calendar"), (&c.event_file, "calendar")])
        {
            if !name.ends_with(".ics") || name.contains('/') || name.starts_with('.') {
                errors.push(
                    Diagnostic::error(format!(
                        "calendar file name `{name}` must be a plain name ending in .ics"
                    ))
                    .at(yaml.value_location(name, key))
                    .hint("e.g. `file: kalender.ics` and `event_file: termin.ics`"),
                );
            }
        }
        if front.paginate_by == Some(0) {
            errors.push(
                Diagnostic::error("`paginate_by` must be at least 1")
                    .at(yaml.key_location("paginate_by"))
                    .hint("remove the key to list all pages on one page"),
            );
        }
        let sort = front.sort_by.unwrap_or(kind.default_sort());
        let path = if dir.is_empty() {
            "/".to_string()
        } else {
            format!("/{dir}/")
        };
        let id = sections.len();
        if let Some(p) = parent {
            sections[p].subsections.push(id);
        }
        by_dir.insert(dir, id);
        sections.push(Section {
            file,
            split,
            front,
            kind,
            sort,
            path,
            parent,
            subsections: Vec::new(),
            pages: Vec::new(),
            body: Default::default(),
            images: Vec::new(),
        });
    }
    sections
}

/// The nearest section above folder `dir` (not `dir` itself).
fn parent_section(dir: &str, by_dir: &HashMap<String, usize>) -> Option<usize> {
    if dir.is_empty() {
        return None;
    }
    let mut cur = dir;
    loop {
        cur = cur.rsplit_once('/').map_or("", |(parent, _)| parent);
        if let Some(&id) = by_dir.get(cur) {
            return Some(id);
        }
        if cur.is_empty() {
            return None;
        }
    }
}

/// The nearest section at or above folder `dir`.
fn section_of_dir(dir: &str, by_dir: &HashMap<String, usize>) -> Option<usize> {
    by_dir
        .get(dir)
        .copied()
        .or_else(|| parent_section(dir, by_dir))
}

pub(super) struct ParsedPage {
    file: SourceFile,
    split: Split,
    pub(super) section: usize,
    bundle: Option<String>,
    common: crate::parse::kinds::CommonFront,
    fields: KindFields,
}

pub(super) fn parse_page(
    file: SourceFile,
    sections: &[Section],
    section_by_dir: &HashMap<String, usize>,
    newsletter_section: Option<usize>,
    cache: Option<&AssembleCache>,
) -> Result<ParsedPage, Diagnostic> {
    let split = front_matter::split(&file.text, &file.shown)?;
    let (section, bundle) = match file.origin {
        Origin::Newsletter => {
            let s = newsletter_section.ok_or_else(|| {
                Diagnostic::error("this newsletter edition has no section to appear in")
                    .in_file(&file.shown)
                    .hint("create `content/newsletter/_index.md` with `kind: newsletter` in its front matter")
            })?;
            (s, None)
        }
        Origin::Content => {
            let dir = file.key.rsplit_once('/').map_or("", |(dir, _)| dir);
            let is_bundle = file.key.ends_with("/index.md");
            let home = if is_bundle {
                parent_section(dir, section_by_dir)
            } else {
                section_of_dir(dir, section_by_dir)
            };
            let Some(home) = home else {
                return Err(Diagnostic::error("this page belongs to no section")
                    .in_file(&file.shown)
                    .hint("create `content/_index.md` (the home page) first"));
            };
            (home, is_bundle.then(|| dir.to_string()))
        }
    };
    let kind = sections[section].kind;
    let cache_key = (file.key.clone(), file.hash, kind);
    let (common, fields) = match cache.and_then(|c| c.front(&cache_key)) {
        Some(entry) => entry,
        None => {
            let entry = parse_page_front(&split.yaml_source(&file), kind)?;
            if let Some(c) = cache {
                c.keep_front(cache_key, entry.clone());
            }
            entry
        }
    };
    Ok(ParsedPage {
        file,
        split,
        section,
        bundle,
        common,
        fields,
    })
}

pub(super) enum Placed {
    Published(Box<Page>, Vec<Moment>),
    Unpublished {
        key: String,
        moment: Option<Moment>,
        /// The edition's `send_at`, as a moment if still to come, else held back.
        send: Option<SendAt>,
    },
}

/// An edition's `send_at`, resolved.
pub(super) enum SendAt {
    Upcoming(Moment),
    Held(HeldSend),
}

pub(super) fn finish_page(
    p: ParsedPage,
    sections: &[Section],
    config: &Config,
    now: &Zoned,
    drafts: bool,
) -> Result<Placed, Vec<Diagnostic>> {
    let yaml = p.split.yaml_source(&p.file);
    let section = &sections[p.section];
    let mut errors = Vec::new();
    // Checked before publication is decided, so a draft's mistyped topic shows up too.
    let topics = super::topics::resolve(&p.common.themen, &config.site.themen, &yaml)
        .unwrap_or_else(|e| {
            errors.extend(e);
            Vec::new()
        });

    // When the page appears: its own `publish`, or for advent doors their day's opening time.
    let mut publish_at = match &p.common.publish {
        Some(input) => match input.resolve(&config.tz) {
            Ok(z) => Some(z),
            Err(e) => {
                errors.push(
                    Diagnostic::error(format!("invalid `publish`: {e}"))
                        .at(yaml.key_location("publish")),
                );
                None
            }
        },
        None => None,
    };
    // A news item or edition dated in the future appears on its date (00:00) unless `publish`
    // says otherwise: readers should not see tomorrow's news today.
    if publish_at.is_none()
        && let KindFields::News(_) | KindFields::Newsletter(_) = &p.fields
        && let Some(date) = p.fields.date()
    {
        match local_to_zoned(
            date.0.to_datetime(jiff::civil::Time::midnight()),
            &config.tz,
        ) {
            Ok(z) => publish_at = Some(z),
            Err(e) => errors.push(Diagnostic::error(e).at(yaml.key_location("date"))),
        }
    }
    if let KindFields::AdventDoor(door) = &p.fields {
        match advent_settings(sections, p.section) {
            None => errors.push(
                Diagnostic::error("this advent door's section has no `advent` settings")
                    .in_file(&p.file.shown)
                    .hint(format!(
                        "add `advent: {{year: 2025, opens_at: \"12:00\"}}` to {}",
                        section.file.shown.display()
                    )),
            ),
            Some(adv) if door.day == 0 || door.day > adv.days => errors.push(
                Diagnostic::error(format!(
                    "door day {} is outside the calendar (1 to {})",
                    door.day, adv.days
                ))
                .at(yaml.key_location("day"))
                .hint(format!("use a day from 1 to {}", adv.days)),
            ),
            Some(adv) if publish_at.is_none() => {
                let opening = jiff::civil::Date::new(adv.year, 12, door.day as i8)
                    .map_err(|e| e.to_string())
                    .and_then(|d| local_to_zoned(d.to_datetime(adv.opens_at.0), &config.tz));
                match opening {
                    Ok(z) => publish_at = Some(z),
                    Err(e) => errors.push(Diagnostic::error(e).at(yaml.key_location("day"))),
                }
            }
            Some(_) => {}
        }
    }
    // A newsletter edition's `send_at`: a moment for the timer while it is to come.
    let send_at = match &p.fields {
        KindFields::Newsletter(f) => match f.send_at.as_ref().map(|s| s.resolve(&config.tz)) {
            Some(Ok(at)) => Some((f.number, at)),
            Some(Err(e)) => {
                errors.push(
                    Diagnostic::error(format!("invalid `send_at`: {e}"))
                        .at(yaml.key_location("send_at")),
                );
                None
            }
            None => None,
        },
        _ => None,
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let send_moment = |at: &Zoned| Moment {
        at: at.clone(),
        file: p.file.shown.clone(),
        what: MomentKind::Send,
    };
    let held = |publish_at: Option<Zoned>| {
        send_at.as_ref().map(|(number, at)| {
            if at > now {
                SendAt::Upcoming(send_moment(at))
            } else {
                SendAt::Held(HeldSend {
                    number: *number,
                    file: p.file.shown.clone(),
                    send_at: at.clone(),
                    publish_at,
                })
            }
        })
    };
    if p.common.draft && !drafts {
        let send = held(None);
        return Ok(Placed::Unpublished {
            key: p.file.key,
            moment: None,
            send,
        });
    }
    if let Some(at) = &publish_at
        && at > now
    {
        let moment = Moment {
            at: at.clone(),
            file: p.file.shown.clone(),
            what: MomentKind::Publish,
        };
        let send = held(Some(at.clone()));
        return Ok(Placed::Unpublished {
            key: p.file.key,
            moment: Some(moment),
            send,
        });
    }
    let mut moments = Vec::new();
    if let Some((_, at)) = &send_at
        && at > now
    {
        moments.push(send_moment(at));
    }

    let slug = match page_slug(&p) {
        Ok(s) => s,
        Err(e) => {
            let loc = if p.common.slug.is_some() {
                yaml.key_location("slug")
            } else {
                yaml.key_location("title")
            };
            return Err(vec![
                Diagnostic::error(e)
                    .at(loc)
                    .hint("set `slug:` to a URL segment like `mein-beitrag`"),
            ]);
        }
    };
    let path = format!("{}{}/", section.path, slug);

    let (starts_at, ends_at) = match &p.fields {
        KindFields::Sprechstunde(f) => session_times(f.date, &f.start, &f.end, config, &yaml)?,
        KindFields::Event(f) => session_times(f.date, &f.start, &f.end, config, &yaml)?,
        _ => (None, None),
    };
    if let Some(end) = &ends_at
        && end > now
    {
        moments.push(Moment {
            at: end.clone(),
            file: p.file.shown.clone(),
            what: MomentKind::Ends,
        });
    }
    // The invitation's moment, while it is to come and the Sprechstunde has not begun.
    match super::invitation_moment(&section.front, &p.fields, &config.tz) {
        Some(Ok(at)) if &at > now && starts_at.as_ref().is_none_or(|s| &at < s) => {
            moments.push(Moment {
                at,
                file: p.file.shown.clone(),
                what: MomentKind::Invite,
            });
        }
        Some(Err(e)) => {
            let key = match &p.fields {
                KindFields::Sprechstunde(f) if f.invite_at.is_some() => "invite_at",
                _ => "date",
            };
            return Err(vec![Diagnostic::error(e).at(yaml.key_location(key))]);
        }
        _ => {}
    }
    let door = match &p.fields {
        KindFields::AdventDoor(d) => advent_settings(sections, p.section).map(|a| (a.year, d.day)),
        _ => None,
    };
    let topic_date = super::topics::date_of(p.fields.date(), door);
    Ok(Placed::Published(
        Box::new(Page {
            file: p.file,
            split: p.split,
            common: p.common,
            fields: p.fields,
            section: p.section,
            slug,
            path,
            bundle: p.bundle,
            downloads: Vec::new(),
            slides: Vec::new(),
            video: None,
            starts_at,
            ends_at,
            earlier: None,
            later: None,
            body: Default::default(),
            images: Vec::new(),
            topics,
            topic_date,
        }),
        moments,
    ))
}

fn advent_settings(sections: &[Section], mut id: usize) -> Option<&AdventSettings> {
    loop {
        if let Some(a) = &sections[id].front.advent {
            return Some(a);
        }
        id = sections[id].parent?;
    }
}

/// When a session starts and ends. An open start counts from the beginning of its day and an
/// open end to the day's end, so a session whose times are not known yet stays "upcoming" (and
/// on the home page) through its whole day and moves to the archive only after it.
fn session_times(
    date: crate::time::LocalDate,
    start: &Fact<crate::time::LocalTime>,
    end: &Fact<crate::time::LocalTime>,
    config: &Config,
    yaml: &crate::yaml::YamlSource<'_>,
) -> Result<(Option<Zoned>, Option<Zoned>), Vec<Diagnostic>> {
    let resolve = |fact: &Fact<crate::time::LocalTime>, key: &str| {
        let at = match fact {
            Fact::Known(t) => local_to_zoned(date.0.to_datetime(t.0), &config.tz),
            Fact::Open(_) if key == "start" => date
                .0
                .to_zoned(config.tz.clone())
                .map_err(|e| e.to_string()),
            Fact::Open(_) => date
                .0
                .tomorrow()
                .and_then(|d| d.to_zoned(config.tz.clone()))
                .map_err(|e| e.to_string()),
        };
        at.map_err(|e| vec![Diagnostic::error(e).at(yaml.key_location(key))])
    };
    let s = resolve(start, "start")?;
    let e = resolve(end, "end")?;
    if let (Fact::Known(start), Fact::Known(end)) = (start, end)
        && e <= s
    {
        return Err(vec![
            Diagnostic::error(format!(
                "`end` ({}) is not after `start` ({})",
                end.0.strftime("%H:%M"),
                start.0.strftime("%H:%M")
            ))
            .at(yaml.key_location("end"))
            .hint("write the end time after the start time, e.g. start: \"13:00\", end: \"14:00\""),
        ]);
    }
    Ok((Some(s), Some(e)))
}

fn page_slug(p: &ParsedPage) -> Result<Slug, String> {
    let from_title = || {
        Slug::from_text(&p.common.title)
            .ok_or_else(|| format!("cannot make a URL from the title `{}`", p.common.title))
    };
    let base = match &p.common.slug {
        Some(s) => Slug::parse(s)?,
        None => match &p.fields {
            KindFields::AdventDoor(d) => return Slug::parse(&d.day.to_string()),
            KindFields::Newsletter(n) => return Slug::parse(&n.number.to_string()),
            _ => from_title()?,
        },
    };
    match &p.fields {
        // `/sprechstunden/69-2-gdst-forum/`: the number leads so URLs sort and read naturally.
        KindFields::Sprechstunde(s) if !base.as_str().starts_with(&format!("{}-", s.number)) => {
            Slug::parse(&format!("{}-{}", s.number, base))
        }
        _ => Ok(base),
    }
}

fn check_collisions(sections: &[Section], pages: &[Page], errors: &mut Diagnostics) {
    let mut seen: HashMap<&str, &Path> = HashMap::new();
    let items = sections
        .iter()
        .map(|s| (s.path.as_str(), s.file.shown.as_path(), None))
        .chain(pages.iter().map(|p| {
            (
                p.path.as_str(),
                p.file.shown.as_path(),
                Some(p.split.yaml_source(&p.file)),
            )
        }));
    for (path, file, yaml) in items {
        if let Some(first) = seen.get(path) {
            let d = Diagnostic::error(format!(
                "two files want the same URL {path}: {} and {}",
                first.display(),
                file.display()
            ))
            .hint("give one of them a different title or an explicit `slug:`")
            .note(format!("first defined by {}", first.display()));
            errors.push(match yaml {
                Some(y) => d.at(y.key_location(
                    if y.yaml.contains("\nslug:") || y.yaml.starts_with("slug:") {
                        "slug"
                    } else {
                        "title"
                    },
                )),
                None => d.in_file(file),
            });
        } else {
            seen.insert(path, file);
        }
    }
}

/// Decides where each file from `content/` goes: bundle files next to their page, others by folder.
fn place_assets(assets: Vec<crate::load::AssetFile>, pages: &[Page]) -> Vec<Asset> {
    let bundles: HashMap<&str, &str> = pages
        .iter()
        .filter_map(|p| p.bundle.as_deref().map(|b| (b, p.path.as_str())))
        .collect();
    assets
        .into_iter()
        .map(|a| {
            let (dir, name) = a.key.rsplit_once('/').unwrap_or(("", a.key.as_str()));
            let output = match bundles.get(dir) {
                Some(page_path) => format!("{}{}", page_path.trim_start_matches('/'), name),
                None => a.key.clone(),
            };
            Asset {
                source: a.path,
                output,
            }
        })
        .collect()
}

pub(super) fn resolve_downloads(page: &mut Page, config: &Config, errors: &mut Diagnostics) {
    let yaml = page.split.yaml_source(&page.file);
    // A referenced file: relative to the page bundle (or the page's folder), or `/…` from `static/`;
    // `..` may not leave that folder, and links on the way may not leave the site.
    let locate = |file: &str, key: &str| -> Result<(String, u64), Diagnostic> {
        let (within, from, written, url) = if let Some(rest) = file.strip_prefix('/') {
            (STATIC_DIR, "", rest, config.url(file))
        } else {
            let (within, from) = page.file.folder();
            let url = match &page.bundle {
                Some(_) => config.url(&format!("{}{file}", page.path)),
                None => {
                    let folder = page.file.key.rsplit_once('/').map_or("", |(d, _)| d);
                    let sep = if folder.is_empty() { "" } else { "/" };
                    config.url(&format!("/{folder}{sep}{file}"))
                }
            };
            (within, from, file, url)
        };
        let at = || yaml.value_location(file, key);
        let disk = config
            .site_root
            .written_file(within, from, written)
            .map_err(|e| match e {
                WrittenPathError::Missing { .. } | WrittenPathError::NotAFile => {
                    Diagnostic::error(format!("the file `{file}` does not exist"))
                        .at(at())
                        .hint("put the file into the page's folder (page bundle: `name/index.md` with the file beside it), or into `static/` and write `/path/file.pdf`")
                }
                other => Diagnostic::error(format!("the file `{file}` cannot be offered: {other}"))
                    .at(at())
                    .hint(other.hint()),
            })?;
        let len = crate::load::file_len(&disk).map_err(|_| {
            Diagnostic::error(format!("the file `{file}` cannot be read"))
                .at(at())
                .hint("check that the file is readable")
        })?;
        Ok((url, len))
    };
    let download = |r: &FileRef, key: &str| -> Result<Download, Diagnostic> {
        let (url, size) = locate(&r.file, key)?;
        Ok(Download {
            title: r.title.clone(),
            url,
            file_type: file_type(&r.file),
            size: human_size(size),
            size_bytes: size,
            accessible: r.accessible,
            // Resolved with the other links of the front matter (`resolve_link_fields`).
            alternative: r.alternative.clone(),
        })
    };
    let mut downloads = Vec::new();
    for r in &page.common.downloads {
        match download(r, "downloads") {
            Ok(d) => downloads.push(d),
            Err(e) => errors.push(e),
        }
    }
    let mut slides = Vec::new();
    for r in page.fields.files() {
        match download(r, "slides") {
            Ok(d) => slides.push(d),
            Err(e) => errors.push(e),
        }
    }
    let video = page.common.video.as_ref().and_then(|v| {
        let mut failed = false;
        let mut take = |r: Result<(String, u64), Diagnostic>| match r {
            Ok(x) => Some(x),
            Err(e) => {
                errors.push(e);
                failed = true;
                None
            }
        };
        let main = take(locate(&v.file, "video"));
        let captions = v
            .captions
            .as_deref()
            .and_then(|c| take(locate(c, "captions")));
        let poster = v.poster.as_deref().and_then(|p| take(locate(p, "poster")));
        let seconds = match parse_duration(&v.duration) {
            Some(s) => Some(s),
            None => {
                errors.push(
                    Diagnostic::error(format!("`{}` is not a playing time", v.duration))
                        .at(yaml.value_location(&v.duration, "video"))
                        .hint("write the duration as M:SS or H:MM:SS, e.g. duration: \"4:30\""),
                );
                failed = true;
                None
            }
        };
        let (url, size) = main?;
        (!failed).then(|| {
            Box::new(Video {
                title: v.title.clone(),
                url,
                file_type: file_type(&v.file),
                size: human_size(size),
                size_bytes: size,
                duration: v.duration.clone(),
                duration_seconds: seconds.unwrap_or(0),
                captions_url: captions.map(|c| c.0),
                poster_url: poster.map(|p| p.0),
            })
        })
    });
    page.downloads = downloads;
    page.slides = slides;
    page.video = video;
}

fn file_type(file: &str) -> String {
    Path::new(file)
        .extension()
        .map(|e| e.to_string_lossy().to_uppercase())
        .unwrap_or_default()
}

/// `4:30` → 270, `1:02:03` → 3723; seconds must be below 60.
fn parse_duration(s: &str) -> Option<u64> {
    let parts: Vec<u64> = s
        .trim()
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [m, sec] if *sec < 60 => Some(m * 60 + sec),
        [h, m, sec] if *m < 60 && *sec < 60 => Some(h * 3600 + m * 60 + sec),
        _ => None,
    }
}

pub(super) fn sort_pages<'a>(list: &mut [PageId], page: impl Fn(PageId) -> &'a Page, sort: SortBy) {
    let title = |id: &PageId| page(*id).common.title.to_lowercase();
    let date = |id: &PageId| page(*id).fields.date();
    let number = |id: &PageId| page(*id).fields.number();
    let key = |id: &PageId| page(*id).file.key.as_str();
    match sort {
        SortBy::Date => list.sort_by(|a, b| date(b).cmp(&date(a)).then_with(|| key(a).cmp(key(b)))),
        SortBy::DateAsc => {
            list.sort_by(|a, b| date(a).cmp(&date(b)).then_with(|| key(a).cmp(key(b))))
        }
        SortBy::Weight => list.sort_by(|a, b| {
            page(*a)
                .common
                .weight
                .cmp(&page(*b).common.weight)
                .then_with(|| title(a).cmp(&title(b)))
        }),
        SortBy::Title => {
            list.sort_by(|a, b| title(a).cmp(&title(b)).then_with(|| key(a).cmp(key(b))))
        }
        SortBy::Number => {
            list.sort_by(|a, b| number(b).cmp(&number(a)).then_with(|| key(a).cmp(key(b))))
        }
        SortBy::Day => {
            list.sort_by(|a, b| number(a).cmp(&number(b)).then_with(|| key(a).cmp(key(b))))
        }
    }
}

/// Sets `earlier`/`later` of the pages of one section from its order: they follow time, so in
/// newest-first lists the next entry is the earlier one.
pub(super) fn link_neighbours(section: &Section, pages: &mut [Page]) {
    let newest_first = matches!(section.sort, SortBy::Date | SortBy::Number);
    let n = section.pages.len();
    for (i, &id) in section.pages.iter().enumerate() {
        let before = i.checked_sub(1).map(|j| section.pages[j]);
        let after = (i + 1 < n).then(|| section.pages[i + 1]);
        let (earlier, later) = if newest_first {
            (after, before)
        } else {
            (before, after)
        };
        pages[id].earlier = earlier;
        pages[id].later = later;
    }
}

/// What a body's [`Rendered`] keeps beyond its HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Wanted {
    /// Its plain text, for the search index (only a site with a search page has one).
    pub search_text: bool,
    /// The facts the checks and the e-mails read ([`BuildOptions::check_facts`]).
    pub check_facts: bool,
}

fn render_bodies(
    sections: &mut [Section],
    pages: &mut [Page],
    index: &KeyIndex,
    config: &Config,
    check_facts: bool,
    cache: Option<&AssembleCache>,
    errors: &mut Diagnostics,
) {
    let wanted = Wanted {
        search_text: super::has_search_page(pages),
        check_facts,
    };
    if let Some(c) = cache {
        let settings = format!("{:?} {wanted:?}", config.site.markdown);
        // Skipping this on a poisoned lock would keep bodies rendered with the old settings.
        let mut current = crate::sync::lock(&c.markdown_settings);
        if *current != settings {
            *current = settings;
            crate::sync::lock(&c.bodies).clear();
        }
    }
    pages
        .par_iter_mut()
        .for_each(|p| p.body = render_body(&p.file, &p.split, index, config, wanted, cache));
    sections
        .par_iter_mut()
        .for_each(|s| s.body = render_body(&s.file, &s.split, index, config, wanted, cache));
    for body in pages
        .iter()
        .map(|p| &p.body)
        .chain(sections.iter().map(|s| &s.body))
    {
        errors.extend(body.diagnostics.iter().cloned());
    }
}

/// One file's Markdown body as HTML, from the cache while the text and every link in it are unchanged.
pub(super) fn render_body(
    file: &SourceFile,
    split: &Split,
    index: &KeyIndex,
    config: &Config,
    wanted: Wanted,
    cache: Option<&AssembleCache>,
) -> std::sync::Arc<Rendered> {
    let key = (file.key.clone(), file.hash);
    if let Some(rendered) = cache.and_then(|c| c.body(&key, index)) {
        return rendered;
    }
    let md = &config.site.markdown;
    let opts = MarkdownOptions {
        heading_anchors: md.heading_anchors,
        task_done_label: &md.task_done_label,
        task_open_label: &md.task_open_label,
        trusted_embeds: &md.trusted_embeds,
        open_fact_text: md.open_fact_text.as_deref(),
        search_text: wanted.search_text,
        check_facts: wanted.check_facts,
        hyphenate_min_length: md.hyphenate_min_length,
    };
    let resolve = |target: &str| index.resolve(target);
    let rendered = std::sync::Arc::new(markdown::render(
        split.body(&file.text),
        &BodySource {
            path: &file.shown,
            file_text: &file.text,
            offset: split.body,
        },
        &resolve,
        &opts,
    ));
    // With what each link resolved to, so a cached body is reused only while that holds.
    if let Some(c) = cache {
        c.keep_body(key, &rendered, rendered.internal_links.clone());
    }
    rendered
}

/// The moments as `schedule` prints them: RFC 3339, file, what happens.
pub fn format_moment(m: &Moment) -> String {
    format!(
        "{}\t{}\t{}",
        rfc3339(&m.at),
        m.file.display(),
        m.what.name()
    )
}
