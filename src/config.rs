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
    /// Free-form values for the theme.
    #[serde(default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

fn default_theme() -> String {
    "default".to_string()
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
