//! `site.yaml` → [`SiteConfig`]: everything about a site that is not content.

use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::yaml::YamlSource;

pub const CONFIG_FILE: &str = "site.yaml";

/// The site's configuration as written by its editors.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Where the site is published, e.g. `https://ozg.sachsen-anhalt.de`; feeds and the sitemap need it.
    pub base_url: String,
    pub language: Language,
    /// IANA name, e.g. `Europe/Berlin`: all dates and times in content are local to it.
    pub timezone: String,
    #[serde(default = "default_theme")]
    pub theme: String,
    #[serde(default)]
    pub publisher: Option<String>,
    #[serde(default)]
    pub navigation: Vec<NavItem>,
    #[serde(default)]
    pub footer_navigation: Vec<NavItem>,
    #[serde(default)]
    pub contact: Option<Contact>,
    #[serde(default)]
    pub social: Vec<NavItem>,
    #[serde(default)]
    pub feed: FeedConfig,
    #[serde(default)]
    pub markdown: MarkdownConfig,
    /// Sending editions of the newsletter by e-mail; without it, editions exist on the web only.
    #[serde(default)]
    pub newsletter: Option<NewsletterConfig>,
    /// Free-form values for the theme.
    #[serde(default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

fn default_theme() -> String {
    "default".to_string()
}

/// How editions go out by e-mail.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NewsletterConfig {
    /// The sender, e.g. `OZG-Team Sachsen-Anhalt <ozg@sachsen-anhalt.de>`.
    pub from: String,
    /// Where replies go, if not to the sender.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// The one-click unsubscribe address; `{token}` becomes each subscriber's own token.
    pub unsubscribe_url: String,
    /// Optional second way out for mail clients without one-click support: `abmelden@…`.
    #[serde(default)]
    pub unsubscribe_mailto: Option<String>,
    /// The salutation for subscribers who gave their name; `{name}` becomes the name. Others get none.
    #[serde(default = "default_salutation")]
    pub salutation: String,
    /// Who the preview message (`message.eml`, the preview server) is addressed to.
    #[serde(default)]
    pub sample_recipient: SampleRecipient,
    /// The subscriber database, relative to the site folder (default `.ozg-site/newsletter.sqlite`).
    #[serde(default)]
    pub database: Option<String>,
    /// The mail server: `smtp+starttls://host:587`, `smtps://host:465`, `smtp://host:25`. Without
    /// it, `send` writes the messages into the outbox folder.
    #[serde(default)]
    pub smtp: Option<String>,
    /// Where messages go without a mail server (default `.ozg-site/outbox`).
    #[serde(default)]
    pub outbox: Option<String>,
    /// Messages per second over all connections (0: no limit).
    #[serde(default = "default_rate")]
    pub rate: f64,
    /// Connections to the mail server at once.
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// Attempts per message when the server refuses for now (4xx) or the connection drops.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// The first pause before trying again, in milliseconds; it doubles each time.
    #[serde(default = "default_retry_delay")]
    pub retry_delay_ms: u64,
    /// The `List-Id` (RFC 2919), e.g. `ozg-sachsenanhaltspunkte.ozg.sachsen-anhalt.de`; default
    /// `newsletter.` and the sender's domain.
    #[serde(default)]
    pub list_id: Option<String>,
    /// Signing every message with DKIM (RFC 6376), so providers can trust the sender.
    #[serde(default)]
    pub dkim: Option<DkimSettings>,
}

/// Where the DKIM key is and how it is published.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DkimSettings {
    /// The selector of the DNS record `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// Default: the domain of `from`.
    #[serde(default)]
    pub domain: Option<String>,
    /// The private key file (PEM, PKCS#1 for RSA; base64 for Ed25519), relative to the site
    /// folder; keep it out of the repository.
    pub private_key: String,
    #[serde(default)]
    pub algorithm: DkimAlgorithm,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DkimAlgorithm {
    #[default]
    Rsa,
    Ed25519,
}

fn default_rate() -> f64 {
    10.0
}

fn default_connections() -> usize {
    2
}

fn default_retries() -> u32 {
    5
}

fn default_retry_delay() -> u64 {
    2000
}

fn default_salutation() -> String {
    "Guten Tag {name},".to_string()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SampleRecipient {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
}

impl Default for SampleRecipient {
    fn default() -> Self {
        SampleRecipient {
            email: "vorschau@example.org".to_string(),
            name: Some("Erika Mustermann".to_string()),
        }
    }
}

/// Only German for now; the enum makes adding a language a deliberate change (date names, slugs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum Language {
    #[serde(rename = "de")]
    German,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NavItem {
    pub title: String,
    /// `@/path.md`, `/path/` or an absolute URL; resolved before templates see it.
    pub url: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub organisation: Option<String>,
    pub department: Option<String>,
    pub street: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    #[serde(default = "default_feed_limit")]
    pub limit: usize,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig {
            limit: default_feed_limit(),
        }
    }
}

