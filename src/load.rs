//! Reading the site's files from disk: the first stage of the pipeline.
//!
//! Everything later works on [`SourceFile`]s in memory, so parsing and rendering are pure and run in
//! parallel. Unreadable and non-UTF-8 files become diagnostics here, each naming the file.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use walkdir::WalkDir;

use crate::diagnostics::{Diagnostic, Diagnostics, Location};

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
    let mut errors = Diagnostics::new();
    let mut candidates = Vec::new();
    let mut assets = Vec::new();
    let content = root.join(CONTENT_DIR);
    if !content.is_dir() {
        return Err(Diagnostic::error("the site has no content folder")
            .in_file(CONTENT_DIR)
            .hint("create `content/_index.md` for the home page")
            .into());
    }
    for (dir, origin) in [
        (CONTENT_DIR, Origin::Content),
        (NEWSLETTER_DIR, Origin::Newsletter),
    ] {
        let base = root.join(dir);
        if !base.is_dir() {
            continue;
        }
        for entry in WalkDir::new(&base).sort_by_file_name().follow_links(true) {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let shown = e
                        .path()
                        .and_then(|p| p.strip_prefix(root).ok())
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| PathBuf::from(dir));
                    // A dangling link or unreadable folder: name it rather than silently skip it.
                    errors.push(
                        Diagnostic::error(format!("cannot read: {}", io_reason(&e.to_string())))
                            .in_file(shown)
                            .hint("check that the file exists and is readable, or remove it"),
                    );
                    continue;
                }
            };
            if entry.file_type().is_dir() {
                continue;
            }
            let rel = match entry.path().strip_prefix(&base) {
                Ok(r) => slash_path(r),
                Err(_) => continue,
            };
            if is_hidden(&rel) {
                continue;
            }
            let is_md = rel.ends_with(".md");
            match (origin, is_md) {
                (_, true) => candidates.push((origin, entry.path().to_path_buf(), rel)),
                (Origin::Content, false) => assets.push(AssetFile {
                    path: entry.path().to_path_buf(),
                    key: rel,
                }),
                (Origin::Newsletter, false) => {}
            }
        }
    }

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
        let bytes = e.as_bytes();
        // Show the line up to the bad byte so the editor can find it.
        let prefix = String::from_utf8_lossy(&bytes[..valid]).into_owned();
        let bad = bytes[valid];
        let line_end = bytes[valid..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| valid + i);
        let text = String::from_utf8_lossy(&bytes[..line_end]).into_owned();
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
    match message.find(" (os error") {
        Some(i) => message[..i].to_lowercase(),
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
    rel.split('/')
        .any(|part| part.starts_with('.') || part.ends_with('~') || part.starts_with("#"))
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

    #[test]
    fn hidden_files_are_skipped() {
        assert!(is_hidden(".git/x.md"));
        assert!(is_hidden("a/.#b.md"));
        assert!(is_hidden("a/b.md~"));
        assert!(!is_hidden("a/b.md"));
    }
}
