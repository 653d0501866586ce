//! Writing the site atomically: build into a sibling folder, swap it in only when everything worked.
//!
//! A failed build (content error, template error, full disk) leaves the previous output untouched,
//! byte for byte, so a web server never serves a half-written site.

use std::io;
use std::path::{Path, PathBuf};

use crate::diagnostics::Diagnostic;
use crate::render::Sink;

impl Sink for Staging {
    fn write(&self, rel: &str, contents: &[u8]) -> Result<(), Diagnostic> {
        Staging::write(self, rel, contents)
    }

    fn copy(&self, rel: &str, source: &Path) -> Result<(), Diagnostic> {
        Staging::copy(self, rel, source)
    }
}

/// One file of an in-memory site: rendered bytes, or a file on disk served as it is.
#[derive(Debug, Clone, Eq)]
pub enum MemoryFile {
    Bytes(std::sync::Arc<Vec<u8>>),
    /// Served from disk; size and modification time tell a rebuild whether it changed.
    Disk {
        path: PathBuf,
        len: u64,
        modified: Option<std::time::SystemTime>,
    },
}

impl PartialEq for MemoryFile {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            // Outputs reused from the preview's memo are the same allocation: no need to compare bytes.
            (MemoryFile::Bytes(a), MemoryFile::Bytes(b)) => std::sync::Arc::ptr_eq(a, b) || a == b,
            (
                MemoryFile::Disk {
                    path,
                    len,
                    modified,
                },
                MemoryFile::Disk {
                    path: p2,
                    len: l2,
                    modified: m2,
                },
            ) => path == p2 && len == l2 && modified == m2,
            _ => false,
        }
    }
}

/// An output held in memory (the preview server serves from it and updates it in place).
#[derive(Debug, Default)]
pub struct Memory {
    pub files: std::sync::Mutex<std::collections::BTreeMap<String, MemoryFile>>,
}

impl Memory {
    fn insert(&self, rel: &str, file: MemoryFile) -> Result<(), Diagnostic> {
        let rel = output_path(rel)?.to_string();
        // A map insert is whole or not done: a thread that panicked cannot have left half of one.
        crate::sync::lock(&self.files).insert(rel, file);
        Ok(())
    }

    /// The files, taken out.
    pub fn into_files(self) -> std::collections::BTreeMap<String, MemoryFile> {
        crate::sync::into_inner(self.files)
    }

    /// The files, for serving and comparing.
    pub fn snapshot(&self) -> std::collections::BTreeMap<String, MemoryFile> {
        crate::sync::lock(&self.files).clone()
    }
}

impl Sink for Memory {
    fn write(&self, rel: &str, contents: &[u8]) -> Result<(), Diagnostic> {
        self.insert(
            rel,
            MemoryFile::Bytes(std::sync::Arc::new(contents.to_vec())),
        )
    }

    fn copy(&self, rel: &str, source: &Path) -> Result<(), Diagnostic> {
        let meta = std::fs::metadata(source).map_err(|e| io_error(source, "read", &e))?;
        self.insert(
            rel,
            MemoryFile::Disk {
                path: source.to_path_buf(),
                len: meta.len(),
                modified: meta.modified().ok(),
            },
        )
    }
}

