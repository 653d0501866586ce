//! Reading the site's files from disk: the first stage of the pipeline.
//!
//! Everything later works on [`SourceFile`]s in memory, so parsing and rendering are pure and run in
//! parallel. Unreadable and non-UTF-8 files become diagnostics here, each naming the file.
//!
//! Nothing outside the site folder is ever read: [`SiteRoot`] follows a symlink only when its
//! target stays inside the site and outside hidden folders such as `.ozg-site/`, and resolves every
//! path an editor writes (`downloads`, images) under the same rule.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use walkdir::WalkDir;

use crate::diagnostics::{Diagnostic, Diagnostics, Location, printable};

pub const CONTENT_DIR: &str = "content";
pub const NEWSLETTER_DIR: &str = "newsletters";
pub const STATIC_DIR: &str = "static";

/// Where a Markdown file comes from: the content tree or the newsletter editions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    Content,
    Newsletter,
}

/// A Markdown file read into memory.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub origin: Origin,
    /// Absolute (or root-joined) path on disk.
    pub path: PathBuf,
    /// Path relative to the site root, with `/`, as shown to editors: `content/aktuelles/x.md`.
    pub shown: PathBuf,
    /// The key `@/` links use: relative to `content/` (`aktuelles/x.md`), or `newsletters/x.md`.
    pub key: String,
    /// Shared, so keeping the files for the next rebuild costs no copy.
    pub text: std::sync::Arc<str>,
    /// xxh3 of the text: what caches of parsed and rendered files are keyed by.
    pub hash: u64,
    /// Size and modification time when read, so the preview re-reads only files that changed.
    pub stamp: Stamp,
}

impl SourceFile {
    /// The site folder the file lies in (`content`, `newsletters`) and its folder inside that
    /// (`sprechstunden/69-forum`, or `` at the top): what paths it names are relative to.
    pub fn folder(&self) -> (&'static str, &str) {
        let (within, inner) = match self.origin {
            Origin::Content => (CONTENT_DIR, self.key.as_str()),
            Origin::Newsletter => (
                NEWSLETTER_DIR,
                self.key
                    .strip_prefix(NEWSLETTER_DIR)
                    .map_or(self.key.as_str(), |k| k.trim_start_matches('/')),
            ),
        };
        (within, inner.rsplit_once('/').map_or("", |(dir, _)| dir))
    }
}

/// A file's size and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub len: u64,
    pub modified: Option<std::time::SystemTime>,
}

