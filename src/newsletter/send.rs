//! `ozg-site newsletter send`: every subscriber gets the edition exactly once, through server
//! faults, crashes and re-runs.
//!
//! The journal in [`super::store`] holds a row per recipient. Each sending thread takes the next
//! pending recipient, waits for its turn under the overall rate limit, sends, and commits `sent`
//! before it takes another — so a crash can repeat at most one message per connection, and never
//! skips anyone. Temporary refusals (4xx, dropped connections) are retried with growing pauses;
//! permanent ones (5xx) mark that recipient failed with the server's reply, and the others go on.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lettre::message::Mailbox;

use super::address::{Email, clean_name, excerpt, printable};
use super::message::{self, Recipient};
use super::outlet::{Outlet, Refusal, redact};
use super::prepared::Prepared;
use super::store::{Delivery, Store, is_token};
use super::{Edition, Personal, Which, invitation, render_editions, settings};
use crate::config::{NewsletterConfig, check_rate};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::error::{Failure, OpError};
use crate::sync::lock;

/// What `send` was asked to do; the doc comments are the help texts of its flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SendOptions {
    /// The number of the edition (with `invite`: of the Sprechstunde)
    #[arg(required_unless_present = "due", conflicts_with = "due")]
    pub number: Option<u32>,
    /// Send every edition whose `send_at` has come and every invitation whose moment has come,
    /// once their pages are published and built (what the rebuild timer runs); nothing sent
    /// before is sent again
    #[arg(long, conflicts_with = "to")]
    pub due: bool,
    /// With --due: the built site, where each edition's web version must be [default: public/
    /// under the root]
    #[arg(long, requires = "due")]
    pub output: Option<PathBuf>,
    /// The subscriber database [default: `database` in site.yaml, else .ozg-site/newsletter.sqlite]
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Mail server: smtp://host:25, smtp+starttls://host:587, smtps://host:465 [default: `smtp`
    /// in site.yaml]; user and password from OZG_SMTP_USER and OZG_SMTP_PASSWORD
    #[arg(long)]
    pub smtp: Option<String>,
    /// Send one test copy (subject starts with [TEST]) to this address; records nothing
    #[arg(long)]
    pub to: Option<String>,
    /// Render every message and report what would be sent, without sending
    #[arg(long)]
    pub dry_run: bool,
    /// Messages per second over all connections, 0 for no limit [default: `rate` in site.yaml, 10]
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Connections to the mail server [default: `connections` in site.yaml, 2]
    #[arg(long)]
    pub connections: Option<usize>,
    /// Also send to subscribers added after this edition's sending started
    #[arg(long)]
    pub include_new: bool,
    /// Try the recipients that failed before again
    #[arg(long)]
    pub retry_failed: bool,
    /// Show a progress bar (the command sets it on a terminal).
    #[arg(skip)]
    pub progress: bool,
}

/// `--rate`: a number that [`check_rate`] accepts, refused where the flag is read.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    check_rate(rate)
}

/// How a send ended.
#[derive(Debug, Default)]
pub struct SendReport {
    /// What was sent: "edition 2", "the invitation to the 70. Sprechstunde (version 0)".
    pub what: String,
    pub sent: u64,
    pub failed: u64,
    /// Sent in earlier runs.
    pub already_sent: u64,
    /// Unsubscribed while this run was sending, before their turn: not sent to.
    pub unsubscribed: u64,
    /// Where the messages went: the SMTP server, or the outbox folder.
    pub destination: String,
    pub dry_run: bool,
    pub test_copy: bool,
    /// On a dry run: the recipients a send would mark failed, `(address, reason)`, the address
    /// [`printable`].
    pub unsendable: Vec<(String, String)>,
}

/// The database path: `--db`, else `site.yaml`, else [`super::store::DEFAULT_DB`] under the root.
pub fn database_path(root: &Path, config: Option<&NewsletterConfig>, db: Option<&Path>) -> PathBuf {
    match (db, config.and_then(|c| c.database.as_deref())) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(p)) => root.join(p),
        (None, None) => root.join(super::store::DEFAULT_DB),
    }
}

/// Spaces sends evenly over all connections: each send takes the next free moment.
struct RateLimit {
    interval: Option<Duration>,
    next: Mutex<Instant>,
}

