//! Rendering: the site model through the theme's templates into files of a [`Sink`] (the staging
//! folder of a build, or the memory of the preview server).

pub mod calendar;
pub mod context;
pub mod legal;
pub mod memo;
mod outputs;
pub mod preview;
pub mod redirects;
mod search;
pub mod templates;
mod topics;

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;
use tera::{Context, Value};

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::site::{Site, Target};
use crate::theme::{StaticSource, Theme};
use context::{ancestors, obj, page_full, page_summary, section_link, section_value};
use memo::Fingerprint;
use templates::{Lookup, Templates};

/// Where rendered files go: a staging folder on disk, or memory for the preview server (both
/// in [`crate::write`], which implements this for them).
pub trait Sink: Sync {
    /// Writes `contents` to `rel`, a `/`-separated path inside the output.
    fn write(&self, rel: &str, contents: &[u8]) -> Result<(), Diagnostic>;
    /// Puts a copy of the file at `source` at `rel`.
    fn copy(&self, rel: &str, source: &std::path::Path) -> Result<(), Diagnostic>;
    /// Like [`Sink::write`], for bytes that are kept elsewhere too (no copy where the sink can share).
    fn write_shared(&self, rel: &str, contents: std::sync::Arc<Vec<u8>>) -> Result<(), Diagnostic> {
        self.write(rel, &contents)
    }
}

/// What a build wrote, for the summary line.
#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    pub pages: usize,
    pub files: usize,
}

/// Template lookups over the site, answering `get_page`/`get_section`/`url` on demand.
struct SiteLookup {
    site: Arc<Site>,
    summaries: Arc<Vec<Value>>,
    sections: Arc<Vec<Value>>,
}

impl Lookup for SiteLookup {
    fn page(&self, key: &str) -> Option<Value> {
        memo::record(memo::Dep::Page(key.to_string()));
        match self.site.by_key.get(key)? {
            Target::Page(id) => Some(page_full(&self.site, *id, &self.summaries[*id])),
            Target::Section(_) => None,
        }
    }

    fn section(&self, key: &str) -> Option<Value> {
        memo::record(memo::Dep::Section(key.to_string()));
        match self.site.by_key.get(key)? {
            Target::Section(id) => Some(self.sections[*id].clone()),
            Target::Page(_) => None,
        }
    }

    fn sections(&self) -> Vec<Value> {
        memo::record(memo::Dep::Sections);
        for s in &self.site.sections {
            memo::record(memo::Dep::Section(s.file.key.clone()));
        }
        self.sections.to_vec()
    }

    fn url(&self, key: &str) -> Option<String> {
        memo::record(memo::Dep::Url(key.to_string()));
        let path = match self.site.by_key.get(key)? {
            Target::Page(id) => &self.site.pages[*id].path,
            Target::Section(id) => &self.site.sections[*id].path,
        };
        Some(self.site.config.url(path))
    }

    fn base(&self) -> (&str, &str) {
        (&self.site.config.base_url, &self.site.config.base_path)
    }
}

/// The template values of the whole site: page summaries and sections, shared by every job.
#[derive(Clone)]
pub(crate) struct Values {
    summaries: Arc<Vec<Value>>,
    sections: Arc<Vec<Value>>,
}

impl Values {
    fn of(site: &Site) -> Values {
        let summaries: Vec<Value> = site
            .pages
            .par_iter()
            .map(|p| page_summary(site, p))
            .collect();
        let sections = (0..site.sections.len())
            .map(|id| section_value(site, id, &summaries))
            .collect();
        Values {
            summaries: Arc::new(summaries),
            sections: Arc::new(sections),
        }
    }
}

