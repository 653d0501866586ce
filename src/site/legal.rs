//! What the legal pages derive from the site itself, so they cannot drift from it.
//!
//! The Erklärung zur Barrierefreiheit lists the barriers the content declares: every check an
//! editor switched off (`ignore_checks`, with the reason), every PDF or office file offered
//! without `accessible: true` or an `alternative`, and every page about accessibility (named in
//! `legal.accessibility.pages`) that still has open facts. [`known_barriers`] computes that list
//! from the model, for the build, the preview and `check` alike.
//!
//! A page using a legal template (`legal/impressum.html`, `legal/datenschutz.html`,
//! `legal/barrierefreiheit.html`) needs the facts that page must state; [`check`] says which are
//! missing (a fact nobody knows yet is `offen`, never missing), and that the `@/` links of
//! `legal:` lead to published pages. [`open_facts`] adds the facts the privacy statement cannot
//! know from `site.yaml` — the mail server, when `newsletter.smtp` is not set.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use super::{Page, Section, Target};
use crate::config::{CONFIG_FILE, Compliance, Config};
use crate::diagnostics::{Diagnostic, Location};
use crate::yaml::YamlSource;
use crate::yaml::fact::{self, Fact, OpenFact};

/// The templates of the legal pages, and the folder every legal template lives in.
pub const TEMPLATE_FOLDER: &str = "legal/";
pub const IMPRINT_TEMPLATE: &str = "legal/impressum.html";
pub const PRIVACY_TEMPLATE: &str = "legal/datenschutz.html";
pub const ACCESSIBILITY_TEMPLATE: &str = "legal/barrierefreiheit.html";

/// The file types the EU directive 2016/2102 calls office file formats (Art. 1 Abs. 4 lit. a):
/// documents whose accessibility the statement must account for, unlike calendars or archives.
pub const DOCUMENT_TYPES: &[&str] = &[
    "PDF", "DOC", "DOCX", "DOT", "DOTX", "ODT", "RTF", "XLS", "XLSX", "ODS", "PPT", "PPTX", "ODP",
];

/// The page a barrier is on, as readers reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageRef {
    pub title: String,
    /// With the base path: `/sprechstunden/69-gdst-forum/`.
    pub url: String,
    /// The source file, for editors (`content/…`).
    pub source: String,
}

/// What is not accessible, by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum What {
    /// A PDF or office file offered without being declared accessible or having an alternative.
    Document {
        title: String,
        url: String,
        file_type: String,
        size: String,
    },
    /// An accessibility check switched off for the page, with the editor's reason.
    IgnoredCheck { check: String, reason: String },
    /// A page about accessibility with facts still open (`offen`): e.g. the video in sign
    /// language that is not there yet. How many; what they are is for editors only.
    IncompletePage { open_facts: usize },
}

/// Why content is not accessible, in the categories of the EU model statement
/// (Durchführungsbeschluss (EU) 2018/1523): what the content itself declares is always a
/// non-compliance; a disproportionate burden or content outside the scope is a decision of the
/// provider, which the statement's own text states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalReason {
    NonCompliance,
}

/// One entry of the statement's list of content that is not accessible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Barrier {
    #[serde(flatten)]
    pub what: What,
    pub legal_reason: LegalReason,
    pub page: PageRef,
}

/// Every barrier the published content declares, sections before their pages, in the site's
/// order: documents, switched-off checks, and open facts of the accessibility pages.
pub fn known_barriers(
    config: &Config,
    sections: &[Section],
    pages: &[Page],
    by_key: &HashMap<String, Target>,
) -> Vec<Barrier> {
    let mut found = Vec::new();
    let page_ref = |title: &str, path: &str, shown: &Path| PageRef {
        title: title.to_string(),
        url: config.url(path),
        source: shown.to_string_lossy().replace('\\', "/"),
    };
    let barrier = |what: What, page: PageRef| Barrier {
        what,
        legal_reason: LegalReason::NonCompliance,
        page,
    };
    for section in sections {
        let at = page_ref(&section.front.title, &section.path, &section.file.shown);
        for ignored in &section.front.ignore_checks {
            found.push(barrier(
                What::IgnoredCheck {
                    check: ignored.check.clone(),
                    reason: ignored.reason.clone(),
                },
                at.clone(),
            ));
        }
        for &id in &section.pages {
            let Some(page) = pages.get(id) else { continue };
            let at = page_ref(&page.common.title, &page.path, &page.file.shown);
            for file in page.downloads.iter().chain(&page.slides) {
                if is_document(&file.file_type) && !file.accessible && file.alternative.is_none() {
                    found.push(barrier(
                        What::Document {
                            title: file.title.clone(),
                            url: file.url.clone(),
                            file_type: file.file_type.clone(),
                            size: file.size.clone(),
                        },
                        at.clone(),
                    ));
                }
            }
            for ignored in &page.common.ignore_checks {
                found.push(barrier(
                    What::IgnoredCheck {
                        check: ignored.check.clone(),
                        reason: ignored.reason.clone(),
                    },
                    at.clone(),
                ));
            }
        }
    }
    let accessibility_pages = config
        .site
        .legal
        .as_ref()
        .and_then(|l| l.accessibility.as_ref())
        .map_or(&[][..], |a| a.pages.as_slice());
    for written in accessibility_pages {
        let Some(target) = content_key(written).and_then(|k| by_key.get(k)) else {
            continue; // reported by `check`
        };
        let (open, at) = match *target {
            Target::Page(id) => {
                let Some(p) = pages.get(id) else { continue };
                (
                    p.body.open_facts.len() + p.body.open_facts_more + p.fields.open_facts().len(),
                    page_ref(&p.common.title, &p.path, &p.file.shown),
                )
            }
            Target::Section(id) => {
                let Some(s) = sections.get(id) else { continue };
                (
                    s.body.open_facts.len() + s.body.open_facts_more,
                    page_ref(&s.front.title, &s.path, &s.file.shown),
                )
            }
        };
        if open > 0 {
            found.push(barrier(What::IncompletePage { open_facts: open }, at));
        }
    }
    found
}

