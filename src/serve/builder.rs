//! The preview's builds: a full build into memory, or, when only published pages changed in
//! ways that stay local, a patch of the last build (see [`crate::site::PagePatch`] and
//! [`crate::render::preview`]). Either way the files are what a fresh full build would write;
//! `tests/incremental.rs` checks that through random edits.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::render::memo::RenderMemo;
use crate::render::preview::{Kept, render_patch};
use crate::site::{Applied, AssembleCache, FullBuild, Moment, PagePatch, Site, Target};
use crate::sync::lock;
use crate::theme::Theme;
use crate::write::{Memory, MemoryFile};

/// The served files, shared with the HTTP side without copying.
pub type Files = Arc<BTreeMap<String, MemoryFile>>;

/// How a build came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rebuilt {
    Full,
    /// Only the changed pages and what depends on them were rendered again.
    Patched,
}

/// A successful build: the files, the next scheduled change, the warnings.
pub struct Built {
    pub files: Files,
    /// The outputs that differ from the previous build's, when known (patches know).
    pub changed: Option<Vec<String>>,
    pub next: Option<Moment>,
    pub warnings: Vec<Diagnostic>,
    pub how: Rebuilt,
    /// Why an update was built in full instead of patched (`None` for a patch and for
    /// [`SiteBuilder::build`], which is asked to build in full).
    pub full_build: Option<FullBuild>,
}

/// The last successful build, kept to patch.
struct Last {
    site: Arc<Site>,
    warnings: Vec<Diagnostic>,
    theme: Theme,
    kept: Kept,
    files: Files,
}

#[derive(Default)]
struct State {
    last: Option<Last>,
    /// Files changed since `last` was built: a patch must account for all of them.
    dirty: BTreeSet<PathBuf>,
}

/// Builds the site into memory, again and again: unchanged files are not read, parsed or
/// rendered to HTML again (see [`AssembleCache`]), unchanged templates not rendered again (see
/// [`RenderMemo`]), and an edit to a page patches the last build where it can.
pub struct SiteBuilder {
    root: PathBuf,
    base_url: String,
    drafts: bool,
    now: Option<Timestamp>,
    /// Without a fixed `now`: the moment the preview shows, moved on by [`Self::advance_clock`]
    /// when a scheduled moment arrives. Between those moments the output does not depend on the
    /// time, and a steady `now` lets rebuilds reuse everything.
    clock: Mutex<Timestamp>,
    cache: AssembleCache,
    memo: RenderMemo,
    previous: Mutex<crate::load::Previous>,
    state: Mutex<State>,
}

