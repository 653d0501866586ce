//! Changing one published page of an assembled site in place, for the preview server.
//!
//! A full assemble of ten thousand pages takes a tenth of a second; an editor saving one page
//! changes only that page and, at most, the order of its section. [`PagePatch::prepare`] parses the
//! new file against the existing site and refuses (returns `None`) whenever the change could reach
//! further than that page, its section's order and its neighbours: a new URL, a different
//! publication state or schedule, changed heading ids others may link to, or any error (errors
//! are reported by a full build, so they read exactly the same). The caller then builds in full.
//! `tests/incremental.rs` checks patched sites against fresh builds.

use std::collections::HashMap;

use super::assemble::{
    AssembleCache, Placed, finish_page, link_neighbours, parse_page, render_body,
    resolve_downloads, section_dir, sort_pages,
};
use super::links::{check_refs, resolve_link_fields};
use super::{Page, PageId, Site, Target};
use crate::diagnostics::Diagnostics;
use crate::load::SourceFile;
use crate::parse::kinds::Kind;

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
    /// Parses `file`, the new text of a published page of `site`; `None` when the change needs a
    /// full build.
    pub fn prepare(site: &Site, file: SourceFile, cache: &AssembleCache) -> Option<PagePatch> {
        let Some(&Target::Page(id)) = site.by_key.get(&file.key) else {
            return None;
        };
        let old = &site.pages[id];
        if old.file.origin != file.origin {
            return None;
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
        .ok()?;
        if parsed.section != old.section {
            return None;
        }
        let Ok(Placed::Published(page, moments)) =
            finish_page(parsed, &site.sections, &site.config, &site.now, site.drafts)
        else {
            return None;
        };
        let mut page = *page;
        if page.path != old.path || page.bundle != old.bundle {
            return None;
        }
        // Old addresses are checked against the whole site, and their pages show the target's
        // title: a change to either is built in full.
        if page.common.aliases != old.common.aliases
            || (page.common.title != old.common.title
                && site.redirects.iter().any(|r| r.leads_to_page(id)))
        {
            return None;
        }
        // The page's moments in the schedule (a session ending) must stay as they are.
        let before: Vec<_> = site
            .schedule
            .iter()
            .filter(|m| m.file == old.file.shown)
            .collect();
        if before != moments.iter().collect::<Vec<_>>() {
            return None;
        }
        let mut errors = Diagnostics::new();
        resolve_downloads(&mut page, &site.config, &mut errors);
        let (link_errors, field_anchors) =
            resolve_link_fields(&mut page, &site.index, &site.config);
        if errors.has_errors() || !link_errors.is_empty() {
            return None;
        }
        // Whether bodies keep their search text depends on the site having a search page.
        if super::is_search_page(&page) != super::is_search_page(old) {
            return None;
        }
        page.body = render_body(
            &page.file,
            &page.split,
            &site.index,
            &site.config,
            super::has_search_page(&site.pages),
            Some(cache),
        );
        if !page.body.diagnostics.is_empty() {
            return None;
        }
        // Resized images are files of their own: a page showing any is built in full.
        if !page.body.images.is_empty() {
            return None;
        }
        // Other pages may link to its headings: those must stay.
        let ids = |p: &Page| p.body.toc.iter().map(|h| h.id.clone()).collect::<Vec<_>>();
        if ids(&page) != ids(old) {
            return None;
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
            return None;
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
        Some(PagePatch { id, page, order })
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
        applied.touched.sort_unstable();
        applied.touched.dedup();
        applied.sections.sort_unstable();
        applied.sections.dedup();
    }
}
