//! `ozg-site serve`: build into memory, serve over HTTP, rebuild when files change or when a
//! scheduled moment arrives, and tell open pages to reload.
//!
//! One worker thread does every rebuild, so a burst of saves (editors' tools write temp files and
//! rename them) becomes one rebuild; the watcher and the clock only send it triggers.

mod http;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio::sync::broadcast;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::site::Moment;
use crate::write::{Memory, MemoryFile};

pub use http::{LIVE_SCRIPT_PATH, inject_live_script, resolve_path};

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub root: PathBuf,
    pub bind: IpAddr,
    pub port: u16,
    /// A fixed "now"; without it the server follows the clock.
    pub now: Option<Timestamp>,
    pub drafts: bool,
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
}

impl Shared {
    fn new() -> Shared {
        Shared {
            files: RwLock::new(Arc::new(BTreeMap::new())),
            error: RwLock::new(None),
            next_change: RwLock::new(None),
            generation: std::sync::atomic::AtomicU64::new(0),
            events: broadcast::channel(64).0,
        }
    }

    pub fn files(&self) -> Arc<BTreeMap<String, MemoryFile>> {
        self.files.read().map(|f| f.clone()).unwrap_or_default()
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn error(&self) -> Option<String> {
        self.error.read().ok().and_then(|e| e.clone())
    }
}

/// Why the worker should rebuild.
enum Trigger {
    Files(Vec<PathBuf>),
    Clock,
}

/// Runs the preview server until Ctrl-C.
pub fn serve(opts: ServeOptions) -> Result<(), Diagnostics> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Diagnostic::error(format!("cannot start the server: {e}")))?;
    let addr = SocketAddr::new(opts.bind, opts.port);
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(|e| {
            Diagnostic::error(format!("cannot listen on {addr}: {e}"))
                .hint("another program uses the port: pass another one, e.g. --port 1112")
        })?;
    let local = listener.local_addr().unwrap_or(addr);
    let base_url = format!("http://{local}");

    let shared = Arc::new(Shared::new());
    let site = SiteBuilder::new(opts.root.clone(), base_url.clone(), opts.drafts, opts.now);
    site.rebuild(&shared, &[]);

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
    let app = http::router(shared);
    runtime
        .block_on(async {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await
        })
        .map_err(|e| Diagnostic::error(format!("the server stopped: {e}")).into())
}

/// Rebuilds on file changes and, following the clock, at each scheduled moment.
fn worker(site: SiteBuilder, shared: Arc<Shared>, rx: mpsc::Receiver<Trigger>) {
    loop {
        let wait = match (
            &site.now,
            shared.next_change.read().ok().and_then(|n| n.clone()),
        ) {
            (None, Some(moment)) => {
                let secs = moment
                    .at
                    .timestamp()
                    .duration_since(Timestamp::now())
                    .as_secs_f64();
                Duration::from_secs_f64(secs.clamp(0.0, 3600.0))
            }
            _ => Duration::from_secs(3600),
        };
        let first = match rx.recv_timeout(wait) {
            Ok(t) => t,
            Err(RecvTimeoutError::Timeout) => Trigger::Clock,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        // Coalesce a burst of saves into one rebuild.
        let mut paths = Vec::new();
        let mut collect = |t: Trigger| {
            if let Trigger::Files(p) = t {
                paths.extend(p);
            }
        };
        collect(first);
        let deadline = Instant::now() + Duration::from_millis(10);
        while let Ok(t) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            collect(t);
        }
        site.rebuild(&shared, &paths);
    }
}

/// A successful build: the files, the next scheduled change, the warnings.
pub struct Built {
    pub files: BTreeMap<String, MemoryFile>,
    pub next: Option<Moment>,
    pub warnings: Vec<Diagnostic>,
}