impl Stamp {
    pub fn of(path: &Path) -> Option<Stamp> {
        let meta = std::fs::metadata(path).ok()?;
        Some(Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

/// Files read by an earlier load, by path: unchanged ones (same stamp) are not read again.
pub type Previous = std::collections::HashMap<PathBuf, SourceFile>;

/// A non-Markdown file inside `content/` (page bundle assets, images).
#[derive(Debug, Clone)]
pub struct AssetFile {
    pub path: PathBuf,
    /// Relative to `content/`, with `/`.
    pub key: String,
}

#[derive(Debug, Default)]
pub struct Sources {
    pub markdown: Vec<SourceFile>,
    pub assets: Vec<AssetFile>,
}

/// Reads every Markdown file under `content/` and `newsletters/`, and lists the other files in `content/`.
pub fn load_sources(root: &Path) -> Result<Sources, Diagnostics> {
    load_sources_reusing(root, None)
}

/// Like [`load_sources`], but takes files whose size and modification time are unchanged from
/// `previous` instead of reading them again (the preview server's rebuilds).
pub fn load_sources_reusing(
    root: &Path,
    previous: Option<&Previous>,
) -> Result<Sources, Diagnostics> {
    let site = SiteRoot::new(root)?;
    let mut errors = Diagnostics::new();
    let mut candidates = Vec::new();
    let mut assets = Vec::new();
    let content = site.check_path(CONTENT_DIR)?;
    if !content.is_some_and(|c| c.is_dir()) {
        return Err(Diagnostic::error("the site has no content folder")
            .in_file(CONTENT_DIR)
            .hint("create `content/_index.md` for the home page")
            .into());
    }
    for (dir, origin) in [
        (CONTENT_DIR, Origin::Content),
        (NEWSLETTER_DIR, Origin::Newsletter),
    ] {
        for found in site.walk(dir, is_hidden_name, &mut errors) {
            let is_md = found.rel.ends_with(".md");
            match (origin, is_md) {
                (_, true) => candidates.push((origin, found.path, found.rel)),
                (Origin::Content, false) => assets.push(AssetFile {
                    path: found.path,
                    key: found.rel,
                }),
                (Origin::Newsletter, false) => {}
            }
        }
    }
    // `static/` is copied when rendering; its links are judged here, with everything else the
    // site reads, so one run reports them all.
    site.walk(STATIC_DIR, is_dot_name, &mut errors);

    let read: Vec<Result<SourceFile, Diagnostic>> = candidates
        .into_par_iter()
        .map(|(origin, path, rel)| {
            let (key, shown) = key_and_shown(origin, &rel);
            let stamp = Stamp::of(&path);
            if let (Some(prev), Some(stamp)) = (previous.and_then(|p| p.get(&path)), stamp)
                && prev.stamp == stamp
                && stamp.modified.is_some_and(settled)
            {
                return Ok(prev.clone());
            }
            read_source(origin, path, key, shown, stamp)
        })
        .collect();
    let mut markdown = Vec::with_capacity(read.len());
    for r in read {
        match r {
            Ok(f) => markdown.push(f),
            Err(d) => errors.push(d),
        }
    }
    if errors.has_errors() {
        return Err(errors);
    }
    Ok(Sources { markdown, assets })
}

/// The `@/` key and the shown path of a Markdown file at `rel` inside its origin's folder.
fn key_and_shown(origin: Origin, rel: &str) -> (String, PathBuf) {
    match origin {
        Origin::Content => (
            rel.to_string(),
            PathBuf::from(format!("{CONTENT_DIR}/{rel}")),
        ),
        Origin::Newsletter => {
            let key = format!("{NEWSLETTER_DIR}/{rel}");
            (key.clone(), PathBuf::from(key))
        }
    }
}

fn read_source(
    origin: Origin,
    path: PathBuf,
    key: String,
    shown: PathBuf,
    stamp: Option<Stamp>,
) -> Result<SourceFile, Diagnostic> {
    let text = read_text(&path, &shown)?;
    Ok(SourceFile {
        origin,
        path,
        shown,
        key,
        hash: xxhash_rust::xxh3::xxh3_64(text.as_bytes()),
        stamp: stamp.unwrap_or(Stamp {
            len: text.len() as u64,
            modified: None,
        }),
        text: text.into(),
    })
}

/// A Markdown source the site would load from `rel` (relative to the root, with `/`): its origin
/// and `@/` key; `None` for every other file.
pub fn markdown_source(rel: &str) -> Option<(Origin, String)> {
    if !rel.ends_with(".md") {
        return None;
    }
    let (origin, inner) = if let Some(r) = rel.strip_prefix("content/") {
        (Origin::Content, r)
    } else if let Some(r) = rel.strip_prefix("newsletters/") {
        (Origin::Newsletter, r)
    } else {
        return None;
    };
    if is_hidden(inner) {
        return None;
    }
    Some((origin, key_and_shown(origin, inner).0))
}

/// Reads the one Markdown file at `rel` (as [`markdown_source`] names it), as a full load would.
pub fn load_one(root: &Path, rel: &str) -> Option<Result<SourceFile, Diagnostic>> {
    let (origin, key) = markdown_source(rel)?;
    let inner = rel.split_once('/').map_or(rel, |(_, r)| r);
    let (_, shown) = key_and_shown(origin, inner);
    // The preview reads single changed files through here: a file replaced by a link to the
    // outside must be refused just as the full walk refuses it.
    let checked = SiteRoot::new(root).and_then(|site| site.check_path(rel));
    if let Err(d) = checked {
        return Some(Err(d));
    }
    let path = root.join(&shown);
    let stamp = Stamp::of(&path);
    Some(read_source(origin, path, key, shown, stamp))
}

/// File times have the granularity of a clock tick, so two saves in quick succession can leave the
/// same size and time: a file modified in the last two seconds is read again (as git does).
fn settled(modified: std::time::SystemTime) -> bool {
    modified
        .elapsed()
        .is_ok_and(|age| age > std::time::Duration::from_secs(2))
}

/// The size of a file the site offers (a download, slides, a video and its captions), for its
/// link label. `load` is the one stage that reads the site's files: the model asks it for the
/// files its pages name, and only for those.
pub fn file_len(path: &Path) -> std::io::Result<u64> {
    std::fs::metadata(path).map(|m| m.len())
}

/// The bytes of a file a page shows (an image, measured for its responsive sizes).
pub fn read_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
}

/// Reads a text file, reporting unreadable and non-UTF-8 files with the place of the first bad byte.
pub fn read_text(path: &Path, shown: &Path) -> Result<String, Diagnostic> {
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::error(format!("cannot read file: {}", io_reason(&e.to_string())))
            .in_file(shown)
            .hint("check that the file exists and is readable, or remove it")
    })?;
    let bytes = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&bytes)
        .to_vec();
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        // `valid_up_to` is the index of the first bad byte, so both halves exist.
        let (good, rest) = e.as_bytes().split_at_checked(valid).unwrap_or_default();
        // Show the line up to the bad byte so the editor can find it.
        let prefix = String::from_utf8_lossy(good).into_owned();
        let bad = rest.first().copied().unwrap_or_default();
        let line = rest.split(|&b| b == b'\n').next().unwrap_or_default();
        let text = String::from_utf8_lossy(&[good, line].concat()).into_owned();
        let mut loc = Location::at_offset(shown, &text, prefix.len(), 1);
        loc.width = 1;
        Diagnostic::error(format!(
            "file is not valid UTF-8 (byte 0x{bad:02X}); it was probably saved as Latin-1 or Windows-1252"
        ))
        .at(loc)
        .hint("save the file as UTF-8 in your editor (\"Speichern unter\" → Codierung UTF-8)")
    })
}

