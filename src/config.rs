//! `site.yaml` → [`SiteConfig`]: everything about a site that is not content.

use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::yaml::YamlSource;
use crate::yaml::fact::Fact;

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
    /// The header's logo or wordmark; without it the header shows `title` as text.
    #[serde(default)]
    pub logo: Option<Logo>,
    /// The header's service links (Leichte Sprache, Gebärdensprache …), each with a pictogram.
    #[serde(default)]
    pub service_navigation: Vec<ServiceLink>,
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
    /// Where readers report accessibility barriers: the form of the subscription service when it
    /// runs, else the address to write to.
    #[serde(default)]
    pub feedback: Option<FeedbackConfig>,
    /// Old addresses that belong to no page, and where they lead; checked with the pages'
    /// `aliases` by [`crate::site::aliases`].
    #[serde(default)]
    pub redirects: Vec<RedirectRule>,
    /// What the legal pages (Impressum, Datenschutzerklärung, Erklärung zur Barrierefreiheit)
    /// state beyond `contact`; the templates under `legal/` need it. See [`LegalConfig`].
    #[serde(default)]
    pub legal: Option<LegalConfig>,
    /// Topics ("Themen") that pages of every kind share: declared here, named in front matter
    /// (`themen: [gdst]`), each with its list at `/themen/<slug>/`. See [`TopicConfig`].
    #[serde(default)]
    pub themen: Vec<TopicConfig>,
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
    /// The organiser of the Sprechstunden in invitations (`ORGANIZER` of their calendar), e.g.
    /// `Landeskoordination OZG <ozg@sachsen-anhalt.de>`; default `reply_to`, else `from`.
    #[serde(default)]
    pub organizer: Option<String>,
    /// The one-click unsubscribe address; `{token}` becomes each subscriber's own token. Only
    /// without `subscriptions` (the service then answers at its own address).
    #[serde(default)]
    pub unsubscribe_url: Option<String>,
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
    /// The name this machine gives itself when greeting the mail server (SMTP `EHLO`), e.g.
    /// `mail.sachsen-anhalt.de`; default: the domain of `from`. Filters score a short host name
    /// here as a sign of spam.
    #[serde(default)]
    pub helo_name: Option<String>,
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
    /// The sign-up and unsubscribe service (`ozg-site subscriptions serve`).
    #[serde(default)]
    pub subscriptions: Option<SubscriptionsConfig>,
    /// Reading bounces and complaints (`ozg-site newsletter bounces`).
    #[serde(default)]
    pub bounces: BouncesConfig,
    /// The lists readers subscribe to, each with its own consent; without it the site has one,
    /// `newsletter` ([`NewsletterConfig::lists`]).
    #[serde(default)]
    pub lists: Vec<ListConfig>,
    /// Filled by [`Config::load`], never written by editors: the unsubscribe link with `{token}`,
    /// the service's when `subscriptions` is set, else `unsubscribe_url`.
    #[serde(skip)]
    pub unsubscribe_link: String,
    /// Filled by [`Config::load`] when `subscriptions` is set: where the service answers.
    #[serde(skip)]
    pub service: Option<ServiceUrls>,
}

/// How bounces count (`ozg-site newsletter bounces`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BouncesConfig {
    /// Soft bounces (4.x.x: mailbox full, server down) an address may collect before it gets
    /// nothing more; hard bounces (5.x.x) and complaints stop it at once.
    #[serde(default = "default_soft_limit")]
    pub soft_limit: u32,
    /// The envelope sender (VERP), e.g. `bounce+{token}@ozg.sachsen-anhalt.de`: each message's
    /// bounce then names its campaign and recipient even when the DSN quotes neither. Without
    /// it the bounce goes to the From address and is matched by Message-ID and recipient.
    #[serde(default)]
    pub return_path: Option<String>,
}

impl Default for BouncesConfig {
    fn default() -> Self {
        BouncesConfig {
            soft_limit: default_soft_limit(),
            return_path: None,
        }
    }
}

fn default_soft_limit() -> u32 {
    3
}

/// A list readers subscribe to (`newsletter.lists`): an edition goes to one list, and each
/// subscriber's consent is recorded per list.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    /// What the list is called in the database, in editions' `list:` and on the command line:
    /// lower-case letters, digits and `-` (`newsletter`, `sprechstunden`).
    pub id: String,
    /// Its name on the sign-up form and the unsubscribe page.
    pub title: String,
    /// A sentence on what it sends and how often, beside its checkbox.
    #[serde(default)]
    pub description: Option<String>,
    /// The statement readers agree to by ticking it; default `subscriptions.consent`.
    #[serde(default)]
    pub consent: Option<String>,
}

/// The id of the list a site without `lists:` has; editions go to it unless their `list:` says
/// otherwise.
pub const DEFAULT_LIST: &str = "newsletter";

impl NewsletterConfig {
    /// The lists of the site: those declared, or the one implicit `newsletter` list whose
    /// consent is `subscriptions.consent`, so a site from before lists works unchanged. Each
    /// list's consent is filled in (from `subscriptions.consent` where it gives none).
    pub fn lists(&self) -> Vec<ListConfig> {
        let fallback = self.subscriptions.as_ref().map(|s| s.consent.clone());
        if self.lists.is_empty() {
            return vec![ListConfig {
                id: DEFAULT_LIST.to_string(),
                title: "Newsletter".to_string(),
                description: None,
                consent: fallback,
            }];
        }
        self.lists
            .iter()
            .map(|l| ListConfig {
                consent: l.consent.clone().or_else(|| fallback.clone()),
                ..l.clone()
            })
            .collect()
    }

    /// The list with this id, if the site has it.
    pub fn list(&self, id: &str) -> Option<ListConfig> {
        self.lists().into_iter().find(|l| l.id == id)
    }

    /// The ids of the site's lists, for messages that name them.
    pub fn list_ids(&self) -> Vec<String> {
        self.lists().into_iter().map(|l| l.id).collect()
    }
}

/// The double opt-in service: readers sign up on the site, confirm by e-mail, unsubscribe with
/// one click.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionsConfig {
    /// Where readers reach the service, e.g. `https://ozg.sachsen-anhalt.de` when a reverse proxy
    /// passes `/newsletter/anmelden`, `/newsletter/bestaetigen` and `/newsletter/abmelden` to it
    /// (default: `base_url`, the site's own address).
    #[serde(default)]
    pub url: Option<String>,
    /// The statement readers agree to by signing up and confirming; shown beside the form and kept
    /// with each subscriber as the record of their consent.
    pub consent: String,
    /// The data protection notice linked beside the form: `@/datenschutz.md` or an address.
    #[serde(default)]
    pub privacy_page: Option<String>,
    /// How long a confirmation link stays valid.
    #[serde(default = "default_confirm_hours")]
    pub confirm_within_hours: u32,
    /// Confirmation e-mails one address gets per hour at most; further sign-ups look the same to
    /// the reader but send nothing.
    #[serde(default = "default_per_address")]
    pub signups_per_address_per_hour: u32,
    /// Sign-ups one client (IP address) may send per hour; more are refused with 429.
    #[serde(default = "default_per_client")]
    pub signups_per_client_per_hour: u32,
    /// The service's mails per hour for everybody together (confirmation links and notes to
    /// subscribers): past it sign-ups look the same to the reader but send and store nothing, so
    /// a flood from many clients and addresses costs neither the mail server's reputation nor
    /// the database. Refills evenly over the hour.
    #[serde(default = "default_mails_per_hour")]
    pub confirmation_mails_per_hour: u32,
    /// Proxies whose `X-Forwarded-For` names the real client (the loopback address always counts:
    /// a proxy on the same machine).
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

fn default_confirm_hours() -> u32 {
    48
}

fn default_per_address() -> u32 {
    3
}

fn default_per_client() -> u32 {
    20
}

fn default_mails_per_hour() -> u32 {
    500
}

/// "Barriere melden": the feedback mechanism an accessibility statement must offer (EU directive
/// 2016/2102, BITV 2.0). With the subscription service its form sends each report as a mail to
/// `to`; without it the site names `to` as the address to write to.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackConfig {
    /// Who reads the reports: one address, without a name (`ozg@sachsen-anhalt.de`).
    pub to: String,
    /// Reports one client (IP address, IPv6 /64) may send per hour; more are refused with 429.
    #[serde(default = "default_reports_per_client")]
    pub reports_per_client_per_hour: u32,
    /// Reports per hour from everybody together, refilled evenly: past it the form says it is
    /// busy (503) and names `to`, so a flood neither fills the team's mailbox nor the queue.
    #[serde(default = "default_reports_per_hour")]
    pub reports_per_hour: u32,
    /// Filled by [`Config::load`], never written by editors: where the form posts to (the
    /// service's [`FEEDBACK_PATH`]), or empty when the site has no service.
    #[serde(skip_deserializing)]
    pub form_url: String,
}

