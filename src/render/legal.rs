//! `legal`, the context of the templates under `legal/`: what the privacy statement says about
//! the newsletter, the sign-up service and the feedback form, taken from the settings those use,
//! and the accessibility statement's list of known barriers, taken from the content.
//!
//! Values only: the German wording is the theme's (`legal/*.html` and their partials), so a
//! changed setting changes the page and nothing has to be rewritten by hand. Every figure here
//! is one the code acts on; those that live in code rather than in `site.yaml` are named as
//! constants below, each pinned by a test to the code that decides it.

use serde_json::{Value as Json, json};
use tera::Value;

use super::memo::{self, Dep};
use crate::config::{Config, NewsletterConfig};
use crate::site::legal::{self as model, Barrier};
use crate::site::{Site, Target};

/// Days an unconfirmed sign-up is kept after its last confirmation link expired, before the
/// service's hourly cleanup deletes it with its links (`KEEP_EXPIRED` of
/// `src/newsletter/store/optin.rs`, `delete_stale_signups`).
pub const UNCONFIRMED_KEPT_DAYS: u64 = 30;

/// Days a report of the feedback form waits in the service's queue for the mail server before it
/// is given up (`LIFETIME` of `src/subscriptions/feedback.rs`).
pub const REPORT_QUEUE_DAYS: u64 = 7;

/// Seconds between two cleanups of the service's rate limiters, at most: they run every
/// `FORGET_EVERY` (60 s), looked at every `LOOK_EVERY` (5 s), in `src/subscriptions/mod.rs`.
const LIMITER_CLEANUP_SECS: u64 = 65;

/// Whether `template` is a legal page's, which gets [`context`].
pub fn is_legal_template(template: &str) -> bool {
    template.starts_with(model::TEMPLATE_FOLDER)
}

/// `legal` for a page rendered with `template`: `privacy` for the privacy statement,
/// `accessibility` for the accessibility statement, both for any other legal template of a
/// theme, neither for the Impressum (it reads `site.contact` and `site.legal`).
///
/// Built inside the page's job, so the preview records the content it was made of: every page
/// for the privacy statement (their text may load something from elsewhere), every section for
/// the accessibility statement (their pages' summaries hold the files and switched-off checks)
/// and the accessibility pages (their text holds the open facts).
pub fn context(site: &Site, template: &str) -> Value {
    let mut legal = serde_json::Map::new();
    let wants = |own: &str, others: [&str; 2]| template == own || !others.contains(&template);
    if wants(
        model::PRIVACY_TEMPLATE,
        [model::IMPRINT_TEMPLATE, model::ACCESSIBILITY_TEMPLATE],
    ) {
        for (key, target) in &site.by_key {
            memo::record(match target {
                Target::Page(_) => Dep::Page(key.clone()),
                Target::Section(_) => Dep::Section(key.clone()),
            });
        }
        let mut p = privacy(&site.config);
        p["external_hosts"] = json!(external_hosts(site));
        legal.insert("privacy".into(), p);
    }
    if wants(
        model::ACCESSIBILITY_TEMPLATE,
        [model::IMPRINT_TEMPLATE, model::PRIVACY_TEMPLATE],
    ) {
        memo::record(Dep::Sections);
        for s in &site.sections {
            memo::record(Dep::Section(s.file.key.clone()));
        }
        let accessibility_pages = site
            .config
            .site
            .legal
            .as_ref()
            .and_then(|l| l.accessibility.as_ref())
            .map_or(&[][..], |a| a.pages.as_slice());
        for written in accessibility_pages {
            if let Some(key) = written.trim().strip_prefix("@/") {
                memo::record(Dep::Page(key.to_string()));
            }
        }
        let barriers =
            model::known_barriers(&site.config, &site.sections, &site.pages, &site.by_key);
        legal.insert("accessibility".into(), accessibility(site, &barriers));
    }
    Value::from_serializable(&legal)
}