impl RateLimit {
    /// `per_second` messages per second, 0 for no limit; anything [`check_rate`] refuses is an
    /// error, never "no limit".
    fn new(per_second: f64) -> Result<RateLimit, String> {
        let per_second = check_rate(per_second)?;
        let interval = if per_second == 0.0 {
            None
        } else {
            Some(Duration::try_from_secs_f64(1.0 / per_second).map_err(|e| e.to_string())?)
        };
        Ok(RateLimit {
            interval,
            next: Mutex::new(Instant::now()),
        })
    }

    fn wait(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let at = {
            let mut next = lock(&self.next);
            let at = (*next).max(Instant::now());
            // Far in the future at most: a next moment past what `Instant` holds keeps the last.
            *next = at.checked_add(interval).unwrap_or(at);
            at
        };
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
    }
}

/// Sends edition `opts.number` to the subscribers (or one test copy, or nothing on a dry run).
pub fn send(site_opts: &crate::Options, opts: &SendOptions) -> Result<SendReport, Failure> {
    let number = opts.number.ok_or_else(|| {
        Diagnostic::error("which edition? give its number, or --due for every edition due")
    })?;
    let site = std::sync::Arc::new(crate::load_site(site_opts)?);
    let theme = crate::theme::Theme::load(&site_opts.root, &site.config.site.theme)?;
    send_edition(&site, &theme, site_opts, opts, number)
}

fn send_edition(
    site: &Arc<crate::site::Site>,
    theme: &crate::theme::Theme,
    site_opts: &crate::Options,
    opts: &SendOptions,
    number: u32,
) -> Result<SendReport, Failure> {
    let config = settings(site)?;
    let edition = render_editions(site, theme, Which::Number(number))?
        .pop()
        .ok_or_else(|| Diagnostic::error(format!("there is no edition number {number}")))?;
    let list = super::list_of_edition(site, number)?;
    let sending = Sending::new(config, edition, list, site_opts, opts)?;
    send_mail(&sending, site_opts, opts)
}

/// Sends the mail of `sending`: a test copy, a dry run, or its campaign.
fn send_mail(
    sending: &Sending<'_>,
    site_opts: &crate::Options,
    opts: &SendOptions,
) -> Result<SendReport, Failure> {
    let report = if let Some(address) = &opts.to {
        send_test_copy(sending, address)?
    } else {
        let db = database_path(&site_opts.root, Some(sending.config), opts.db.as_deref());
        let mut store = Store::open(&db)?;
        if opts.dry_run {
            dry_run(sending, &store)?
        } else {
            send_campaign(sending, &mut store, opts)?
        }
    };
    Ok(SendReport {
        what: sending.edition.describe(),
        ..report
    })
}

/// What `newsletter invite` did.
#[derive(Debug)]
pub enum InviteReport {
    Sent(SendReport),
    /// Called off before any invitation went out: nobody to tell.
    NothingToCancel,
}

/// `newsletter invite <nr>`: the version of the Sprechstunde's invitation its facts call for —
/// the first, an update or a cancellation — to its section's list (or a test copy, or a dry
/// run), through the journal.
pub fn invite(site_opts: &crate::Options, opts: &SendOptions) -> Result<InviteReport, Failure> {
    let number = opts.number.ok_or_else(|| {
        Diagnostic::error("which Sprechstunde? give its number, or --due for everything due")
    })?;
    let site = Arc::new(crate::load_site(site_opts)?);
    let theme = crate::theme::Theme::load(&site_opts.root, &site.config.site.theme)?;
    let session = invitation::session(&site, number)?;
    if let Some(start) = &session.page.starts_at
        && start.timestamp() <= site_opts.now
    {
        return Err(Diagnostic::error(format!(
            "the {number}. Sprechstunde began at {}; an invitation to it comes too late",
            crate::time::rfc3339(start)
        ))
        .in_file(session.page.file.shown.clone())
        .into());
    }
    let store = Store::open(&database_path(
        &site_opts.root,
        Some(settings(&site)?),
        opts.db.as_deref(),
    ))?;
    let Some(version) = invitation_version(&site, &store, &session)? else {
        return Ok(InviteReport::NothingToCancel);
    };
    drop(store);
    send_invitation(&site, &theme, site_opts, opts, &session, version).map(InviteReport::Sent)
}