/// A folder being filled with a new build; dropped without [`Staging::commit`], it is removed.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Staging {
    /// The folder being written.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Creates `.<name>.building-<pid>` next to `target`.
    pub fn new(target: &Path) -> Result<Staging, Diagnostic> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "public".to_string());
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| io_error(&parent, "create the folder", &e))?;
        let dir = parent.join(format!(".{name}.building-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| io_error(&dir, "remove a stale build folder", &e))?;
        }
        std::fs::create_dir(&dir).map_err(|e| io_error(&dir, "create the build folder", &e))?;
        Ok(Staging {
            dir,
            target: target.to_path_buf(),
            committed: false,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `contents` to `rel` (a `/`-separated path inside the output), creating folders.
    pub fn write(&self, rel: &str, contents: &[u8]) -> Result<(), Diagnostic> {
        let path = self.path_of(rel)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| io_error(parent, "create the folder", &e))?;
        }
        std::fs::write(&path, contents).map_err(|e| io_error(&path, "write", &e))
    }

    /// Copies a file into the output; a hard link would let later edits leak into a published build.
    pub fn copy(&self, rel: &str, source: &Path) -> Result<(), Diagnostic> {
        let path = self.path_of(rel)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| io_error(parent, "create the folder", &e))?;
        }
        std::fs::copy(source, &path)
            .map(|_| ())
            .map_err(|e| io_error(source, "copy", &e))
    }

    fn path_of(&self, rel: &str) -> Result<PathBuf, Diagnostic> {
        Ok(self.dir.join(output_path(rel)?))
    }

    /// Swaps the new build in: the old output is moved aside, the new one renamed into place, the
    /// old one deleted. Both renames stay within one folder, so each is atomic.
    pub fn commit(mut self) -> Result<(), Diagnostic> {
        let parent = self.dir.parent().map(Path::to_path_buf).unwrap_or_default();
        let old = parent.join(format!(
            ".{}.old-{}",
            self.target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        let had_old = self.target.exists();
        if had_old {
            std::fs::rename(&self.target, &old)
                .map_err(|e| io_error(&self.target, "move aside", &e))?;
        }
        if let Err(e) = std::fs::rename(&self.dir, &self.target) {
            if had_old {
                // Put the previous build back so the site keeps being served.
                let _ = std::fs::rename(&old, &self.target);
            }
            return Err(io_error(&self.target, "replace", &e));
        }
        self.committed = true;
        if had_old {
            remove_dir_all_parallel(&old);
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Deletes a large output folder using every core: files in parallel, then folders deepest first.
/// A leftover (e.g. a file locked on a network share) is not an error: the new site is in place.
fn remove_dir_all_parallel(dir: &Path) {
    use rayon::prelude::*;
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        if entry.file_type().is_dir() {
            dirs.push((entry.depth(), entry.into_path()));
        } else {
            files.push(entry.into_path());
        }
    }
    files.par_iter().for_each(|f| {
        let _ = std::fs::remove_file(f);
    });
    dirs.sort_by_key(|d| std::cmp::Reverse(d.0));
    for (_, d) in dirs {
        let _ = std::fs::remove_dir(&d);
    }
    if dir.exists() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// `rel` without its leading `/`, if a sink may write it: never outside the output folder, and
/// never a dot-file or dot-folder (`.htaccess`, `.env`, `.git/`, `.ozg-site/`), whichever stage
/// asks. Every sink checks here, so the build and the preview publish the same files.
fn output_path(rel: &str) -> Result<&str, Diagnostic> {
    let rel = rel.trim_start_matches('/');
    let shown = || crate::diagnostics::printable(rel);
    if rel.split('/').any(|p| p == "..") {
        return Err(Diagnostic::error(format!(
            "refusing to write outside the output folder: {}",
            shown()
        )));
    }
    if rel.split('/').any(crate::load::is_dot_name) {
        return Err(
            Diagnostic::error(format!("refusing to publish the hidden file {}", shown()))
                .hint("names starting with a dot are never published; rename the file or folder"),
        );
    }
    Ok(rel)
}

fn io_error(path: &Path, what: &str, e: &io::Error) -> Diagnostic {
    Diagnostic::error(format!("cannot {what} {}: {e}", path.display()))
        .hint("check free disk space and permissions of the output folder")
}

/// Refuses output folders whose replacement would destroy the site itself.
pub fn check_output_dir(root: &Path, output: &Path) -> Result<(), Diagnostic> {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (root, output) = (abs(root), abs(output));
    let dangerous = output == root
        || root.starts_with(&output)
        || output.join(crate::config::CONFIG_FILE).exists()
        || [
            crate::load::CONTENT_DIR,
            crate::load::NEWSLETTER_DIR,
            crate::theme::THEMES_DIR,
            crate::load::STATIC_DIR,
        ]
        .iter()
        .any(|d| output.starts_with(root.join(d)));
    if dangerous {
        return Err(Diagnostic::error(format!(
            "refusing to use {} as the output folder: it would replace the site's own files",
            output.display()
        ))
        .hint("pass an output folder of its own, e.g. --output public"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_output_keeps_its_files_after_a_panic_while_it_was_locked() {
        let memory = Memory::default();
        memory.write("a/index.html", b"a").unwrap();
        crate::sync::poison(&memory.files);
        memory.write("b/index.html", b"b").unwrap();
        assert_eq!(memory.snapshot().len(), 2);
        assert_eq!(memory.into_files().len(), 2);
    }

    #[test]
    fn uncommitted_build_leaves_previous_output() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("public");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("index.html"), "alt").unwrap();
        {
            let s = Staging::new(&target).unwrap();
            s.write("index.html", b"neu").unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(target.join("index.html")).unwrap(),
            "alt"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn commit_replaces_output() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("public");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("stale.html"), "alt").unwrap();
        let s = Staging::new(&target).unwrap();
        s.write("a/index.html", b"neu").unwrap();
        s.commit().unwrap();
        assert_eq!(
            std::fs::read_to_string(target.join("a/index.html")).unwrap(),
            "neu"
        );
        assert!(!target.join("stale.html").exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn no_sink_writes_a_dot_file_or_outside_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging::new(&dir.path().join("public")).unwrap();
        let memory = Memory::default();
        let sinks: [&dyn Sink; 2] = [&staging, &memory];
        for sink in sinks {
            for rel in [
                ".htaccess",
                "/.env",
                "a/.git/config",
                ".ozg-site/x",
                "../x",
                "a/../../x",
            ] {
                assert!(sink.write(rel, b"x").is_err(), "{rel}");
            }
            sink.write("/a/b.html", b"x").unwrap();
        }
        assert!(memory.snapshot().contains_key("a/b.html"));
        assert!(staging.path().join("a/b.html").is_file());
        assert!(!staging.path().join(".htaccess").exists());
    }

    #[test]
    fn refuses_to_replace_the_site() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_output_dir(dir.path(), dir.path()).is_err());
        assert!(check_output_dir(&dir.path().join("x"), dir.path()).is_err());
        assert!(check_output_dir(dir.path(), &dir.path().join("content/out")).is_err());
        assert!(check_output_dir(dir.path(), &dir.path().join("public")).is_ok());
    }
}