fn io_reason(message: &str) -> String {
    // std's messages end with " (os error 2)", which helps nobody editing content.
    match message.split_once(" (os error") {
        Some((reason, _)) => reason.to_lowercase(),
        None => message.to_lowercase(),
    }
}

fn slash_path(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Editor swap files and dot-folders (`.git`, `.DS_Store`, `foo.md~`) are not content.
fn is_hidden(rel: &str) -> bool {
    rel.split('/').any(is_hidden_name)
}

/// One name of [`is_hidden`]: dot-files, backups (`x~`) and Emacs lock files (`#x`).
fn is_hidden_name(name: &str) -> bool {
    is_dot_name(name) || name.ends_with('~') || name.starts_with('#')
}

/// Dot-files and dot-folders (`.git`, `.env`, `.htaccess`, `.ozg-site`): never published.
pub fn is_dot_name(name: &str) -> bool {
    name.starts_with('.')
}

/// Whether `name` names a folder directly inside `themes/`: no `/`, `\\`, `..`, dot or control
/// character, so `theme: ../../etc` cannot point the build at another folder.
pub fn is_folder_name(name: &str) -> bool {
    !name.is_empty()
        && !is_dot_name(name)
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control)
}

/// How many entries, and how many further links, one walk may reach through links to folders:
/// far more than a real site links, few enough that folders linking to one another
/// (`f0/x -> ../f1`, `f0/y -> ../f1`, … reach 2^n paths) cannot keep a build busy.
const MAX_FILES_THROUGH_LINKS: usize = 100_000;
const MAX_LINKS_THROUGH_LINKS: usize = 1_000;

/// The site folder as the build may read it.
///
/// Git stores symlinks, so one committed link such as
/// `content/aktuelles/daten.bin -> ../../.ozg-site/newsletter.sqlite` would publish whatever it
/// points to. A link is followed only when its canonical target lies inside the canonical root
/// and below no hidden folder or file (`.ozg-site/`, `.git/`, `.env`): those hold the subscriber
/// database, keys and history, and are never published. Every other link (outside, dangling, a
/// loop) is an editor error naming the link and its target. Plain files and folders are never
/// canonicalized, so a site without links pays nothing for the check.
#[derive(Debug, Clone)]
pub struct SiteRoot {
    /// The root as given (`--root`): paths shown to editors are relative to it.
    root: PathBuf,
    /// The root with every link in it resolved, which link targets are compared with.
    canonical: PathBuf,
}

/// A file found by [`SiteRoot::walk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Below the walked folder as it was reached (through a link, under the link's name).
    pub path: PathBuf,
    /// Relative to the walked folder, with `/`.
    pub rel: String,
}

/// Why the canonical form of a path may not be read.
enum Refusal {
    Outside,
    /// A hidden folder (`.ozg-site/`) or file (`.env`) of the site on the way: how to name it.
    Hidden(String),
    Missing,
    Unreadable(String),
}

/// Why a path an editor wrote (`downloads`, `slides`, `video`, an image) cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WrittenPathError {
    /// Empty, `//`, a control character or a backslash: what is wrong with it.
    Malformed(&'static str),
    /// `..` climbs out of the folder the path must stay in.
    Leaves { folder: &'static str },
    /// A folder or file name starting with a dot.
    Hidden,
    /// A link on the way leads outside the site or into a hidden folder.
    LinkOut,
    /// Nothing is there: the path as shown to the editor (`static/bilder/x.jpg`).
    Missing { shown: String },
    /// Something is there, but not a regular file (a folder, a pipe, a device).
    NotAFile,
}

impl std::fmt::Display for WrittenPathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WrittenPathError::Malformed(why) => f.write_str(why),
            WrittenPathError::Leaves { folder } => {
                write!(f, "`..` leads out of the `{folder}/` folder")
            }
            WrittenPathError::Hidden => f.write_str(
                "names starting with a dot are hidden files and folders, which are never published",
            ),
            WrittenPathError::LinkOut => {
                f.write_str("a link on the way leads outside the site or into a hidden folder")
            }
            WrittenPathError::Missing { shown } => write!(f, "{shown} does not exist"),
            WrittenPathError::NotAFile => f.write_str("it is not a regular file"),
        }
    }
}