/// Renders `version` of the invitation to `session` and sends it through its campaign.
fn send_invitation(
    site: &Arc<crate::site::Site>,
    theme: &crate::theme::Theme,
    site_opts: &crate::Options,
    opts: &SendOptions,
    session: &invitation::Session<'_>,
    version: Version,
) -> Result<SendReport, Failure> {
    let config = settings(site)?;
    theme.require_email_templates(&[invitation::HTML_TEMPLATE, invitation::TEXT_TEMPLATE])?;
    let templates = crate::render::email_templates(site, theme)?;
    let mail = invitation::render(
        site,
        &templates,
        config,
        session,
        version.sequence,
        version.kind,
        version.facts,
        site_opts.now,
    )?;
    let sending = Sending::new(config, mail, session.list().to_string(), site_opts, opts)?;
    send_mail(&sending, site_opts, opts)
}

/// The version of an invitation to send now, as [`invitation::next_version`] decides it from
/// the journal.
struct Version {
    /// The event's calendar `UID`.
    uid: String,
    sequence: u32,
    kind: invitation::Kind,
    facts: String,
}

fn invitation_version(
    site: &crate::site::Site,
    store: &Store,
    session: &invitation::Session<'_>,
) -> Result<Option<Version>, Failure> {
    let facts = invitation::facts(session)?;
    let uid = crate::render::calendar::uid(site, session.page);
    let latest = store.latest_invitation(&uid)?;
    Ok(invitation::next_version(
        latest.as_ref().map(|(s, f)| (*s, f.as_str())),
        &facts,
        session.fields.cancelled,
    )
    .map(|(sequence, kind)| Version {
        uid,
        sequence,
        kind,
        facts,
    }))
}

/// What `send --due` did: the editions it sent (or found sent), and those it held back.
#[derive(Debug, Default)]
pub struct DueReport {
    /// Editions and invitations sent (or gone on with) by this run.
    pub sent: Vec<SendReport>,
    /// Due editions and invitations whose campaign had finished before this run: nothing to
    /// do ("edition 2").
    pub done_before: Vec<String>,
    /// Due editions not sent, each with why (a sentence naming the edition and its file).
    pub held: Vec<String>,
}

/// `--due`: every published edition whose `send_at` has come goes out through the journal, so a
/// second run sends nothing more. An edition whose web version is not published yet, or not in
/// the built site at `output`, is held back: a mail must not link to a page that is not there.
pub fn send_due(site_opts: &crate::Options, opts: &SendOptions) -> Result<DueReport, Failure> {
    let site = Arc::new(crate::load_site(site_opts)?);
    let theme = crate::theme::Theme::load(&site_opts.root, &site.config.site.theme)?;
    let output = opts
        .output
        .clone()
        .unwrap_or_else(|| site_opts.root.join("public"));
    let mut report = DueReport::default();
    for h in &site.held_sends {
        report.held.push(match &h.publish_at {
            Some(at) => format!(
                "edition {} ({}) is due since {} but its web version appears only at {}; it goes out with the first run after that",
                h.number,
                h.file.display(),
                crate::time::rfc3339(&h.send_at),
                crate::time::rfc3339(at)
            ),
            None => format!(
                "edition {} ({}) is due since {} but is a draft; remove `draft: true` to publish and send it",
                h.number,
                h.file.display(),
                crate::time::rfc3339(&h.send_at)
            ),
        });
    }
    let mut due = Vec::new();
    for page in &site.pages {
        let crate::parse::kinds::KindFields::Newsletter(f) = &page.fields else {
            continue;
        };
        let Some(Ok(at)) = f.send_at.as_ref().map(|s| s.resolve(&site.config.tz)) else {
            continue;
        };
        if at.timestamp() > site_opts.now {
            continue;
        }
        let built = output
            .join(page.path.trim_start_matches('/'))
            .join("index.html");
        if built.is_file() {
            due.push(f.number);
        } else {
            report.held.push(format!(
                "edition {} ({}) is due but its web version {} is not built yet; run `ozg-site build` first",
                f.number,
                page.file.shown.display(),
                built.display()
            ));
        }
    }
    due.sort_unstable();
    let config = settings(&site)?;
    let store = Store::open(&database_path(
        &site_opts.root,
        Some(config),
        opts.db.as_deref(),
    ))?;
    for number in due {
        // Every timer run after the moment finds the edition due again; a finished campaign
        // needs neither rendering nor a connection to the mail server.
        if finished(&store, number)? {
            report.done_before.push(format!("edition {number}"));
            continue;
        }
        let sent = send_edition(&site, &theme, site_opts, opts, number)?;
        report.sent.push(sent);
    }
    invitations_due(&site, &theme, site_opts, opts, &output, &store, &mut report)?;
    Ok(report)
}

