//! Newsletter editions as e-mails: `ozg-site newsletter build`.
//!
//! An edition (`newsletters/<nr>-<slug>.md`) is a page of the site — its web version and the
//! archive come from the normal build. This module makes the mail from the same file:
//! [`email`] renders the HTML and text parts once per edition with placeholders for what differs
//! per recipient ([`Personal`]), [`message`] fills them and builds the MIME message, [`text`] is
//! the plain-text rendering of Markdown.

pub mod address;
pub mod bounces;
pub mod campaign;
pub mod email;
pub mod invitation;
pub mod message;
pub mod outlet;
pub mod prepared;
pub mod preview;
pub mod send;
pub mod store;
pub mod subscribers;
pub mod text;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{CONFIG_FILE, NewsletterConfig};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::parse::kinds::KindFields;
use crate::site::Site;
use crate::theme::Theme;
use crate::write::Staging;

pub use email::Edition;

/// Stands for the recipient's own unsubscribe address in a rendered edition.
pub const UNSUBSCRIBE_URL: &str = "%%UNSUBSCRIBE_URL%%";
/// Stands for the salutation ("Guten Tag Erika Mustermann,"), or nothing without a name.
pub const SALUTATION: &str = "%%SALUTATION%%";

/// What differs per recipient.
#[derive(Debug, Clone)]
pub struct Personal {
    pub unsubscribe_url: String,
    /// Empty when the subscriber gave no name.
    pub salutation: String,
}

impl Personal {
    pub fn new(config: &NewsletterConfig, token: &str, name: Option<&str>) -> Personal {
        Personal {
            unsubscribe_url: config.unsubscribe_link.replace("{token}", token),
            salutation: name
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(|n| config.salutation.replace("{name}", n))
                .unwrap_or_default(),
        }
    }

    /// [`Personal::new`] for a mail sent to `list`: with the service, the unsubscribe link of a
    /// list other than `newsletter` names it, so the one-click unsubscribe (RFC 8058) ends that
    /// list and the page offers it first. A link without a list ends the newsletter, as links
    /// in mails from before lists do. Another system's `unsubscribe_url` is left as it is.
    pub fn for_list(
        config: &NewsletterConfig,
        token: &str,
        name: Option<&str>,
        list: &str,
    ) -> Personal {
        let mut p = Personal::new(config, token, name);
        if config.service.is_some() && list != crate::config::DEFAULT_LIST {
            let glue = if p.unsubscribe_url.contains('?') {
                '&'
            } else {
                '?'
            };
            p.unsubscribe_url = format!("{}{glue}list={list}", p.unsubscribe_url);
        }
        p
    }

    /// The HTML part for this recipient: values escaped for HTML.
    pub fn html(&self, edition_html: &str) -> String {
        use crate::parse::markdown::escape;
        edition_html
            .replace(UNSUBSCRIBE_URL, &escape(&self.unsubscribe_url))
            .replace(SALUTATION, &escape(&self.salutation))
    }

    /// The text part for this recipient; without a salutation its line goes too.
    pub fn text(&self, edition_text: &str) -> String {
        let text = if self.salutation.is_empty() {
            without_salutation_line(edition_text)
        } else {
            edition_text.to_string()
        };
        email::tidy_text(
            &text
                .replace(UNSUBSCRIBE_URL, &self.unsubscribe_url)
                .replace(SALUTATION, &self.salutation),
        )
    }
}

