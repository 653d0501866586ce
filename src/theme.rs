//! Themes: tera templates and static assets, from `themes/<name>/` or embedded in the binary.

use std::path::{Path, PathBuf};

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::load::{SiteRoot, is_dot_name, is_folder_name, read_text};

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

    /// Loads `themes/<name>/` from the site; falls back to the embedded default theme. Links
    /// in the theme follow the rule of [`SiteRoot`]: nothing outside the site is read.
    pub fn load(root: &Path, name: &str) -> Result<Theme, Diagnostics> {
        if !is_folder_name(name) {
            // `site.yaml` reports this at the value; a caller that skipped it still reads nothing.
            return Err(
                Diagnostic::error(format!("theme `{name}` is not a folder name"))
                    .in_file(crate::config::CONFIG_FILE)
                    .hint("name a folder in `themes/`, e.g. `theme: default`")
                    .into(),
            );
        }
        let site = SiteRoot::new(root)?;
        let rel = format!("{THEMES_DIR}/{name}");
        if site.check_path(&rel)?.is_some_and(|dir| dir.is_dir()) {
            return Self::from_disk(&site, &rel, name);
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

    fn from_disk(site: &SiteRoot, dir: &str, name: &str) -> Result<Theme, Diagnostics> {
        let mut errors = Diagnostics::new();
        let mut templates = read_templates(site, &format!("{dir}/templates"), &mut errors);
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
        let mut email_templates = read_templates(site, &format!("{dir}/email"), &mut errors);
        // A theme that does not style the newsletter mail gets the built-in one.
        if email_templates.is_empty() {
            email_templates = Self::embedded().email_templates;
        }
        let static_files = static_files(site, &format!("{dir}/static"), &mut errors);
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

/// Every template below `dir` (relative to the site root), named by its path relative to it.
fn read_templates(site: &SiteRoot, dir: &str, errors: &mut Diagnostics) -> Vec<TemplateFile> {
    let mut templates = Vec::new();
    for found in site.walk(dir, is_dot_name, errors) {
        let shown = site.shown(&found.path);
        match read_text(&found.path, &shown) {
            Ok(text) => templates.push(TemplateFile {
                name: found.rel,
                shown,
                text,
            }),
            Err(d) => errors.push(d),
        }
    }
    templates
}

/// Every file below `dir` (relative to the site root) as a static file at the same relative
/// path; dot-files (`.env`, `.htaccess`, `.ozg-site/`) are never published. Links are followed as
/// [`SiteRoot::walk`] allows; the others are errors in `errors`.
fn static_files(site: &SiteRoot, dir: &str, errors: &mut Diagnostics) -> Vec<StaticFile> {
    site.walk(dir, is_dot_name, errors)
        .into_iter()
        .map(|found| StaticFile {
            output: found.rel,
            source: StaticSource::Disk(found.path),
        })
        .collect()
}

/// The site's `static/` folder as static files, as [`static_files`] lists them. Links that may
/// not be followed are left out here: loading the site (`load::load_sources`) reported them.
pub fn list_static(site: &SiteRoot) -> Vec<StaticFile> {
    static_files(site, crate::load::STATIC_DIR, &mut Diagnostics::new())
}
