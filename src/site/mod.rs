//! The site model: sections and pages with their URLs, publication state and rendered Markdown.
//!
//! [`assemble`] turns loaded files into a [`Site`]: it parses front matter, decides what is published
//! at `now`, gives everything a URL, checks for collisions and broken links, and renders the Markdown
//! bodies. The site is plain data; rendering templates and writing files are separate passes.

pub mod aliases;
mod assemble;
mod images;
pub mod legal;
mod links;
mod patch;
pub mod topics;

use std::collections::HashMap;
use std::path::PathBuf;

use jiff::Zoned;

use crate::config::Config;
use crate::load::SourceFile;
use crate::parse::front_matter::Split;
use crate::parse::kinds::{CommonFront, Kind, KindFields, SectionFront, SortBy};
use crate::parse::markdown::Rendered;
use crate::slug::Slug;

pub use assemble::{AssembleCache, BuildOptions, assemble, format_moment};
pub use images::{Planned, make_images};
pub use patch::{Applied, FullBuild, PagePatch};

/// The template of the search page: a site with one has a search index, and its bodies keep
/// their plain text for it.
pub const SEARCH_TEMPLATE: &str = "search.html";

/// Whether a page of `pages` is the search page.
pub fn has_search_page(pages: &[Page]) -> bool {
    pages.iter().any(is_search_page)
}

pub(crate) fn is_search_page(page: &Page) -> bool {
    page.common.template.as_deref() == Some(SEARCH_TEMPLATE)
}

pub type PageId = usize;
pub type SectionId = usize;

/// What an `@/` key points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Page(PageId),
    Section(SectionId),
}

#[derive(Debug)]
pub struct Section {
    pub file: SourceFile,
    pub split: Split,
    pub front: SectionFront,
    /// The kind of the pages in it (own or inherited).
    pub kind: Kind,
    pub sort: SortBy,
    /// URL path without the base path: `/`, `/aktuelles/`.
    pub path: String,
    pub parent: Option<SectionId>,
    pub subsections: Vec<SectionId>,
    /// Published pages in display order.
    pub pages: Vec<PageId>,
    /// Shared with the preview's cache, so an unchanged body is not copied on rebuild.
    pub body: std::sync::Arc<Rendered>,
    /// The local JPEG and PNG images of the body, for [`make_images`].
    pub images: Vec<Planned>,
}

/// A file to offer for download, resolved on disk.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Download {
    pub title: String,
    pub url: String,
    /// `PDF`, `DOCX`, … from the file name.
    pub file_type: String,
    /// `120 KB`, German decimal comma.
    pub size: String,
    pub size_bytes: u64,
    /// Declared accessible by the editor (`accessible: true`).
    pub accessible: bool,
    /// The accessible alternative's address, resolved (none when absent or not published).
    pub alternative: Option<String>,
}

/// A video resolved on disk, e.g. the text of the site in German Sign Language.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Video {
    pub title: String,
    pub url: String,
    pub file_type: String,
    pub size: String,
    pub size_bytes: u64,
    /// As written, `4:30`.
    pub duration: String,
    pub duration_seconds: u64,
    pub captions_url: Option<String>,
    pub poster_url: Option<String>,
}

#[derive(Debug)]
pub struct Page {
    /// The source, whose text diagnostics quote; the body in it is parsed once, into `body`.
    pub file: SourceFile,
    /// Where front matter and body are in the file: positions of front matter values, and the
    /// ranges the e-mail cuts its articles at.
    pub split: Split,
    pub common: CommonFront,
    pub fields: KindFields,
    pub section: SectionId,
    pub slug: Slug,
    /// URL path without the base path: `/aktuelles/mein-beitrag/`.
    pub path: String,
    /// For page bundles (`x/index.md`): the folder's key relative to `content/`.
    pub bundle: Option<String>,
    pub downloads: Vec<Download>,
    pub slides: Vec<Download>,
    /// Boxed: few pages have one, and every page would carry its 184 bytes.
    pub video: Option<Box<Video>>,
    pub starts_at: Option<Zoned>,
    pub ends_at: Option<Zoned>,
    pub earlier: Option<PageId>,
    pub later: Option<PageId>,
    /// Shared with the preview's cache, so an unchanged body is not copied on rebuild.
    pub body: std::sync::Arc<Rendered>,
    /// The local JPEG and PNG images of the body, for [`make_images`].
    pub images: Vec<Planned>,
    /// Its topics (`themen:`), as indices into [`Site::topics`] in the order written.
    pub topics: Vec<usize>,
    /// The date its topics list it by ([`topics::date_of`]).
    pub topic_date: Option<crate::time::LocalDate>,
}

impl Page {
    pub fn kind(&self) -> Kind {
        self.fields.kind()
    }

    /// Still to come or running at `now` (ends after it); pages without times are never upcoming.
    pub fn is_upcoming(&self, now: &Zoned) -> bool {
        self.ends_at.as_ref().is_some_and(|end| end > now)
    }
}

/// An edition due to be sent that is not on the site yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldSend {
    pub number: u32,
    pub file: PathBuf,
    pub send_at: Zoned,
    /// When the web version appears; `None` for a draft.
    pub publish_at: Option<Zoned>,
}