/// The text part for recipients without a name: the salutation's line goes, not just its words.
pub(crate) fn without_salutation_line(text: &str) -> String {
    text.lines()
        .filter(|l| l.trim() != SALUTATION)
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Which editions to build.
#[derive(Debug, Clone, Copy)]
pub enum Which {
    All,
    Number(u32),
}

/// The editions of `site` (published ones, by number), rendered for mail.
pub fn render_editions(
    site: &Arc<Site>,
    theme: &Theme,
    which: Which,
) -> Result<Vec<Edition>, Diagnostics> {
    let editions: Vec<(u32, usize)> = site
        .pages
        .iter()
        .enumerate()
        .filter_map(|(id, p)| match &p.fields {
            KindFields::Newsletter(f) => Some((f.number, id)),
            _ => None,
        })
        .filter(|(n, _)| match which {
            Which::All => true,
            Which::Number(w) => *n == w,
        })
        .collect();
    if let Which::Number(n) = which
        && editions.is_empty()
    {
        return Err(Diagnostic::error(format!("there is no published edition number {n}"))
            .hint("editions are `newsletters/<nr>-<title>.md` with `number:` in the front matter; drafts and editions dated in the future are not published yet (try --drafts or --now)")
            .into());
    }
    if editions.is_empty() {
        return Ok(Vec::new());
    }
    let mut undeclared = Diagnostics::new();
    for (_, id) in &editions {
        if let Err(d) = edition_list(site, *id) {
            undeclared.push(d);
        }
    }
    if undeclared.has_errors() {
        undeclared.sort();
        return Err(undeclared);
    }
    theme.require_email_templates(&[email::HTML_TEMPLATE, email::TEXT_TEMPLATE])?;
    let templates = crate::render::email_templates(site, theme)?;
    let mut errors = Diagnostics::new();
    let mut out = Vec::new();
    for (_, id) in editions {
        match email::render(site, &templates, id) {
            Ok(e) => out.push(e),
            Err(ds) => errors.extend(ds),
        }
    }
    if errors.has_errors() {
        errors.sort();
        return Err(errors);
    }
    out.sort_by_key(|e| e.number);
    Ok(out)
}

/// The list edition `number` is sent to ([`edition_list`]).
pub fn list_of_edition(site: &Site, number: u32) -> Result<String, Diagnostic> {
    let id = site
        .pages
        .iter()
        .position(|p| matches!(&p.fields, KindFields::Newsletter(f) if f.number == number))
        .ok_or_else(|| Diagnostic::error(format!("there is no edition number {number}")))?;
    edition_list(site, id)
}

/// The list the edition of page `id` is sent to: its `list:`, or `newsletter`. A list
/// `site.yaml` does not declare is an editor's mistake, shown at the `list:` line.
pub fn edition_list(site: &Site, id: usize) -> Result<String, Diagnostic> {
    let Some(page) = site.pages.get(id) else {
        return Err(Diagnostic::error(format!("there is no page {id}")));
    };
    let KindFields::Newsletter(f) = &page.fields else {
        return Err(Diagnostic::error(format!(
            "{} is no newsletter edition",
            page.file.shown.display()
        )));
    };
    let Some(list) = &f.list else {
        return Ok(crate::config::DEFAULT_LIST.to_string());
    };
    let declared = match &site.config.site.newsletter {
        Some(nl) => nl.list_ids(),
        None => vec![crate::config::DEFAULT_LIST.to_string()],
    };
    if declared.iter().any(|d| d == list) {
        return Ok(list.clone());
    }
    let closest = declared
        .iter()
        .map(|d| (strsim::normalized_levenshtein(d, list), d))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(score, _)| *score > 0.5)
        .map(|(_, d)| format!("did you mean `{d}`? "))
        .unwrap_or_default();
    Err(
        Diagnostic::error(format!("there is no list `{list}` to send this edition to"))
            .at(page
                .split
                .yaml_source(&page.file)
                .value_location(list, "list"))
            .hint(format!(
                "{closest}the lists of `newsletter.lists` in site.yaml are: {}",
                declared.join(", ")
            )),
    )
}

/// The `newsletter:` settings, or an error saying how to add them.
pub fn settings(site: &Site) -> Result<&NewsletterConfig, Diagnostic> {
    site.config.site.newsletter.as_ref().ok_or_else(|| {
        Diagnostic::error("site.yaml has no `newsletter:` settings")
            .in_file(CONFIG_FILE)
            .hint("add `newsletter: {from: \"Name <adresse@example.org>\", subscriptions: {consent: \"Ich möchte den Newsletter per E-Mail erhalten.\"}}`")
    })
}

/// What `newsletter build` wrote.
#[derive(Debug)]
pub struct BuildReport {
    pub editions: Vec<u32>,
    pub output: PathBuf,
}

/// Writes `<out>/<nr>/email.html`, `email.txt` and `message.eml` for the chosen editions, each
/// folder replaced whole or not at all.
pub fn build(opts: &crate::Options, which: Which, out: &Path) -> Result<BuildReport, Diagnostics> {
    let site = Arc::new(crate::load_site(opts)?);
    let theme = Theme::load(&opts.root, &site.config.site.theme)?;
    let config = settings(&site)?;
    let editions = render_editions(&site, &theme, which)?;
    if editions.is_empty() {
        return Err(
            Diagnostic::error("there are no published newsletter editions")
                .hint("create one with `ozg-site new newsletter --title \"…\"`")
                .into(),
        );
    }
    let sample = message::sample(config)?;
    let dkim = message::dkim(config, &opts.root)?;
    let mut numbers = Vec::new();
    for edition in &editions {
        let prepared = prepared::Prepared::new(edition);
        let eml = message::build(config, edition, &prepared, &sample, opts.now, dkim.as_ref())?;
        let dir = out.join(edition.number.to_string());
        let staging = Staging::new(&dir)?;
        staging.write("email.html", edition.html.as_bytes())?;
        staging.write("email.txt", edition.text.as_bytes())?;
        staging.write("message.eml", &eml.formatted())?;
        staging.commit()?;
        numbers.push(edition.number);
    }
    Ok(BuildReport {
        editions: numbers,
        output: out.to_path_buf(),
    })
}