/// Whether a file of this type (`PDF`, from its name) is a document the statement accounts for.
pub fn is_document(file_type: &str) -> bool {
    DOCUMENT_TYPES.contains(&file_type.to_ascii_uppercase().as_str())
}

/// `@/x.md` → `x.md`; anything else is no content key.
fn content_key(written: &str) -> Option<&str> {
    crate::parse::link::LinkTarget::parse(written.trim())
        .filter(|t| !t.key.is_empty() && t.anchor.is_none())
        .map(|t| t.key)
}

/// The host of a `newsletter.smtp` address, as the privacy statement names the mail server:
/// `smtp+starttls://mail.example.org:587` → `mail.example.org`. None when the address names no
/// plain host (a user before `@` is never shown; odd characters make it no host at all).
pub fn smtp_host(url: &str) -> Option<String> {
    let (_, rest) = url.trim().split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = match authority.strip_prefix('[') {
        Some(v6) => {
            let (inside, _) = v6.split_once(']')?;
            inside.parse::<std::net::Ipv6Addr>().ok()?;
            return Some(format!("[{inside}]"));
        }
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    };
    let plain = host.len() <= 253
        && !host.is_empty()
        && !host.starts_with(['.', '-'])
        && !host.ends_with('-')
        && !host.contains("..")
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    plain.then(|| host.to_ascii_lowercase())
}

/// A fact a legal page must state, by its key in `site.yaml`, with how to give it.
struct Needed {
    key: &'static str,
    present: bool,
    example: &'static str,
}