/// Whether the campaign of `key` has finished and has nothing pending.
fn finished(store: &Store, key: impl Into<super::store::CampaignKey>) -> Result<bool, OpError> {
    Ok(store
        .status(key)?
        .is_some_and(|st| st.pending == 0 && st.finished_at.is_some()))
}

/// The invitations of `--due`: every Sprechstunde whose invitation moment has come and which
/// has not begun gets the version its facts call for — so a time changed after the invitation
/// went out sends the update with the next run, and `cancelled: true` the cancellation. One
/// whose time is open, or whose page is not built, is held back with the reason.
fn invitations_due(
    site: &Arc<crate::site::Site>,
    theme: &crate::theme::Theme,
    site_opts: &crate::Options,
    opts: &SendOptions,
    output: &Path,
    store: &Store,
    report: &mut DueReport,
) -> Result<(), Failure> {
    for session in invitation::sessions(site) {
        let page = session.page;
        let Some(Ok(at)) =
            crate::site::invitation_moment(&session.section.front, &page.fields, &site.config.tz)
        else {
            continue;
        };
        let number = session.fields.number;
        let begun = page
            .starts_at
            .as_ref()
            .is_none_or(|s| s.timestamp() <= site_opts.now);
        if at.timestamp() > site_opts.now || begun {
            continue;
        }
        let version = match invitation_version(site, store, &session) {
            Ok(Some(v)) => v,
            Ok(None) => continue,
            Err(Failure::Content(ds)) => {
                for d in ds.iter() {
                    let at_line = d.location.as_ref().map_or_else(String::new, |l| {
                        format!(" ({}:{}:{})", l.path.display(), l.line, l.column)
                    });
                    let hint = d
                        .hint
                        .as_ref()
                        .map_or_else(String::new, |h| format!("; {h}"));
                    report.held.push(format!(
                        "the invitation to the {number}. Sprechstunde is due since {}: {}{at_line}{hint}",
                        crate::time::rfc3339(&at),
                        d.message
                    ));
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        let key = super::store::CampaignKey::Invitation {
            uid: version.uid.clone(),
            sequence: version.sequence,
        };
        if finished(store, &key)? {
            report.done_before.push(format!(
                "the invitation to the {number}. Sprechstunde (version {})",
                version.sequence
            ));
            continue;
        }
        let built = output
            .join(page.path.trim_start_matches('/'))
            .join("index.html");
        if !built.is_file() {
            report.held.push(format!(
                "the invitation to the {number}. Sprechstunde ({}) is due but its page {} is not built yet; run `ozg-site build` first",
                page.file.shown.display(),
                built.display()
            ));
            continue;
        }
        let sent = send_invitation(site, theme, site_opts, opts, &session, version)?;
        report.sent.push(sent);
    }
    Ok(())
}

/// What the three ways of sending share: the edition rendered for mail and the settings.
struct Sending<'a> {
    config: &'a NewsletterConfig,
    edition: Edition,
    dkim: Option<lettre::message::dkim::DkimConfig>,
    connections: usize,
    limit: RateLimit,
    /// `--smtp`, else `smtp` in `site.yaml`; none: the outbox.
    smtp: Option<String>,
    outbox: PathBuf,
    now: jiff::Timestamp,
    /// The list the edition goes to (its `list:`).
    list: String,
}

impl<'a> Sending<'a> {
    /// Checks every setting for sending `edition` to `list` before anything is sent.
    fn new(
        config: &'a NewsletterConfig,
        edition: Edition,
        list: String,
        site_opts: &crate::Options,
        opts: &SendOptions,
    ) -> Result<Sending<'a>, Failure> {
        let dkim = message::dkim(config, &site_opts.root)?;
        check_return_path(config)?;
        let rate = opts.rate.unwrap_or(config.rate);
        let limit = RateLimit::new(rate).map_err(|why| {
            Diagnostic::error(format!("cannot send: {why}"))
                .hint("give --rate 10 (messages per second), or 0 for no limit")
        })?;
        let outbox = site_opts
            .root
            .join(config.outbox.as_deref().unwrap_or(".ozg-site/outbox"))
            .join(edition.folder_name());
        Ok(Sending {
            config,
            edition,
            dkim,
            connections: opts.connections.unwrap_or(config.connections).max(1),
            limit,
            smtp: opts.smtp.clone().or_else(|| config.smtp.clone()),
            outbox,
            now: site_opts.now,
            list,
        })
    }
}

/// `newsletter.bounces.return_path` must make an address for every message, or none is sent.
fn check_return_path(config: &NewsletterConfig) -> Result<(), Diagnostic> {
    let Some(template) = config.bounces.return_path.as_deref() else {
        return Ok(());
    };
    let sample = template.replace("{token}", "1-1-0123456789ab");
    if !template.contains("{token}") || sample.parse::<lettre::Address>().is_err() {
        return Err(Diagnostic::error(format!(
            "`newsletter.bounces.return_path` is not an address with `{{token}}` in it: `{}`",
            excerpt(template)
        ))
        .in_file(crate::config::CONFIG_FILE)
        .hint("write it like `bounce+{token}@ozg.sachsen-anhalt.de` (the mail server must deliver `bounce+…` to the bounce mailbox)"));
    }
    Ok(())
}

/// `--to`: one copy marked `[TEST]` to `address`; nothing is recorded.
fn send_test_copy(sending: &Sending<'_>, address: &str) -> Result<SendReport, Failure> {
    let Sending {
        config, edition, ..
    } = sending;
    let address = Email::parse(address)
        .map_err(|why| Diagnostic::error(format!("--to: {}", why.reason(address))))?;
    let mut test = edition.clone();
    test.subject = format!("[TEST] {}", edition.subject);
    let recipient = Recipient {
        mailbox: Mailbox::new(
            None,
            address
                .as_str()
                .parse()
                .map_err(|e| Diagnostic::error(format!("--to: {e}")))?,
        ),
        personal: Personal::new(config, "test", config.sample_recipient.name.as_deref()),
    };
    let message = message::build(
        config,
        &test,
        &Prepared::new(&test),
        &recipient,
        sending.now,
        sending.dkim.as_ref(),
    )?;
    let smtp = sending.smtp.as_deref();
    let helo = super::outlet::helo_name(config);
    let outlet = Outlet::open(smtp, sending.outbox.join("test"), 1, helo.as_deref())?;
    outlet.send(&message, "test").map_err(|r| match r {
        Refusal::Temporary(t) | Refusal::Permanent(t) => {
            OpError::mail(format!("the test copy was not accepted: {t}"))
        }
    })?;
    Ok(SendReport {
        sent: 1,
        destination: outlet.describe(smtp),
        test_copy: true,
        ..SendReport::default()
    })
}

/// `--dry-run`: renders every message a send would send and says who cannot be sent to.
fn dry_run(sending: &Sending<'_>, store: &Store) -> Result<SendReport, Failure> {
    let Sending {
        config, edition, ..
    } = sending;
    let key = edition.campaign();
    let mut recipients = store.pending_unregistered(&key)?;
    if store.status(&key)?.is_none() {
        let mut active = Vec::new();
        for s in store.list()? {
            // A send leaves out addresses stopped by bounces; so does its rehearsal.
            if s.status == super::store::SubscriberStatus::Active && store.bounced(s.id)?.is_none()
            {
                active.push(s);
            }
        }
        let invited = match edition.audience() {
            super::store::Audience::List => None,
            super::store::Audience::EarlierRecipients => Some(store.invited(&key)?),
        };
        recipients = active
            .into_iter()
            .filter(|s| s.receives(&sending.list))
            .filter(|s| invited.as_ref().is_none_or(|ids| ids.contains(&s.id)))
            .map(|s| Delivery {
                token: store.unsubscribe_token(&s.link_nonce),
                subscriber: s.id,
                email: s.email,
                name: s.name,
            })
            .collect();
    }
    let prepared = Prepared::new(edition);
    let mut unsendable = Vec::new();
    for d in &recipients {
        match recipient_of(config, d, &sending.list) {
            Ok(r) => {
                message::build(
                    config,
                    edition,
                    &prepared,
                    &r,
                    sending.now,
                    sending.dkim.as_ref(),
                )?;
            }
            Err(why) => unsendable.push((printable(&d.email).into_owned(), why)),
        }
    }
    Ok(SendReport {
        sent: (recipients.len() - unsendable.len()) as u64,
        failed: unsendable.len() as u64,
        dry_run: true,
        destination: sending
            .smtp
            .as_deref()
            .map_or_else(|| sending.outbox.display().to_string(), redact),
        unsendable,
        ..SendReport::default()
    })
}

/// The real thing: every pending recipient of the journal, over `connections` threads.
fn send_campaign(
    sending: &Sending<'_>,
    store: &mut Store,
    opts: &SendOptions,
) -> Result<SendReport, Failure> {
    let Sending {
        config, edition, ..
    } = sending;
    let key = edition.campaign();
    let fresh = store.status(&key)?.is_none();
    if fresh && store.count(Some(&sending.list))? == 0 {
        let list = &sending.list;
        if list == crate::config::DEFAULT_LIST {
            return Err(Diagnostic::error("there are no subscribers")
                .hint("add them with `ozg-site subscribers import liste.csv` or `ozg-site subscribers add adresse@example.org`")
                .into());
        }
        return Err(Diagnostic::error(format!("the list `{list}` has no subscribers"))
            .hint(format!("add them with `ozg-site subscribers import liste.csv --list {list}` or `ozg-site subscribers add adresse@example.org --list {list}`"))
            .into());
    }
    let smtp = sending.smtp.as_deref();
    let helo = super::outlet::helo_name(config);
    let outlet = Outlet::open(
        smtp,
        sending.outbox.clone(),
        sending.connections,
        helo.as_deref(),
    )?;
    if opts.retry_failed {
        store.retry_failed(&key)?;
    }
    store.start(
        &key,
        &edition.subject,
        &sending.list,
        edition.invitation.as_ref().map(|i| i.facts.as_str()),
        edition.audience(),
        opts.include_new,
    )?;
    let campaign = store.campaign(&key)?;
    let pending = store.pending(&key)?;
    let before = store.status(&key)?.unwrap_or_default();
    let mut report = SendReport {
        already_sent: before.sent,
        destination: outlet.describe(smtp),
        ..SendReport::default()
    };
    if pending.is_empty() {
        store.finish_if_done(&key)?;
        return Ok(report);
    }
    let prepared = Prepared::new(edition);
    let run = Run {
        config,
        edition,
        campaign,
        prepared: &prepared,
        dkim: sending.dkim.as_ref(),
        outlet: &outlet,
        limit: &sending.limit,
        now: sending.now,
        retries: config.retries.max(1),
        retry_delay: Duration::from_millis(config.retry_delay_ms),
        list: &sending.list,
    };
    let progress = progress_bar(opts.progress, pending.len() as u64);
    let counts = run.deliver_all(store, pending, sending.connections, &progress);
    progress.finish_and_clear();
    let counts = counts?;
    store.finish_if_done(&key)?;
    report.sent = counts.sent;
    report.failed = counts.failed;
    report.unsubscribed = counts.unsubscribed;
    Ok(report)
}

fn progress_bar(show: bool, total: u64) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} sent, {msg}, {eta} left")
    {
        bar.set_style(style);
    }
    bar.set_message("0 failed");
    bar
}