fn default_reports_per_client() -> u32 {
    10
}

fn default_reports_per_hour() -> u32 {
    100
}

/// `feedback:` checked: a bare address the mail library can send to, allowances in range.
fn check_feedback(fb: &FeedbackConfig, source: &YamlSource<'_>) -> Vec<Diagnostic> {
    let at = |key: &str| {
        nested_value_offset(source.yaml, "feedback", key).map_or_else(
            || source.key_location("feedback"),
            |(offset, len)| {
                crate::diagnostics::Location::at_offset(
                    source.path,
                    source.file_text,
                    source.offset + offset,
                    len,
                )
            },
        )
    };
    let mut errors = Vec::new();
    if fb.to.trim().parse::<lettre::Address>().is_err() {
        errors.push(
            Diagnostic::error(format!(
                "`feedback.to` is not an e-mail address: `{}`",
                crate::diagnostics::printable(&fb.to)
            ))
            .at(at("to"))
            .hint("write the address alone, without a name, e.g. `to: ozg@sachsen-anhalt.de`"),
        );
    }
    let numbers = [
        (
            "reports_per_client_per_hour",
            fb.reports_per_client_per_hour,
            1000,
        ),
        ("reports_per_hour", fb.reports_per_hour, 10_000),
    ];
    for (key, value, max) in numbers {
        if value == 0 || value > max {
            errors.push(
                Diagnostic::error(format!(
                    "`feedback.{key}` is {value}; it must be between 1 and {max}"
                ))
                .at(at(key))
                .hint("leave the key out for the default"),
            );
        }
    }
    errors
}

/// The addresses of the subscription service, derived from `subscriptions.url` or `base_url`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceUrls {
    /// `scheme://host[:port]` of the service, for checking where a form was sent from.
    pub origin: String,
    /// The sign-up form (GET) and its target (POST).
    pub signup: String,
    /// The confirmation link, before `?token=…`.
    pub confirm: String,
    /// The unsubscribe link, before `?token=…`.
    pub unsubscribe: String,
    /// The feedback form (GET) and its target (POST), answered when `feedback:` is set.
    pub feedback: String,
}

impl ServiceUrls {
    /// The paths are fixed so a reverse proxy can pass exactly them on; `base` has no trailing slash.
    pub fn new(base: &str) -> ServiceUrls {
        let base = base.trim_end_matches('/');
        ServiceUrls {
            origin: origin_of(base),
            signup: format!("{base}{SIGNUP_PATH}"),
            confirm: format!("{base}{CONFIRM_PATH}"),
            unsubscribe: format!("{base}{UNSUBSCRIBE_PATH}"),
            feedback: format!("{base}{FEEDBACK_PATH}"),
        }
    }
}

pub const SIGNUP_PATH: &str = "/newsletter/anmelden";
pub const CONFIRM_PATH: &str = "/newsletter/bestaetigen";
pub const UNSUBSCRIBE_PATH: &str = "/newsletter/abmelden";
/// "Barriere melden": the accessibility feedback form of the service. Under the statement's own
/// address, so the web server's `location` line says what it is for.
pub const FEEDBACK_PATH: &str = "/barrierefreiheit/melden";

/// `https://host:port` of a URL (lower-case scheme and host, as browsers send `Origin`).
pub fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{}://{}", scheme.to_lowercase(), host.to_lowercase())
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
    /// Lead to the newest published sub-section of the section `url` names instead of the
    /// section itself (the menu's "Adventskalender" opens this year's calendar, not the
    /// hub listing every year's): the highest `advent.year`, else the last folder name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub newest: bool,
}

/// The header's logo (`logo:`): an image of the site's `static/` or an `https://` address, with
/// its size so the header keeps its height while the image loads.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Logo {
    /// `/bilder/wortmarke.svg` (a file of the site's `static/` or the theme's) or an absolute URL.
    pub src: String,
    /// What the image says, e.g. the name it shows; the link around it adds "Startseite".
    pub alt: String,
    /// The size in CSS pixels the header shows it at.
    pub width: u32,
    pub height: u32,
}

/// One entry of `service_navigation:`: a link like those of `navigation`, and the name of the
/// pictogram the theme shows before its text (the default theme knows `leichte-sprache` and
/// `gebaerdensprache`; an unknown name shows the text alone).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceLink {
    pub title: String,
    /// `@/path.md`, `/path/` or an absolute URL; resolved before templates see it.
    pub url: String,
    #[serde(default)]
    pub icon: Option<String>,
}

/// One entry of `redirects:`, as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedirectRule {
    /// The old address: a path of the site, like a page's alias (`/alt/`).
    pub from: String,
    /// `@/page.md` (optionally `#anchor`), a path of the site (`/pfad/`), or an `https://` address.
    pub to: String,
}

/// The publisher's contact details; each may be `offen` while it is not known.
///
/// `street`, `postal_code` and `city` are the postal address (Postanschrift): the one the
/// Impressum, the footer and the newsletter's footer give. A building readers visit somewhere
/// else is `visitor_address` (Besucheradresse), labelled as such wherever it is shown.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[serde(default)]
    pub organisation: Option<Fact<String>>,
    #[serde(default)]
    pub department: Option<Fact<String>>,
    #[serde(default)]
    pub street: Option<Fact<String>>,
    #[serde(default)]
    pub postal_code: Option<Fact<String>>,
    #[serde(default)]
    pub city: Option<Fact<String>>,
    #[serde(default)]
    pub email: Option<Fact<String>>,
    #[serde(default)]
    pub phone: Option<Fact<String>>,
    /// Where visitors go, if not to the postal address: `{name: Elbe-Office, street: …,
    /// postal_code: …, city: …}`.
    #[serde(default)]
    pub visitor_address: Option<Fact<PostalAddress>>,
}

/// As templates see it (`site.contact`): the fields, and `open` with the keys that are open.
impl Serialize for Contact {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            organisation: &'a Option<Fact<String>>,
            department: &'a Option<Fact<String>>,
            street: &'a Option<Fact<String>>,
            postal_code: &'a Option<Fact<String>>,
            city: &'a Option<Fact<String>>,
            email: &'a Option<Fact<String>>,
            phone: &'a Option<Fact<String>>,
            visitor_address: &'a Option<Fact<PostalAddress>>,
            open: serde_json::Map<String, serde_json::Value>,
        }
        let keys: Vec<_> = self
            .open_facts()
            .into_iter()
            .map(|mut k| {
                k.key = k.key.trim_start_matches("contact.").to_string();
                k
            })
            .collect();
        View {
            organisation: &self.organisation,
            department: &self.department,
            street: &self.street,
            postal_code: &self.postal_code,
            city: &self.city,
            email: &self.email,
            phone: &self.phone,
            visitor_address: &self.visitor_address,
            open: crate::yaml::fact::open_map(&keys),
        }
        .serialize(s)
    }
}

impl Contact {
    /// The open facts, by key path in `site.yaml` (`contact.phone`).
    pub fn open_facts(&self) -> Vec<crate::yaml::fact::OpenKey<'_>> {
        let mut keys = crate::yaml::fact::OpenKeys::default();
        keys.optional("contact.organisation", &self.organisation)
            .optional("contact.department", &self.department)
            .optional("contact.street", &self.street)
            .optional("contact.postal_code", &self.postal_code)
            .optional("contact.city", &self.city)
            .optional("contact.email", &self.email)
            .optional("contact.phone", &self.phone)
            .optional("contact.visitor_address", &self.visitor_address);
        keys.0
    }

    /// Whether the postal address is complete: street, postal code and city all known.
    pub fn has_postal_address(&self) -> bool {
        let known = |f: &Option<Fact<String>>| crate::yaml::fact::known(f).is_some();
        known(&self.street) && known(&self.postal_code) && known(&self.city)
    }
}

/// A postal address with an optional building name (`Elbe-Office`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostalAddress {
    /// The building readers look for, e.g. `Elbe-Office`.
    #[serde(default)]
    pub name: Option<String>,
    pub street: String,
    pub postal_code: String,
    pub city: String,
}

/// `visitor_address: offen` while the place is not known, or the address as a mapping.
impl crate::yaml::fact::FactValue for PostalAddress {
    const EXPECTING: &'static str =
        "an address `{street: …, postal_code: …, city: …}`, or `offen` while it is not known";

    fn from_text(text: &str) -> Result<Self, String> {
        Err(format!(
            "`{text}` is not an address; write it as `{{street: …, postal_code: \"…\", city: …}}`, or `offen` while it is not known"
        ))
    }

    fn from_map<'de, A: serde::de::MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        crate::yaml::fact::from_map(map)
    }
}