/// What each legal page must state (and so what `site.yaml` must give, known or `offen`).
fn needed(template: &str, config: &Config) -> Vec<Needed> {
    let site = &config.site;
    let contact = site.contact.as_ref();
    let has = |f: fn(&crate::config::Contact) -> bool| contact.is_some_and(f);
    let legal = site.legal.as_ref();
    let legal_has = |f: fn(&crate::config::LegalConfig) -> bool| legal.is_some_and(f);
    let provider_address = [
        Needed {
            key: "contact.organisation",
            present: has(|c| c.organisation.is_some()),
            example: "organisation: Ministerium für …",
        },
        Needed {
            key: "contact.street",
            present: has(|c| c.street.is_some()),
            example: "street: {offen: \"Postanschrift bestätigt das Ministerium\"}",
        },
        Needed {
            key: "contact.postal_code",
            present: has(|c| c.postal_code.is_some()),
            example: "postal_code: \"39104\"",
        },
        Needed {
            key: "contact.city",
            present: has(|c| c.city.is_some()),
            example: "city: Magdeburg",
        },
        Needed {
            key: "contact.email",
            present: has(|c| c.email.is_some()),
            example: "email: ozg@example.org",
        },
    ];
    match template {
        IMPRINT_TEMPLATE => provider_address
            .into_iter()
            .chain([
                Needed {
                    key: "contact.phone",
                    present: has(|c| c.phone.is_some()),
                    example: "phone: \"+49 391 567-0\"",
                },
                Needed {
                    key: "legal.provider",
                    present: legal_has(|l| l.provider.is_some()),
                    example: "provider: Land Sachsen-Anhalt",
                },
                Needed {
                    key: "legal.represented_by",
                    present: legal_has(|l| l.represented_by.is_some()),
                    example: "represented_by: {offen: \"Name und Amt bestätigt das Ministerium\"}",
                },
                Needed {
                    key: "legal.editorial_responsible",
                    present: legal_has(|l| l.editorial_responsible.is_some()),
                    example: "editorial_responsible: {name: …, role: …}",
                },
            ])
            .collect(),
        PRIVACY_TEMPLATE => {
            let service = site
                .newsletter
                .as_ref()
                .is_some_and(|n| n.subscriptions.is_some());
            let mut all: Vec<Needed> = provider_address
                .into_iter()
                .chain([
                    Needed {
                        key: "legal.data_protection_officer",
                        present: legal_has(|l| l.data_protection_officer.is_some()),
                        example: "data_protection_officer: {role: Behördliche Datenschutzbeauftragte, email: …}",
                    },
                    Needed {
                        key: "legal.supervisory_authority",
                        present: legal_has(|l| l.supervisory_authority.is_some()),
                        example: "supervisory_authority: {name: …, street: …, postal_code: …, city: …, website: https://…}",
                    },
                    Needed {
                        key: "legal.hosting_provider",
                        present: legal_has(|l| l.hosting_provider.is_some()),
                        example: "hosting_provider: {offen: \"Betreiber des Webservers nennt das Referat\"}",
                    },
                    Needed {
                        key: "legal.web_server_log_retention",
                        present: legal_has(|l| l.web_server_log_retention.is_some()),
                        example: "web_server_log_retention: sieben Tage",
                    },
                    Needed {
                        key: "legal.third_country_transfer",
                        present: legal_has(|l| l.third_country_transfer.is_some()),
                        example: "third_country_transfer: false",
                    },
                ])
                .collect();
            if service {
                all.push(Needed {
                    key: "legal.service_log_retention",
                    present: legal_has(|l| l.service_log_retention.is_some()),
                    example: "service_log_retention: sieben Tage",
                });
            }
            all
        }
        ACCESSIBILITY_TEMPLATE => vec![Needed {
            key: "legal.accessibility",
            present: legal_has(|l| l.accessibility.is_some()),
            example: "accessibility: {compliance: partial, law: …, standard: …, created: offen, method: offen}",
        }],
        _ => Vec::new(),
    }
}

/// The German name of a legal page in messages.
fn page_name(template: &str) -> &'static str {
    match template {
        IMPRINT_TEMPLATE => "the Impressum",
        PRIVACY_TEMPLATE => "the privacy statement",
        ACCESSIBILITY_TEMPLATE => "the accessibility statement",
        _ => "a legal page",
    }
}

/// Checks what the legal pages need: the `legal:` settings where a page uses a legal template,
/// each fact that page must state (known or `offen`), the `@/` links of
/// `legal.accessibility`, and a "vollständig vereinbar" that the site's own barriers contradict.
pub fn check(
    config: &Config,
    sections: &[Section],
    pages: &[Page],
    by_key: &HashMap<String, Target>,
) -> Vec<Diagnostic> {
    let yaml = YamlSource::whole_file(Path::new(CONFIG_FILE), &config.text);
    let mut errors = Vec::new();
    let mut reported = std::collections::HashSet::new();
    for page in pages {
        let Some(template) = page.common.template.as_deref() else {
            continue;
        };
        if !template.starts_with(TEMPLATE_FOLDER) {
            continue;
        }
        let at_template = page.split.yaml_source(&page.file).key_location("template");
        if config.site.legal.is_none() {
            errors.push(
                Diagnostic::error(format!(
                    "`template: {template}` needs the `legal:` settings in site.yaml"
                ))
                .at(at_template)
                .hint("add `legal:` to site.yaml with the facts the legal pages state (see docs/content-model.md, \"Legal pages\"); a fact not known yet is written `offen`"),
            );
            continue;
        }
        for need in needed(template, config) {
            if need.present || !reported.insert(need.key) {
                continue;
            }
            let (parent, key) = need.key.split_once('.').unwrap_or(("legal", need.key));
            let at = match crate::yaml::find_top_level_key(&config.text, parent) {
                Some(_) => yaml.key_location(parent),
                None => Location::file(Path::new(CONFIG_FILE)),
            };
            errors.push(
                Diagnostic::error(format!(
                    "{} needs `{}` in site.yaml",
                    page_name(template),
                    need.key
                ))
                .at(at)
                .note(format!("used by {}", page.file.shown.display()))
                .hint(format!(
                    "add `{key}` under `{parent}:`, e.g. `{}`; while it is not known, write `{key}: {{offen: \"wer es nachreicht\"}}`",
                    need.example
                )),
            );
        }
    }
    let Some(a) = config
        .site
        .legal
        .as_ref()
        .and_then(|l| l.accessibility.as_ref())
    else {
        return errors;
    };
    let links = a
        .pages
        .iter()
        .map(|p| ("pages", p))
        .chain(a.feedback_page.iter().map(|p| ("feedback_page", p)));
    for (key, written) in links {
        let published = content_key(written).and_then(|k| by_key.get(k)).is_some();
        if !published {
            errors.push(
                Diagnostic::error(format!(
                    "`legal.accessibility.{key}` names `{}`, which is no published page",
                    crate::diagnostics::printable(written)
                ))
                .at(yaml.value_location(written, "legal"))
                .hint("write the page's source path, e.g. `@/gebaerdensprache.md`; it must be published"),
            );
        }
    }
    if a.compliance == Fact::Known(Compliance::Full) {
        let barriers = known_barriers(config, sections, pages, by_key);
        if let Some(first) = barriers.first() {
            errors.push(
                Diagnostic::error(format!(
                    "`compliance: full`, but the site declares {} barrier{} (the first on {})",
                    barriers.len(),
                    if barriers.len() == 1 { "" } else { "s" },
                    first.page.source
                ))
                .at(yaml.value_location("compliance: full", "legal"))
                .hint("a site whose statement lists barriers is `compliance: partial` (\"teilweise vereinbar\"); remove the barriers, or change the status"),
            );
        }
    }
    errors
}