/// The theme's templates with the site's globals and lookups.
fn templates(site: &Arc<Site>, theme: &Theme, values: &Values) -> Result<Templates, Diagnostics> {
    let config = &site.config;
    let lookup = Arc::new(SiteLookup {
        site: site.clone(),
        summaries: values.summaries.clone(),
        sections: values.sections.clone(),
    });
    let mut templates = Templates::new(
        theme,
        config.tz.clone(),
        config.site.markdown.hyphenate_min_length,
        lookup,
    )
    .map_err(Diagnostics::from)?;
    let globals = templates.tera.global_context();
    // `site` and `config` are the same settings: `site.title` reads naturally in templates,
    // `config` is the name other generators use, so both work.
    globals.insert("site", &config.site);
    globals.insert("config", &config.site);
    globals.insert("now", &crate::time::rfc3339(&site.now));
    globals.insert_value("build", obj(vec![("drafts", Value::from(site.drafts))]));
    globals.insert("base_url", &config.base_url);
    if let Some(signup) = newsletter_signup(&config.site) {
        globals.insert_value("newsletter_signup", signup);
    }
    Ok(templates)
}

/// What the newsletter box needs: the service's form address, or (without the service) the
/// address to write to. `None` when the site sends no newsletter.
fn newsletter_signup(site: &crate::config::SiteConfig) -> Option<Value> {
    let nl = site.newsletter.as_ref()?;
    let mailbox = nl.reply_to.as_deref().unwrap_or(&nl.from);
    let email = mailbox
        .parse::<lettre::message::Mailbox>()
        .map(|m| m.email.to_string())
        .unwrap_or_default();
    let subs = nl.subscriptions.as_ref();
    Some(obj(vec![
        (
            "action",
            Value::from(nl.service.as_ref().map_or("", |s| s.signup.as_str())),
        ),
        ("email", Value::from(email)),
        (
            "consent",
            Value::from(subs.map_or("", |s| s.consent.as_str())),
        ),
        (
            "privacy_url",
            Value::from(subs.and_then(|s| s.privacy_page.as_deref()).unwrap_or("")),
        ),
        ("lists", list_values(&nl.lists())),
    ]))
}

/// The newsletter's lists as templates see them: `id`, `title`, `description`, `consent`.
pub fn list_values(lists: &[crate::config::ListConfig]) -> Value {
    let text = |v: &Option<String>| Value::from(v.as_deref().unwrap_or_default());
    Value::from(
        lists
            .iter()
            .map(|l| {
                obj(vec![
                    ("id", Value::from(l.id.as_str())),
                    ("title", Value::from(l.title.as_str())),
                    ("description", text(&l.description)),
                    ("consent", text(&l.consent)),
                ])
            })
            .collect::<Vec<Value>>(),
    )
}

/// The theme's e-mail templates (`email/`), with the filters, functions and globals of pages.
pub fn email_templates(site: &Arc<Site>, theme: &Theme) -> Result<Templates, Diagnostics> {
    let email_theme = Theme {
        name: theme.name.clone(),
        templates: theme.email_templates.clone(),
        email_templates: Vec::new(),
        static_files: Vec::new(),
    };
    templates(site, &email_theme, &Values::of(site))
}

/// All templates of the theme with the site's globals and lookups, for pages rendered one at a
/// time outside a build (the subscription service's pages).
pub fn page_templates(site: &Arc<Site>, theme: &Theme) -> Result<Templates, Diagnostics> {
    templates(site, theme, &Values::of(site))
}

/// Renders every page, section, feed and static file of `site` into `staging`.
pub fn render_site(
    site: &Arc<Site>,
    theme: &Theme,
    staging: &dyn Sink,
) -> Result<Written, Diagnostics> {
    render_all(site, theme, staging, None).map(|(written, _)| written)
}

/// Like [`render_site`], for the preview: templates whose inputs did not change since the last
/// call are skipped, and what a later [`preview::render_patch`] needs is kept.
pub fn render_preview(
    site: &Arc<Site>,
    theme: &Theme,
    sink: &dyn Sink,
    memo: &memo::RenderMemo,
) -> Result<preview::Kept, Diagnostics> {
    render_all(site, theme, sink, Some(memo)).and_then(|(_, kept)| {
        // With a memo `render_all` always keeps what it rendered.
        kept.ok_or_else(|| Diagnostic::error("the preview kept nothing of its build").into())
    })
}

