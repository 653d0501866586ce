//! ozg-site: a static site generator for the OZG information site of Sachsen-Anhalt.
//!
//! The pipeline shows in the modules: [`config`] → [`load`] → [`parse`] → [`site`] (assemble the
//! model) → [`render`] → [`write`]. This file is the front door: [`build`], [`check`], [`schedule`].
//! Two kinds of error: every stage reports what an editor can get wrong as [`diagnostics`] (a
//! file, a line, a hint, all of them collected per run); what goes wrong around the content —
//! the subscriber database, the mail server, a socket, a thread — is an [`error::OpError`],
//! which has no place in a file and is printed as one line by the command.
//!
//! # Indexing
//!
//! No code outside tests may panic: the crate denies `unwrap`, `expect`, `panic!`,
//! `unreachable!`, string slicing and indexing. [`site`] and [`render`] alone may index, and only
//! their own arenas: `site.pages[id]`, `site.sections[id]` and the vectors of fingerprints and
//! values kept beside them are indexed with a [`site::PageId`] or [`site::SectionId`] that
//! `site::assemble` handed out as the position it pushed the page or section to. The arenas are
//! built once and never shrink (a preview patch replaces a page in place), and every id stored
//! in the model (a page's section, a section's pages, parents, neighbours, link targets) and
//! every vector indexed beside them is made from the same arena, so an id cannot be out of range.
//! Wrapping each of these hundred lookups in `get(..)` would add an error path that cannot be
//! taken to every function of the model. Nothing from outside (a file, a request) ever becomes an
//! index there: text from outside is read with `get`, `strip_prefix` or `split_once`, as elsewhere.

// A `Diagnostic` is large (message, location with source line, hint); errors are the rare path and
// reported once per run, so returning it by value costs nothing measurable and reads better than boxing.
#![allow(clippy::result_large_err)]
// No panic hides in the code: nothing outside `#[cfg(test)]` may unwrap, expect, panic, slice a
// string (a byte index inside an umlaut panics) or index (see "Indexing" above for the two
// modules that may index their own arenas).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::string_slice,
        clippy::indexing_slicing
    )
)]

pub mod audit;
pub mod check;
pub mod config;
pub mod diagnostics;
pub mod error;
pub mod hyphenate;
pub mod load;
pub mod net;
pub mod newsletter;
pub mod parse;
#[cfg_attr(not(test), allow(clippy::indexing_slicing))] // its own arena ids, see "Indexing"
pub mod render;
pub mod scaffold;
pub mod serve;
#[cfg_attr(not(test), allow(clippy::indexing_slicing))] // its own arena ids, see "Indexing"
pub mod site;
pub mod slug;
pub mod subscriptions;
pub mod sync;
pub mod synthetic;
pub mod theme;
pub mod time;
pub mod wrap;
pub mod write;
pub mod yaml;

use std::path::{Path, PathBuf};

use config::Config;
use diagnostics::{Diagnostic, Diagnostics};
use site::{BuildOptions, Site};
use theme::Theme;

/// What `build` and `check` need to know besides the site folder. The doc comments of the fields
/// are the help texts of the flags every site command shares (`#[command(flatten)]` in `cmd/`).
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// The site folder, which holds site.yaml
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Fix "now" for every time-dependent decision (scheduled publication, upcoming sessions,
    /// advent doors), as RFC 3339, e.g. 2025-12-05T13:00:00+01:00 [default: the current time]
    #[arg(
        long,
        env = "OZG_SITE_NOW",
        value_parser = time::parse_now,
        default_value_t = jiff::Timestamp::now(),
        hide_default_value = true
    )]
    pub now: jiff::Timestamp,
    /// Include drafts (`draft: true`); content scheduled for later stays out
    #[arg(long)]
    pub drafts: bool,
    /// Overrides site.yaml's `base_url`; only `build` has the flag (`--base-url`).
    #[arg(skip)]
    pub base_url: Option<String>,
}

/// The outcome of a successful build.
#[derive(Debug)]
pub struct BuildReport {
    pub pages: usize,
    pub files: usize,
    pub output: PathBuf,
    /// The next moment the output would change (scheduled content, a session ending).
    pub next_change: Option<site::Moment>,
    pub warnings: Vec<Diagnostic>,
    /// How many facts are still marked `offen` in what was built.
    pub open_facts: usize,
}