/// The recipient of a journal row, checked as if it came in at the door today: a row written by
/// an older version or edited by hand may hold a line break in the name (which the mail
/// library cannot put in a header), an address that no longer parses, a damaged token. `Err`
/// says why in a sentence for `newsletter status`; the row is then marked failed.
fn recipient_of(config: &NewsletterConfig, d: &Delivery, list: &str) -> Result<Recipient, String> {
    let email = Email::parse(&d.email).map_err(|e| {
        format!(
            "the stored address cannot be sent to: {}; add the correct address with `ozg-site subscribers add`",
            e.reason(&d.email)
        )
    })?;
    let name = match d.name.as_deref().map(|n| (n, clean_name(n))) {
        None => None,
        Some((_, Ok(name))) => name,
        Some((raw, Err(e))) => {
            return Err(format!(
                "the stored name `{}` cannot go into a mail: {}; correct it with `ozg-site subscribers add {email} --name \"…\"`, then send again with --retry-failed",
                excerpt(raw),
                e.reason()
            ));
        }
    };
    if !is_token(&d.token) {
        return Err(
            "the stored unsubscribe token is damaged (was the database edited by hand?)".into(),
        );
    }
    let address = email
        .as_str()
        .parse()
        .map_err(|e| format!("the mail library refuses the address {email}: {e}"))?;
    Ok(Recipient {
        personal: Personal::for_list(config, &d.token, name.as_deref(), list),
        mailbox: Mailbox::new(name, address),
    })
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    sent: u64,
    failed: u64,
    unsubscribed: u64,
}