/// The hosts of other servers the published pages load something from (`src`, `srcset`,
/// `poster` of their HTML: an image from elsewhere, an embed of `markdown.trusted_embeds`),
/// sorted: each one learns the reader's IP address, so the privacy statement names them.
pub fn external_hosts(site: &Site) -> Vec<String> {
    let own = host_of(&site.config.base_url).to_ascii_lowercase();
    let mut hosts = std::collections::BTreeSet::new();
    let bodies = site
        .pages
        .iter()
        .map(|p| p.body.html.as_str())
        .chain(site.sections.iter().map(|s| s.body.html.as_str()));
    for html in bodies {
        for url in loaded_urls(html) {
            if let Some(host) = remote_host(url)
                && host != own
            {
                hosts.insert(host);
            }
        }
    }
    hosts.into_iter().collect()
}

/// The values of `src`, `srcset` (each candidate) and `poster` attributes in `html`, in any case
/// and quoting.
fn loaded_urls(html: &str) -> Vec<&str> {
    let lower = html.to_ascii_lowercase();
    let mut urls = Vec::new();
    for name in ["src", "srcset", "poster"] {
        let mut from = 0;
        while let Some(found) = lower.get(from..).and_then(|rest| rest.find(name)) {
            let start = from + found;
            from = start + name.len();
            let before = lower.get(..start).and_then(|b| b.chars().next_back());
            if !before.is_some_and(|c| c.is_ascii_whitespace() || c == '/') {
                continue;
            }
            let Some(rest) = html.get(from..) else { break };
            let Some(value) = rest.trim_start().strip_prefix('=') else {
                continue;
            };
            let value = value.trim_start();
            let (value, _) = match value.chars().next() {
                Some(q @ ('"' | '\'')) => value
                    .get(1..)
                    .and_then(|v| v.split_once(q))
                    .unwrap_or((value, "")),
                _ => value
                    .split_once(|c: char| c.is_ascii_whitespace() || c == '>')
                    .unwrap_or((value, "")),
            };
            if name == "srcset" {
                urls.extend(
                    value
                        .split(',')
                        .filter_map(|candidate| candidate.split_whitespace().next()),
                );
            } else {
                urls.push(value.trim());
            }
        }
    }
    urls
}

/// `https://Host.example/x` or `//host.example/x` → `host.example`; none for the site's own
/// relative addresses and for anything that names no plain host.
fn remote_host(url: &str) -> Option<String> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    let rest = ["https://", "http://", "//"]
        .iter()
        .find_map(|p| lower.strip_prefix(p))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let plain = !host.is_empty()
        && host.len() <= 260
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    plain.then(|| host.to_string())
}

/// What the privacy statement says about the newsletter, the service and the feedback form.
pub fn privacy(config: &Config) -> Json {
    let site = &config.site;
    let newsletter = site.newsletter.as_ref().map(newsletter);
    let service = site
        .newsletter
        .as_ref()
        .and_then(|n| n.subscriptions.as_ref())
        .map(|subs| {
            let mut per_client = vec![subs.signups_per_client_per_hour];
            if let Some(fb) = &site.feedback {
                per_client.push(fb.reports_per_client_per_hour);
            }
            json!({
                "client_forget_minutes": forget_minutes(&per_client),
                "mailbox_forget_minutes": forget_minutes(&[subs.signups_per_address_per_hour]),
            })
        });
    let has_service = service.is_some();
    let feedback = site.feedback.as_ref().map(|fb| {
        json!({
            "to": fb.to,
            "form": has_service && !fb.form_url.is_empty(),
            "reports_per_client_per_hour": fb.reports_per_client_per_hour,
            "queue_days": REPORT_QUEUE_DAYS,
        })
    });
    json!({
        "newsletter": newsletter,
        "service": service,
        "feedback": feedback,
    })
}