impl WrittenPathError {
    /// How to fix it, for the cases a caller does not explain in its own words.
    pub fn hint(&self) -> &'static str {
        match self {
            WrittenPathError::LinkOut => {
                "copy the file into the site instead of linking to it: the build publishes only what lies inside the site folder"
            }
            _ => {
                "name a file in the page's folder (`folien.pdf`), or one in static/ with a leading slash (`/dateien/folien.pdf`)"
            }
        }
    }
}

impl SiteRoot {
    pub fn new(root: &Path) -> Result<SiteRoot, Diagnostic> {
        let canonical = root.canonicalize().map_err(|e| {
            Diagnostic::error(format!(
                "cannot read the site folder {}: {}",
                printable(&root.to_string_lossy()),
                io_reason(&e.to_string())
            ))
            .hint("pass the folder holding site.yaml with --root")
        })?;
        Ok(SiteRoot {
            root: root.to_path_buf(),
            canonical,
        })
    }

    /// The root as given.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `path` (below the root as given) as editors see it: relative, with `/`, control
    /// characters shown as pictures so a file name cannot rewrite the terminal.
    pub fn shown(&self, path: &Path) -> PathBuf {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        PathBuf::from(printable(&slash_path(rel)))
    }

    /// The canonical target of the link at `link`, whose folder's canonical path is `parent`, if
    /// the build may read it. Resolving from the known folder keeps the work per link small even
    /// deep inside folders reached through other links.
    fn resolve_link(&self, link: &Path, parent: &Path) -> Result<PathBuf, Refusal> {
        let unreadable = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::NotFound => Refusal::Missing,
            _ => Refusal::Unreadable(io_reason(&e.to_string())),
        };
        let target = std::fs::read_link(link).map_err(unreadable)?;
        let canonical = parent.join(target).canonicalize().map_err(unreadable)?;
        self.allowed(&canonical)?;
        Ok(canonical)
    }

    /// Whether the build may read the canonical path `canonical`.
    fn allowed(&self, canonical: &Path) -> Result<(), Refusal> {
        let inner = canonical
            .strip_prefix(&self.canonical)
            .map_err(|_| Refusal::Outside)?;
        let names: Vec<_> = inner
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect();
        match names.iter().enumerate().find(|(_, name)| is_dot_name(name)) {
            Some((i, name)) if i + 1 < names.len() => Err(Refusal::Hidden(format!(
                "the hidden folder `{}/`",
                printable(name)
            ))),
            Some((_, name)) => Err(Refusal::Hidden(format!(
                "the hidden file `{}`",
                printable(name)
            ))),
            None => Ok(()),
        }
    }

    /// The diagnostic for the link at `link` that may not be followed.
    fn refused_link(&self, link: &Path, why: Refusal) -> Diagnostic {
        let shown = self.shown(link);
        let target = std::fs::read_link(link)
            .map(|t| printable(&t.to_string_lossy()))
            .unwrap_or_else(|_| "?".to_string());
        let named = format!(
            "cannot read `{}`: it is a link to `{target}`",
            shown.display()
        );
        let (message, hint) = match why {
            Refusal::Outside => (
                format!("{named}, outside the site folder"),
                "copy the file or folder into the site instead of linking to it, or remove the link: the build publishes only what lies inside the site folder".to_string(),
            ),
            Refusal::Hidden(what) => (
                format!("{named}, into {what}"),
                "hidden files and folders (`.ozg-site/`, `.git/`, `.env`) are never published: remove the link, or copy the file to a visible place in the site if it is meant to be read".to_string(),
            ),
            Refusal::Missing => (
                format!("{named}, which does not exist"),
                "correct the link's target or remove the link".to_string(),
            ),
            Refusal::Unreadable(reason) => (
                format!("{named} that cannot be followed: {reason}"),
                "a link that leads back to itself (directly or through other links) never ends: remove it, or copy the file into the site".to_string(),
            ),
        };
        Diagnostic::error(message).in_file(shown).hint(hint)
    }

    /// The first link among `rel`'s folders and itself, for naming the culprit of a refusal.
    fn first_link(&self, rel: &str) -> Option<PathBuf> {
        let mut path = self.root.clone();
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            path.push(part);
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                return Some(path);
            }
        }
        None
    }

    /// Checks `rel` (relative to the root, with `/`: `content`, `themes/mini/templates`,
    /// `site.yaml`) before the build reads it: `None` if nothing is there, an error if a link in
    /// it may not be followed.
    pub fn check_path(&self, rel: &str) -> Result<Option<PathBuf>, Diagnostic> {
        let path = self.root.join(rel);
        let refuse = |why| {
            let link = self.first_link(rel).unwrap_or_else(|| path.clone());
            self.refused_link(&link, why)
        };
        match path.canonicalize() {
            // No link on the way: the common case costs one `realpath`.
            Ok(c) if c == self.canonical.join(rel) => Ok(Some(path)),
            Ok(c) => match self.allowed(&c) {
                Ok(()) => Ok(Some(path)),
                Err(why) => Err(refuse(why)),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match self.first_link(rel) {
                    // A dangling link is a mistake to name; a missing folder is for the caller.
                    Some(_) => Err(refuse(Refusal::Missing)),
                    None => Ok(None),
                }
            }
            Err(e) => Err(refuse(Refusal::Unreadable(io_reason(&e.to_string())))),
        }
    }

    /// Every file below the folder `dir` (relative to the root), in file name order; entries
    /// whose name `hidden` accepts are skipped with everything below them. Links are followed
    /// where the build may read their target (folders included, not into themselves); every
    /// other link, every unreadable folder and every pipe, socket or device is an error in
    /// `errors`. A folder that does not exist has no files.
    pub fn walk(
        &self,
        dir: &str,
        hidden: fn(&str) -> bool,
        errors: &mut Diagnostics,
    ) -> Vec<Found> {
        let base = match self.check_path(dir) {
            Ok(Some(base)) if base.is_dir() => base,
            Ok(_) => return Vec::new(),
            Err(d) => {
                errors.push(d);
                return Vec::new();
            }
        };
        let canonical = match base.canonicalize() {
            Ok(c) => c,
            Err(e) => {
                errors.push(
                    Diagnostic::error(format!("cannot read: {}", io_reason(&e.to_string())))
                        .in_file(self.shown(&base))
                        .hint("check that the folder exists and is readable"),
                );
                return Vec::new();
            }
        };
        let mut walk = Walk {
            site: self,
            hidden,
            found: Vec::new(),
            errors,
            link_parents: Vec::new(),
            through_links: (0, 0),
            exhausted: false,
        };
        walk.folder(&base, &canonical, "");
        walk.found
    }

    /// The file an editor names in front matter or Markdown: `written` (without a leading `/`)
    /// relative to the folder `from` inside the site folder `within` (`content`, `newsletters`,
    /// `static`), which `..` may not leave. Returns the file's path below the root.
    pub fn written_file(
        &self,
        within: &'static str,
        from: &str,
        written: &str,
    ) -> Result<PathBuf, WrittenPathError> {
        if written.trim().is_empty() {
            return Err(WrittenPathError::Malformed("the path is empty"));
        }
        if written.chars().any(char::is_control) {
            return Err(WrittenPathError::Malformed(
                "the path contains a control character",
            ));
        }
        if written.contains('\\') {
            return Err(WrittenPathError::Malformed(
                "the path contains `\\`; separate folders with `/`",
            ));
        }
        let mut parts: Vec<&str> = from.split('/').filter(|p| !p.is_empty()).collect();
        for part in written.split('/') {
            match part {
                "" => {
                    return Err(WrittenPathError::Malformed(
                        "the path has an empty folder name (`//`, or `/` at the end)",
                    ));
                }
                "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(WrittenPathError::Leaves { folder: within });
                    }
                }
                name if is_dot_name(name) => return Err(WrittenPathError::Hidden),
                name => parts.push(name),
            }
        }
        let mut path = self.root.join(within);
        path.extend(&parts);
        let mut plain = self.canonical.join(within);
        plain.extend(&parts);
        let missing = || WrittenPathError::Missing {
            shown: self.shown(&path).to_string_lossy().into_owned(),
        };
        let canonical = match path.canonicalize() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing()),
            // A link loop on the way: it leads nowhere inside the site.
            Err(_) => return Err(WrittenPathError::LinkOut),
        };
        if canonical != plain && self.allowed(&canonical).is_err() {
            return Err(WrittenPathError::LinkOut);
        }
        match std::fs::metadata(&canonical) {
            Ok(m) if m.is_file() => Ok(path),
            Ok(_) => Err(WrittenPathError::NotAFile),
            Err(_) => Err(missing()),
        }
    }
}