/// What became of one recipient.
enum Outcome {
    Sent,
    /// Refused for good, or still refused after every retry.
    Failed,
    /// Unsubscribed after the campaign started, before their turn.
    Unsubscribed,
}

/// What every sending thread shares.
struct Run<'a> {
    config: &'a NewsletterConfig,
    edition: &'a Edition,
    /// The journal's row of the campaign.
    campaign: i64,
    prepared: &'a Prepared,
    dkim: Option<&'a lettre::message::dkim::DkimConfig>,
    outlet: &'a Outlet,
    limit: &'a RateLimit,
    now: jiff::Timestamp,
    retries: u32,
    retry_delay: Duration,
    /// The list the edition goes to.
    list: &'a str,
}

impl Run<'_> {
    /// Sends to every recipient of `pending` over `connections` threads, each with its own
    /// connection to the database; the first error that stopped a thread, if any.
    fn deliver_all(
        &self,
        store: &Store,
        pending: Vec<Delivery>,
        connections: usize,
        progress: &indicatif::ProgressBar,
    ) -> Result<Counts, Failure> {
        let queue = Mutex::new(VecDeque::from(pending));
        let counts = Mutex::new(Counts::default());
        let errors: Vec<Failure> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..connections)
                .map(|_| {
                    let store = store.reopen();
                    let (queue, counts) = (&queue, &counts);
                    scope.spawn(move || -> Result<(), Failure> {
                        let store = store?;
                        // One statement, so the queue's guard is dropped before the delivery.
                        while let Some(d) = lock(queue).pop_front() {
                            let outcome = self.deliver(&store, &d)?;
                            let failed = {
                                let mut c = lock(counts);
                                match outcome {
                                    Outcome::Sent => c.sent += 1,
                                    Outcome::Failed => c.failed += 1,
                                    Outcome::Unsubscribed => c.unsubscribed += 1,
                                }
                                c.failed
                            };
                            progress.set_message(format!("{failed} failed"));
                            progress.inc(1);
                        }
                        Ok(())
                    })
                })
                .collect();
            workers
                .into_iter()
                .filter_map(|w| match w.join() {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e),
                    Err(_) => Some(OpError::Internal("a sending thread crashed".into()).into()),
                })
                .collect()
        });
        match errors.into_iter().next() {
            Some(first) => Err(first),
            None => Ok(*lock(&counts)),
        }
    }

    /// Sends to one recipient, retrying temporary refusals, and records the outcome.
    /// `Err`: the journal cannot be written.
    fn deliver(&self, store: &Store, d: &Delivery) -> Result<Outcome, OpError> {
        let number = self.campaign;
        // The queue was read when sending started; the subscription service may have taken the
        // recipient out since.
        if !store.still_pending(number, d.subscriber)? {
            return Ok(Outcome::Unsubscribed);
        }
        let message = match recipient_of(self.config, d, self.list).and_then(|r| {
            message::build(
                self.config,
                self.edition,
                self.prepared,
                &r,
                self.now,
                self.dkim,
            )
            .map_err(|ds| first(ds).message)
        }) {
            Ok(m) => m,
            Err(why) => {
                store.mark_failed(number, d.subscriber, 0, &why)?;
                return Ok(Outcome::Failed);
            }
        };
        let envelope = self.envelope(store, &message, d.subscriber);
        let bytes = message.formatted();
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.limit.wait();
            match self
                .outlet
                .send_raw(&envelope, &bytes, &d.subscriber.to_string())
            {
                Ok(()) => {
                    store.mark_sent(number, d, attempt)?;
                    return Ok(Outcome::Sent);
                }
                Err(Refusal::Permanent(reply)) => {
                    store.mark_failed(number, d.subscriber, attempt, &reply)?;
                    return Ok(Outcome::Failed);
                }
                Err(Refusal::Temporary(reply)) if attempt >= self.retries => {
                    store.mark_failed(number, d.subscriber, attempt, &reply)?;
                    return Ok(Outcome::Failed);
                }
                Err(Refusal::Temporary(_)) => {
                    // 1×, 2×, 4×, … the first pause, at most a minute: throttling servers ask
                    // for patience, not for the same message again at once.
                    let factor = 1u32 << (attempt - 1).min(16);
                    let pause = (self.retry_delay * factor).min(Duration::from_secs(60));
                    std::thread::sleep(pause);
                }
            }
        }
    }
}