/// What the legal pages state beyond `contact` (`legal:` in `site.yaml`). Every fact an
/// authority must confirm may be `offen` with a note saying who supplies it: the pages then show
/// "wird ergänzt", `check` lists it and `--strict` refuses it. Which keys each page needs is
/// checked by [`crate::site::legal`] for the pages that use the legal templates.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalConfig {
    /// The legal person offering the site (§ 5 Abs. 1 Nr. 1 DDG), e.g. `Land Sachsen-Anhalt`.
    #[serde(default)]
    pub provider: Option<String>,
    /// Who represents the provider: the text after "vertreten durch".
    #[serde(default)]
    pub represented_by: Option<Fact<String>>,
    /// The person responsible for journalistic-editorial content (§ 18 Abs. 2 MStV): name and
    /// address (without one, the provider's postal address applies).
    #[serde(default)]
    pub editorial_responsible: Option<Fact<LegalContact>>,
    /// The VAT identification number, only if the provider has one: absent, nothing is said.
    #[serde(default)]
    pub vat_id: Option<Fact<String>>,
    /// How to reach the data protection officer (Art. 13 Abs. 1 lit. b DSGVO).
    #[serde(default)]
    pub data_protection_officer: Option<Fact<LegalContact>>,
    /// The supervisory authority readers may complain to (Art. 13 Abs. 2 lit. d, Art. 77 DSGVO).
    #[serde(default)]
    pub supervisory_authority: Option<Fact<LegalContact>>,
    /// Who runs the web server for the provider (a processor under Art. 28 DSGVO).
    #[serde(default)]
    pub hosting_provider: Option<Fact<String>>,
    /// How long the web server keeps its access logs, as a phrase: `sieben Tage`.
    #[serde(default)]
    pub web_server_log_retention: Option<Fact<String>>,
    /// How long the log of the subscription service (its standard error) is kept: `sieben Tage`.
    #[serde(default)]
    pub service_log_retention: Option<Fact<String>>,
    /// Whether personal data leave the EU/EEA; the statement says "no" only when this is `false`.
    #[serde(default)]
    pub third_country_transfer: Option<Fact<bool>>,
    /// The law that completes the GDPR for the provider, as it reads after "Artikel 6 Absatz 1
    /// Buchstabe e DSGVO in Verbindung mit": `dem Datenschutz-Grundverordnungs-Ausfüllungsgesetz
    /// Sachsen-Anhalt (DSAG LSA)`. Without it the legal basis is the GDPR's article alone.
    #[serde(default)]
    pub data_protection_law: Option<String>,
    /// The accessibility statement's own facts.
    #[serde(default)]
    pub accessibility: Option<AccessibilityConfig>,
}

/// The facts of the Erklärung zur Barrierefreiheit that are not derived from the content
/// (its list of known barriers is, see [`crate::site::legal::known_barriers`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessibilityConfig {
    /// "Stand der Vereinbarkeit": `full`, `partial` or `none` (the model statement's three
    /// sentences), or `offen`.
    pub compliance: Fact<Compliance>,
    /// The law the provider follows, as it reads after "im Einklang mit": `dem
    /// Behindertengleichstellungsgesetz Sachsen-Anhalt (BGG LSA)`.
    pub law: String,
    /// The requirements the site is measured against, after "mit": `den Anforderungen der
    /// BITV 2.0`.
    pub standard: String,
    /// When the statement was made.
    pub created: Fact<crate::time::LocalDate>,
    /// When it was last reviewed.
    #[serde(default)]
    pub reviewed: Option<Fact<crate::time::LocalDate>>,
    /// What it rests on, after "beruht auf": `einer Selbstbewertung`, `einer Prüfung durch …`.
    pub method: Fact<String>,
    /// The page with the form for reporting barriers, `@/barriere-melden.md`.
    #[serde(default)]
    pub feedback_page: Option<String>,
    /// Pages about accessibility itself (sign language, easy language): what is still open on
    /// them is a known barrier and listed in the statement.
    #[serde(default)]
    pub pages: Vec<String>,
}

/// "Stand der Vereinbarkeit mit den Anforderungen" in the words of the EU model statement
/// (Durchführungsbeschluss (EU) 2018/1523).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compliance {
    /// "vollständig vereinbar"
    Full,
    /// "teilweise vereinbar", because of the listed non-compliances and exemptions
    Partial,
    /// "nicht vereinbar"
    None,
}

impl crate::yaml::fact::FactValue for Compliance {
    const EXPECTING: &'static str = "`full`, `partial` or `none`, or `offen` while it is not known";

    fn from_text(text: &str) -> Result<Self, String> {
        match text.trim() {
            "full" => Ok(Compliance::Full),
            "partial" => Ok(Compliance::Partial),
            "none" => Ok(Compliance::None),
            other => Err(format!(
                "`{}` is not a compliance status; write `full`, `partial` or `none` (the statement's \"vollständig\", \"teilweise\" or \"nicht vereinbar\"), or `offen`",
                crate::diagnostics::printable(other)
            )),
        }
    }
}

/// A person or office the legal pages name with their contact details: the data protection
/// officer, the supervisory authority, the person responsible under § 18 Abs. 2 MStV.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LegalContact {
    #[serde(default)]
    pub name: Option<String>,
    /// An office or function, shown under the name: `Behördliche Datenschutzbeauftragte`.
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub street: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// `https://…`
    #[serde(default)]
    pub website: Option<String>,
}

impl crate::yaml::fact::FactValue for LegalContact {
    const EXPECTING: &'static str = "contact details `{name: …, street: …, postal_code: …, city: …, email: …}`, or `offen` while they are not known";

    fn from_text(text: &str) -> Result<Self, String> {
        Err(format!(
            "`{}` is not a set of contact details; write them as `{{name: …, email: …}}`, or `offen` while they are not known",
            crate::diagnostics::printable(text)
        ))
    }

    fn from_map<'de, A: serde::de::MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        crate::yaml::fact::from_map(map)
    }
}

impl LegalConfig {
    /// The open facts, by key path in `site.yaml` (`legal.represented_by`,
    /// `legal.accessibility.created`).
    pub fn open_facts(&self) -> Vec<crate::yaml::fact::OpenKey<'_>> {
        let mut keys = crate::yaml::fact::OpenKeys::default();
        keys.optional("legal.represented_by", &self.represented_by)
            .optional("legal.editorial_responsible", &self.editorial_responsible)
            .optional("legal.vat_id", &self.vat_id)
            .optional(
                "legal.data_protection_officer",
                &self.data_protection_officer,
            )
            .optional("legal.supervisory_authority", &self.supervisory_authority)
            .optional("legal.hosting_provider", &self.hosting_provider)
            .optional(
                "legal.web_server_log_retention",
                &self.web_server_log_retention,
            )
            .optional("legal.service_log_retention", &self.service_log_retention)
            .optional("legal.third_country_transfer", &self.third_country_transfer);
        if let Some(a) = &self.accessibility {
            keys.fact("legal.accessibility.compliance", &a.compliance)
                .fact("legal.accessibility.created", &a.created)
                .optional("legal.accessibility.reviewed", &a.reviewed)
                .fact("legal.accessibility.method", &a.method);
        }
        keys.0
    }
}

/// As templates see it (`site.legal`): the values (an open one as none, as everywhere), and
/// `open` with each open key below `legal.` (`"represented_by" in site.legal.open`,
/// `"accessibility.created" in site.legal.open`).
impl Serialize for LegalConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Accessibility<'a> {
            compliance: &'a Fact<Compliance>,
            law: &'a str,
            standard: &'a str,
            created: &'a Fact<crate::time::LocalDate>,
            reviewed: &'a Option<Fact<crate::time::LocalDate>>,
            method: &'a Fact<String>,
        }
        #[derive(Serialize)]
        struct View<'a> {
            provider: &'a Option<String>,
            represented_by: &'a Option<Fact<String>>,
            editorial_responsible: &'a Option<Fact<LegalContact>>,
            vat_id: &'a Option<Fact<String>>,
            data_protection_officer: &'a Option<Fact<LegalContact>>,
            supervisory_authority: &'a Option<Fact<LegalContact>>,
            hosting_provider: &'a Option<Fact<String>>,
            web_server_log_retention: &'a Option<Fact<String>>,
            service_log_retention: &'a Option<Fact<String>>,
            third_country_transfer: &'a Option<Fact<bool>>,
            data_protection_law: &'a Option<String>,
            accessibility: Option<Accessibility<'a>>,
            open: serde_json::Map<String, serde_json::Value>,
        }
        let keys: Vec<_> = self
            .open_facts()
            .into_iter()
            .map(|mut k| {
                k.key = k.key.trim_start_matches("legal.").to_string();
                k
            })
            .collect();
        View {
            provider: &self.provider,
            represented_by: &self.represented_by,
            editorial_responsible: &self.editorial_responsible,
            vat_id: &self.vat_id,
            data_protection_officer: &self.data_protection_officer,
            supervisory_authority: &self.supervisory_authority,
            hosting_provider: &self.hosting_provider,
            web_server_log_retention: &self.web_server_log_retention,
            service_log_retention: &self.service_log_retention,
            third_country_transfer: &self.third_country_transfer,
            data_protection_law: &self.data_protection_law,
            accessibility: self.accessibility.as_ref().map(|a| Accessibility {
                compliance: &a.compliance,
                law: &a.law,
                standard: &a.standard,
                created: &a.created,
                reviewed: &a.reviewed,
                method: &a.method,
            }),
            open: crate::yaml::fact::open_map(&keys),
        }
        .serialize(s)
    }
}