fn render_all(
    site: &Arc<Site>,
    theme: &Theme,
    staging: &dyn Sink,
    memo: Option<&memo::RenderMemo>,
) -> Result<(Written, Option<preview::Kept>), Diagnostics> {
    let values = Values::of(site);
    let templates = templates(site, theme, &values)?;
    let jobs = plan(site, &templates)?;
    let fingerprints = memo.map(|m| {
        let fps = preview::Fingerprints::of(site, theme, &values);
        m.start(fps.globals);
        fps
    });
    let skip = memo
        .zip(fingerprints.as_ref())
        .map(|(memo, fps)| Skip::new(memo, fps));
    let results: Vec<Result<usize, Diagnostic>> = jobs
        .par_iter()
        .map(|job| render_job(site, &templates, job, &values, staging, skip.as_ref()))
        .collect();
    if let Some(skip) = &skip {
        skip.memo.retain(&crate::sync::lock(&skip.emitted));
    }
    let mut errors = Diagnostics::new();
    let mut written = Written::default();
    for r in results {
        match r {
            Ok(n) => {
                written.pages += n;
                written.files += n;
            }
            Err(d) => errors.push(d),
        }
    }
    match outputs::write_extras(
        site,
        &templates,
        &values.summaries,
        staging,
        outputs::Extras::All,
    ) {
        Ok(n) => written.files += n,
        Err(ds) => errors.extend(ds),
    }
    match topics::write(
        site,
        &templates,
        &values.summaries,
        staging,
        &outputs::Extras::All,
    ) {
        Ok(n) => written.files += n,
        Err(ds) => errors.extend(ds),
    }
    match redirects::write(site, theme, &templates, staging) {
        Ok(n) => written.files += n,
        Err(ds) => errors.extend(ds),
    }
    match copy_static(site, theme, staging) {
        Ok(n) => written.files += n,
        Err(d) => errors.push(d),
    }
    if errors.has_errors() {
        errors.sort();
        return Err(errors);
    }
    drop(skip);
    let kept = fingerprints.map(|fps| preview::Kept::new(site, values, fps, jobs));
    Ok((written, kept))
}

enum Job {
    Page { id: usize, template: String },
    Section { id: usize, template: String },
}

/// Picks each page's and section's template, reporting missing ones at their `template:` line.
fn plan(site: &Site, templates: &Templates) -> Result<Vec<Job>, Diagnostics> {
    let mut errors = Diagnostics::new();
    let mut jobs = Vec::with_capacity(site.pages.len() + site.sections.len());
    for (id, page) in site.pages.iter().enumerate() {
        let section = &site.sections[page.section];
        let (template, key) = match (&page.common.template, &section.front.page_template) {
            (Some(t), _) => (t.clone(), Some((&page.file, &page.split, "template"))),
            (None, Some(t)) => (
                t.clone(),
                Some((&section.file, &section.split, "page_template")),
            ),
            (None, None) => {
                let own = format!("{}.html", page.kind().name());
                if templates.has(&own) {
                    (own, None)
                } else {
                    ("page.html".to_string(), None)
                }
            }
        };
        if !templates.has(&template) {
            errors.push(missing_template(&template, key, &page.file.shown));
            continue;
        }
        jobs.push(Job::Page { id, template });
    }
    for (id, section) in site.sections.iter().enumerate() {
        let template = match &section.front.template {
            Some(t) => t.clone(),
            None if id == Site::ROOT => "index.html".to_string(),
            None => {
                let own = format!("{}_section.html", section.kind.name());
                if templates.has(&own) {
                    own
                } else {
                    "section.html".to_string()
                }
            }
        };
        if !templates.has(&template) {
            let key = section
                .front
                .template
                .as_ref()
                .map(|_| (&section.file, &section.split, "template"));
            errors.push(missing_template(&template, key, &section.file.shown));
            continue;
        }
        jobs.push(Job::Section { id, template });
    }
    if errors.has_errors() {
        Err(errors)
    } else {
        Ok(jobs)
    }
}