/// One [`SiteRoot::walk`] in progress.
struct Walk<'a> {
    site: &'a SiteRoot,
    hidden: fn(&str) -> bool,
    found: Vec<Found>,
    errors: &'a mut Diagnostics,
    /// The canonical folders holding the links to folders being walked through, outermost first.
    link_parents: Vec<PathBuf>,
    /// Entries and links reached through links to folders so far.
    through_links: (usize, usize),
    /// The budget is spent: nothing more is followed (and the error is reported once).
    exhausted: bool,
}

impl Walk<'_> {
    /// Walks `dir` (reached as its files' paths should read; `canonical` is where it really is),
    /// its files' `rel` starting with `prefix`.
    fn folder(&mut self, dir: &Path, canonical: &Path, prefix: &str) {
        let hidden = self.hidden;
        let entries = WalkDir::new(dir)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !hidden(&e.file_name().to_string_lossy()));
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let shown = e
                        .path()
                        .map_or_else(|| self.site.shown(dir), |p| self.site.shown(p));
                    self.errors.push(
                        Diagnostic::error(format!("cannot read: {}", io_reason(&e.to_string())))
                            .in_file(shown)
                            .hint("check that the file exists and is readable, or remove it"),
                    );
                    continue;
                }
            };
            if entry.depth() == 0 {
                continue;
            }
            if !self.within_budget(entry.path_is_symlink(), dir) {
                return;
            }
            let Ok(inner) = entry.path().strip_prefix(dir) else {
                continue;
            };
            let rel = match prefix {
                "" => slash_path(inner),
                _ => format!("{prefix}/{}", slash_path(inner)),
            };
            let kind = entry.file_type();
            if kind.is_dir() {
                continue;
            }
            if kind.is_file() {
                self.found.push(Found {
                    path: entry.into_path(),
                    rel,
                });
            } else if kind.is_symlink() {
                // Folders below `dir` are real ones (links are walked on their own), so the
                // link's folder really is there.
                let parent = canonical.join(inner.parent().unwrap_or(Path::new("")));
                self.link(entry.path(), &parent, rel);
            } else {
                self.errors.push(not_a_file(self.site.shown(entry.path())));
            }
        }
    }

    /// Counts an entry reached through a link to a folder; `false` (and an error) once a walk
    /// has reached too many.
    fn within_budget(&mut self, is_link: bool, dir: &Path) -> bool {
        if self.link_parents.is_empty() {
            return true;
        }
        if self.exhausted {
            return false;
        }
        self.through_links.0 += 1;
        self.through_links.1 += usize::from(is_link);
        if self.through_links.0 <= MAX_FILES_THROUGH_LINKS
            && self.through_links.1 <= MAX_LINKS_THROUGH_LINKS
        {
            return true;
        }
        self.exhausted = true;
        self.errors.push(
            Diagnostic::error(format!(
                "more than {MAX_FILES_THROUGH_LINKS} files or {MAX_LINKS_THROUGH_LINKS} links are reached through links to folders"
            ))
            .in_file(self.site.shown(dir))
            .hint("links to folders should add a few files, not copies of the site: remove some of them"),
        );
        false
    }

    /// Follows the link at `link` (in the canonical folder `parent`) if the build may read its target.
    fn link(&mut self, link: &Path, parent: &Path, rel: String) {
        let target = match self.site.resolve_link(link, parent) {
            Ok(t) => t,
            Err(why) => {
                self.errors.push(self.site.refused_link(link, why));
                return;
            }
        };
        match std::fs::metadata(&target) {
            Ok(m) if m.is_file() => self.found.push(Found {
                path: link.to_path_buf(),
                rel,
            }),
            Ok(m) if m.is_dir() => {
                // Following a link to a folder that holds the link (or a link that led here)
                // would walk the same files forever.
                let looping = self
                    .link_parents
                    .iter()
                    .map(PathBuf::as_path)
                    .chain(std::iter::once(parent))
                    .any(|p| p.starts_with(&target));
                if looping {
                    let shown = self.site.shown(link);
                    let to = std::fs::read_link(link)
                        .map(|t| printable(&t.to_string_lossy()))
                        .unwrap_or_default();
                    self.errors.push(
                        Diagnostic::error(format!(
                            "cannot read `{}`: it is a link to `{to}`, a folder the link itself lies in, so following it would never end",
                            shown.display()
                        ))
                        .in_file(shown)
                        .hint("remove the link, or link to the files it should add instead"),
                    );
                    return;
                }
                self.link_parents.push(parent.to_path_buf());
                self.folder(link, &target, &rel);
                self.link_parents.pop();
            }
            _ => self.errors.push(not_a_file(self.site.shown(link))),
        }
    }
}

