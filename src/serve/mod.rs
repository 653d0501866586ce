//! `ozg-site serve`: build into memory, serve over HTTP, rebuild when files change or when a
//! scheduled moment arrives, and tell open pages to reload.
//!
//! One worker thread does every rebuild, so a burst of saves (editors' tools write temp files and
//! rename them) becomes one rebuild; the watcher and the clock only send it triggers.

mod builder;
mod http;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::error::OpError;
use crate::site::Moment;
use crate::sync;
use crate::write::MemoryFile;
use jiff::Timestamp;
use tokio::sync::broadcast;

pub use builder::{Built, Files, Rebuilt, SiteBuilder};
pub use http::{Hosts, LIVE_SCRIPT_PATH, Lookup, inject_live_script, resolve_path};

/// What `serve` was asked to do; the doc comments are the help texts of its flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeOptions {
    /// The site folder, which holds site.yaml
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Address to listen on; the default keeps the preview on this machine
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Port to listen on (0 picks a free one)
    #[arg(long, default_value_t = 1111)]
    pub port: u16,
    /// Fix "now" (RFC 3339) instead of following the clock
    #[arg(long, env = "OZG_SITE_NOW", value_parser = crate::time::parse_now)]
    pub now: Option<Timestamp>,
    /// Include drafts (`draft: true`)
    #[arg(long)]
    pub drafts: bool,
    /// Open the preview in the default browser
    #[arg(long)]
    pub open: bool,
}

/// What open pages are told after a rebuild.
#[derive(Debug, Clone)]
pub enum Change {
    Reload,
    /// Only stylesheets changed: their URL paths, swapped without a reload.
    Css(Vec<String>),
    /// The build failed: the diagnostics as text, shown in the overlay.
    Error(String),
}

/// State shared between the rebuild worker and the HTTP handlers.
pub struct Shared {
    files: RwLock<Arc<BTreeMap<String, MemoryFile>>>,
    error: RwLock<Option<String>>,
    next_change: RwLock<Option<Moment>>,
    /// Counts builds that changed the site; pages carry the number they were served with, so a
    /// page that missed an event (it connected late) reloads when it sees a newer number.
    generation: std::sync::atomic::AtomicU64,
    pub events: broadcast::Sender<Change>,
    /// The site folder, to check at every read that a file served from disk has not become a
    /// link out of the site since the build that listed it (a build error keeps that build).
    root: Option<crate::load::SiteRoot>,
}

impl Shared {
    fn new(root: Option<crate::load::SiteRoot>) -> Shared {
        Shared {
            root,
            files: RwLock::new(Arc::new(BTreeMap::new())),
            error: RwLock::new(None),
            next_change: RwLock::new(None),
            generation: std::sync::atomic::AtomicU64::new(0),
            events: broadcast::channel(64).0,
        }
    }

    pub fn files(&self) -> Arc<BTreeMap<String, MemoryFile>> {
        sync::read(&self.files).clone()
    }

