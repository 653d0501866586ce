//! Re-rendering after the preview patched a few pages of the site in place.
//!
//! A full render keeps [`Kept`]: the template values, their fingerprints and the jobs. After
//! [`crate::site::PagePatch::apply`], [`render_patch`] updates the values of the patched pages and
//! their section, and runs only the jobs that could have changed: the touched pages, the patched
//! sections' lists, and every output whose recorded `get_page`/`get_section` lookups now see a
//! different value. Each of those still goes through the memo, so unchanged outputs are not even
//! rendered. Feeds, calendars and the sitemap are written again when their inputs were touched.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use rayon::prelude::*;
use tera::Value;

use super::Sink;
use super::context::{page_summary, section_value, without_pages};
use super::memo::{Dep, Fingerprint, RenderMemo};
use super::{Job, Skip, Values, outputs, render_job, section_outputs, templates};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::site::{Applied, PageId, SectionId, Site};
use crate::theme::Theme;

/// Fingerprints of everything templates can see, per page and section.
pub struct Fingerprints {
    /// Settings, `now`, `drafts`, base URL and the theme's templates.
    pub globals: u128,
    /// Each page's summary (what lists show).
    pub summary: Vec<u128>,
    /// Each page as `page`/`get_page` shows it: summary, HTML, contents, neighbours.
    pub page: Vec<u128>,
    /// Each section without its page list (what a paginated list page sees).
    pub section_own: Vec<u128>,
    /// Each section with its pages.
    pub section: Vec<u128>,
}

impl Fingerprints {
    pub(super) fn of(site: &Site, theme: &Theme, values: &Values) -> Fingerprints {
        let config = &site.config;
        let mut globals = Fingerprint::new();
        globals
            .str(&serde_json::to_string(&config.site).unwrap_or_default())
            .str(&crate::time::rfc3339(&site.now))
            .str(if site.drafts { "drafts" } else { "" })
            .str(&config.base_url);
        for t in &theme.templates {
            globals.str(&t.name).str(&t.text);
        }
        let summary: Vec<u128> = values
            .summaries
            .par_iter()
            .map(|v| Fingerprint::new().value(v).finish())
            .collect();
        let page = (0..site.pages.len())
            .into_par_iter()
            .map(|id| page_fingerprint(site, id, &summary))
            .collect();
        let (section_own, section) = (0..site.sections.len())
            .map(|id| section_fingerprints(site, id, &values.sections[id], &summary))
            .unzip();
        Fingerprints {
            globals: globals.finish(),
            summary,
            page,
            section_own,
            section,
        }
    }
}

fn page_fingerprint(site: &Site, id: PageId, summary: &[u128]) -> u128 {
    let p = &site.pages[id];
    let mut f = Fingerprint::new();
    f.u128(summary[id]).str(&p.body.html);
    for h in &p.body.toc {
        f.str(&h.id).str(&h.title).u128(u128::from(h.level));
    }
    for n in [p.earlier, p.later] {
        match n {
            Some(o) => f.str(&site.pages[o].common.title).str(&site.pages[o].path),
            None => f.str("-"),
        };
    }
    f.finish()
}

/// Without pages, and with them: the section value holds its pages' summaries in order, so the
/// second follows from the first and theirs.
fn section_fingerprints(
    site: &Site,
    id: SectionId,
    value: &Value,
    summary: &[u128],
) -> (u128, u128) {
    let own = Fingerprint::new().value(&without_pages(value)).finish();
    let mut full = Fingerprint::new();
    full.u128(own);
    for p in &site.sections[id].pages {
        full.u128(summary[*p]);
    }
    (own, full.finish())
}

/// What the preview keeps of a render for the next patch.
pub struct Kept {
    values: Values,
    fps: Fingerprints,
    jobs: Vec<Job>,
    /// Output file → the job writing it.
    job_of: HashMap<String, usize>,
}

impl Kept {
    pub(super) fn new(site: &Site, values: Values, fps: Fingerprints, jobs: Vec<Job>) -> Kept {
        let mut job_of = HashMap::with_capacity(jobs.len());
        for (i, job) in jobs.iter().enumerate() {
            match job {
                Job::Page { id, .. } => {
                    job_of.insert(format!("{}index.html", site.pages[*id].path), i);
                }
                Job::Section { id, .. } => {
                    for (out, _) in section_outputs(&site.sections[*id]) {
                        job_of.insert(out, i);
                    }
                }
            }
        }
        Kept {
            values,
            fps,
            jobs,
            job_of,
        }
    }
}

/// Writes into `sink` every output that `applied` may have changed (and only those).
pub fn render_patch(
    site: &Arc<Site>,
    theme: &Theme,
    sink: &dyn Sink,
    memo: &RenderMemo,
    kept: &mut Kept,
    applied: &Applied,
) -> Result<(), Diagnostics> {
    let mut changed: HashSet<Dep> = HashSet::new();
    {
        // Unique again once the last render's templates are gone; otherwise this copies.
        let summaries = Arc::make_mut(&mut kept.values.summaries);
        for &id in &applied.pages {
            summaries[id] = page_summary(site, &site.pages[id]);
            kept.fps.summary[id] = Fingerprint::new().value(&summaries[id]).finish();
        }
    }
    let sections = Arc::make_mut(&mut kept.values.sections);
    for &id in &applied.sections {
        sections[id] = section_value(site, id, &kept.values.summaries);
        let (own, full) = section_fingerprints(site, id, &sections[id], &kept.fps.summary);
        kept.fps.section_own[id] = own;
        if kept.fps.section[id] != full {
            kept.fps.section[id] = full;
            changed.insert(Dep::Section(site.sections[id].file.key.clone()));
        }
    }
    for &id in &applied.touched {
        let fp = page_fingerprint(site, id, &kept.fps.summary);
        if kept.fps.page[id] != fp {
            kept.fps.page[id] = fp;
            changed.insert(Dep::Page(site.pages[id].file.key.clone()));
        }
    }

    let mut todo: BTreeSet<usize> = BTreeSet::new();
    let mut job_for = |out: &str| {
        if let Some(&i) = kept.job_of.get(out) {
            todo.insert(i);
        }
    };
    for &id in &applied.touched {
        job_for(&format!("{}index.html", site.pages[id].path));
    }
    for &id in &applied.sections {
        job_for(&format!("{}index.html", site.sections[id].path));
    }
    for out in memo.dependents(&changed) {
        job_for(&out);
    }

    let templates = templates(site, theme, &kept.values)?;
    let skip = Skip::new(memo, &kept.fps);
    let results: Vec<Result<usize, Diagnostic>> = todo
        .par_iter()
        .map(|i| {
            render_job(
                site,
                &templates,
                &kept.jobs[*i],
                &kept.values,
                sink,
                Some(&skip),
            )
        })
        .collect();
    let mut errors = Diagnostics::new();
    for r in results {
        if let Err(d) = r {
            errors.push(d);
        }
    }
    if let Err(ds) = outputs::write_extras(
        site,
        &templates,
        &kept.values.summaries,
        sink,
        outputs::Extras::After(applied),
    ) {
        errors.extend(ds);
    }
    if let Err(ds) = super::topics::write(
        site,
        &templates,
        &kept.values.summaries,
        sink,
        &outputs::Extras::After(applied),
    ) {
        errors.extend(ds);
    }
    if errors.has_errors() {
        errors.sort();
        return Err(errors);
    }
    Ok(())
}