fn newsletter(nl: &NewsletterConfig) -> Json {
    let mailbox = nl.reply_to.as_deref().unwrap_or(&nl.from);
    let signup_email = mailbox
        .parse::<lettre::message::Mailbox>()
        .map(|m| m.email.to_string())
        .unwrap_or_default();
    let subs = nl.subscriptions.as_ref();
    json!({
        "service": subs.is_some(),
        "signup_email": signup_email,
        "consent": subs.map(|s| s.consent.as_str()),
        "confirm_hours": subs.map(|s| s.confirm_within_hours),
        "unconfirmed_days": subs.map(|_| UNCONFIRMED_KEPT_DAYS),
        "mails_per_address_per_hour": subs.map(|s| s.signups_per_address_per_hour),
        "signups_per_client_per_hour": subs.map(|s| s.signups_per_client_per_hour),
        "mail_server": nl.smtp.as_deref().and_then(model::smtp_host),
        "unsubscribe_mailto": nl.unsubscribe_mailto,
        // Without the service, unsubscribing is another system's (`unsubscribe_url`).
        "other_unsubscribe": subs.is_none(),
    })
}

/// Minutes after a client's last request by which the service has forgotten its counter, at
/// most, for the slowest of the allowances `per_hour`: governor's GCRA keeps a key until its
/// theoretical arrival time, at most an hour ahead after a whole allowance was used, lies one
/// emission interval (an hour / allowance) in the past; then the next cleanup drops it.
pub fn forget_minutes(per_hour: &[u32]) -> u64 {
    let slowest = per_hour.iter().copied().min().unwrap_or(1).max(1);
    let seconds = 3600 + 3600_u64.div_ceil(u64::from(slowest)) + LIMITER_CLEANUP_SECS;
    seconds.div_ceil(60)
}

/// The statement's own values: the barriers, and where readers report one.
fn accessibility(site: &Site, barriers: &[Barrier]) -> Json {
    let config = &site.config;
    let settings = config
        .site
        .legal
        .as_ref()
        .and_then(|l| l.accessibility.as_ref());
    let feedback_url = settings
        .and_then(|a| a.feedback_page.as_deref())
        .and_then(|p| p.trim().strip_prefix("@/"))
        .and_then(|key| match site.by_key.get(key)? {
            Target::Page(id) => Some(config.url(&site.pages[*id].path)),
            Target::Section(id) => Some(config.url(&site.sections[*id].path)),
        });
    let feedback_to = config
        .site
        .feedback
        .as_ref()
        .map(|f| f.to.clone())
        .or_else(|| {
            config
                .site
                .contact
                .as_ref()
                .and_then(|c| crate::yaml::fact::known(&c.email).cloned())
        });
    let of_kind = |kind: fn(&model::What) -> bool| -> Vec<&Barrier> {
        barriers.iter().filter(|b| kind(&b.what)).collect()
    };
    json!({
        "barriers": barriers,
        "documents": of_kind(|w| matches!(w, model::What::Document { .. })),
        "ignored_checks": of_kind(|w| matches!(w, model::What::IgnoredCheck { .. })),
        "incomplete_pages": of_kind(|w| matches!(w, model::What::IncompletePage { .. })),
        "feedback_url": feedback_url,
        "feedback_to": feedback_to,
        "host": host_of(&config.base_url),
    })
}

