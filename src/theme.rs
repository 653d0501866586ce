//! Themes: tera templates and static assets, from `themes/<name>/` or embedded in the binary.

use std::path::{Path, PathBuf};

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::load::read_text;

include!(concat!(env!("OUT_DIR"), "/embedded_theme.rs"));

pub const THEMES_DIR: &str = "themes";
/// The page at an old address ([`crate::render::redirects`]).
pub const REDIRECT_TEMPLATE: &str = "redirect.html";

/// A template's text and where it came from (for error messages).
#[derive(Debug, Clone)]
pub struct TemplateFile {
    /// Name as templates refer to it: `page.html`, `partials/header.html`.
    pub name: String,
    /// Path shown to the editor: `themes/default/templates/page.html`.
    pub shown: PathBuf,
    pub text: String,
}

#[derive(Debug, Clone)]
pub enum StaticSource {
    Embedded(&'static [u8]),
    Disk(PathBuf),
}

#[derive(Debug, Clone)]
pub struct StaticFile {
    /// Output path relative to the output folder, with `/`.
    pub output: String,
    pub source: StaticSource,
}

#[derive(Debug, Clone)]
pub struct Theme {
    pub name: String,
    pub templates: Vec<TemplateFile>,
    /// The newsletter e-mail's templates, from `email/`: `edition.mjml` and `edition.txt`.
    pub email_templates: Vec<TemplateFile>,
    pub static_files: Vec<StaticFile>,
}

impl Theme {
    /// An error naming the first of `names` the theme's `email/` lacks.
    pub fn require_email_templates(&self, names: &[&str]) -> Result<(), Diagnostic> {
        match names
            .iter()
            .find(|name| !self.email_templates.iter().any(|t| t.name == **name))
        {
            Some(name) => Err(Diagnostic::error(format!(
                "the theme `{}` has no e-mail template `email/{name}`",
                self.name
            ))
            .hint("copy `email/` from the default theme into your theme and adapt it")),
            None => Ok(()),
        }
    }

    /// Loads `themes/<name>/` from the site; falls back to the embedded default theme.
    pub fn load(root: &Path, name: &str) -> Result<Theme, Diagnostics> {
        let dir = root.join(THEMES_DIR).join(name);
        if dir.is_dir() {
            return Self::from_disk(root, &dir, name);
        }
        if name == "default" {
            return Ok(Self::embedded());
        }
        Err(Diagnostic::error(format!("theme `{name}` not found"))
            .in_file(crate::config::CONFIG_FILE)
            .hint(format!(
                "create `themes/{name}/templates/`, or use `theme: default` (built into ozg-site)"
            ))
            .into())
    }

    pub fn embedded() -> Theme {
        let mut templates = Vec::new();
        let mut email_templates = Vec::new();
        let mut static_files = Vec::new();
        for (path, bytes) in EMBEDDED_THEME {
            let file = |name: &str| TemplateFile {
                name: name.to_string(),
                shown: PathBuf::from(format!("<built-in theme>/{path}")),
                text: String::from_utf8_lossy(bytes).into_owned(),
            };
            if let Some(name) = path.strip_prefix("templates/") {
                templates.push(file(name));
            } else if let Some(name) = path.strip_prefix("email/") {
                email_templates.push(file(name));
            } else if let Some(out) = path.strip_prefix("static/") {
                static_files.push(StaticFile {
                    output: out.to_string(),
                    source: StaticSource::Embedded(bytes),
                });
            }
        }
        Theme {
            name: "default".to_string(),
            templates,
            email_templates,
            static_files,
        }
    }

    fn from_disk(root: &Path, dir: &Path, name: &str) -> Result<Theme, Diagnostics> {
        let mut errors = Diagnostics::new();
        let mut templates = read_templates(root, &dir.join("templates"), &mut errors);
        // Old addresses must keep working with every theme: one without a redirect page gets
        // the built-in one (it stands alone, without the theme's `base.html`).
        if !templates.iter().any(|t| t.name == REDIRECT_TEMPLATE) {
            templates.extend(
                Self::embedded()
                    .templates
                    .into_iter()
                    .filter(|t| t.name == REDIRECT_TEMPLATE),
            );
        }
        let mut email_templates = read_templates(root, &dir.join("email"), &mut errors);
        // A theme that does not style the newsletter mail gets the built-in one.
        if email_templates.is_empty() {
            email_templates = Self::embedded().email_templates;
        }
        let static_files = list_static(&dir.join("static"));
        if errors.has_errors() {
            return Err(errors);
        }
        Ok(Theme {
            name: name.to_string(),
            templates,
            email_templates,
            static_files,
        })
    }
}

/// Every template below `dir`, named by its path relative to it.
fn read_templates(root: &Path, dir: &Path, errors: &mut Diagnostics) -> Vec<TemplateFile> {
    let mut templates = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = slash(entry.path().strip_prefix(dir).unwrap_or(entry.path()));
        if rel.split('/').any(|p| p.starts_with('.')) {
            continue;
        }
        let shown = entry
            .path()
            .strip_prefix(root)
            .unwrap_or(entry.path())
            .to_path_buf();
        match read_text(entry.path(), &shown) {
            Ok(text) => templates.push(TemplateFile {
                name: rel,
                shown,
                text,
            }),
            Err(d) => errors.push(d),
        }
    }
    templates
}

/// Every file below `dir` as a static file at the same relative path.
pub fn list_static(dir: &Path) -> Vec<StaticFile> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let rel = slash(e.path().strip_prefix(dir).ok()?);
            (!rel.split('/').any(|p| p.starts_with('.'))).then(|| StaticFile {
                output: rel,
                source: StaticSource::Disk(e.path().to_path_buf()),
            })
        })
        .collect()
}

fn slash(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