fn missing_template(
    name: &str,
    key: Option<(
        &crate::load::SourceFile,
        &crate::parse::front_matter::Split,
        &str,
    )>,
    content: &std::path::Path,
) -> Diagnostic {
    let d = Diagnostic::error(format!("template `{name}` not found")).hint(format!(
        "create `templates/{name}` in the theme, or name an existing template"
    ));
    match key {
        Some((file, split, key)) => d.at(split.yaml_source(file).key_location(key)),
        None => d
            .in_file(content)
            .note("the theme must provide a template for this kind of content"),
    }
}

/// The memo and this build's fingerprints, for skipping templates whose inputs are unchanged.
struct Skip<'a> {
    memo: &'a memo::RenderMemo,
    fps: &'a preview::Fingerprints,
    emitted: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl<'a> Skip<'a> {
    fn new(memo: &'a memo::RenderMemo, fps: &'a preview::Fingerprints) -> Skip<'a> {
        Skip {
            memo,
            fps,
            emitted: Default::default(),
        }
    }

    /// The fingerprint a looked-up value has in this build (0: not there).
    fn current(&self, site: &Site, dep: &memo::Dep) -> u128 {
        match dep {
            memo::Dep::Page(k) => match site.by_key.get(k) {
                Some(Target::Page(id)) => self.fps.page[*id],
                _ => 0,
            },
            memo::Dep::Section(k) => match site.by_key.get(k) {
                Some(Target::Section(id)) => self.fps.section[*id],
                _ => 0,
            },
            memo::Dep::Sections => {
                let mut f = Fingerprint::new();
                for s in &site.sections {
                    f.str(&s.file.key);
                }
                f.finish()
            }
            memo::Dep::Url(k) => {
                let path = match site.by_key.get(k) {
                    Some(Target::Page(id)) => &site.pages[*id].path,
                    Some(Target::Section(id)) => &site.sections[*id].path,
                    None => return 0,
                };
                Fingerprint::new().str(path).finish()
            }
        }
    }
}

/// Writes one output: from the memo if nothing it depends on changed, else rendered (and kept).
fn emit(
    site: &Site,
    sink: &dyn Sink,
    skip: Option<&Skip<'_>>,
    rel: String,
    fingerprint: impl FnOnce() -> u128,
    render: impl FnOnce() -> Result<String, Diagnostic>,
) -> Result<(), Diagnostic> {
    let Some(skip) = skip else {
        return sink.write(&rel, render()?.as_bytes());
    };
    crate::sync::lock(&skip.emitted).insert(rel.clone());
    let fingerprint = fingerprint();
    if let Some(bytes) = skip.memo.get(&rel, fingerprint, |d| skip.current(site, d)) {
        return sink.write_shared(&rel, bytes);
    }
    let (html, mut deps) = memo::recording(render);
    let bytes = Arc::new(html?.into_bytes());
    deps.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    deps.dedup();
    let deps = deps
        .into_iter()
        .map(|d| {
            let fp = skip.current(site, &d);
            (d, fp)
        })
        .collect();
    skip.memo.put(rel.clone(), fingerprint, bytes.clone(), deps);
    sink.write_shared(&rel, bytes)
}

/// The output files of a section: its list, and with `paginate_by` one per further page.
fn section_outputs(section: &crate::site::Section) -> Vec<(String, &[usize])> {
    let chunks: Vec<&[usize]> = match section.front.paginate_by {
        Some(per_page) if !section.pages.is_empty() => {
            section.pages.chunks(per_page.max(1)).collect()
        }
        _ => vec![&section.pages[..]],
    };
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let out = match i + 1 {
                1 => format!("{}index.html", section.path),
                n => format!("{}seite/{n}/index.html", section.path),
            };
            (out, chunk)
        })
        .collect()
}