impl Run<'_> {
    /// The message's envelope, with the VERP return path of `newsletter.bounces.return_path`
    /// when it is set, so a bounce names its campaign and recipient (see [`super::bounces`]).
    fn envelope(
        &self,
        store: &Store,
        message: &lettre::Message,
        subscriber: i64,
    ) -> lettre::address::Envelope {
        let plain = message.envelope().clone();
        let verp = self.config.bounces.return_path.as_deref().and_then(|t| {
            let of = match &self.edition.invitation {
                None => super::store::bounces::CampaignRef::Edition(self.edition.number),
                Some(_) => super::store::bounces::CampaignRef::Row(self.campaign),
            };
            super::bounces::verp_address(t, of, subscriber, &store.hasher())
        });
        match verp {
            Some(from) => {
                lettre::address::Envelope::new(Some(from), plain.to().to_vec()).unwrap_or(plain)
            }
            None => plain,
        }
    }
}

fn first(ds: Diagnostics) -> Diagnostic {
    ds.iter()
        .next()
        .cloned()
        .unwrap_or_else(|| Diagnostic::error("cannot build the message"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NewsletterConfig {
        let mut c: NewsletterConfig =
            serde_yaml::from_str("from: team@example.org\nsalutation: \"Guten Tag {name},\"")
                .unwrap();
        c.unsubscribe_link = "https://x.example/ab?t={token}".into();
        c
    }

    fn delivery(email: &str, name: Option<&str>) -> Delivery {
        Delivery {
            subscriber: 1,
            email: email.into(),
            name: name.map(str::to_string),
            token: crate::newsletter::store::new_token().unwrap(),
        }
    }

    #[test]
    fn stored_rows_the_door_would_refuse_are_reasons_not_panics() {
        let c = config();
        for (email, name, why) in [
            (
                "a@example.org",
                Some("Er\r\nika"),
                "stored name `Er\\u{d}\\u{a}ika`",
            ),
            ("a@example.org", Some("\u{1b}[31mrot"), "control character"),
            (
                "a\r\n@example.org",
                None,
                "stored address cannot be sent to",
            ),
            ("\"a b\"@example.org", None, "quoted part"),
            ("kaputt", None, "not an e-mail address"),
        ] {
            let e = recipient_of(&c, &delivery(email, name), "newsletter")
                .err()
                .unwrap();
            assert!(e.contains(why), "{e}");
            assert!(!e.contains('\r') && !e.contains('\u{1b}'), "{e}");
        }
        let mut damaged = delivery("a@example.org", None);
        damaged.token = "x\r\nBcc: b@example.org".into();
        assert!(
            recipient_of(&c, &damaged, "newsletter")
                .err()
                .unwrap()
                .contains("token")
        );
        // What the door accepts goes out; an old row's Unicode domain as Punycode.
        let r = recipient_of(
            &c,
            &delivery("Jörg@Bücher.de", Some(" Jörg ")),
            "newsletter",
        )
        .unwrap();
        assert_eq!(r.mailbox.email.to_string(), "Jörg@xn--bcher-kva.de");
        assert_eq!(r.mailbox.name.as_deref(), Some("Jörg"));
        assert_eq!(r.personal.salutation, "Guten Tag Jörg,");
    }

    #[test]
    fn a_rate_that_would_mean_no_limit_or_panic_is_refused() {
        for bad in [f64::NAN, f64::INFINITY, -1.0, 1e-20, 1e9] {
            assert!(RateLimit::new(bad).is_err(), "{bad}");
        }
        assert_eq!(RateLimit::new(0.0).unwrap().interval, None);
        assert_eq!(
            RateLimit::new(4.0).unwrap().interval,
            Some(Duration::from_millis(250))
        );
    }

    #[test]
    fn a_poisoned_rate_limit_still_limits() {
        let limit = RateLimit::new(10_000.0).unwrap();
        let _ = std::thread::scope(|s| {
            s.spawn(|| {
                let _guard = limit.next.lock().unwrap();
                panic!("poison it");
            })
            .join()
        });
        assert!(limit.next.is_poisoned());
        let before = *lock(&limit.next);
        limit.wait();
        limit.wait();
        assert!(*lock(&limit.next) >= before + Duration::from_micros(200));
    }
}
