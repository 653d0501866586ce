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
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::message::Mailbox;

use super::message::{self, Recipient};
use super::outlet::{Outlet, Refusal, redact};
use super::prepared::Prepared;
use super::store::{Delivery, Store};
use super::{Edition, Personal, Which, render_editions, settings};
use crate::config::NewsletterConfig;
use crate::diagnostics::{Diagnostic, Diagnostics};

/// What `send` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    pub number: u32,
    pub db: Option<PathBuf>,
    pub smtp: Option<String>,
    /// One test copy to this address; nothing is recorded.
    pub to: Option<String>,
    pub dry_run: bool,
    /// Messages per second over all connections; 0: no limit.
    pub rate: Option<f64>,
    pub connections: Option<usize>,
    pub include_new: bool,
    pub retry_failed: bool,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
}

/// How a send ended.
#[derive(Debug, Default)]
pub struct SendReport {
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
    fn new(per_second: f64) -> RateLimit {
        RateLimit {
            interval: (per_second > 0.0).then(|| Duration::from_secs_f64(1.0 / per_second)),
            next: Mutex::new(Instant::now()),
        }
    }

    fn wait(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let at = {
            let Ok(mut next) = self.next.lock() else {
                return;
            };
            let at = (*next).max(Instant::now());
            *next = at + interval;
            at
        };
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
    }
}