impl SiteBuilder {
    pub fn new(
        root: PathBuf,
        base_url: String,
        drafts: bool,
        now: Option<Timestamp>,
    ) -> SiteBuilder {
        SiteBuilder {
            root,
            base_url,
            drafts,
            now,
            clock: Mutex::new(Timestamp::now()),
            cache: AssembleCache::default(),
            memo: RenderMemo::default(),
            previous: Mutex::new(crate::load::Previous::new()),
            state: Mutex::new(State::default()),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn follows_clock(&self) -> bool {
        self.now.is_none()
    }

    /// Moves the preview's "now" to the current time (a scheduled moment has arrived).
    pub fn advance_clock(&self) {
        *lock(&self.clock) = Timestamp::now();
    }

    fn now(&self) -> Timestamp {
        self.now.unwrap_or_else(|| *lock(&self.clock))
    }

    /// The state, also after a build panicked while holding it: every build takes the last
    /// build out of the state before it changes anything, so what a panic leaves behind is no
    /// last build and the files still dirty, and the next build starts from the files.
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Builds everything from the files on disk.
    pub fn build(&self) -> Result<Built, Diagnostics> {
        let mut state = self.state();
        let result = self.build_full(&mut state);
        if result.is_ok() {
            state.dirty.clear();
        }
        result
    }

    /// Builds after `changed` files changed (as the watcher reports them, in any form below the
    /// root): a patch of the last build where possible, else in full.
    pub fn update(&self, changed: &[PathBuf]) -> Result<Built, Diagnostics> {
        let mut state = self.state();
        state.dirty.extend(changed.iter().cloned());
        let reason = match self.try_patch(&mut state) {
            Ok(built) => {
                state.dirty.clear();
                return Ok(built);
            }
            Err(reason) => reason,
        };
        let result = self.build_full(&mut state);
        if result.is_ok() {
            state.dirty.clear();
        }
        result.map(|built| Built {
            full_build: Some(reason),
            ..built
        })
    }

    fn build_full(&self, state: &mut State) -> Result<Built, Diagnostics> {
        // Whatever happens, the old build no longer describes the files.
        let old = state.last.take();
        let config = crate::config::Config::load(&self.root, Some(&self.base_url))?;
        // Each entry of `previous` is a whole file read before: a panic cannot leave half of one.
        let sources = {
            let previous = lock(&self.previous);
            crate::load::load_sources_reusing(&self.root, Some(&previous))?
        };
        *lock(&self.previous) = sources
            .markdown
            .iter()
            .map(|f| (f.path.clone(), f.clone()))
            .collect();
        let mut site = crate::site::assemble(
            config,
            sources,
            &crate::site::BuildOptions {
                now: self.now(),
                drafts: self.drafts,
                // The preview shows the editions' e-mails, which read the facts.
                check_facts: true,
            },
            Some(&self.cache),
        )?;
        crate::site::make_images(&mut site)?;
        let warnings = std::mem::take(&mut site.warnings);
        let next = site.schedule.first().cloned();
        let theme = Theme::load(&self.root, &site.config.site.theme)?;
        let memory = Memory::default();
        let site = Arc::new(site);
        let kept = crate::render::render_preview(&site, &theme, &memory, &self.memo)?;
        let mut files = memory.into_files();
        files.extend(email_previews(&site, &theme)?);
        let files: Files = Arc::new(files);
        drop(old);
        state.last = Some(Last {
            site,
            warnings: warnings.clone(),
            theme,
            kept,
            files: files.clone(),
        });
        Ok(Built {
            files,
            changed: None,
            next,
            warnings,
            how: Rebuilt::Full,
            full_build: None,
        })
    }

    /// Patches the last build with the dirty files, or says why that cannot give exactly what a
    /// full build gives (the caller then builds in full).
    fn try_patch(&self, state: &mut State) -> Result<Built, FullBuild> {
        let last = state.last.as_ref().ok_or(FullBuild::NoEarlierBuild)?;
        if last.site.now.timestamp() != self.now() {
            return Err(FullBuild::ClockMoved);
        }
        let plan = self.plan(last, &state.dirty)?;
        // From here on the last build is changed in place; on any failure it is dropped.
        let last = state.last.take().ok_or(FullBuild::NoEarlierBuild)?;
        let (last, built) = self.apply(last, plan)?;
        state.last = Some(last);
        Ok(built)
    }

    /// Sorts the dirty files into pages to patch and static files to serve anew, or finds the
    /// one that needs a full build. Reads the changed pages, changes nothing.
    fn plan(&self, last: &Last, dirty: &BTreeSet<PathBuf>) -> Result<Plan, FullBuild> {
        let mut plan = Plan::default();
        let theme_static = format!(
            "{}/{}/static/",
            crate::theme::THEMES_DIR,
            last.site.config.site.theme
        );
        for path in dirty {
            let rel = relative(&self.root, path)
                .ok_or_else(|| FullBuild::OutsideRoot(path.display().to_string()))?;
            let gone = || !path.exists() && !self.root.join(&rel).exists();
            match crate::load::markdown_source(&rel) {
                Some((_, key)) => match last.site.by_key.get(&key) {
                    Some(Target::Page(_)) if !gone() => {
                        let file = crate::load::load_one(&self.root, &rel)
                            .and_then(Result::ok)
                            .ok_or_else(|| FullBuild::Unreadable(rel.clone()))?;
                        plan.pages.push(file);
                    }
                    // A temporary file an editor wrote and renamed away: it never counted.
                    None if gone() && !last.site.index.unpublished.contains(&key) => {}
                    None if last.site.index.unpublished.contains(&key) => {
                        return Err(FullBuild::NotAPublishedPage(rel));
                    }
                    Some(Target::Page(_)) | None => return Err(FullBuild::AddedOrRemoved(rel)),
                    Some(Target::Section(_)) => return Err(FullBuild::Changed(rel)),
                },
                // Other files under `content/` are assets; a temporary one that is gone is no change.
                None if rel.starts_with("content/") => {
                    let asset = last
                        .site
                        .assets
                        .iter()
                        .any(|a| a.source == self.root.join(&rel));
                    if asset || !gone() {
                        return Err(FullBuild::Asset(rel));
                    }
                }
                // A stylesheet, script or image served as it is: only its own entry changes,
                // unless a page offers it as a download (its size is in the link text).
                None if rel.starts_with("static/") || rel.starts_with(&theme_static) => {
                    let exists = path.exists();
                    let served = last.files.iter().find(|(_, f)| {
                        matches!(f, MemoryFile::Disk { path: p, .. }
                            if relative(&self.root, p).as_deref() == Some(rel.as_str()))
                    });
                    // A file replaced by a link takes the full build, which refuses a link out.
                    let plain = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file());
                    match served {
                        Some((out, _)) if offered_for_download(&last.site, out) => {
                            return Err(FullBuild::Download(rel));
                        }
                        Some((out, MemoryFile::Disk { path: p, .. })) if exists && plain => {
                            plan.statics.push((out.clone(), p.clone()));
                        }
                        None if !exists => {}
                        None => return Err(FullBuild::AddedOrRemoved(rel)),
                        Some(_) => return Err(FullBuild::Changed(rel)),
                    }
                }
                None => return Err(FullBuild::Changed(rel)),
            }
        }
        Ok(plan)
    }

    /// Patches the pages of `plan` into `last`, renders what they touch and serves the new
    /// static files. On an error `last` is gone: a half-patched build is never kept.
    fn apply(&self, mut last: Last, plan: Plan) -> Result<(Last, Built), FullBuild> {
        let site = Arc::get_mut(&mut last.site).ok_or(FullBuild::InUse)?;
        let mut applied = Applied::default();
        let mut read = Vec::new();
        for file in plan.pages {
            let name = file.shown.display().to_string();
            let Some(Target::Page(id)) = site.by_key.get(&file.key).copied() else {
                return Err(FullBuild::NotAPublishedPage(name));
            };
            read.push(file.clone());
            let unchanged = site
                .pages
                .get(id)
                .ok_or(FullBuild::NotAPublishedPage(name))?
                .file
                .hash
                == file.hash;
            if unchanged {
                continue;
            }
            PagePatch::prepare(site, file, &self.cache)?.apply(site, &mut applied);
        }
        lock(&self.previous).extend(read.into_iter().map(|f| (f.path.clone(), f)));
        let mut written = Vec::new();
        if !applied.pages.is_empty() {
            let memory = Memory::default();
            render_patch(
                &last.site,
                &last.theme,
                &memory,
                &self.memo,
                &mut last.kept,
                &applied,
            )
            .map_err(|_| FullBuild::Render)?;
            written.extend(memory.into_files());
            written.extend(email_previews(&last.site, &last.theme).map_err(|_| FullBuild::Render)?);
        }
        for (out, path) in plan.statics {
            let meta = std::fs::metadata(&path)
                .map_err(|_| FullBuild::Unreadable(path.display().to_string()))?;
            written.push((
                out,
                MemoryFile::Disk {
                    path,
                    len: meta.len(),
                    modified: meta.modified().ok(),
                },
            ));
        }
        let mut files = BTreeMap::clone(&last.files);
        let mut changed = Vec::new();
        for (rel, file) in written {
            if files.get(&rel) != Some(&file) {
                changed.push(rel.clone());
                files.insert(rel, file);
            }
        }
        last.files = Arc::new(files);
        let built = Built {
            files: last.files.clone(),
            changed: Some(changed),
            next: last.site.schedule.first().cloned(),
            warnings: last.warnings.clone(),
            how: Rebuilt::Patched,
            full_build: None,
        };
        Ok((last, built))
    }
}

/// What a patch does: the pages it parses again and the static files it serves anew
/// (`(output path, file)`).
#[derive(Default)]
struct Plan {
    pages: Vec<crate::load::SourceFile>,
    statics: Vec<(String, PathBuf)>,
}

/// The e-mail preview pages of the newsletter editions (see [`crate::newsletter::preview`]).
fn email_previews(
    site: &Arc<Site>,
    theme: &Theme,
) -> Result<Vec<(String, MemoryFile)>, Diagnostics> {
    Ok(crate::newsletter::preview::pages(site, theme)?
        .into_iter()
        .map(|(path, bytes)| (path, MemoryFile::Bytes(Arc::new(bytes))))
        .collect())
}

/// Whether a page links to output file `out` as a download, slides or video (their labels carry
/// the file's size, so a change to it is a change to those pages).
fn offered_for_download(site: &Site, out: &str) -> bool {
    let url = site.config.url(&format!("/{out}"));
    site.pages.iter().any(|p| {
        p.downloads.iter().chain(&p.slides).any(|d| d.url == url)
            || p.video.as_ref().is_some_and(|v| {
                v.url == url
                    || v.captions_url.as_deref() == Some(url.as_str())
                    || v.poster_url.as_deref() == Some(url.as_str())
            })
    })
}

/// `path` relative to `root`, with `/`, whether the watcher reported it absolute or as given.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = match path.strip_prefix(root) {
        Ok(r) => r.to_path_buf(),
        Err(_) => path
            .strip_prefix(root.canonicalize().ok()?)
            .ok()?
            .to_path_buf(),
    };
    Some(
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preview_builds_again_after_a_build_panicked_while_holding_its_state() {
        let dir = tempfile::tempdir().unwrap();
        crate::scaffold::init(dir.path()).unwrap();
        let builder = SiteBuilder::new(
            dir.path().to_path_buf(),
            "http://127.0.0.1:1111".into(),
            false,
            Some("2025-12-05T12:00:00Z".parse().unwrap()),
        );
        crate::sync::poison(&builder.state);
        crate::sync::poison(&builder.previous);
        let built = builder.build().unwrap();
        assert!(built.files.contains_key("index.html"));
        let again = builder.update(&[dir.path().join("site.yaml")]).unwrap();
        assert!(again.files.contains_key("index.html"));
    }
}