/// `legal:` checked as far as `site.yaml` alone can tell: addresses that are addresses, https
/// websites, a VAT id of the German form, no empty texts, a review not before the statement.
/// Which keys a page needs, and the `@/` links, are checked with the content
/// ([`crate::site::legal::check`]).
fn check_legal(legal: &LegalConfig, source: &YamlSource<'_>) -> Vec<Diagnostic> {
    use crate::yaml::fact::known;
    let at = |value: &str, key: &str| {
        if value.trim().is_empty() {
            nested_value_offset(source.yaml, "legal", key).map_or_else(
                || source.key_location("legal"),
                |(offset, len)| {
                    crate::diagnostics::Location::at_offset(
                        source.path,
                        source.file_text,
                        source.offset + offset,
                        len,
                    )
                },
            )
        } else {
            source.value_location(value, "legal")
        }
    };
    let mut errors = Vec::new();
    let texts = [
        ("provider", legal.provider.as_ref()),
        ("data_protection_law", legal.data_protection_law.as_ref()),
        ("represented_by", known(&legal.represented_by)),
        ("hosting_provider", known(&legal.hosting_provider)),
        (
            "web_server_log_retention",
            known(&legal.web_server_log_retention),
        ),
        ("service_log_retention", known(&legal.service_log_retention)),
    ];
    for (key, value) in texts {
        if let Some(v) = value
            && v.trim().is_empty()
        {
            errors.push(
                Diagnostic::error(format!("`legal.{key}` is empty"))
                    .at(at(v, key))
                    .hint("write the fact, or `offen` with a note saying who supplies it"),
            );
        }
    }
    errors.extend(legal_control_characters(legal, &at));
    if let Some(vat) = known(&legal.vat_id) {
        let v = vat.trim();
        let digits = v.strip_prefix("DE").unwrap_or_default();
        if digits.len() != 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(
                Diagnostic::error(format!(
                    "`legal.vat_id` is not a German VAT identification number: `{}`",
                    crate::diagnostics::printable(v)
                ))
                .at(at(vat, "vat_id"))
                .hint("write it as DE and nine digits, e.g. DE123456789; leave the key out if the provider has none"),
            );
        }
    }
    // (key, value, needs a name, needs a way to reach them): the person responsible under the
    // MStV may have the provider's address, which the Impressum then says.
    let contacts = [
        (
            "editorial_responsible",
            &legal.editorial_responsible,
            true,
            false,
        ),
        (
            "data_protection_officer",
            &legal.data_protection_officer,
            false,
            true,
        ),
        (
            "supervisory_authority",
            &legal.supervisory_authority,
            true,
            true,
        ),
    ];
    for (key, contact, needs_name, needs_reach) in contacts {
        if let Some(c) = known(contact) {
            errors.extend(check_legal_contact(key, c, (needs_name, needs_reach), &at));
        }
    }
    if let Some(a) = &legal.accessibility {
        for (key, value) in [("law", &a.law), ("standard", &a.standard)] {
            if value.trim().is_empty() {
                errors.push(
                    Diagnostic::error(format!("`legal.accessibility.{key}` is empty"))
                        .at(source.key_location("legal"))
                        .hint("write it as it reads in the statement's first sentences, e.g. `standard: den Anforderungen der BITV 2.0`"),
                );
            }
        }
        if let (Fact::Known(created), Some(Fact::Known(reviewed))) = (&a.created, &a.reviewed)
            && reviewed.0 < created.0
        {
            errors.push(
                Diagnostic::error(format!(
                    "the statement was reviewed ({reviewed}) before it was made ({created})"
                ))
                .at(source.value_location(&reviewed.to_string(), "legal"))
                .hint("`reviewed` is the date of the last review, on or after `created`"),
            );
        }
        if let Fact::Known(m) = &a.method
            && m.trim().is_empty()
        {
            errors.push(
                Diagnostic::error("`legal.accessibility.method` is empty")
                    .at(source.key_location("legal"))
                    .hint("say what the statement rests on, e.g. `method: einer Selbstbewertung`, or `offen`"),
            );
        }
    }
    errors
}

/// Every text of `legal:` readers see, checked for control characters (an ESC, a line break in a
/// one-line fact): they would reach the pages as they are, where they mean nothing or harm.
fn legal_control_characters(
    legal: &LegalConfig,
    at: &dyn Fn(&str, &str) -> crate::diagnostics::Location,
) -> Vec<Diagnostic> {
    use crate::yaml::fact::known;
    let mut texts: Vec<(&str, &str)> = [
        ("provider", legal.provider.as_deref()),
        ("data_protection_law", legal.data_protection_law.as_deref()),
        (
            "represented_by",
            known(&legal.represented_by).map(String::as_str),
        ),
        ("vat_id", known(&legal.vat_id).map(String::as_str)),
        (
            "hosting_provider",
            known(&legal.hosting_provider).map(String::as_str),
        ),
        (
            "web_server_log_retention",
            known(&legal.web_server_log_retention).map(String::as_str),
        ),
        (
            "service_log_retention",
            known(&legal.service_log_retention).map(String::as_str),
        ),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    let contacts = [
        ("editorial_responsible", &legal.editorial_responsible),
        ("data_protection_officer", &legal.data_protection_officer),
        ("supervisory_authority", &legal.supervisory_authority),
    ];
    for (key, contact) in contacts {
        if let Some(c) = known(contact) {
            let parts = [
                &c.name,
                &c.role,
                &c.street,
                &c.postal_code,
                &c.city,
                &c.email,
                &c.phone,
                &c.website,
            ];
            texts.extend(parts.into_iter().flatten().map(|v| (key, v.as_str())));
        }
    }
    if let Some(a) = &legal.accessibility {
        texts.push(("accessibility", &a.law));
        texts.push(("accessibility", &a.standard));
        if let Fact::Known(m) = &a.method {
            texts.push(("accessibility", m));
        }
    }
    texts
        .into_iter()
        .filter(|(_, v)| v.chars().any(char::is_control))
        .map(|(key, v)| {
            Diagnostic::error(format!(
                "`legal.{key}` contains a control character: `{}`",
                crate::diagnostics::printable(v)
            ))
            .at(at(v, key))
            .hint("write the text on one line, without invisible characters")
        })
        .collect()
}

/// One contact of `legal:`: something to reach it by, and each part well-formed.
fn check_legal_contact(
    key: &str,
    c: &LegalContact,
    (needs_name, needs_reach): (bool, bool),
    at: &dyn Fn(&str, &str) -> crate::diagnostics::Location,
) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    let parts = [
        ("name", &c.name),
        ("role", &c.role),
        ("street", &c.street),
        ("postal_code", &c.postal_code),
        ("city", &c.city),
        ("email", &c.email),
        ("phone", &c.phone),
        ("website", &c.website),
    ];
    for (part, value) in parts {
        if let Some(v) = value
            && v.trim().is_empty()
        {
            errors.push(
                Diagnostic::error(format!("`legal.{key}.{part}` is empty"))
                    .at(at(v, key))
                    .hint("leave the key out, or write the fact"),
            );
        }
    }
    if needs_name && c.name.is_none() {
        errors.push(
            Diagnostic::error(format!("`legal.{key}` has no `name`"))
                .at(at("", key))
                .hint("the page names the person or office: add `name: …`, or write `offen` instead of the whole entry while it is not known"),
        );
    }
    if needs_reach
        && c.email.is_none()
        && c.street.is_none()
        && c.phone.is_none()
        && c.website.is_none()
    {
        errors.push(
            Diagnostic::error(format!("`legal.{key}` gives no way to reach them"))
                .at(at("", key))
                .hint("add an address (`street`, `postal_code`, `city`), `email`, `phone` or `website`"),
        );
    }
    if let Some(email) = &c.email
        && email.trim().parse::<lettre::Address>().is_err()
    {
        errors.push(
            Diagnostic::error(format!(
                "`legal.{key}.email` is not an e-mail address: `{}`",
                crate::diagnostics::printable(email)
            ))
            .at(at(email, key))
            .hint("write the address alone, e.g. `email: datenschutz@example.org`"),
        );
    }
    if let Some(site) = &c.website {
        let rest = site.trim().strip_prefix("https://").unwrap_or_default();
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty()
            || !host.contains('.')
            || site.chars().any(|ch| {
                ch.is_whitespace() || ch.is_control() || matches!(ch, '"' | '<' | '>' | '\\')
            })
        {
            errors.push(
                Diagnostic::error(format!(
                    "`legal.{key}.website` is not an https:// address: `{}`",
                    crate::diagnostics::printable(site)
                ))
                .at(at(site, key))
                .hint("write the full address, e.g. `website: https://datenschutz.example.org`"),
            );
        }
    }
    if (c.street.is_some() || c.postal_code.is_some() || c.city.is_some())
        && (c.street.is_none() || c.postal_code.is_none() || c.city.is_none())
    {
        errors.push(
            Diagnostic::error(format!("`legal.{key}` has only part of an address"))
                .at(at("", key))
                .hint("give `street`, `postal_code` and `city` together, or none of them"),
        );
    }
    errors
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
    /// Address prefixes an `<iframe src>` in Markdown may start with, e.g.
    /// `https://www.youtube-nocookie.com/embed/`; no other embed passes `check`.
    #[serde(default)]
    pub trusted_embeds: Vec<String>,
    /// What readers see where a body says `[offen: …]`, e.g. `wird ergänzt`. The site sets it
    /// (there is no built-in wording): a body using the form on a site without it is an error.
    #[serde(default)]
    pub open_fact_text: Option<String>,
    /// Words of at least this many letters get soft hyphens in headings, table cells and the
    /// templates' `hyphenate` filter (tiles, cards); 0 turns it off. Chromium on Linux ignores
    /// `hyphens: auto`, so without them long German words break mid-syllable on phones.
    #[serde(default = "default_hyphenate_min_length")]
    pub hyphenate_min_length: usize,
    /// A page shows its contents list (`page.show_toc`) from this many level-2 headings on.
    #[serde(default = "default_toc_min_headings")]
    pub toc_min_headings: usize,
}