    /// Whether the file at `path` may still be read: it lies below the site folder and no link
    /// on its way leads out of the site or into a hidden folder.
    pub fn readable(&self, path: &std::path::Path) -> bool {
        let Some(root) = &self.root else {
            return false;
        };
        let Ok(rel) = path.strip_prefix(root.path()) else {
            return false;
        };
        let rel: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        matches!(root.check_path(&rel.join("/")), Ok(Some(_)))
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn error(&self) -> Option<String> {
        sync::read(&self.error).clone()
    }
}

/// Why the worker should rebuild.
enum Trigger {
    Files(Vec<PathBuf>),
    /// The watcher lost track (its queue overflowed): read everything again.
    Rescan,
    Clock,
}

/// Runs the preview server until Ctrl-C.
pub fn serve(opts: ServeOptions) -> Result<(), OpError> {
    let (runtime, listener, local) = crate::net::listen(SocketAddr::new(opts.bind, opts.port))?;
    let base_url = format!("http://{local}");

    let shared = Arc::new(Shared::new(crate::load::SiteRoot::new(&opts.root).ok()));
    let site = SiteBuilder::new(opts.root.clone(), base_url.clone(), opts.drafts, opts.now);
    // The preview starts from the blocks the last build highlighted and leaves the ones of its
    // first build for the next; later saves use the in-memory cache only, so a save never
    // waits for the file.
    let highlight_cache = crate::parse::highlight::DiskCache::open(&opts.root);
    rebuild(&site, &shared, &[], true);
    if let Err(e) = highlight_cache.persist() {
        eprintln!(
            "warning: could not write the highlight cache {}: {e}",
            highlight_cache.path().display()
        );
    }

    let (tx, rx) = mpsc::channel::<Trigger>();
    let _watcher = watch(&opts.root, tx.clone())?;
    {
        let shared = shared.clone();
        std::thread::spawn(move || worker(site, shared, rx));
    }

    println!("Serving the preview on {base_url}/ (Ctrl-C stops it)");
    if !opts.bind.is_loopback() {
        println!(
            "warning: bound to {}: other machines can reach this preview",
            opts.bind
        );
    }
    if opts.open {
        open_browser(&format!("{base_url}/"));
    }
    runtime.block_on(http::run(listener, shared, local, async {
        let _ = tokio::signal::ctrl_c().await;
    }));
    Ok(())
}

/// The longest the worker sleeps without a change, also when no moment is scheduled.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// Rebuilds on file changes and, following the clock, at each scheduled moment.
fn worker(site: SiteBuilder, shared: Arc<Shared>, rx: mpsc::Receiver<Trigger>) {
    loop {
        let next = sync::read(&shared.next_change).clone();
        let wait = match next {
            Some(moment) if site.follows_clock() => {
                let secs = moment
                    .at
                    .timestamp()
                    .duration_since(Timestamp::now())
                    .as_secs_f64();
                Duration::try_from_secs_f64(secs.clamp(0.0, 3600.0)).unwrap_or(MAX_WAIT)
            }
            _ => MAX_WAIT,
        };
        let first = match rx.recv_timeout(wait) {
            Ok(t) => t,
            Err(RecvTimeoutError::Timeout) => Trigger::Clock,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        // One save is a burst of events (editors write a temporary file and rename it): wait
        // until the burst is over, a few quiet milliseconds, then build once.
        let mut paths = Vec::new();
        let mut full = false;
        let mut collect = |t: Trigger| match t {
            Trigger::Files(p) => paths.extend(p),
            Trigger::Rescan => full = true,
            Trigger::Clock => {
                site.advance_clock();
                full = true;
            }
        };
        collect(first);
        let give_up = Instant::now() + Duration::from_millis(200);
        while let Ok(t) = rx.recv_timeout(
            Duration::from_millis(3).min(give_up.saturating_duration_since(Instant::now())),
        ) {
            collect(t);
        }
        rebuild(&site, &shared, &paths, full);
    }
}

/// Builds (in full, or after `changed` files changed), swaps the served files, and tells open
/// pages what changed.
fn rebuild(site: &SiteBuilder, shared: &Shared, changed: &[PathBuf], full: bool) {
    let started = Instant::now();
    let result = if full {
        site.build()
    } else {
        site.update(changed)
    };
    match result {
        Ok(built) => {
            for w in &built.warnings {
                eprint!("{}", w.render());
            }
            // For whoever profiles the preview: why a save did not take the quick path.
            if let Some(reason) = &built.full_build
                && std::env::var_os("OZG_SITE_TIMINGS").is_some()
            {
                eprintln!("full build: {reason}");
            }
            let change = match &built.changed {
                Some(outputs) => classify(outputs.iter()),
                None => {
                    let old = shared.files();
                    classify(changed_outputs(&old, &built.files).into_iter())
                }
            };
            *sync::write(&shared.files) = built.files;
            *sync::write(&shared.next_change) = built.next;
            let had_error = sync::write(&shared.error).take().is_some();
            let change = if had_error {
                Some(Change::Reload)
            } else {
                change
            };
            if !changed.is_empty() || had_error {
                println!(
                    "Rebuilt in {} ms{}",
                    started.elapsed().as_millis(),
                    describe(changed, site.root())
                );
            }
            if let Some(c) = change {
                let _ = shared.events.send(c);
            }
        }
        Err(diagnostics) => {
            let text: String = diagnostics
                .iter()
                .map(|d| d.render())
                .collect::<Vec<_>>()
                .join("\n");
            eprintln!("{text}");
            *sync::write(&shared.error) = Some(text.clone());
            let _ = shared.events.send(Change::Error(text));
        }
    }
}

fn describe(changed: &[PathBuf], root: &Path) -> String {
    let mut names: Vec<String> = changed
        .iter()
        .map(|p| p.strip_prefix(root).unwrap_or(p).display().to_string())
        .collect();
    names.sort();
    names.dedup();
    match names.len() {
        0 => String::new(),
        1..=3 => format!(" ({})", names.join(", ")),
        n => format!(" ({n} files)"),
    }
}

/// The outputs that differ between two builds.
fn changed_outputs<'a>(
    old: &'a BTreeMap<String, MemoryFile>,
    new: &'a BTreeMap<String, MemoryFile>,
) -> Vec<&'a String> {
    let mut changed: Vec<&String> = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, _)| k)
        .collect();
    changed.extend(old.keys().filter(|k| !new.contains_key(*k)));
    changed
}