fn default_feed_limit() -> usize {
    20
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MarkdownConfig {
    /// Headings link to themselves so readers can share a link to a section.
    #[serde(default = "yes")]
    pub heading_anchors: bool,
    /// Accessible names of the checkboxes of task lists (`- [x]`), read out by screen readers.
    #[serde(default = "default_task_done_label")]
    pub task_done_label: String,
    #[serde(default = "default_task_open_label")]
    pub task_open_label: String,
}

impl Default for MarkdownConfig {
    fn default() -> Self {
        MarkdownConfig {
            heading_anchors: true,
            task_done_label: default_task_done_label(),
            task_open_label: default_task_open_label(),
        }
    }
}

fn yes() -> bool {
    true
}

fn default_task_done_label() -> String {
    "erledigt".to_string()
}

fn default_task_open_label() -> String {
    "offen".to_string()
}

/// A loaded, validated configuration plus what was derived from it.
#[derive(Debug, Clone)]
pub struct Config {
    pub root: PathBuf,
    pub site: SiteConfig,
    pub tz: TimeZone,
    /// The text of `site.yaml`, for locating errors found after loading (e.g. broken navigation links).
    pub text: String,
    /// `base_url` without trailing slash.
    pub base_url: String,
    /// The path part of `base_url` without trailing slash (`""` or `/ozg`): prefixed to every URL.
    pub base_path: String,
}

impl Config {
    /// Reads `<root>/site.yaml`. `base_url_override` replaces `base_url` (e.g. for a local preview).
    pub fn load(root: &Path, base_url_override: Option<&str>) -> Result<Config, Diagnostics> {
        let path = root.join(CONFIG_FILE);
        let shown = PathBuf::from(CONFIG_FILE);
        if !path.is_file() {
            return Err(Diagnostic::error(format!(
                "no {CONFIG_FILE} in {}",
                root.display()
            ))
            .hint(
                "run the command in the site's folder, pass --root DIR, or create a new site with `ozg-site init DIR`",
            )
            .into());
        }
        let text = crate::load::read_text(&path, &shown).map_err(Diagnostics::from)?;
        let site: SiteConfig = YamlSource::whole_file(&shown, &text)
            .parse("site.yaml")
            .map_err(Diagnostics::from)?;
        let source = YamlSource::whole_file(&shown, &text);
        let mut errors = Diagnostics::new();

        let tz = match TimeZone::get(&site.timezone) {
            Ok(tz) => Some(tz),
            Err(_) => {
                errors.push(
                    Diagnostic::error(format!("unknown timezone `{}`", site.timezone))
                        .at(source.value_location(&site.timezone, "timezone"))
                        .hint("use an IANA timezone name, e.g. Europe/Berlin"),
                );
                None
            }
        };
        let raw_base = base_url_override.unwrap_or(&site.base_url);
        let base = match parse_base_url(raw_base) {
            Ok(b) => Some(b),
            Err(e) => {
                let d = Diagnostic::error(e).hint("write it like https://ozg.sachsen-anhalt.de");
                errors.push(match base_url_override {
                    Some(_) => d.note("given with --base-url"),
                    None => d.at(source.value_location(&site.base_url, "base_url")),
                });
                None
            }
        };
        if site.title.trim().is_empty() {
            errors.push(
                Diagnostic::error("the site title is empty")
                    .at(source.key_location("title"))
                    .hint("give the site a title, e.g. `title: OZG Sachsen-Anhalt`"),
            );
        }
        if let Some(nl) = &site.newsletter {
            errors.extend(check_newsletter(nl, &source));
        }
        match (tz, base, errors.has_errors()) {
            (Some(tz), Some((base_url, base_path)), false) => Ok(Config {
                root: root.to_path_buf(),
                site,
                tz,
                text,
                base_url,
                base_path,
            }),
            _ => Err(errors),
        }
    }

    /// A site-absolute URL path (`/aktuelles/`) with the base path in front.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_path, path)
    }

    /// The full URL of a site path.
    pub fn permalink(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }
}

/// The newsletter settings mail servers and clients will judge: addresses and the unsubscribe link.
fn check_newsletter(nl: &NewsletterConfig, source: &YamlSource<'_>) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    let addresses = [
        ("from", Some(&nl.from)),
        ("reply_to", nl.reply_to.as_ref()),
        ("unsubscribe_mailto", nl.unsubscribe_mailto.as_ref()),
        ("email", Some(&nl.sample_recipient.email)),
    ];
    for (key, value) in addresses {
        let Some(value) = value else { continue };
        if let Err(e) = value.parse::<lettre::message::Mailbox>() {
            errors.push(
                Diagnostic::error(format!("`{key}` is not a valid e-mail address: {e}"))
                    .at(source.value_location(value, key))
                    .hint("write it like `OZG-Team Sachsen-Anhalt <ozg@sachsen-anhalt.de>` or just `ozg@sachsen-anhalt.de`"),
            );
        }
    }
    let url = &nl.unsubscribe_url;
    if !url.starts_with("https://") || !url.contains("{token}") {
        errors.push(
            Diagnostic::error("`unsubscribe_url` must be an https:// address with `{token}` in it")
                .at(source.value_location(url, "unsubscribe_url"))
                .hint("one-click unsubscribing (RFC 8058) needs https; `{token}` becomes each subscriber's own token, e.g. https://ozg.sachsen-anhalt.de/newsletter/abmelden/?t={token}"),
        );
    }
    errors
}

fn parse_base_url(raw: &str) -> Result<(String, String), String> {
    let trimmed = raw.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(|| format!("base_url `{raw}` must start with https:// or http://"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if host.is_empty() || host.contains(char::is_whitespace) || path.contains(['?', '#', ' ']) {
        return Err(format!("base_url `{raw}` is not a valid URL"));
    }
    Ok((trimmed.to_string(), path.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_with_and_without_path() {
        assert_eq!(
            parse_base_url("https://ozg.sachsen-anhalt.de/").unwrap(),
            ("https://ozg.sachsen-anhalt.de".into(), "".into())
        );
        assert_eq!(
            parse_base_url("http://127.0.0.1:1111/ozg").unwrap(),
            ("http://127.0.0.1:1111/ozg".into(), "/ozg".into())
        );
        assert!(parse_base_url("ozg.de").is_err());
    }
}