impl Default for MarkdownConfig {
    fn default() -> Self {
        MarkdownConfig {
            heading_anchors: true,
            task_done_label: default_task_done_label(),
            task_open_label: default_task_open_label(),
            trusted_embeds: Vec::new(),
            open_fact_text: None,
            hyphenate_min_length: default_hyphenate_min_length(),
            toc_min_headings: default_toc_min_headings(),
        }
    }
}

fn default_hyphenate_min_length() -> usize {
    crate::hyphenate::DEFAULT_MIN_LENGTH
}

fn default_toc_min_headings() -> usize {
    3
}

/// A trusted embed prefix must name its host completely (`https://host/`, so
/// `https://host.evil.example/` cannot match) and be spelled as browsers send it.
fn check_trusted_embeds(md: &MarkdownConfig, source: &YamlSource<'_>) -> Vec<Diagnostic> {
    md.trusted_embeds
        .iter()
        .filter(|prefix| {
            let Some(rest) = prefix.strip_prefix("https://") else {
                return true;
            };
            let host = rest.split('/').next().unwrap_or_default();
            host.is_empty()
                || !rest.contains('/')
                || !prefix.ends_with('/')
                || prefix.chars().any(|c| {
                    c.is_control() || c.is_whitespace() || matches!(c, '\\' | '@' | '?' | '#')
                })
        })
        .map(|prefix| {
            Diagnostic::error(format!("`{prefix}` is not a usable trusted embed"))
                .at(source.value_location(prefix, "markdown"))
                .hint("write the start of the embed addresses with https://, the full host and a path ending in /, e.g. https://www.youtube-nocookie.com/embed/")
        })
        .collect()
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

// Topics ("Themen"): declared in `site.yaml`, named by pages' `themen:`, checked here.

/// A topic pages share, as declared under `themen:` in `site.yaml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TopicConfig {
    /// How front matter names it and its address: `gdst` → `/themen/gdst/`. Lower-case ASCII
    /// letters, digits and `-`.
    pub slug: crate::yaml::located::Located,
    /// Its name on pages, lists and in its feed, e.g. `Gemeinsam Digital für Sachsen-Anhalt (GDST)`.
    pub title: String,
    /// A sentence or two on what it is about, shown on `/themen/` and its own page.
    pub description: String,
}

/// Whether `slug` is usable as a topic's slug (and so as a folder of its address).
pub fn is_topic_slug(slug: &str) -> bool {
    !slug.is_empty()
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `themen:`: each slug usable in an address and declared once, each with a title and a
/// description free of control characters (they go into HTML, Atom and the search index).
fn check_topics(topics: &[TopicConfig], source: &YamlSource<'_>) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for topic in topics {
        let slug = topic.slug.as_str();
        let at = topic.slug.location(source.path, source.file_text, || {
            source.key_location("themen")
        });
        if !is_topic_slug(slug) {
            errors.push(
                Diagnostic::error(format!(
                    "`{}` is not usable as the slug of a topic",
                    crate::diagnostics::printable(slug)
                ))
                .at(at.clone())
                .hint("use lower-case letters without umlauts, digits and `-` (not first or last), e.g. `registermodernisierung` or `einer-fuer-alle`"),
            );
        } else if !seen.insert(slug) {
            errors.push(
                Diagnostic::error(format!("the topic `{slug}` is declared twice"))
                    .at(at.clone())
                    .hint("declare each topic once under `themen:`; remove or rename this one"),
            );
        }
        for (key, text) in [("title", &topic.title), ("description", &topic.description)] {
            if text.trim().is_empty() {
                errors.push(
                    Diagnostic::error(format!("the topic `{}` has an empty `{key}`", crate::diagnostics::printable(slug)))
                        .at(at.clone())
                        .hint("readers see title and description on the topic's page and on /themen/: give both"),
                );
            } else if text.chars().any(char::is_control) {
                errors.push(
                    Diagnostic::error(format!(
                        "the `{key}` of the topic `{}` holds a control character",
                        crate::diagnostics::printable(slug)
                    ))
                    .at(at.clone())
                    .hint("write it on one line, without tabs or line breaks"),
                );
            }
        }
    }
    errors
}