/// Nothing, only stylesheets, or anything else changed.
fn classify<'a>(changed: impl Iterator<Item = &'a String>) -> Option<Change> {
    let changed: Vec<&String> = changed.collect();
    if changed.is_empty() {
        return None;
    }
    if changed.iter().all(|k| k.ends_with(".css")) {
        return Some(Change::Css(
            changed.iter().map(|k| format!("/{k}")).collect(),
        ));
    }
    Some(Change::Reload)
}

/// Watches the site's folders; change events go to the worker, which coalesces them.
fn watch(root: &Path, tx: mpsc::Sender<Trigger>) -> Result<notify::RecommendedWatcher, OpError> {
    use notify::{RecursiveMode, Watcher};
    let root_owned = root.to_path_buf();
    let mut watcher = notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
        let event = match result {
            Ok(e) => e,
            Err(_) => {
                let _ = tx.send(Trigger::Rescan);
                return;
            }
        };
        if event.need_rescan() {
            let _ = tx.send(Trigger::Rescan);
            return;
        }
        // Reading a file is an event too (inotify's open/close): only changes count, or
        // every rebuild, which reads the files, would trigger the next one.
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        let paths: Vec<PathBuf> = event
            .paths
            .into_iter()
            .filter(|p| relevant(&root_owned, p))
            .collect();
        if !paths.is_empty() {
            let _ = tx.send(Trigger::Files(paths));
        }
    })
    .map_err(|e| OpError::system("watch the site's files", e))?;
    // The root itself non-recursively (site.yaml is often replaced by a rename), the folders fully.
    watcher
        .watch(root, RecursiveMode::NonRecursive)
        .map_err(|e| OpError::system(format!("watch {}", root.display()), e))?;
    for dir in [
        crate::load::CONTENT_DIR,
        crate::load::NEWSLETTER_DIR,
        crate::load::STATIC_DIR,
        crate::theme::THEMES_DIR,
    ] {
        let path = root.join(dir);
        if path.is_dir() {
            watcher
                .watch(&path, RecursiveMode::Recursive)
                .map_err(|e| OpError::system(format!("watch {}", path.display()), e))?;
        }
    }
    Ok(watcher)
}

/// Changes that matter: site.yaml and anything below the watched folders, except editor litter.
fn relevant(root: &Path, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(root) else {
        return false;
    };
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.starts_with('.')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.starts_with('#')
    {
        return false;
    }
    let first = rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    rel == Path::new(crate::config::CONFIG_FILE)
        || [
            crate::load::CONTENT_DIR,
            crate::load::NEWSLETTER_DIR,
            crate::load::STATIC_DIR,
            crate::theme::THEMES_DIR,
        ]
        .contains(&first.as_str())
}

fn open_browser(url: &str) {
    let program = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if std::process::Command::new(program)
        .arg(url)
        .spawn()
        .is_err()
    {
        eprintln!("could not open a browser; open {url} yourself");
    }
}