/// Builds the site into memory, again and again: files whose size and modification time are
/// unchanged are not read again, and unchanged files are not parsed or rendered to HTML again
/// (see [`crate::site::AssembleCache`]). The result is always what a fresh build would produce.
pub struct SiteBuilder {
    root: PathBuf,
    base_url: String,
    drafts: bool,
    now: Option<Timestamp>,
    cache: crate::site::AssembleCache,
    memo: crate::render::memo::RenderMemo,
    previous: std::sync::Mutex<crate::load::Previous>,
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
            cache: crate::site::AssembleCache::default(),
            memo: crate::render::memo::RenderMemo::default(),
            previous: std::sync::Mutex::new(crate::load::Previous::new()),
        }
    }

    pub fn build(&self) -> Result<Built, Diagnostics> {
        let config = crate::config::Config::load(&self.root, Some(&self.base_url))?;
        let sources = {
            let previous = self
                .previous
                .lock()
                .map_err(|_| Diagnostic::error("internal: lock poisoned"))?;
            crate::load::load_sources_reusing(&self.root, Some(&previous))?
        };
        if let Ok(mut previous) = self.previous.lock() {
            *previous = sources
                .markdown
                .iter()
                .map(|f| (f.path.clone(), f.clone()))
                .collect();
        }
        let mut site = crate::site::assemble(
            config,
            sources,
            &crate::site::BuildOptions {
                now: self.now.unwrap_or_else(Timestamp::now),
                drafts: self.drafts,
            },
            Some(&self.cache),
        )?;
        let warnings = std::mem::take(&mut site.warnings);
        let next = site.schedule.first().cloned();
        let theme = crate::theme::Theme::load(&self.root, &site.config.site.theme)?;
        let memory = Memory::default();
        crate::render::render_site(&Arc::new(site), &theme, &memory, Some(&self.memo))?;
        Ok(Built {
            files: memory.snapshot(),
            next,
            warnings,
        })
    }

    /// Builds, swaps the served files, and tells open pages what changed.
    fn rebuild(&self, shared: &Shared, changed: &[PathBuf]) {
        let started = Instant::now();
        match self.build() {
            Ok(Built {
                files,
                next,
                warnings,
            }) => {
                for w in &warnings {
                    eprint!("{}", w.render());
                }
                let old = shared.files();
                let change = classify(&old, &files);
                if let Ok(mut f) = shared.files.write() {
                    *f = Arc::new(files);
                }
                if let Ok(mut n) = shared.next_change.write() {
                    *n = next;
                }
                let had_error = shared
                    .error
                    .write()
                    .map(|mut e| e.take().is_some())
                    .unwrap_or(false);
                let change = if had_error {
                    Some(Change::Reload)
                } else {
                    change
                };
                if !changed.is_empty() || had_error {
                    println!(
                        "Rebuilt in {} ms{}",
                        started.elapsed().as_millis(),
                        describe(changed, &self.root)
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
                if let Ok(mut e) = shared.error.write() {
                    *e = Some(text.clone());
                }
                let _ = shared.events.send(Change::Error(text));
            }
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

/// Nothing, only stylesheets, or anything else changed.
fn classify(
    old: &BTreeMap<String, MemoryFile>,
    new: &BTreeMap<String, MemoryFile>,
) -> Option<Change> {
    let mut changed: Vec<&String> = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, _)| k)
        .collect();
    changed.extend(old.keys().filter(|k| !new.contains_key(*k)));
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

/// Watches the site's folders; debounced events go to the worker.
fn watch(
    root: &Path,
    tx: mpsc::Sender<Trigger>,
) -> Result<
    notify_debouncer_full::Debouncer<
        notify::RecommendedWatcher,
        notify_debouncer_full::RecommendedCache,
    >,
    Diagnostic,
> {
    use notify::RecursiveMode;
    let root_owned = root.to_path_buf();
    let mut debouncer = notify_debouncer_full::new_debouncer(
        Duration::from_millis(30),
        Some(Duration::from_millis(10)),
        move |result: notify_debouncer_full::DebounceEventResult| {
            let Ok(events) = result else { return };
            // Reading a file is an event too (inotify's open/close): only changes count, or
            // every rebuild, which reads the files, would trigger the next one.
            let paths: Vec<PathBuf> = events
                .iter()
                .filter(|e| !matches!(e.kind, notify::EventKind::Access(_)))
                .flat_map(|e| e.paths.iter())
                .filter(|p| relevant(&root_owned, p))
                .cloned()
                .collect();
            if !paths.is_empty() {
                let _ = tx.send(Trigger::Files(paths));
            }
        },
    )
    .map_err(|e| Diagnostic::error(format!("cannot watch the site's files: {e}")))?;
    // The root itself non-recursively (site.yaml is often replaced by a rename), the folders fully.
    debouncer
        .watch(root, RecursiveMode::NonRecursive)
        .map_err(|e| Diagnostic::error(format!("cannot watch {}: {e}", root.display())))?;
    for dir in [
        crate::load::CONTENT_DIR,
        crate::load::NEWSLETTER_DIR,
        crate::load::STATIC_DIR,
        crate::theme::THEMES_DIR,
    ] {
        let path = root.join(dir);
        if path.is_dir() {
            debouncer
                .watch(&path, RecursiveMode::Recursive)
                .map_err(|e| Diagnostic::error(format!("cannot watch {}: {e}", path.display())))?;
        }
    }
    Ok(debouncer)
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