/// A loaded, validated configuration plus what was derived from it.
#[derive(Debug, Clone)]
pub struct Config {
    pub root: PathBuf,
    /// The site folder as the build may read it: every path an editor writes is resolved by it.
    pub site_root: crate::load::SiteRoot,
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
        let site_root = crate::load::SiteRoot::new(root)?;
        // `site.yaml -> /elsewhere/site.yaml` would put another folder's settings into the site.
        site_root.check_path(CONFIG_FILE)?;
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
        if !crate::load::is_folder_name(&site.theme) {
            errors.push(
                Diagnostic::error(format!(
                    "theme `{}` is not the name of a folder in `themes/`",
                    crate::diagnostics::printable(&site.theme)
                ))
                .at(source.value_location(&site.theme, "theme"))
                .hint("write the folder's name alone, e.g. `theme: default`; the theme must lie inside the site"),
            );
        }
        if let Some(logo) = &site.logo {
            errors.extend(check_logo(logo, &source));
        }
        if site.title.trim().is_empty() {
            errors.push(
                Diagnostic::error("the site title is empty")
                    .at(source.key_location("title"))
                    .hint("give the site a title, e.g. `title: OZG Sachsen-Anhalt`"),
            );
        }
        errors.extend(check_trusted_embeds(&site.markdown, &source));
        errors.extend(check_topics(&site.themen, &source));
        if let Some(legal) = &site.legal {
            errors.extend(check_legal(legal, &source));
        }
        let mut site = site;
        if let (Some(nl), Some((base_url, _))) = (&mut site.newsletter, &base) {
            errors.extend(check_newsletter(nl, &source));
            resolve_newsletter_links(nl, base_url, base_url_override.is_some(), &source)
                .unwrap_or_else(|e| errors.push(e));
        }
        if let Some(fb) = &mut site.feedback {
            errors.extend(check_feedback(fb, &source));
            fb.to = fb.to.trim().to_string();
            fb.form_url = site
                .newsletter
                .as_ref()
                .and_then(|nl| nl.service.as_ref())
                .map(|urls| urls.feedback.clone())
                .unwrap_or_default();
        }
        match (tz, base, errors.has_errors()) {
            (Some(tz), Some((base_url, base_path)), false) => Ok(Config {
                root: root.to_path_buf(),
                site_root,
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

/// Fastest sending rate accepted, in messages per second: more than any mail server takes from
/// one sender, and a number that still means a limit.
pub const MAX_RATE: f64 = 10_000.0;
/// Slowest sending rate accepted other than 0 (no limit): one message every 100 seconds. Slower
/// is a typo (`0.0001` for `0.001`?), and far slower would overflow the pause between messages.
pub const MIN_RATE: f64 = 0.01;

/// Checks a sending rate (`newsletter.rate`, `--rate`): 0 for no limit, else between
/// [`MIN_RATE`] and [`MAX_RATE`] messages per second. NaN, infinity and negative numbers are
/// refused, not read as "no limit".
pub fn check_rate(rate: f64) -> Result<f64, String> {
    if rate == 0.0 || (MIN_RATE..=MAX_RATE).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!(
            "the rate must be 0 (no limit) or between {MIN_RATE} and {MAX_RATE} messages per second"
        ))
    }
}

/// `newsletter.rate`, checked, with the error at its line in `site.yaml`.
fn check_rate_setting(nl: &NewsletterConfig, source: &YamlSource<'_>) -> Option<Diagnostic> {
    let why = check_rate(nl.rate).err()?;
    let location = nested_value_offset(source.yaml, "newsletter", "rate").map_or_else(
        || source.key_location("newsletter"),
        |(offset, len)| {
            crate::diagnostics::Location::at_offset(
                source.path,
                source.file_text,
                source.offset + offset,
                len,
            )
        },
    );
    Some(
        Diagnostic::error(format!("`newsletter.rate`: {why}"))
            .at(location)
            .hint("e.g. `rate: 10` for ten messages per second; ask your mail provider how many it accepts"),
    )
}

/// Byte offset and length of the value of `parent.key` (block style: `key:` on its own line,
/// indented under the top-level `parent:`).
fn nested_value_offset(yaml: &str, parent: &str, key: &str) -> Option<(usize, usize)> {
    let start = crate::yaml::find_top_level_key(yaml, parent)?;
    let mut next = start;
    let mut indent = None;
    for (i, line) in yaml.get(start..)?.split_inclusive('\n').enumerate() {
        let here = next;
        next += line.len();
        let body = line.trim_start_matches(' ');
        let content = body.trim_end();
        if i == 0 || content.is_empty() || content.starts_with('#') {
            continue;
        }
        let depth = line.len() - body.len();
        if depth == 0 {
            return None; // the next top-level key
        }
        if *indent.get_or_insert(depth) != depth {
            continue; // deeper: inside a nested mapping such as `dkim:`
        }
        let Some(value) = body
            .strip_prefix(key)
            .and_then(|rest| rest.trim_start_matches(' ').strip_prefix(':'))
        else {
            continue;
        };
        let value = value.trim_start_matches(' ');
        return Some((
            here + line.len() - value.len(),
            value.trim_end().len().max(1),
        ));
    }
    None
}

/// `logo`: an address the header can load from the site or over https, a text for the home link
/// it sits in (an image link without one has no name), and a size that keeps the header's height.
fn check_logo(logo: &Logo, source: &YamlSource<'_>) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    let src = logo.src.as_str();
    let local = src.starts_with('/') && !src.starts_with("//");
    if !(local || src.starts_with("https://")) || src.chars().any(char::is_control) {
        errors.push(
            Diagnostic::error(format!(
                "`logo.src` `{}` is neither a path of the site nor an https address",
                crate::diagnostics::printable(src)
            ))
            .at(source.value_location(src, "src"))
            .hint("write a file of the site's static/ folder from its root, e.g. `/bilder/wortmarke.svg`"),
        );
    }
    if logo.alt.trim().is_empty() {
        errors.push(
            Diagnostic::error("`logo.alt` is empty: the link to the home page would have no name")
                .at(source.key_location("alt"))
                .hint("write what the logo says, e.g. the site's name"),
        );
    }
    for (key, value) in [("width", logo.width), ("height", logo.height)] {
        if !(1..=2000).contains(&value) {
            errors.push(
                Diagnostic::error(format!("`logo.{key}` is {value}"))
                    .at(source.value_location(&value.to_string(), key))
                    .hint("give the size in CSS pixels the header shows it at, between 1 and 2000"),
            );
        }
    }
    errors
}

/// `newsletter.lists`: ids usable in URLs and the database, each once, each with a title and, with
/// the service, a consent statement.
fn check_lists(nl: &NewsletterConfig, source: &YamlSource<'_>) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for list in &nl.lists {
        let at = source.value_location(&format!("id: {}", list.id), "lists");
        let fine = !list.id.is_empty()
            && list
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !fine {
            errors.push(
                Diagnostic::error(format!("`{}` is not usable as the id of a list", list.id))
                    .at(at.clone())
                    .hint("use lower-case letters, digits and `-`, e.g. `newsletter` or `sprechstunden`"),
            );
        }
        if !seen.insert(list.id.as_str()) {
            errors.push(
                Diagnostic::error(format!("the list `{}` is declared twice", list.id))
                    .at(at.clone()),
            );
        }
        if list.title.trim().is_empty() {
            errors.push(
                Diagnostic::error(format!("the list `{}` has an empty `title`", list.id))
                    .at(at.clone()),
            );
        }
        if nl.subscriptions.is_some()
            && list.consent.as_deref().is_some_and(|c| c.trim().is_empty())
        {
            errors.push(
                Diagnostic::error(format!("the list `{}` has an empty `consent`", list.id))
                    .at(at)
                    .hint(
                        "the statement readers agree to by ticking it, recorded with their consent",
                    ),
            );
        }
    }
    errors
}

/// The newsletter settings mail servers and clients will judge: addresses and the unsubscribe link.
fn check_newsletter(nl: &NewsletterConfig, source: &YamlSource<'_>) -> Vec<Diagnostic> {
    let mut errors: Vec<Diagnostic> = check_rate_setting(nl, source).into_iter().collect();
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
    errors.extend(check_lists(nl, source));
    if let Some(url) = &nl.unsubscribe_url
        && (!url.starts_with("https://") || !url.contains("{token}"))
    {
        errors.push(
            Diagnostic::error("`unsubscribe_url` must be an https:// address with `{token}` in it")
                .at(source.value_location(url, "unsubscribe_url"))
                .hint("one-click unsubscribing (RFC 8058) needs https; `{token}` becomes each subscriber's own token, e.g. https://ozg.sachsen-anhalt.de/newsletter/abmelden/?t={token}"),
        );
    }
    if let Some(subs) = &nl.subscriptions {
        errors.extend(check_subscriptions(subs, source));
    }
    errors
}

fn check_subscriptions(subs: &SubscriptionsConfig, source: &YamlSource<'_>) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    if subs.consent.trim().is_empty() {
        errors.push(
            Diagnostic::error("`consent` is empty")
                .at(source.key_location("newsletter"))
                .hint("write the statement readers agree to, e.g. `consent: Ich möchte den Newsletter per E-Mail erhalten. Ich kann ihn jederzeit abbestellen.`"),
        );
    }
    let numbers = [
        ("confirm_within_hours", subs.confirm_within_hours, 720),
        (
            "signups_per_address_per_hour",
            subs.signups_per_address_per_hour,
            100,
        ),
        (
            "signups_per_client_per_hour",
            subs.signups_per_client_per_hour,
            1_000_000,
        ),
        (
            "confirmation_mails_per_hour",
            subs.confirmation_mails_per_hour,
            100_000,
        ),
    ];
    for (key, value, max) in numbers {
        if value == 0 || value > max {
            errors.push(
                Diagnostic::error(format!(
                    "`{key}` is {value}; it must be between 1 and {max}"
                ))
                .at(source.value_location(&format!("{key}: {value}"), "newsletter"))
                .hint("leave the key out for the default"),
            );
        }
    }
    errors
}