/// Sends edition `opts.number` to the subscribers (or one test copy, or nothing on a dry run).
pub fn send(site_opts: &crate::Options, opts: &SendOptions) -> Result<SendReport, Diagnostics> {
    let site = std::sync::Arc::new(crate::load_site(site_opts)?);
    let theme = crate::theme::Theme::load(&site_opts.root, &site.config.site.theme)?;
    let config = settings(&site)?;
    let edition = render_editions(&site, &theme, Which::Number(opts.number))?
        .pop()
        .ok_or_else(|| Diagnostic::error(format!("there is no edition number {}", opts.number)))?;
    let now = site_opts.now;
    let dkim = message::dkim(config, &site_opts.root)?;
    let connections = opts.connections.unwrap_or(config.connections).max(1);
    let rate = opts.rate.unwrap_or(config.rate);
    let smtp = opts.smtp.clone().or_else(|| config.smtp.clone());
    let outbox = site_opts
        .root
        .join(config.outbox.as_deref().unwrap_or(".ozg-site/outbox"))
        .join(edition.number.to_string());

    if let Some(address) = &opts.to {
        let address = super::subscribers::check_address(address)
            .map_err(|why| Diagnostic::error(format!("--to: {why}")))?;
        let mut test = edition.clone();
        test.subject = format!("[TEST] {}", edition.subject);
        let recipient = Recipient {
            mailbox: Mailbox::new(
                None,
                address
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
            now,
            dkim.as_ref(),
        )?;
        let outlet = Outlet::open(smtp.as_deref(), outbox.join("test"), 1)?;
        outlet.send(&message, "test").map_err(|r| match r {
            Refusal::Temporary(t) | Refusal::Permanent(t) => {
                Diagnostic::error(format!("the test copy was not accepted: {t}"))
            }
        })?;
        return Ok(SendReport {
            sent: 1,
            destination: outlet.describe(smtp.as_deref()),
            test_copy: true,
            ..SendReport::default()
        });
    }

    let db = database_path(&site_opts.root, Some(config), opts.db.as_deref());
    let mut store = Store::open(&db)?;
    if opts.dry_run {
        let mut recipients = store.pending(edition.number)?;
        if store.status(edition.number)?.is_none() {
            recipients = store
                .list()?
                .into_iter()
                .filter(|s| s.status == super::store::SubscriberStatus::Active)
                .map(|s| Delivery {
                    subscriber: s.id,
                    email: s.email,
                    name: s.name,
                    token: s.token,
                })
                .collect();
        }
        let prepared = Prepared::new(&edition);
        for d in &recipients {
            message::build(
                config,
                &edition,
                &prepared,
                &recipient_of(config, d)?,
                now,
                dkim.as_ref(),
            )?;
        }
        return Ok(SendReport {
            sent: recipients.len() as u64,
            dry_run: true,
            destination: smtp.map_or_else(|| outbox.display().to_string(), |u| redact(&u)),
            ..SendReport::default()
        });
    }

    let fresh = store.status(edition.number)?.is_none();
    if fresh && store.count()? == 0 {
        return Err(Diagnostic::error("there are no subscribers")
            .hint("add them with `ozg-site subscribers import liste.csv` or `ozg-site subscribers add adresse@example.org`")
            .into());
    }
    let outlet = Outlet::open(smtp.as_deref(), outbox, connections)?;
    if opts.retry_failed {
        store.retry_failed(edition.number)?;
    }
    store.start_campaign(edition.number, &edition.subject, opts.include_new)?;
    let pending = store.pending(edition.number)?;
    let before = store.status(edition.number)?.unwrap_or_default();
    let mut report = SendReport {
        already_sent: before.sent,
        destination: outlet.describe(smtp.as_deref()),
        ..SendReport::default()
    };
    if pending.is_empty() {
        store.finish_if_done(edition.number)?;
        return Ok(report);
    }

    let progress = progress_bar(opts.progress, pending.len() as u64);
    let queue = Mutex::new(VecDeque::from(pending));
    let limit = RateLimit::new(rate);
    let counts = Mutex::new(Counts::default());
    let prepared = Prepared::new(&edition);
    let run = Run {
        config,
        edition: &edition,
        prepared: &prepared,
        dkim: dkim.as_ref(),
        outlet: &outlet,
        limit: &limit,
        now,
        retries: config.retries.max(1),
        retry_delay: Duration::from_millis(config.retry_delay_ms),
    };
    let errors: Vec<Diagnostic> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections)
            .map(|_| {
                let store = store.reopen();
                let (queue, counts, progress, run) = (&queue, &counts, &progress, &run);
                scope.spawn(move || -> Result<(), Diagnostic> {
                    let store = store?;
                    while let Some(d) = queue.lock().ok().and_then(|mut q| q.pop_front()) {
                        let outcome = run.deliver(&store, &d)?;
                        if let Ok(mut c) = counts.lock() {
                            match outcome {
                                Outcome::Sent => c.sent += 1,
                                Outcome::Failed => c.failed += 1,
                                Outcome::Unsubscribed => c.unsubscribed += 1,
                            }
                            progress.set_message(format!("{} failed", c.failed));
                        }
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
                Ok(Err(d)) => Some(d),
                Err(_) => Some(Diagnostic::error("internal: a sending thread crashed")),
            })
            .collect()
    });
    progress.finish_and_clear();
    if let Some(first) = errors.into_iter().next() {
        return Err(first.into());
    }
    store.finish_if_done(edition.number)?;
    let counts = counts.lock().map(|c| *c).unwrap_or_default();
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

fn recipient_of(config: &NewsletterConfig, d: &Delivery) -> Result<Recipient, Diagnostic> {
    let address = d.email.parse().map_err(|e| {
        Diagnostic::error(format!("the stored address `{}` is invalid: {e}", d.email))
            .hint("remove it with `ozg-site subscribers remove`")
    })?;
    Ok(Recipient {
        mailbox: Mailbox::new(d.name.clone(), address),
        personal: Personal::new(config, &d.token, d.name.as_deref()),
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
    prepared: &'a Prepared,
    dkim: Option<&'a lettre::message::dkim::DkimConfig>,
    outlet: &'a Outlet,
    limit: &'a RateLimit,
    now: jiff::Timestamp,
    retries: u32,
    retry_delay: Duration,
}

impl Run<'_> {
    /// Sends to one recipient, retrying temporary refusals, and records the outcome.
    /// `Err`: the journal cannot be written.
    fn deliver(&self, store: &Store, d: &Delivery) -> Result<Outcome, Diagnostic> {
        let number = self.edition.number;
        // The queue was read when sending started; the subscription service may have taken the
        // recipient out since.
        if !store.still_pending(number, d.subscriber)? {
            return Ok(Outcome::Unsubscribed);
        }
        let message = match recipient_of(self.config, d).and_then(|r| {
            message::build(
                self.config,
                self.edition,
                self.prepared,
                &r,
                self.now,
                self.dkim,
            )
            .map_err(first)
        }) {
            Ok(m) => m,
            Err(e) => {
                store.mark_failed(number, d.subscriber, 0, &e.message)?;
                return Ok(Outcome::Failed);
            }
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.limit.wait();
            match self.outlet.send(&message, &d.subscriber.to_string()) {
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

fn first(ds: Diagnostics) -> Diagnostic {
    ds.iter()
        .next()
        .cloned()
        .unwrap_or_else(|| Diagnostic::error("cannot build the message"))
}