fn render_job(
    site: &Site,
    templates: &Templates,
    job: &Job,
    values: &Values,
    staging: &dyn Sink,
    skip: Option<&Skip<'_>>,
) -> Result<usize, Diagnostic> {
    let summaries = &values.summaries;
    match job {
        Job::Page { id, template } => {
            let page = &site.pages[*id];
            let section = section_link(site, page.section);
            let crumbs = ancestors(site, page.section);
            emit(
                site,
                staging,
                skip,
                format!("{}index.html", page.path),
                || {
                    let mut f = Fingerprint::new();
                    f.str("page").str(template).value(&section).value(&crumbs);
                    if let Some(s) = skip {
                        f.u128(s.fps.page[*id]);
                    }
                    f.finish()
                },
                || {
                    let mut ctx = Context::new();
                    // Built per job and dropped after it: only the pages being rendered hold a copy of their HTML.
                    ctx.insert_value("page", page_full(site, *id, &summaries[*id]));
                    ctx.insert_value("section", section.clone());
                    ctx.insert_value("ancestors", crumbs.clone());
                    // Inside the job, so the preview records the content it was made of.
                    if legal::is_legal_template(template) {
                        ctx.insert_value("legal", legal::context(site, template));
                    }
                    templates.render(template, &ctx, Some(&page.file.shown))
                },
            )?;
            Ok(1)
        }
        Job::Section { id, template } => {
            let section = &site.sections[*id];
            let crumbs = match section.parent {
                Some(p) => ancestors(site, p),
                None => Value::from(Vec::<Value>::new()),
            };
            let paginated = section.front.paginate_by.is_some();
            // Like Zola: a paginated section's lists see only their own pages, in `paginator`,
            // so a change to one page re-renders one list page rather than all of them.
            let value = if paginated {
                context::without_pages(&values.sections[*id])
            } else {
                values.sections[*id].clone()
            };
            let outputs = section_outputs(section);
            let total = outputs.len();
            let page_url = |n: usize| {
                if n <= 1 {
                    site.config.url(&section.path)
                } else {
                    site.config.url(&format!("{}seite/{n}/", section.path))
                }
            };
            for (i, (out, chunk)) in outputs.into_iter().enumerate() {
                let n = i + 1;
                emit(
                    site,
                    staging,
                    skip,
                    out,
                    || {
                        let mut f = Fingerprint::new();
                        f.str("section")
                            .str(template)
                            .value(&crumbs)
                            .u128(n as u128)
                            .u128(total as u128);
                        if let Some(s) = skip {
                            if paginated {
                                f.str("paginated").u128(s.fps.section_own[*id]);
                                for p in chunk {
                                    f.u128(s.fps.summary[*p]);
                                }
                            } else {
                                f.u128(s.fps.section[*id]);
                            }
                        }
                        f.finish()
                    },
                    || {
                        let mut ctx = Context::new();
                        ctx.insert_value("section", value.clone());
                        ctx.insert_value("ancestors", crumbs.clone());
                        if paginated {
                            let pages: Vec<Value> =
                                chunk.iter().map(|p| summaries[*p].clone()).collect();
                            ctx.insert_value(
                                "paginator",
                                context::paginator(pages, n, total, &page_url),
                            );
                        }
                        templates.render(template, &ctx, Some(&section.file.shown))
                    },
                )?;
            }
            Ok(total)
        }
    }
}

/// Theme static files, then the site's `static/` (which wins on equal paths), then content assets.
fn copy_static(site: &Site, theme: &Theme, staging: &dyn Sink) -> Result<usize, Diagnostic> {
    let site_static = crate::theme::list_static(&site.config.site_root);
    let mut by_output: HashMap<&str, &StaticSource> = HashMap::new();
    for f in theme.static_files.iter().chain(site_static.iter()) {
        by_output.insert(f.output.as_str(), &f.source);
    }
    let mut list: Vec<(&str, &StaticSource)> = by_output.into_iter().collect();
    list.sort_by_key(|(o, _)| *o);
    list.par_iter()
        .map(|(out, source)| match source {
            StaticSource::Embedded(bytes) => staging.write(out, bytes),
            StaticSource::Disk(path) => staging.copy(out, path),
        })
        .collect::<Result<Vec<()>, Diagnostic>>()?;
    site.assets
        .par_iter()
        .map(|a| staging.copy(&a.output, &a.source))
        .collect::<Result<Vec<()>, Diagnostic>>()?;
    Ok(list.len() + site.assets.len())
}