fn not_a_file(shown: PathBuf) -> Diagnostic {
    Diagnostic::error(format!(
        "`{}` is not a regular file (a pipe, socket or device)",
        shown.display()
    ))
    .in_file(shown)
    .hint("remove it from the site folder: only files and folders can be published")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.md");
        std::fs::write(&p, b"---\ntitle: Gr\xF6\xDFe\n---\n").unwrap();
        let d = read_text(&p, Path::new("content/a.md")).unwrap_err();
        let loc = d.location.unwrap();
        assert_eq!((loc.line, loc.column), (2, 10));
        assert!(d.message.contains("0xF6"));
    }

    #[test]
    fn bom_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.md");
        std::fs::write(&p, "\u{FEFF}---\n").unwrap();
        assert_eq!(read_text(&p, Path::new("a.md")).unwrap(), "---\n");
    }

    use std::os::unix::fs::symlink;

    /// A site folder with `content/a/bild.png`, `static/x.pdf`, `.ozg-site/db` and a folder outside.
    fn site() -> (tempfile::TempDir, SiteRoot) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        for (rel, text) in [
            ("content/a/bild.png", "png"),
            ("static/x.pdf", "pdf"),
            (".ozg-site/db", "geheim"),
            ("outside/secret.txt", "geheim"),
        ] {
            let p = if rel.starts_with("outside") {
                dir.path().join(rel)
            } else {
                root.join(rel)
            };
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let site = SiteRoot::new(&root).unwrap();
        (dir, site)
    }

    fn walk(site: &SiteRoot, dir: &str) -> (Vec<String>, Vec<String>) {
        let mut errors = Diagnostics::new();
        let found = site.walk(dir, is_hidden_name, &mut errors);
        (
            found.into_iter().map(|f| f.rel).collect(),
            errors.iter().map(|d| d.message.clone()).collect(),
        )
    }

    #[test]
    fn links_inside_the_site_are_followed_and_all_others_refused() {
        let (dir, site) = site();
        let root = site.path().to_path_buf();
        let c = root.join("content");
        symlink("../static/x.pdf", c.join("folien.pdf")).unwrap();
        symlink("../static", c.join("auch-static")).unwrap();
        symlink("../.ozg-site/db", c.join("daten.bin")).unwrap();
        symlink(dir.path().join("outside"), c.join("draussen")).unwrap();
        symlink("/etc/passwd", c.join("passwd")).unwrap();
        symlink("nirgends", c.join("kaputt")).unwrap();
        symlink("schleife", c.join("schleife")).unwrap();
        symlink("..", c.join("a/hoch")).unwrap();
        let (found, errors) = walk(&site, "content");
        assert_eq!(found, ["a/bild.png", "auch-static/x.pdf", "folien.pdf"]);
        let expect = [
            "`content/daten.bin`: it is a link to `../.ozg-site/db`, into the hidden folder `.ozg-site/`",
            "`content/a/hoch`: it is a link to `..`, a folder the link itself lies in",
            "`content/draussen`: it is a link to `",
            "`content/passwd`: it is a link to `/etc/passwd`, outside the site folder",
            "`content/kaputt`: it is a link to `nirgends`, which does not exist",
            "`content/schleife`: it is a link to `schleife` that cannot be followed",
        ];
        for e in expect {
            assert!(errors.iter().any(|m| m.contains(e)), "{e}\n{errors:#?}");
        }
        assert_eq!(errors.len(), expect.len(), "{errors:#?}");
    }

    #[test]
    fn links_between_folders_cannot_loop_or_fan_out_forever() {
        let (_dir, site) = site();
        let c = site.path().join("content");
        std::fs::create_dir_all(c.join("b")).unwrap();
        symlink("../b", c.join("a/zu-b")).unwrap();
        symlink("../a", c.join("b/zu-a")).unwrap();
        let (found, errors) = walk(&site, "content");
        // `a/zu-b/zu-a` and `b/zu-a/zu-b` lead back into folders being walked.
        assert_eq!(found, ["a/bild.png", "b/zu-a/bild.png"]);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().all(|m| m.contains("never end")), "{errors:?}");

        // Two links from each of 20 folders to the next reach 2^20 paths without any loop.
        for i in 0..20 {
            let d = c.join(format!("f{i}"));
            std::fs::create_dir_all(&d).unwrap();
            symlink(format!("../f{}", i + 1), d.join("x")).unwrap();
            symlink(format!("../f{}", i + 1), d.join("y")).unwrap();
        }
        std::fs::create_dir_all(c.join("f20")).unwrap();
        let (_, errors) = walk(&site, "content");
        let spent = errors
            .iter()
            .filter(|m| m.contains("links are reached through links"))
            .count();
        assert_eq!(spent, 1, "{errors:?}");
    }

    #[test]
    fn a_folder_the_build_reads_may_itself_not_be_a_link_out() {
        let (dir, site) = site();
        std::fs::remove_dir_all(site.path().join("static")).unwrap();
        symlink(dir.path().join("outside"), site.path().join("static")).unwrap();
        let (found, errors) = walk(&site, "static");
        assert!(found.is_empty());
        assert!(
            errors[0].contains("`static`: it is a link to"),
            "{errors:?}"
        );
        assert_eq!(site.check_path("themes/nicht-da").unwrap(), None);
    }

    #[test]
    fn pipes_are_refused_rather_than_read_forever() {
        let (_dir, site) = site();
        let fifo = site.path().join("content/a/rohr.md");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return; // no mkfifo on this machine: nothing to test
        }
        let (found, errors) = walk(&site, "content");
        assert_eq!(found, ["a/bild.png"]);
        assert!(errors[0].contains("not a regular file"), "{errors:?}");
    }

    /// A written path, where it is written, and the file it names or a test of the error.
    type Case<'a> = (
        &'static str,
        &'a str,
        &'a str,
        Result<&'a str, &'a dyn Fn(&WrittenPathError) -> bool>,
    );

    #[test]
    fn written_paths_stay_in_their_folder() {
        let (dir, site) = site();
        let c = site.path().join("content");
        symlink(dir.path().join("outside/secret.txt"), c.join("a/raus.txt")).unwrap();
        symlink("../../.ozg-site/db", c.join("a/db.txt")).unwrap();
        symlink("../../static/x.pdf", c.join("a/drin.pdf")).unwrap();
        let leaves = WrittenPathError::Leaves {
            folder: CONTENT_DIR,
        };
        let malformed = |e: &WrittenPathError| matches!(e, WrittenPathError::Malformed(_));
        let cases: [Case<'_>; 15] = [
            (CONTENT_DIR, "a", "bild.png", Ok("content/a/bild.png")),
            (CONTENT_DIR, "a", "./bild.png", Ok("content/a/bild.png")),
            (CONTENT_DIR, "a/b", "../bild.png", Ok("content/a/bild.png")),
            (CONTENT_DIR, "a", "drin.pdf", Ok("content/a/drin.pdf")),
            (STATIC_DIR, "", "x.pdf", Ok("static/x.pdf")),
            (CONTENT_DIR, "a", "../../site.yaml", Err(&|e| *e == leaves)),
            (
                CONTENT_DIR,
                "a",
                "../../../../../../etc/passwd",
                Err(&|e| *e == leaves),
            ),
            (STATIC_DIR, "", "/etc/passwd", Err(&malformed)),
            (STATIC_DIR, "", "..\\..\\x", Err(&malformed)),
            (CONTENT_DIR, "a", "bild\u{0}.png", Err(&malformed)),
            (CONTENT_DIR, "a", "", Err(&malformed)),
            (
                STATIC_DIR,
                "",
                ".env",
                Err(&|e| *e == WrittenPathError::Hidden),
            ),
            (
                CONTENT_DIR,
                "a",
                "raus.txt",
                Err(&|e| *e == WrittenPathError::LinkOut),
            ),
            (
                CONTENT_DIR,
                "a",
                "db.txt",
                Err(&|e| *e == WrittenPathError::LinkOut),
            ),
            (
                CONTENT_DIR,
                "",
                "a",
                Err(&|e| *e == WrittenPathError::NotAFile),
            ),
        ];
        for (within, from, written, expected) in cases {
            let got = site.written_file(within, from, written);
            match (expected, got) {
                (Ok(rel), Ok(path)) => assert_eq!(path, site.path().join(rel), "{written}"),
                (Err(is), Err(e)) => assert!(is(&e), "{written}: {e:?}"),
                (_, got) => panic!("{written}: {got:?}"),
            }
        }
        let missing = site
            .written_file(CONTENT_DIR, "a", "fehlt.pdf")
            .unwrap_err();
        assert_eq!(missing.to_string(), "content/a/fehlt.pdf does not exist");
    }

    #[test]
    fn names_from_disk_cannot_rewrite_the_terminal() {
        assert_eq!(
            printable("a\u{1b}[2Jb\rc\u{0}\u{7f}\u{9b}"),
            "a␛[2Jb␍c␀␡\u{FFFD}"
        );
        assert_eq!(printable("Größe.md"), "Größe.md");
    }

    #[test]
    fn hidden_files_are_skipped() {
        assert!(is_hidden(".git/x.md"));
        assert!(is_hidden("a/.#b.md"));
        assert!(is_hidden("a/b.md~"));
        assert!(!is_hidden("a/b.md"));
    }
}