/// `ozg.sachsen-anhalt.de` of `https://ozg.sachsen-anhalt.de/pfad`: the site the statement is for.
fn host_of(base_url: &str) -> String {
    let rest = base_url.split_once("://").map_or(base_url, |(_, r)| r);
    rest.split('/').next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("site.yaml"),
            format!(
                "title: T\nbase_url: https://ozg.example.org/ozg\nlanguage: de\ntimezone: Europe/Berlin\n{yaml}"
            ),
        )
        .unwrap();
        let c = Config::load(dir.path(), None).unwrap();
        // The folder goes; the settings are all the context needs.
        drop(dir);
        c
    }

    const SERVICE: &str = "newsletter:\n  from: \"Team <team@example.org>\"\n  subscriptions:\n    consent: \"Ich will ihn.\"\n";

    #[test]
    fn the_newsletter_section_follows_the_settings_of_the_service() {
        let p = privacy(&config(&format!(
            "{SERVICE}    confirm_within_hours: 24\n    signups_per_client_per_hour: 5\n    signups_per_address_per_hour: 2\n  smtp: \"smtp+starttls://mail.example.org:587\"\n  unsubscribe_mailto: abmelden@example.org\n"
        )));
        let nl = &p["newsletter"];
        assert_eq!(nl["service"], true);
        assert_eq!(nl["consent"], "Ich will ihn.");
        assert_eq!(nl["confirm_hours"], 24);
        assert_eq!(nl["unconfirmed_days"], 30);
        assert_eq!(nl["signups_per_client_per_hour"], 5);
        assert_eq!(nl["mails_per_address_per_hour"], 2);
        assert_eq!(nl["mail_server"], "mail.example.org");
        assert_eq!(nl["signup_email"], "team@example.org");
        assert_eq!(nl["unsubscribe_mailto"], "abmelden@example.org");
        // 5 an hour: one every 12 minutes; a key lives an hour and 12 minutes after its last
        // use, and the cleanup comes within 65 seconds.
        assert_eq!(p["service"]["client_forget_minutes"], 74);
        assert_eq!(p["service"]["mailbox_forget_minutes"], 92);
        assert!(p["feedback"].is_null());
    }

    #[test]
    fn without_a_mail_server_or_service_the_context_says_so() {
        let p = privacy(&config(SERVICE));
        assert!(p["newsletter"]["mail_server"].is_null());
        assert_eq!(p["newsletter"]["confirm_hours"], 48);
        let p = privacy(&config(
            "newsletter:\n  from: team@example.org\n  unsubscribe_url: \"https://x.example/?t={token}\"\n",
        ));
        assert_eq!(p["newsletter"]["service"], false);
        assert_eq!(p["newsletter"]["other_unsubscribe"], true);
        assert!(p["newsletter"]["consent"].is_null());
        assert!(p["service"].is_null());
        let p = privacy(&config(""));
        assert!(p["newsletter"].is_null() && p["service"].is_null() && p["feedback"].is_null());
    }

    #[test]
    fn the_feedback_section_names_the_team_address_and_whether_the_form_runs() {
        let p = privacy(&config(&format!(
            "{SERVICE}feedback:\n  to: barrieren@example.org\n  reports_per_client_per_hour: 4\n"
        )));
        assert_eq!(p["feedback"]["to"], "barrieren@example.org");
        assert_eq!(p["feedback"]["form"], true);
        assert_eq!(p["feedback"]["queue_days"], 7);
        assert_eq!(p["feedback"]["reports_per_client_per_hour"], 4);
        // The slower allowance (4 reports an hour) decides how long a client is remembered.
        assert_eq!(
            p["service"]["client_forget_minutes"],
            forget_minutes(&[20, 4])
        );
        let p = privacy(&config(
            "newsletter:\n  from: team@example.org\n  unsubscribe_url: \"https://x.example/?t={token}\"\nfeedback:\n  to: b@example.org\n",
        ));
        assert_eq!(p["feedback"]["form"], false);
    }

    #[test]
    fn a_forgotten_client_is_forgotten_within_the_stated_minutes() {
        assert_eq!(forget_minutes(&[20]), (3600 + 180 + 65_u64).div_ceil(60));
        assert_eq!(forget_minutes(&[1]), (7200 + 65_u64).div_ceil(60));
        assert_eq!(forget_minutes(&[]), forget_minutes(&[1]));
        assert_eq!(forget_minutes(&[0]), forget_minutes(&[1]));
        assert_eq!(
            forget_minutes(&[1_000_000]),
            (3600 + 1 + 65_u64).div_ceil(60)
        );
    }

    /// The retention the statement gives is the one the store applies: a sign-up that is never
    /// confirmed survives the cleanup until `UNCONFIRMED_KEPT_DAYS` after its link expired.
    #[test]
    fn an_unconfirmed_sign_up_is_deleted_when_the_statement_says() {
        use crate::newsletter::store::Store;
        use crate::newsletter::store::optin::{Requested, SignupRequest};
        use crate::newsletter::store::outgoing::QueuedMail;
        use jiff::{SignedDuration, Timestamp};
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("n.sqlite")).unwrap();
        let t0: Timestamp = "2026-01-10T09:00:00Z".parse().unwrap();
        let valid = SignedDuration::from_hours(48);
        let request = SignupRequest {
            email: "leserin@example.org",
            name: Some("Erika"),
            lists: &[Requested {
                list: "newsletter",
                consent: "Ich will ihn.",
            }],
            now: t0,
            valid_for: valid,
        };
        store
            .signup(&request, |_| {
                Ok(QueuedMail {
                    kind: "confirm",
                    subscriber: None,
                    sender: "team@example.org".into(),
                    recipient: "leserin@example.org".into(),
                    message: b"Subject: x\r\n\r\nx\r\n".to_vec(),
                    give_up_at: t0,
                })
            })
            .unwrap();
        let kept = SignedDuration::from_hours(24 * UNCONFIRMED_KEPT_DAYS as i64);
        let expired = t0.checked_add(valid).unwrap();
        let before = expired.checked_add(kept - SignedDuration::from_hours(1));
        let after = expired.checked_add(kept + SignedDuration::from_hours(1));
        assert_eq!(store.delete_stale_signups(before.unwrap()).unwrap(), 0);
        assert_eq!(store.delete_stale_signups(after.unwrap()).unwrap(), 1);
        assert!(store.find("leserin@example.org").unwrap().is_none());
    }

    /// The figures that live in constants of other modules, as those modules write them: a
    /// change there fails here, and the statement's figure is changed with it.
    #[test]
    fn the_figures_taken_from_the_service_are_the_services() {
        let feedback = include_str!("../subscriptions/feedback.rs");
        assert!(
            feedback.contains(&format!(
                "const LIFETIME: SignedDuration = SignedDuration::from_hours({REPORT_QUEUE_DAYS} * 24);"
            )),
            "the feedback queue's LIFETIME changed: update REPORT_QUEUE_DAYS"
        );
        let service = include_str!("../subscriptions/mod.rs");
        assert!(
            service.contains("const FORGET_EVERY: Duration = Duration::from_secs(60);")
                && service.contains("const LOOK_EVERY: Duration = Duration::from_secs(5);"),
            "the limiter cleanup changed: update LIMITER_CLEANUP_SECS"
        );
        assert_eq!(LIMITER_CLEANUP_SECS, 60 + 5);
    }

    #[test]
    fn pages_that_load_from_elsewhere_name_the_host() {
        let html = r#"<p><img src="https://Bilder.Example.org/a.png" alt=""> <img srcset="/b-480.webp 480w, https://cdn.example.net/b.webp 960w" src="/b.png">
<IFRAME SRC='https://www.youtube-nocookie.com/embed/x'></IFRAME><video poster=//poster.example.com/p.jpg></video>
<a href="https://verlinkt.example.org/">nur ein Link</a> src=&quot;https://text.example.org&quot; <img data-src="https://lazy.example.org/x"></p>"#;
        let hosts: Vec<String> = loaded_urls(html)
            .into_iter()
            .filter_map(remote_host)
            .collect();
        assert_eq!(
            hosts,
            [
                "bilder.example.org",
                "www.youtube-nocookie.com",
                "cdn.example.net",
                "poster.example.com"
            ]
        );
        assert_eq!(remote_host("/bilder/a.png"), None);
        assert_eq!(remote_host("https://<script>/x"), None);
        assert_eq!(
            remote_host("https://user@host.example/x").as_deref(),
            Some("host.example")
        );
    }

    #[test]
    fn the_site_the_statement_is_for_is_the_host_of_base_url() {
        assert_eq!(
            host_of("https://ozg.sachsen-anhalt.de"),
            "ozg.sachsen-anhalt.de"
        );
        assert_eq!(host_of("http://127.0.0.1:1111/ozg"), "127.0.0.1:1111");
    }
}
