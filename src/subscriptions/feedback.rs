//! "Barriere melden": the feedback mechanism an accessibility statement must offer (EU directive
//! 2016/2102, BITV 2.0, BGG LSA). A reader describes a barrier, optionally names the page, an
//! address for the answer and a name; the service sends it as a plain-text mail to the team
//! (`feedback.to`) through the same queue as the confirmation mails, and keeps nothing else.
//!
//! What a stranger types reaches the team's mailbox, so every value is checked here, once:
//! the description keeps its line breaks and nothing else invisible (other control characters
//! and bidirectional overrides are written as `\u{…}`), the page must be an address on the site,
//! the address is one the mail library can send to ([`Email::parse`]), the name has no control
//! characters ([`clean_name`]). Nothing of it ever becomes a header but the checked address and
//! name, as `Reply-To`.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use jiff::{SignedDuration, Timestamp};
use lettre::Message;
use lettre::message::Mailbox;
use lettre::message::dkim::DkimConfig;
use lettre::message::header::ContentType;
use tera::Context;

use super::guard::{FieldError, client_key};
use crate::config::{CONFIG_FILE, FeedbackConfig, NewsletterConfig, origin_of};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::newsletter::address::{AddressError, Email, NameError, clean_name, printable};
use crate::newsletter::store::outgoing::QueuedMail;
use crate::render::templates::Templates;
use crate::site::Site;
use crate::theme::Theme;

/// Longest description, in characters: some two pages of text, more than any report needs.
pub const MAX_DESCRIPTION: usize = 5000;
/// Longest page address, in characters.
pub const MAX_PAGE: usize = 400;
/// Largest form body: the description at its longest, every character percent-encoded, and the
/// other fields. More is refused with 413 before it is read.
pub const MAX_BODY: usize = 64 * 1024;
/// Longest query string whose `seite` is taken into the form; a longer one is ignored.
pub const MAX_QUERY: usize = 2048;
/// The theme's mail to the team.
pub const MAIL_TEMPLATE: &str = "feedback.txt";
/// A report not accepted by the mail server for a week is given up: the reader has long since
/// been told to expect an answer, and the report is not kept longer than it can help.
const LIFETIME: SignedDuration = SignedDuration::from_hours(7 * 24);

/// A report as typed, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Trimmed, line breaks as `\n`, every other invisible character written as `\u{…}`.
    pub description: String,
    /// The full address of the page on the site.
    pub page: Option<String>,
    pub email: Option<Email>,
    pub name: Option<String>,
}

/// The errors of a report form, by field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportErrors {
    pub description: Option<FieldError>,
    pub page: Option<FieldError>,
    pub email: Option<FieldError>,
    pub name: Option<FieldError>,
}

impl ReportErrors {
    pub fn any(&self) -> bool {
        *self != ReportErrors::default()
    }
}

/// The site's address, for telling its pages from anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteAddress {
    /// `https://host[:port]`, lower case.
    origin: String,
    /// The base path without a trailing slash: `""` or `/ozg`.
    base_path: String,
}

impl SiteAddress {
    /// From `base_url` (`https://ozg.sachsen-anhalt.de`, `https://host/ozg`).
    pub fn new(base_url: &str) -> SiteAddress {
        let origin = origin_of(base_url);
        let rest = base_url
            .split_once("://")
            .map_or("", |(_, r)| r)
            .split_once('/')
            .map_or("", |(_, path)| path)
            .trim_end_matches('/');
        let base_path = if rest.is_empty() {
            String::new()
        } else {
            format!("/{rest}")
        };
        SiteAddress { origin, base_path }
    }

    /// The page a reader names, as its full address: a path of the site (`/aktuelles/`, with the
    /// base path if the site has one), or an address on the site, with or without `https://`.
    /// `Ok(None)` for an empty field.
    pub fn page(&self, raw: &str) -> Result<Option<String>, FieldError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        if raw.chars().count() > MAX_PAGE {
            return Err(FieldError::TooLong);
        }
        if raw.chars().any(not_in_an_address) {
            return Err(FieldError::Invalid);
        }
        let path = if raw.starts_with('/') {
            raw
        } else {
            let (_, host) = self.origin.split_once("://").unwrap_or(("", &self.origin));
            let without_scheme = strip_prefix_ignore_case(raw, "https://")
                .or_else(|| strip_prefix_ignore_case(raw, "http://"))
                .unwrap_or(raw);
            let path = strip_prefix_ignore_case(without_scheme, host).ok_or(FieldError::Invalid)?;
            if path.is_empty() { "/" } else { path }
        };
        // `//host/…` is another site; after the host only a path may follow, not `@`, `.`, `:`.
        if !path.starts_with('/') || path.starts_with("//") {
            return Err(FieldError::Invalid);
        }
        // Below a base path only its own addresses are the site's; `/` alone is its home page.
        let path = if path == "/" {
            format!("{}/", self.base_path)
        } else if self.base_path.is_empty()
            || path
                .strip_prefix(self.base_path.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']))
        {
            path.to_string()
        } else {
            return Err(FieldError::Invalid);
        };
        Ok(Some(format!("{}{path}", self.origin)))
    }
}