/// A future moment at which the build output changes, for `schedule` and rebuild timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moment {
    pub at: Zoned,
    pub file: PathBuf,
    pub what: MomentKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MomentKind {
    /// Scheduled content appears.
    Publish,
    /// A Sprechstunde or event ends and moves from "upcoming" to the archive.
    Ends,
    /// A newsletter edition's `send_at`: `newsletter send --due` sends it.
    Send,
    /// A Sprechstunde's invitation is due: `newsletter send --due` sends it.
    Invite,
}

impl MomentKind {
    pub fn name(self) -> &'static str {
        match self {
            MomentKind::Publish => "publish",
            MomentKind::Ends => "ends",
            MomentKind::Send => "send",
            MomentKind::Invite => "invite",
        }
    }
}

/// When the invitation to a Sprechstunde goes out: its `invite_at`, else `days_before` its date
/// at the `time` of its section's `invitation:`. `None`: the section sends no invitations.
pub fn invitation_moment(
    section: &crate::parse::kinds::SectionFront,
    fields: &crate::parse::kinds::KindFields,
    tz: &jiff::tz::TimeZone,
) -> Option<Result<Zoned, String>> {
    let crate::parse::kinds::KindFields::Sprechstunde(f) = fields else {
        return None;
    };
    let settings = section.invitation.as_ref()?;
    if let Some(at) = &f.invite_at {
        return Some(
            at.resolve(tz)
                .map_err(|e| format!("invalid `invite_at`: {e}")),
        );
    }
    Some(
        f.date
            .0
            .checked_sub(jiff::Span::new().days(i64::from(settings.days_before)))
            .map_err(|e| format!("`invitation.days_before` goes before the calendar: {e}"))
            .and_then(|day| crate::time::local_to_zoned(day.to_datetime(settings.time.0), tz)),
    )
}

/// A non-Markdown file from `content/` and where it goes in the output.
#[derive(Debug, Clone)]
pub struct Asset {
    pub source: PathBuf,
    /// Output path relative to the output folder, with `/`.
    pub output: String,
}

#[derive(Debug)]
pub struct Site {
    pub config: Config,
    pub now: Zoned,
    pub drafts: bool,
    pub sections: Vec<Section>,
    pub pages: Vec<Page>,
    /// Published pages and sections by `@/` key.
    pub by_key: HashMap<String, Target>,
    /// Upcoming moments after `now`, earliest first.
    pub schedule: Vec<Moment>,
    /// Editions whose `send_at` has come but whose web version is not published yet (a later
    /// `publish`, or a draft): `newsletter send --due` says so instead of sending them.
    pub held_sends: Vec<HeldSend>,
    pub assets: Vec<Asset>,
    /// Old and printed addresses (aliases, `redirects:` of `site.yaml`) and where they lead.
    pub redirects: Vec<aliases::Redirect>,
    /// The topics of `site.yaml` in their declared order, each with its published pages.
    pub topics: Vec<topics::Topic>,
    /// Every `@/` key and what links to it become, kept so the preview can re-render one page.
    pub(crate) index: links::KeyIndex,
    /// Problems that do not stop the build (shown to the editor).
    pub warnings: Vec<crate::diagnostics::Diagnostic>,
    /// Facts editors marked `offen` (front matter, `site.yaml`, `[offen: …]` in bodies), as
    /// warnings with their positions: `check` lists them, `build --strict` fails on them.
    pub open_facts: Vec<crate::diagnostics::Diagnostic>,
}

impl Site {
    /// The root section (`content/_index.md`) is always the first.
    pub const ROOT: SectionId = 0;

    /// How many facts are open: each one listed in `open_facts`, where a body with more than
    /// can be listed has one line for the rest, which counts for what it stands for.
    pub fn open_fact_count(&self) -> usize {
        let beyond = self
            .pages
            .iter()
            .filter(|p| p.kind() != Kind::Newsletter)
            .map(|p| &p.body)
            .chain(self.sections.iter().map(|s| &s.body))
            .map(|b| b.open_facts_more)
            .filter(|more| *more > 0);
        let (lines, facts) = beyond.fold((0, 0), |(l, f), more| (l + 1, f + more));
        self.open_facts.len().saturating_sub(lines) + facts
    }

    /// The sections from the root down to `id` (inclusive).
    pub fn ancestry(&self, id: SectionId) -> Vec<SectionId> {
        let mut chain = vec![id];
        let mut cur = id;
        while let Some(p) = self.sections[cur].parent {
            chain.push(p);
            cur = p;
        }
        chain.reverse();
        chain
    }
}

/// German file size label: `120 KB`, `1,4 MB`.
pub fn human_size(bytes: u64) -> String {
    const KB: f64 = 1000.0;
    let b = bytes as f64;
    if b < KB {
        format!("{bytes} Byte")
    } else if b < KB * KB {
        format!("{} KB", (b / KB).round().max(1.0))
    } else {
        let mb = b / (KB * KB);
        let s = if mb < 10.0 {
            format!("{mb:.1}")
        } else {
            format!("{mb:.0}")
        };
        format!("{} MB", s.replace('.', ","))
    }
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_the_german_way() {
        assert_eq!(human_size(512), "512 Byte");
        assert_eq!(human_size(120_400), "120 KB");
        assert_eq!(human_size(1_400_000), "1,4 MB");
        assert_eq!(human_size(23_000_000), "23 MB");
    }
}