/// Whether a build may publish facts marked `offen`: production CI refuses them (`--strict`),
/// an editor's build shows the theme's "wird ergänzt" and says how many are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenFacts {
    Allow,
    Refuse,
}

/// With [`OpenFacts::Refuse`], every open fact as an error (nothing else changes).
pub fn refuse_open_facts(open_facts: &[Diagnostic], policy: OpenFacts) -> Result<(), Diagnostics> {
    if policy == OpenFacts::Allow || open_facts.is_empty() {
        return Ok(());
    }
    Err(open_facts
        .iter()
        .map(|d| Diagnostic {
            severity: diagnostics::Severity::Error,
            ..d.clone()
        })
        .collect::<Vec<_>>()
        .into())
}

/// Loads, parses and assembles the site: everything up to rendering, with every fact of the
/// bodies the checks and the e-mails read.
pub fn load_site(opts: &Options) -> Result<Site, Diagnostics> {
    load_site_with(opts, true)
}

fn load_site_with(opts: &Options, check_facts: bool) -> Result<Site, Diagnostics> {
    let config = Config::load(&opts.root, opts.base_url.as_deref())?;
    let sources = load::load_sources(&opts.root)?;
    site::assemble(
        config,
        sources,
        &BuildOptions {
            now: opts.now,
            drafts: opts.drafts,
            check_facts,
        },
        None,
    )
}

/// Builds the site into `output`; on any error the previous output stays untouched.
pub fn build(opts: &Options, output: &Path) -> Result<BuildReport, Diagnostics> {
    build_with(opts, output, OpenFacts::Allow)
}

/// [`build`], refusing open facts if `open_facts` says so (before anything is written).
pub fn build_with(
    opts: &Options,
    output: &Path,
    open_facts: OpenFacts,
) -> Result<BuildReport, Diagnostics> {
    let timer = Timer::from_env();
    write::check_output_dir(&opts.root, output)?;
    // Only a build (and the preview) keeps highlighted code between runs; `check` does not.
    let highlight_cache = parse::highlight::DiskCache::open(&opts.root);
    timer.lap("read the highlight cache");
    // A build reads none of the facts only the checks read (see `BuildOptions::check_facts`).
    let mut site = load_site_with(opts, false)?;
    refuse_open_facts(&site.open_facts, open_facts)?;
    let open_facts = site.open_fact_count();
    timer.lap("load, parse, assemble");
    let mut warnings = std::mem::take(&mut site.warnings);
    let next_change = site.schedule.first().cloned();
    let theme = Theme::load(&opts.root, &site.config.site.theme)?;
    site::make_images(&mut site)?;
    timer.lap("images");
    let staging = write::Staging::new(output)?;
    let site = std::sync::Arc::new(site);
    let written = render::render_site(&site, &theme, &staging)?;
    timer.lap("render and write");
    staging.commit()?;
    timer.lap("swap output");
    if let Err(e) = highlight_cache.persist() {
        // Only the next build's speed depends on it: the output is whole, so this is no error.
        warnings.push(
            Diagnostic::warning(format!("could not write the highlight cache: {e}"))
                .in_file(highlight_cache.path()),
        );
    }
    timer.lap("write the highlight cache");
    // Freeing a model of 10,000 pages takes a tenth of the build; the caller (a command about to
    // exit, most often) need not wait for it.
    let _ = std::thread::Builder::new()
        .name("free the site".into())
        .spawn(move || drop(site));
    timer.lap("free");
    Ok(BuildReport {
        pages: written.pages,
        files: written.files,
        output: output.to_path_buf(),
        next_change,
        warnings,
        open_facts,
    })
}

/// Phase timings on stderr when `OZG_SITE_TIMINGS` is set, for profiling builds.
struct Timer(Option<std::cell::Cell<std::time::Instant>>);

impl Timer {
    fn from_env() -> Timer {
        Timer(
            std::env::var_os("OZG_SITE_TIMINGS")
                .map(|_| std::cell::Cell::new(std::time::Instant::now())),
        )
    }

    fn lap(&self, what: &str) {
        if let Some(start) = &self.0 {
            let now = std::time::Instant::now();
            eprintln!("{:>6} ms  {what}", (now - start.get()).as_millis());
            start.set(now);
        }
    }
}

/// Upcoming moments at which the output changes, earliest first.
pub fn schedule(opts: &Options) -> Result<Vec<site::Moment>, Diagnostics> {
    Ok(load_site(opts)?.schedule)
}

pub use check::{CheckReport, check};
pub use site::format_moment;
