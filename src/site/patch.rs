//! Changing one published page of an assembled site in place, for the preview server.
//!
//! A full assemble of ten thousand pages takes a tenth of a second; an editor saving one page
//! changes only that page and, at most, the order of its section. [`PagePatch::prepare`] parses the
//! new file against the existing site and refuses (with the [`FullBuild`] reason) whenever the
//! change could reach further than that page, its section's order and its neighbours: a new URL,
//! a different publication state or schedule, changed heading ids others may link to, or any error
//! (errors are reported by a full build, so they read exactly the same). The caller then builds in
//! full. `tests/incremental.rs` checks patched sites against fresh builds.

use std::collections::HashMap;
use std::path::Path;

use super::assemble::{
    AssembleCache, Placed, finish_page, link_neighbours, parse_page, render_body,
    resolve_downloads, section_dir, sort_pages,
};
use super::links::{check_refs, resolve_link_fields};
use super::{Page, PageId, Site, Target};
use crate::diagnostics::Diagnostics;
use crate::load::SourceFile;
use crate::parse::kinds::Kind;

/// Why the preview builds in full instead of patching its last build: the change may reach
/// further than the pages it patches. Each reason names the file (relative to the site folder).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FullBuild {
    #[error("no earlier build to patch")]
    NoEarlierBuild,
    #[error("a scheduled moment arrived")]
    ClockMoved,
    #[error("{0} is outside the site folder")]
    OutsideRoot(String),
    /// `site.yaml`, a template, or any other file that is not a page, an asset or a static file.
    #[error("{0} changed")]
    Changed(String),
    #[error("{0} is new or was removed")]
    AddedOrRemoved(String),
    #[error("{0} is not a published page")]
    NotAPublishedPage(String),
    #[error("{0} cannot be read")]
    Unreadable(String),
    #[error("{0}, a page's file, changed")]
    Asset(String),
    #[error("{0} is offered as a download (links show its size)")]
    Download(String),
    #[error("{0} has errors (a full build reports them)")]
    Errors(String),
    #[error("{0} moves to another section")]
    Section(String),
    #[error("{0} is no longer published as it was")]
    Publication(String),
    #[error("the address of {0} changes")]
    Address(String),
    #[error("the aliases of {0} change, or a redirect shows its new title")]
    Aliases(String),
    #[error("the schedule of {0} changes")]
    Schedule(String),
    #[error("{0} shows images (resized files of their own)")]
    Images(String),
    #[error("the heading ids of {0} change (other pages may link to them)")]
    Headings(String),
    #[error("{0} becomes or stops being the search page (every body's search text changes)")]
    SearchPage(String),
    #[error("the topics (`themen:`) of {0} change (their lists and counts change)")]
    Topics(String),
    #[error("the last build is still in use")]
    InUse,
    #[error("the changed pages cannot be rendered alone")]
    Render,
}

/// A path as [`FullBuild`] names it.
fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// A new version of one published page, checked to fit into the site without touching others.
pub struct PagePatch {
    id: PageId,
    page: Page,
    /// The section's new page order, if the change moved the page.
    order: Option<Vec<PageId>>,
}

/// What applying a patch changed, for re-rendering.
#[derive(Debug, Default)]
pub struct Applied {
    /// The patched pages.
    pub pages: Vec<PageId>,
    /// Pages whose own output may change: the patched ones, their old and new neighbours (who
    /// show their title), and pages whose neighbours changed.
    pub touched: Vec<PageId>,
    /// Sections whose page lists changed (in content or order).
    pub sections: Vec<usize>,
    /// A page's date or `updated` changed: the sitemap's `lastmod` must be written again.
    pub sitemap: bool,
}