/// `text` without `prefix`, compared without regard to ASCII letter case.
fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

/// Characters no address of ours holds: white space, control characters, bidirectional
/// overrides, and what RFC 3986 leaves out of URLs (`<`, `>`, `"`, `\`, …).
fn not_in_an_address(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '<' | '>' | '"' | '\\' | '`' | '{' | '}' | '|' | '^' | '\u{fffd}'
        )
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The description as it goes into the mail: line breaks as `\n` (browsers send `\r\n`), tabs
/// as spaces, every other invisible character — escape sequences, NUL, bidirectional overrides,
/// bytes that were not UTF-8 — written as `\u{…}`, so none of them reaches the team's screen.
pub fn safe_text(raw: &str) -> String {
    let unified = raw
        .replace("\r\n", "\n")
        .replace(['\r', '\u{2028}', '\u{2029}'], "\n");
    let lines: Vec<String> = unified
        .split('\n')
        .map(|line| printable(&line.replace('\t', " ")).trim_end().to_string())
        .collect();
    lines.join("\n").trim().to_string()
}

/// Checks the fields of a report; `page` is checked against `site`.
pub fn check_report(
    site: &SiteAddress,
    description: &str,
    page: &str,
    email: &str,
    name: &str,
) -> Result<Report, ReportErrors> {
    let description = {
        // Far more than the limit cannot become short: no need to look at every character.
        if description.len() > MAX_DESCRIPTION * 8 {
            Err(FieldError::TooLong)
        } else {
            let unified = description.replace("\r\n", "\n");
            let unified = unified.trim();
            if unified.is_empty() {
                Err(FieldError::Missing)
            } else if unified.chars().count() > MAX_DESCRIPTION {
                Err(FieldError::TooLong)
            } else {
                Ok(safe_text(unified))
            }
        }
    };
    let page = site.page(page);
    let email = match Email::parse(email) {
        Ok(e) => Ok(Some(e)),
        Err(AddressError::Empty) => Ok(None),
        Err(AddressError::TooLong) => Err(FieldError::TooLong),
        Err(
            AddressError::ControlCharacter
            | AddressError::Malformed
            | AddressError::Quoted
            | AddressError::Domain,
        ) => Err(FieldError::Invalid),
    };
    let name = clean_name(name).map_err(|e| match e {
        NameError::TooLong => FieldError::TooLong,
        NameError::ControlCharacter => FieldError::Invalid,
    });
    match (description, page, email, name) {
        (Ok(description), Ok(page), Ok(email), Ok(name)) => Ok(Report {
            description,
            page,
            email,
            name,
        }),
        (description, page, email, name) => Err(ReportErrors {
            description: description.err(),
            page: page.err(),
            email: email.err(),
            name: name.err(),
        }),
    }
}

/// The `seite` of a link's query (`…/barrierefreiheit/melden?seite=/aktuelles/`), as the page
/// field's first value: only a page of the site; anything else leaves the field empty, so a
/// link cannot put a stranger's text into the form.
pub fn page_in_query(site: &SiteAddress, query: Option<&str>) -> Option<String> {
    let query = query.filter(|q| q.len() <= MAX_QUERY)?;
    let fields = super::guard::parse_form(query.as_bytes()).ok()?;
    site.page(fields.get("seite")?).ok().flatten()
}

/// How often reports may come: per client and from everybody together (GCRA: the allowance
/// refills evenly over the hour). Separate from the sign-ups' allowances, so a flood of either
/// does not stop the other.
pub struct ReportLimits {
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    overall: DefaultDirectRateLimiter,
    clock: DefaultClock,
    /// Whether the overall limit refused a report since the last one went through: the log says
    /// so once, not once per request.
    refusing: AtomicBool,
}

/// What the limits say about one more report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowance {
    /// Send it; `after_refusals` for the first report after the overall limit refused some.
    Send { after_refusals: bool },
    /// This client sent its reports for now; it may again after this long.
    Client(Duration),
    /// Everybody together did; `first` for the refusal that started it.
    Busy { wait: Duration, first: bool },
}

