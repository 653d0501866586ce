//! Scaffolding: `ozg-site init DIR` writes a minimal new site that builds with the built-in theme
//! (for other states reusing the tool, "Nachnutzung"); `ozg-site new KIND` writes a new content
//! file with every front matter key of its kind, commented in German for editors.

use std::path::Path;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::parse::kinds::Kind;

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

/// The kinds of content `ozg-site new` can create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NewKind {
    Sprechstunde,
    News,
    Event,
    Door,
    Newsletter,
    Page,
}

impl NewKind {
    fn template(self) -> &'static str {
        match self {
            NewKind::Sprechstunde => include_str!("scaffold/new/sprechstunde.md"),
            NewKind::News => include_str!("scaffold/new/news.md"),
            NewKind::Event => include_str!("scaffold/new/event.md"),
            NewKind::Door => include_str!("scaffold/new/door.md"),
            NewKind::Newsletter => include_str!("scaffold/new/newsletter.md"),
            NewKind::Page => include_str!("scaffold/new/page.md"),
        }
    }

    fn section_kind(self) -> Option<Kind> {
        match self {
            NewKind::Sprechstunde => Some(Kind::Sprechstunde),
            NewKind::News => Some(Kind::News),
            NewKind::Event => Some(Kind::Event),
            NewKind::Door => Some(Kind::AdventDoor),
            NewKind::Newsletter => Some(Kind::Newsletter),
            NewKind::Page => None,
        }
    }

    /// Sprechstunden and events have no sensible default date.
    pub fn needs_date(self) -> bool {
        matches!(self, NewKind::Sprechstunde | NewKind::Event)
    }
}

/// What the editor asked for.
#[derive(Debug, Clone)]
pub struct NewContent {
    pub kind: NewKind,
    pub title: String,
    pub date: Option<jiff::civil::Date>,
    pub day: Option<u8>,
    /// Folder below `content/` to put it in, instead of the first section of the kind.
    pub section: Option<String>,
}

/// Writes a new content file with every front matter key of its kind, commented in German, and
/// returns its path. Never overwrites a file.
pub fn new_content(root: &Path, request: &NewContent) -> Result<std::path::PathBuf, Diagnostics> {
    // Every page counts for the next number, also drafts and scheduled ones.
    let site = crate::load_site(&crate::Options {
        root: root.to_path_buf(),
        now: jiff::Timestamp::MAX,
        drafts: true,
        base_url: None,
    })?;
    let today = jiff::Timestamp::now()
        .to_zoned(site.config.tz.clone())
        .date();
    let date = request.date.unwrap_or(today);
    let section = find_section(&site, request)?;
    let slug = crate::slug::Slug::from_text(&request.title).ok_or_else(|| {
        Diagnostic::error(format!(
            "cannot make a file name from the title `{}`",
            request.title
        ))
        .hint("use a title with letters or digits")
    })?;
    let max_number = |kind: Kind| {
        site.pages
            .iter()
            .filter(|p| p.kind() == kind)
            .filter_map(|p| p.fields.number())
            .max()
            .unwrap_or(0)
    };
    let mut number = 0;
    let mut day = 0u8;
    let rel = match request.kind {
        NewKind::Sprechstunde => {
            number = max_number(Kind::Sprechstunde) + 1;
            format!("{}{number}-{slug}.md", section_folder(&site, section))
        }
        NewKind::Newsletter => {
            number = max_number(Kind::Newsletter) + 1;
            format!("{}/{number}-{slug}.md", crate::load::NEWSLETTER_DIR)
        }
        NewKind::Door => {
            let days = section
                .and_then(|s| site.sections.get(s)?.front.advent.as_ref())
                .map_or(24, |a| a.days);
            let taken: Vec<u32> = site
                .pages
                .iter()
                .filter(|p| Some(p.section) == section)
                .filter_map(|p| p.fields.number())
                .collect();
            day = match request.day {
                Some(d) => d,
                None => (1..=days)
                    .find(|d| !taken.contains(&u32::from(*d)))
                    .ok_or_else(|| {
                        Diagnostic::error("every door of this calendar already has a file")
                    })?,
            };
            format!("{}{day:02}.md", section_folder(&site, section))
        }
        NewKind::News | NewKind::Event | NewKind::Page => {
            format!("{}{slug}.md", section_folder(&site, section))
        }
    };
    let path = root.join(&rel);
    if path.exists() {
        return Err(Diagnostic::error(format!("{rel} already exists"))
            .hint("choose another title, or edit the existing file")
            .into());
    }
    let title = request.title.replace('\\', "\\\\").replace('"', "\\\"");
    let text = request
        .kind
        .template()
        .replace("{{title}}", &title)
        .replace("{{number}}", &number.to_string())
        .replace("{{day}}", &day.to_string())
        .replace("{{date}}", &date.to_string());
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Diagnostic::error(format!("cannot create {}: {e}", parent.display())))?;
    }
    // create_new: never overwrite, even if the file appeared since the check above.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| Diagnostic::error(format!("cannot create {rel}: {e}")))?;
    std::io::Write::write_all(&mut file, text.as_bytes())
        .map_err(|e| Diagnostic::error(format!("cannot write {rel}: {e}")))?;
    Ok(std::path::PathBuf::from(rel))
}

/// The section to write into: the one named, or the first of the right kind (root for pages).
fn find_section(
    site: &crate::site::Site,
    request: &NewContent,
) -> Result<Option<usize>, Diagnostic> {
    if let Some(folder) = &request.section {
        let key = format!("{}/_index.md", folder.trim_matches('/'));
        return match site.by_key.get(&key) {
            Some(crate::site::Target::Section(s)) => Ok(Some(*s)),
            _ => Err(Diagnostic::error(format!(
                "there is no section content/{}",
                folder.trim_matches('/')
            ))
            .hint("name a folder below content/ that has an _index.md")),
        };
    }
    match request.kind.section_kind() {
        None => Ok(None),
        Some(kind) => site
            .sections
            .iter()
            .position(|s| s.kind == kind && s.front.kind.is_some())
            .map(Some)
            .ok_or_else(|| {
                Diagnostic::error(format!("the site has no section of kind `{}`", kind.name()))
                    .hint(format!(
                        "create a folder with an _index.md that says `kind: {}`",
                        kind.name()
                    ))
            }),
    }
}

/// `content/aktuelles/` for a section, `content/` for none.
fn section_folder(site: &crate::site::Site, section: Option<usize>) -> String {
    match section.and_then(|s| site.sections.get(s)) {
        Some(s) => format!("{}{}", crate::load::CONTENT_DIR, s.path),
        None => format!("{}/", crate::load::CONTENT_DIR),
    }
}
