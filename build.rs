//! Embeds the default theme into the binary, so `ozg-site build` works for a site without `themes/`.

// As in lib.rs: no unwrap, expect, panic, string slicing or indexing (a failed build script
// says what it could not do, as the library does).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::string_slice,
    clippy::indexing_slicing
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// On failure cargo shows the message and stops the build.
fn main() -> Result<(), String> {
    let theme = Path::new("themes/default");
    println!("cargo:rerun-if-changed={}", theme.display());
    let mut files = Vec::new();
    collect(theme, &mut files);
    files.sort();
    let mut out = String::from(
        "/// Files of the default theme: (path relative to the theme folder, contents).\n",
    );
    out.push_str("pub static EMBEDDED_THEME: &[(&str, &[u8])] = &[\n");
    for file in &files {
        let rel = file
            .strip_prefix(theme)
            .map_err(|_| format!("{} is not in {}", file.display(), theme.display()))?;
        let rel = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let abs = std::fs::canonicalize(file)
            .map_err(|e| format!("cannot find {}: {e}", file.display()))?;
        // Writing to a `String` cannot fail.
        let _ = writeln!(
            out,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.display().to_string()
        );
    }
    out.push_str("];\n");
    let out_dir = std::env::var("OUT_DIR").map_err(|e| format!("OUT_DIR: {e}"))?;
    let dest = PathBuf::from(out_dir).join("embedded_theme.rs");
    std::fs::write(&dest, out).map_err(|e| format!("cannot write {}: {e}", dest.display()))
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}