/// The facts a legal page cannot know from `site.yaml` alone, as open facts: the mail server of
/// the newsletter when the privacy statement describes the sign-up and `newsletter.smtp` names
/// no host (the service may get `--smtp` on its command line, which no page can see).
pub fn open_facts(config: &Config, pages: &[Page]) -> Vec<Diagnostic> {
    let privacy_page = pages
        .iter()
        .any(|p| p.common.template.as_deref() == Some(PRIVACY_TEMPLATE));
    let Some(nl) = config.site.newsletter.as_ref() else {
        return Vec::new();
    };
    if !privacy_page || config.site.legal.is_none() {
        return Vec::new();
    }
    if nl.smtp.as_deref().and_then(smtp_host).is_some() {
        return Vec::new();
    }
    let yaml = YamlSource::whole_file(Path::new(CONFIG_FILE), &config.text);
    let at = match nl.smtp.as_deref() {
        Some(written) => yaml.value_location(written, "newsletter"),
        None => yaml.key_location("newsletter"),
    };
    let note = match nl.smtp {
        Some(_) => {
            "`newsletter.smtp` names no host the privacy statement could give; write it like `smtp+starttls://mail.example.org:587`"
        }
        None => {
            "Die Datenschutzerklärung nennt den Mailserver, über den Newsletter und Bestätigungen verschickt werden: `smtp:` unter `newsletter:` eintragen (ein `--smtp` beim Start des Dienstes sieht keine Seite)"
        }
    };
    let open = OpenFact {
        note: Some(note.to_string()),
        span: None,
    };
    vec![fact::diagnostic("newsletter.smtp", &open, at)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mail_server_is_the_host_of_the_smtp_address_and_never_its_user() {
        let cases: [(&str, Option<&str>); 12] = [
            (
                "smtp+starttls://mail.example.org:587",
                Some("mail.example.org"),
            ),
            ("smtps://Mail.Example.ORG:465/", Some("mail.example.org")),
            ("smtp://localhost", Some("localhost")),
            (
                "smtp://user:geheim@mail.example.org:25",
                Some("mail.example.org"),
            ),
            ("smtp://[2001:db8::1]:25", Some("[2001:db8::1]")),
            ("smtp://[nicht-ip]:25", None),
            ("mail.example.org", None),
            ("smtp://", None),
            ("smtp://mail.example.org\u{1b}[31m:25", None),
            ("smtp://<script>:25", None),
            ("smtp://-mail.example.org", None),
            ("smtp://mail..example.org", None),
        ];
        for (url, host) in cases {
            assert_eq!(smtp_host(url).as_deref(), host, "{url:?}");
        }
    }

    #[test]
    fn office_files_are_documents_calendars_are_not() {
        for t in ["PDF", "pdf", "DOCX", "ODS", "PPTX", "RTF"] {
            assert!(is_document(t), "{t}");
        }
        for t in ["ICS", "ZIP", "MP4", "CSV", "", "PNG"] {
            assert!(!is_document(t), "{t}");
        }
    }

    #[test]
    fn only_at_paths_are_content_keys() {
        assert_eq!(
            content_key(" @/gebaerdensprache.md "),
            Some("gebaerdensprache.md")
        );
        assert_eq!(content_key("/gebaerdensprache/"), None);
        assert_eq!(content_key("@/"), None);
        assert_eq!(content_key("@/x.md#anker"), None);
    }
}