impl ReportLimits {
    pub fn new(per_client_per_hour: u32, per_hour: u32) -> ReportLimits {
        let quota = |n: u32| Quota::per_hour(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        ReportLimits {
            per_client: RateLimiter::keyed(quota(per_client_per_hour)),
            overall: RateLimiter::direct(quota(per_hour)),
            clock: DefaultClock::default(),
            refusing: AtomicBool::new(false),
        }
    }

    /// Takes one report from the client's allowance and then from everybody's.
    pub fn take(&self, client: IpAddr) -> Allowance {
        if let Err(not_until) = self.per_client.check_key(&client_key(client)) {
            return Allowance::Client(not_until.wait_time_from(self.clock.now()));
        }
        match self.overall.check() {
            Ok(()) => Allowance::Send {
                after_refusals: self.refusing.swap(false, Ordering::Relaxed),
            },
            Err(not_until) => Allowance::Busy {
                wait: not_until.wait_time_from(self.clock.now()),
                first: !self.refusing.swap(true, Ordering::Relaxed),
            },
        }
    }

    /// Forgets clients whose allowance is full again: the map stays small.
    pub fn forget_idle(&self) {
        self.per_client.retain_recent();
        self.per_client.shrink_to_fit();
    }
}

/// What the service needs for reports, when `site.yaml` has `feedback:`.
pub struct Feedback {
    pub site: SiteAddress,
    pub mailer: ReportMailer,
    pub limits: ReportLimits,
    /// `reports_per_hour`, for the log line when it is reached.
    pub per_hour: u32,
}

/// The mail a report becomes: from the newsletter's sender to `feedback.to`, with the reader's
/// address as `Reply-To`, the text from the theme's `email/feedback.txt`.
pub struct ReportMailer {
    templates: Templates,
    from: Mailbox,
    to: Mailbox,
    domain: String,
    dkim: Option<DkimConfig>,
}

impl ReportMailer {
    pub fn new(
        site: &Arc<Site>,
        theme: &Theme,
        nl: &NewsletterConfig,
        feedback: &FeedbackConfig,
    ) -> Result<ReportMailer, Diagnostics> {
        theme.require_email_templates(&[MAIL_TEMPLATE])?;
        let from = nl.from.parse::<Mailbox>().map_err(|e| {
            Diagnostic::error(format!(
                "`newsletter.from` is not a valid e-mail address: {e}"
            ))
            .in_file(CONFIG_FILE)
        })?;
        let to = feedback
            .to
            .parse::<lettre::Address>()
            .map(|a| Mailbox::new(None, a))
            .map_err(|e| {
                Diagnostic::error(format!("`feedback.to` is not an e-mail address: {e}"))
                    .in_file(CONFIG_FILE)
            })?;
        let mailer = ReportMailer {
            templates: crate::render::email_templates(site, theme)?,
            domain: from.email.domain().to_string(),
            from,
            to,
            dkim: crate::newsletter::message::dkim(nl, &site.config.root)?,
        };
        // Once at start, with every field, so a template error stops the start, not a report.
        let sample = Report {
            description: "Die Schaltfläche „Senden“ ist mit der Tastatur nicht erreichbar.".into(),
            page: Some(format!("{}/", site.config.base_url)),
            email: Email::parse("vorschau@example.org").ok(),
            name: Some("Erika Mustermann".into()),
        };
        mailer.for_report(&sample, Timestamp::now())?;
        Ok(mailer)
    }

    /// The report as a mail, ready to queue.
    pub fn for_report(&self, report: &Report, now: Timestamp) -> Result<QueuedMail, Diagnostic> {
        let mut context = Context::new();
        let email = report.email.as_ref().map_or("", Email::as_str);
        context.insert("description", &report.description);
        // Lines, so a template can mark each as quoted (Tera has no "\n" literal to split at).
        let lines: Vec<&str> = report.description.split('\n').collect();
        context.insert("description_lines", &lines);
        context.insert("page", report.page.as_deref().unwrap_or_default());
        context.insert("email", email);
        context.insert("name", report.name.as_deref().unwrap_or_default());
        let received = now.round(jiff::Unit::Second).unwrap_or(now);
        context.insert("received", &received.to_string());
        let text = self.templates.render(MAIL_TEMPLATE, &context, None)?;
        let (subject, body) = super::mail::split_subject(&text).ok_or_else(|| {
            Diagnostic::error(format!(
                "the e-mail template `email/{MAIL_TEMPLATE}` does not start with a subject line and an empty line"
            ))
            .hint("the first line of the rendered text is the subject; the body follows after one empty line")
        })?;
        // A template may put a value into the subject: it stays one line, whatever it holds.
        let subject: String = subject
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(self.to.clone())
            .subject(subject)
            .date(std::time::SystemTime::from(now))
            .message_id(Some(format!(
                "<barriere-{}@{}>",
                crate::newsletter::store::new_token()
                    .map_err(|e| Diagnostic::error(e.to_string()))?,
                self.domain
            )))
            .header(super::mail::AutoSubmitted)
            .header(ContentType::TEXT_PLAIN);
        if let Some(reply_to) = reply_to(report) {
            builder = builder.reply_to(reply_to);
        }
        let mut message = builder
            .body(body.to_string())
            .map_err(|e| Diagnostic::error(format!("cannot build the feedback mail: {e}")))?;
        if let Some(dkim) = &self.dkim {
            message.sign(dkim);
        }
        Ok(QueuedMail {
            kind: "feedback",
            subscriber: None,
            sender: self.from.email.to_string(),
            recipient: self.to.email.to_string(),
            message: message.formatted(),
            give_up_at: crate::newsletter::store::plus(now, LIFETIME),
        })
    }
}

/// The reader's address and name as `Reply-To`, so the team answers with one click. An address
/// with non-ASCII letters before the @ would need SMTPUTF8 in a header: it stays in the text.
fn reply_to(report: &Report) -> Option<Mailbox> {
    let email = report.email.as_ref().filter(|e| !e.needs_smtputf8())?;
    let address = email.as_str().parse::<lettre::Address>().ok()?;
    Some(Mailbox::new(report.name.clone(), address))
}

#[cfg(test)]
mod tests;