/// Fills [`NewsletterConfig::unsubscribe_link`] and [`NewsletterConfig::service`].
fn resolve_newsletter_links(
    nl: &mut NewsletterConfig,
    base_url: &str,
    base_overridden: bool,
    source: &YamlSource<'_>,
) -> Result<(), Diagnostic> {
    let Some(subs) = &nl.subscriptions else {
        nl.unsubscribe_link = nl.unsubscribe_url.clone().ok_or_else(|| {
            Diagnostic::error("the newsletter has no way to unsubscribe")
                .at(source.key_location("newsletter"))
                .hint("add `subscriptions: {consent: \"…\"}` under `newsletter:` to run the sign-up and unsubscribe service (`ozg-site subscriptions serve`), or give `unsubscribe_url: \"https://…?t={token}\"` if another system handles unsubscribing")
        })?;
        return Ok(());
    };
    if let Some(url) = &nl.unsubscribe_url {
        return Err(Diagnostic::error(
            "`unsubscribe_url` and `subscriptions` are both set",
        )
        .at(source.value_location(url, "unsubscribe_url"))
        .hint("with `subscriptions` the unsubscribe links go to the service (…/newsletter/abmelden?token=…); remove `unsubscribe_url`"));
    }
    let (base, explicit) = match &subs.url {
        Some(url) => {
            let (base, _) = parse_base_url(url).map_err(|e| {
                Diagnostic::error(format!("`subscriptions.url`: {e}"))
                    .at(source.value_location(url, "newsletter"))
                    .hint("write the address readers reach the service at, e.g. https://ozg.sachsen-anhalt.de")
            })?;
            (base, true)
        }
        None => (base_url.to_string(), false),
    };
    if (explicit || !base_overridden) && !base.starts_with("https://") && !is_loopback_url(&base) {
        let d = Diagnostic::error(format!(
            "the subscription service must be reached over https, not `{base}`"
        ))
        .hint("mail providers only offer one-click unsubscribing for https links (RFC 8058); http is allowed for 127.0.0.1 and localhost, for tests");
        return Err(match &subs.url {
            Some(url) => d.at(source.value_location(url, "newsletter")),
            None => d.at(source.key_location("base_url")),
        });
    }
    let urls = ServiceUrls::new(&base);
    nl.unsubscribe_link = format!("{}?token={{token}}", urls.unsubscribe);
    nl.service = Some(urls);
    Ok(())
}

