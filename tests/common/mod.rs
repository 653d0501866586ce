//! Helpers for running the real `ozg-site` binary on copies of the fixture sites.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// "Now" for fixture builds: 5 December 2025, 13:00 in Berlin (advent doors 1–5 are open).
pub const NOW: &str = "2025-12-05T13:00:00+01:00";

/// A temporary copy of a fixture site; deleted on drop.
pub struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    pub fn fixture(name: &str) -> Site {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(&src, dir.path());
        Site { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn public(&self) -> PathBuf {
        self.path("public")
    }

    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("has parent")).expect("mkdir");
        std::fs::write(p, contents).expect("write");
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// Runs `ozg-site <args> --root <site>`.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.push("--root");
        let root = self.root().to_string_lossy().into_owned();
        all.push(&root);
        ozg(&all)
    }

    pub fn build(&self) -> Run {
        self.run(&["build", "--now", NOW])
    }

    /// Every file below `public/` with its bytes.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        snapshot(&self.public())
    }

    /// `text` with this copy's temporary folder written as `[SITE]`: the folder's name differs
    /// on every run, and a snapshot must not.
    pub fn redact(&self, text: &str) -> String {
        redact_dir(text, self.root())
    }

    /// All text of all output files, for "this must appear nowhere" checks.
    pub fn all_output_text(&self) -> String {
        self.snapshot()
            .values()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> &Self {
        assert_eq!(
            self.status, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn failed_with(&self, code: i32) -> &Self {
        assert_eq!(
            self.status, code,
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }
}

pub fn ozg(args: &[&str]) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_ozg-site"))
        .args(args)
        .env_remove("OZG_SITE_NOW")
        // Snapshots hold plain text: should the binary ever colour its output, it must not here.
        .env("NO_COLOR", "1")
        .output()
        .expect("run ozg-site");
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The running test's name (libtest names each test's thread after it), so a helper that many
/// tests call can give each its own snapshot.
pub fn test_name() -> String {
    let name = std::thread::current()
        .name()
        .expect("libtest names the thread of each test")
        .replace("::", "__");
    assert_ne!(
        name, "main",
        "the test must run on its own thread to be named"
    );
    name
}

/// `text` with `dir` (as given and as the file system resolves it) written as `[SITE]`.
pub fn redact_dir(text: &str, dir: &Path) -> String {
    let mut text = text.to_string();
    let canonical = dir.canonicalize().ok();
    for form in canonical.iter().map(PathBuf::as_path).chain([dir]) {
        let form = form.to_string_lossy();
        if !form.is_empty() {
            text = text.replace(form.as_ref(), "[SITE]");
        }
    }
    text
}

pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(dir).expect("below dir").to_path_buf(),
                std::fs::read(e.path()).expect("read output"),
            )
        })
        .collect()
}

fn copy_dir(src: &Path, dst: &Path) {
    for entry in walkdir::WalkDir::new(src) {
        let entry = entry.expect("walk fixture");
        let rel = entry.path().strip_prefix(src).expect("below src");
        let target = dst.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