impl PagePatch {
    /// Parses `file`, the new text of a published page of `site`; a [`FullBuild`] reason when the
    /// change needs a full build.
    pub fn prepare(
        site: &Site,
        file: SourceFile,
        cache: &AssembleCache,
    ) -> Result<PagePatch, FullBuild> {
        let name = shown(&file.shown);
        let Some(&Target::Page(id)) = site.by_key.get(&file.key) else {
            return Err(FullBuild::NotAPublishedPage(name));
        };
        let old = &site.pages[id];
        if old.file.origin != file.origin {
            return Err(FullBuild::AddedOrRemoved(name));
        }
        let section_by_dir: HashMap<String, usize> = site
            .sections
            .iter()
            .enumerate()
            .map(|(i, s)| (section_dir(&s.file.key).to_string(), i))
            .collect();
        let newsletter_section = site
            .sections
            .iter()
            .position(|s| s.kind == Kind::Newsletter);
        let parsed = parse_page(
            file,
            &site.sections,
            &section_by_dir,
            newsletter_section,
            Some(cache),
        )
        .map_err(|_| FullBuild::Errors(name.clone()))?;
        if parsed.section != old.section {
            return Err(FullBuild::Section(name));
        }
        let placed = finish_page(parsed, &site.sections, &site.config, &site.now, site.drafts)
            .map_err(|_| FullBuild::Errors(name.clone()))?;
        let Placed::Published(page, moments) = placed else {
            return Err(FullBuild::Publication(name));
        };
        let mut page = *page;
        if page.path != old.path || page.bundle != old.bundle {
            return Err(FullBuild::Address(name));
        }
        // A page joining or leaving a topic changes that topic's pages and the counts of
        // `/themen/`; within its topics it may move, which `apply` re-sorts.
        if page.topics != old.topics {
            return Err(FullBuild::Topics(name));
        }
        // Old addresses are checked against the whole site, and their pages show the target's
        // title: a change to either is built in full.
        if page.common.aliases != old.common.aliases
            || (page.common.title != old.common.title
                && site.redirects.iter().any(|r| r.leads_to_page(id)))
        {
            return Err(FullBuild::Aliases(name));
        }
        // The page's moments in the schedule (a session ending) must stay as they are.
        let before: Vec<_> = site
            .schedule
            .iter()
            .filter(|m| m.file == old.file.shown)
            .collect();
        if before != moments.iter().collect::<Vec<_>>() {
            return Err(FullBuild::Schedule(name));
        }
        let mut errors = Diagnostics::new();
        resolve_downloads(&mut page, &site.config, &mut errors);
        let (link_errors, field_anchors) =
            resolve_link_fields(&mut page, &site.index, &site.config);
        if errors.has_errors() || !link_errors.is_empty() {
            return Err(FullBuild::Errors(name));
        }
        // Whether bodies keep their search text depends on the site having a search page.
        if super::is_search_page(&page) != super::is_search_page(old) {
            return Err(FullBuild::SearchPage(name));
        }
        page.body = render_body(
            &page.file,
            &page.split,
            &site.index,
            &site.config,
            super::assemble::Wanted {
                search_text: super::has_search_page(&site.pages),
                // The preview shows the editions' e-mails, which read the facts.
                check_facts: true,
            },
            Some(cache),
        );
        if !page.body.diagnostics.is_empty() {
            return Err(FullBuild::Errors(name));
        }
        // Resized images are files of their own: a page showing any is built in full.
        if !page.body.images.is_empty() {
            return Err(FullBuild::Images(name));
        }
        // Other pages may link to its headings: those must stay.
        let ids = |p: &Page| p.body.toc.iter().map(|h| h.id.clone()).collect::<Vec<_>>();
        if ids(&page) != ids(old) {
            return Err(FullBuild::Headings(name));
        }
        let own_key = page.file.key.as_str();
        let anchor_errors = check_refs(
            page.body.anchors_to_check.iter().chain(&field_anchors),
            |key| {
                if key == own_key {
                    return Some(&page.body.toc);
                }
                match site.by_key.get(key) {
                    Some(Target::Page(p)) => Some(&site.pages[*p].body.toc),
                    Some(Target::Section(s)) => Some(&site.sections[*s].body.toc),
                    None => None,
                }
            },
        );
        if !anchor_errors.is_empty() {
            return Err(FullBuild::Errors(name));
        }

        let section = &site.sections[page.section];
        let mut order = section.pages.clone();
        sort_pages(
            &mut order,
            |p| if p == id { &page } else { &site.pages[p] },
            section.sort,
        );
        let order = (order != section.pages).then_some(order);
        page.earlier = old.earlier;
        page.later = old.later;
        Ok(PagePatch { id, page, order })
    }

    /// Puts the page into the site.
    pub fn apply(self, site: &mut Site, applied: &mut Applied) {
        let PagePatch { id, page, order } = self;
        let old = std::mem::replace(&mut site.pages[id], page);
        let new = &site.pages[id];
        let lastmod = |p: &Page| p.common.updated.or(p.fields.date());
        applied.sitemap |= lastmod(&old) != lastmod(new);
        let section = new.section;
        applied.pages.push(id);
        applied.sections.push(section);
        applied.touched.push(id);
        applied
            .touched
            .extend(old.earlier.into_iter().chain(old.later));
        if let Some(order) = order {
            let before: Vec<_> = site.pages.iter().map(|p| (p.earlier, p.later)).collect();
            site.sections[section].pages = order;
            link_neighbours(&site.sections[section], &mut site.pages);
            applied.touched.extend(
                site.sections[section]
                    .pages
                    .iter()
                    .filter(|p| before[**p] != (site.pages[**p].earlier, site.pages[**p].later)),
            );
        }
        let new = &site.pages[id];
        applied
            .touched
            .extend(new.earlier.into_iter().chain(new.later));
        // Its date or title may move it within its topics' lists.
        for t in new.topics.clone() {
            if let Some(topic) = site.topics.get_mut(t) {
                super::topics::order(&mut topic.pages, &site.pages);
            }
        }
        applied.touched.sort_unstable();
        applied.touched.dedup();
        applied.sections.sort_unstable();
        applied.sections.dedup();
    }
}