/// `http://127.0.0.1:…`, `http://[::1]:…` or `http://localhost:…`: a service on this machine.
fn is_loopback_url(url: &str) -> bool {
    let host = origin_of(url);
    let host = host.split_once("://").map_or("", |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn parse_base_url(raw: &str) -> Result<(String, String), String> {
    let trimmed = raw.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(|| format!("base_url `{raw}` must start with https:// or http://"))?;
    let (host, path) = rest
        .find('/')
        .and_then(|i| rest.split_at_checked(i))
        .unwrap_or((rest, ""));
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

    fn load(newsletter: &str, base_override: Option<&str>) -> Result<Config, Diagnostics> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            format!("title: T\nbase_url: https://ozg.example.org\nlanguage: de\ntimezone: Europe/Berlin\nnewsletter:\n  from: a@example.org\n{newsletter}"),
        )
        .unwrap();
        Config::load(dir.path(), base_override)
    }

    fn first_error(r: Result<Config, Diagnostics>) -> String {
        let ds = r.expect_err("an error");
        let d = ds.iter().next().unwrap();
        format!("{} | {}", d.message, d.hint.clone().unwrap_or_default())
    }

    #[test]
    fn without_lists_the_site_has_the_newsletter_list_with_the_services_consent() {
        let nl = load("  subscriptions: {consent: Ja}\n", None)
            .unwrap()
            .site
            .newsletter
            .unwrap();
        let lists = nl.lists();
        assert_eq!(lists.len(), 1);
        assert_eq!(lists[0].id, DEFAULT_LIST);
        assert_eq!(lists[0].consent.as_deref(), Some("Ja"));
        let nl = load(
            "  subscriptions: {consent: Ja}\n  lists:\n    - {id: newsletter, title: N}\n    - {id: sprechstunden, title: S, consent: Einladungen bitte}\n",
            None,
        )
        .unwrap()
        .site
        .newsletter
        .unwrap();
        let consents: Vec<_> = nl.lists().into_iter().map(|l| l.consent).collect();
        assert_eq!(
            consents,
            vec![
                Some("Ja".to_string()),
                Some("Einladungen bitte".to_string())
            ],
            "a list without its own consent takes the service's"
        );
        assert_eq!(nl.list_ids(), vec!["newsletter", "sprechstunden"]);
    }

    fn load_site(extra: &str) -> Result<Config, Diagnostics> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            format!("title: T\nbase_url: https://ozg.example.org\nlanguage: de\ntimezone: Europe/Berlin\n{extra}"),
        )
        .unwrap();
        Config::load(dir.path(), None)
    }

    #[test]
    fn logo_and_service_links_are_typed_and_the_logo_is_checked() {
        let c = load_site(
            "logo: {src: /bilder/w.svg, alt: OZG, width: 240, height: 64}\nservice_navigation:\n  - {title: Leichte Sprache, url: /ls/, icon: leichte-sprache}\n  - {title: Kontakt, url: /k/}\n",
        )
        .unwrap();
        let logo = c.site.logo.unwrap();
        assert_eq!(
            (logo.src.as_str(), logo.width, logo.height),
            ("/bilder/w.svg", 240, 64)
        );
        let icons: Vec<_> = c
            .site
            .service_navigation
            .iter()
            .map(|l| l.icon.as_deref())
            .collect();
        assert_eq!(icons, vec![Some("leichte-sprache"), None]);
        assert!(load_site("title2: x\n").is_err());
        for (logo, wanted) in [
            (
                "{src: //evil.example/x.svg, alt: A, width: 1, height: 1}",
                "neither a path",
            ),
            (
                "{src: \"javascript:alert(1)\", alt: A, width: 1, height: 1}",
                "neither a path",
            ),
            (
                "{src: \"/x\\r\\n.svg\", alt: A, width: 1, height: 1}",
                "neither a path",
            ),
            (
                "{src: /x.svg, alt: \"  \", width: 1, height: 1}",
                "would have no name",
            ),
            (
                "{src: /x.svg, alt: A, width: 0, height: 1}",
                "`logo.width` is 0",
            ),
            (
                "{src: /x.svg, alt: A, width: 1, height: 99999}",
                "`logo.height` is 99999",
            ),
            ("{src: /x.svg, alt: A, width: 1}", "height"),
            (
                "{src: /x.svg, alt: A, width: 1, height: 1, title: T}",
                "title",
            ),
        ] {
            let e = first_error(load_site(&format!("logo: {logo}\n")));
            assert!(e.contains(wanted), "{logo}: {e}");
        }
        let e = first_error(load_site(
            "service_navigation:\n  - {title: X, url: /x/, bild: y}\n",
        ));
        assert!(e.contains("bild"), "{e}");
    }

    #[test]
    fn list_ids_are_checked_once_each_and_usable_in_links() {
        let e = first_error(load(
            "  lists:\n    - {id: newsletter, title: N}\n    - {id: newsletter, title: M}\n  unsubscribe_url: \"https://x.example/?t={token}\"\n",
            None,
        ));
        assert!(e.contains("the list `newsletter` is declared twice"), "{e}");
        let e = first_error(load(
            "  lists:\n    - {id: Sprech Stunden, title: S}\n  unsubscribe_url: \"https://x.example/?t={token}\"\n",
            None,
        ));
        assert!(e.contains("not usable as the id of a list"), "{e}");
        assert!(e.contains("lower-case letters"), "{e}");
    }

    #[test]
    fn the_service_gives_the_unsubscribe_link_and_defaults_to_the_site_address() {
        let c = load("  subscriptions: {consent: Ja}\n", None).unwrap();
        let nl = c.site.newsletter.unwrap();
        let urls = nl.service.unwrap();
        assert_eq!(urls.signup, "https://ozg.example.org/newsletter/anmelden");
        assert_eq!(urls.origin, "https://ozg.example.org");
        assert_eq!(
            nl.unsubscribe_link,
            "https://ozg.example.org/newsletter/abmelden?token={token}"
        );
        // A preview on this machine follows the overridden base URL, over http.
        let c = load(
            "  subscriptions: {consent: Ja}\n",
            Some("http://127.0.0.1:1111"),
        )
        .unwrap();
        let urls = c.site.newsletter.unwrap().service.unwrap();
        assert_eq!(urls.confirm, "http://127.0.0.1:1111/newsletter/bestaetigen");
        let c = load(
            "  subscriptions: {consent: Ja, url: \"http://[::1]:8025/\"}\n",
            None,
        )
        .unwrap();
        assert_eq!(
            c.site.newsletter.unwrap().service.unwrap().unsubscribe,
            "http://[::1]:8025/newsletter/abmelden"
        );
    }

    #[test]
    fn the_feedback_form_posts_to_the_service_and_its_settings_are_checked() {
        let with_service =
            "  subscriptions: {consent: Ja}\nfeedback:\n  to: \" barrieren@example.org \"\n";
        let fb = load(with_service, None).unwrap().site.feedback.unwrap();
        assert_eq!(fb.to, "barrieren@example.org");
        assert_eq!(
            fb.form_url,
            "https://ozg.example.org/barrierefreiheit/melden"
        );
        assert_eq!(
            (fb.reports_per_client_per_hour, fb.reports_per_hour),
            (10, 100)
        );
        // Without the service there is no form: the site names the address instead.
        let without =
            "  unsubscribe_url: \"https://x.example/?t={token}\"\nfeedback:\n  to: b@example.org\n";
        assert_eq!(
            load(without, None).unwrap().site.feedback.unwrap().form_url,
            ""
        );

        let ds = load(
            "  unsubscribe_url: \"https://x.example/?t={token}\"\nfeedback:\n  to: \"Team <b@example.org>\"\n  reports_per_hour: 0\n",
            None,
        )
        .expect_err("two errors");
        let found: Vec<_> = ds
            .iter()
            .map(|d| {
                let loc = d.location.as_ref().unwrap();
                (d.message.clone(), loc.line, loc.column)
            })
            .collect();
        assert_eq!(
            found,
            [
                (
                    "`feedback.to` is not an e-mail address: `Team <b@example.org>`".to_string(),
                    9,
                    7
                ),
                (
                    "`feedback.reports_per_hour` is 0; it must be between 1 and 10000".to_string(),
                    10,
                    21
                ),
            ]
        );
        // Where the form posts is derived, never written by editors.
        let written = "  unsubscribe_url: \"https://x.example/?t={token}\"\nfeedback:\n  to: b@example.org\n  form_url: https://evil.example/\n";
        assert!(first_error(load(written, None)).contains("form_url"));
    }

    #[test]
    fn a_rate_that_is_no_limit_by_accident_is_an_error_at_its_line() {
        for bad in ["-1", ".nan", ".inf", "1e-20", "20000"] {
            let ds = load(
                &format!("  unsubscribe_url: \"https://x.example/?t={{token}}\"\n  # rate: 5\n  sample_recipient:\n    email: rate@example.org\n  rate: {bad}\n"),
                None,
            )
            .expect_err(bad);
            let d = ds.iter().next().unwrap();
            assert!(d.message.contains("`newsletter.rate`"), "{}", d.message);
            let loc = d.location.as_ref().unwrap();
            assert_eq!(
                (loc.line, loc.column, loc.width),
                (11, 9, bad.len()),
                "{bad}"
            );
        }
        for good in ["0", "0.5", "10", "10000"] {
            let c = load(
                &format!("  unsubscribe_url: \"https://x.example/?t={{token}}\"\n  rate: {good}\n"),
                None,
            );
            assert!(c.is_ok(), "{good}");
        }
        assert!(check_rate(f64::NAN).is_err());
        assert!(check_rate(-0.5).is_err());
        assert_eq!(check_rate(0.0), Ok(0.0));
    }

    fn site(yaml: &str) -> Result<Config, Diagnostics> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            format!("title: T\nbase_url: https://ozg.example.org\nlanguage: de\ntimezone: Europe/Berlin\n{yaml}"),
        )
        .unwrap();
        Config::load(dir.path(), None)
    }

    #[test]
    fn a_visitor_address_is_an_address_or_open() {
        let c = site("contact:\n  visitor_address: {name: Elbe-Office, street: Weg 2, postal_code: \"39106\", city: Magdeburg}\n").unwrap();
        let contact = c.site.contact.unwrap();
        assert_eq!(
            crate::yaml::fact::known(&contact.visitor_address)
                .unwrap()
                .name
                .as_deref(),
            Some("Elbe-Office")
        );
        let c = site("contact:\n  visitor_address: {offen: \"nennt das Amt\"}\n").unwrap();
        let contact = c.site.contact.unwrap();
        let keys: Vec<String> = contact.open_facts().into_iter().map(|k| k.key).collect();
        assert_eq!(keys, ["contact.visitor_address"]);
        let json = serde_json::to_value(&contact).unwrap();
        assert!(json["visitor_address"].is_null());
        assert!(json["open"]["visitor_address"].is_object());
        assert!(
            first_error(site("contact:\n  visitor_address: Elbe-Office\n"))
                .contains("not an address")
        );
        assert!(
            first_error(site("contact:\n  visitor_address: {street: Weg 2}\n"))
                .contains("required key `postal_code` is missing")
        );
    }

    #[test]
    fn legal_facts_may_be_open_and_templates_see_which() {
        let c = site("legal:\n  provider: Land Testland\n  represented_by: offen\n  third_country_transfer: false\n  accessibility:\n    compliance: offen\n    law: dem Gesetz\n    standard: der BITV 2.0\n    created: 2025-12-01\n    method: {offen: \"Bewertung steht aus\"}\n").unwrap();
        let legal = c.site.legal.unwrap();
        let keys: Vec<String> = legal.open_facts().into_iter().map(|k| k.key).collect();
        assert_eq!(
            keys,
            [
                "legal.represented_by",
                "legal.accessibility.compliance",
                "legal.accessibility.method"
            ]
        );
        let json = serde_json::to_value(&legal).unwrap();
        assert_eq!(json["provider"], "Land Testland");
        assert!(json["represented_by"].is_null());
        assert_eq!(json["third_country_transfer"], false);
        assert_eq!(json["accessibility"]["created"], "2025-12-01");
        assert!(json["accessibility"]["compliance"].is_null());
        assert_eq!(
            json["open"]["accessibility.method"]["note"],
            "Bewertung steht aus"
        );
        assert!(json["open"]["represented_by"].is_object());
        // A yes/no fact takes yes or no, or `offen`.
        assert!(
            first_error(site("legal:\n  third_country_transfer: nein\n"))
                .contains("neither `true` nor `false`")
        );
        assert!(first_error(site("legal:\n  unbekannt: 1\n")).contains("unknown key `unbekannt`"));
    }

    #[test]
    fn newsletter_link_settings_that_cannot_work_are_errors() {
        assert!(first_error(load("", None)).contains("no way to unsubscribe"));
        assert!(
            first_error(load(
                "  unsubscribe_url: \"https://x.example/?t={token}\"\n  subscriptions: {consent: Ja}\n",
                None
            ))
            .contains("both set")
        );
        assert!(
            first_error(load(
                "  subscriptions: {consent: Ja, url: \"http://abo.example.org\"}\n",
                None
            ))
            .contains("over https")
        );
        assert!(
            first_error(load("  subscriptions: {consent: \" \"}\n", None)).contains("`consent`")
        );
        assert!(
            first_error(load(
                "  subscriptions:\n    consent: Ja\n    confirm_within_hours: 0\n",
                None
            ))
            .contains("between 1 and 720")
        );
        assert!(
            first_error(load(
                "  subscriptions:\n    consent: Ja\n    confirmation_mails_per_hour: 0\n",
                None
            ))
            .contains("`confirmation_mails_per_hour` is 0; it must be between 1 and 100000")
        );
        let old = load(
            "  unsubscribe_url: \"https://x.example/?t={token}\"\n",
            None,
        )
        .unwrap();
        let nl = old.site.newsletter.unwrap();
        assert_eq!(nl.unsubscribe_link, "https://x.example/?t={token}");
        assert!(nl.service.is_none());
    }

    fn errors_of(r: Result<Config, Diagnostics>) -> Vec<String> {
        r.unwrap_err()
            .into_vec()
            .iter()
            .map(|d| {
                let l = d.location.as_ref().unwrap();
                format!("{}:{}: {}", l.line, l.column, d.message)
            })
            .collect()
    }

    #[test]
    fn topics_are_declared_once_each_with_a_usable_slug_at_their_line() {
        let c = site("themen:\n  - { slug: gdst, title: GDST, description: Das Projekt. }\n  - slug: zsa\n    title: ZSA\n    description: Die Zentralstelle.\n").unwrap();
        let slugs: Vec<_> = c.site.themen.iter().map(|t| t.slug.as_str()).collect();
        assert_eq!(slugs, ["gdst", "zsa"]);
        // Lines 1-4 are the test's own settings.
        let errors = errors_of(site(
            "themen:\n  - { slug: gdst, title: GDST, description: Eins. }\n  - { slug: Gdst, title: X, description: Zwei. }\n  - { slug: gdst, title: Y, description: Drei. }\n  - { slug: \"a\\e\", title: Z, description: Vier. }\n  - { slug: leer, title: \" \", description: \"a\\tb\" }\n",
        ));
        assert_eq!(
            errors,
            [
                "7:13: `Gdst` is not usable as the slug of a topic",
                "8:13: the topic `gdst` is declared twice",
                "5:1: `a␛` is not usable as the slug of a topic",
                "10:13: the topic `leer` has an empty `title`",
                "10:13: the `description` of the topic `leer` holds a control character",
            ],
        );
    }

    #[test]
    fn a_topic_needs_slug_title_and_description() {
        let errors = errors_of(site("themen:\n  - { slug: gdst, title: GDST }\n"));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("`description` is missing"), "{errors:?}");
        for slug in ["-gdst", "gdst-", "größe", "a b", ""] {
            assert!(!is_topic_slug(slug), "{slug:?}");
        }
        assert!(is_topic_slug("einer-fuer-alle-2"));
    }
}
