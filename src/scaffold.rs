//! `ozg-site init DIR`: a minimal new site that builds with the built-in theme, for other states
//! reusing the tool ("Nachnutzung").

use std::path::Path;

use crate::diagnostics::Diagnostic;

/// (path inside the new site, contents).
const FILES: &[(&str, &str)] = &[
    ("site.yaml", include_str!("scaffold/site.yaml")),
    ("content/_index.md", include_str!("scaffold/_index.md")),
    (
        "content/aktuelles/_index.md",
        include_str!("scaffold/aktuelles_index.md"),
    ),
    (
        "content/aktuelles/erster-beitrag.md",
        include_str!("scaffold/erster-beitrag.md"),
    ),
    ("content/kontakt.md", include_str!("scaffold/kontakt.md")),
    ("static/.gitkeep", ""),
    (".gitignore", "/public\n/.ozg-site\n"),
];

/// Writes a new site into `dir`; refuses to touch a folder that already holds a site.
pub fn init(dir: &Path) -> Result<Vec<&'static str>, Diagnostic> {
    if dir.join(crate::config::CONFIG_FILE).exists() || dir.join(crate::load::CONTENT_DIR).exists()
    {
        return Err(Diagnostic::error(format!(
            "{} already contains a site (site.yaml or content/)",
            dir.display()
        ))
        .hint("choose an empty or new folder; nothing was changed"));
    }
    for (rel, text) in FILES {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                Diagnostic::error(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        std::fs::write(&path, text)
            .map_err(|e| Diagnostic::error(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(FILES.iter().map(|(p, _)| *p).collect())
}
