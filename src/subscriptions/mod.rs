//! `ozg-site subscriptions serve`: the small service a static site needs for its newsletter —
//! sign-up with double opt-in, confirmation by e-mail, and one-click unsubscribing — on the same
//! SQLite file `newsletter send` uses. It runs as its own process next to any web server, which
//! passes it the three addresses under `/newsletter/`, and with `feedback:` in `site.yaml` the
//! form "Barriere melden" of the accessibility statement ([`feedback`]).
//!
//! [`guard`] checks requests, [`http`] answers them with the theme's [`pages`], the store
//! ([`crate::newsletter::store`]) keeps sign-ups and the mails they need in one transaction, and
//! the [`worker`] threads send those mails ([`mail`]) when the mail server takes them.

pub mod feedback;
pub mod guard;
pub mod http;
pub mod listener;
pub mod mail;
pub mod pages;
pub mod pool;
pub mod worker;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use jiff::{SignedDuration, Timestamp};

use crate::config::{
    CONFIG_FILE, FeedbackConfig, NewsletterConfig, ServiceUrls, SubscriptionsConfig, origin_of,
};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::error::{Failure, OpError};
use crate::newsletter::outlet::Outlet;
use crate::newsletter::store::Store;
use crate::parse::kinds::Kind;
use crate::site::Site;
use crate::theme::Theme;

/// Database connections for requests: SQLite writes one at a time anyway; a few let reads go on.
const CONNECTIONS: usize = 4;
/// How often stale sign-ups are deleted.
const TIDY_EVERY: Duration = Duration::from_secs(3600);

/// What `subscriptions serve` was asked to do; the doc comments are the help texts of its flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeOptions {
    /// The site folder, which holds site.yaml
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Address to listen on; the default takes requests from a web server on this machine only
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Port to listen on (0 picks a free one)
    #[arg(long, default_value_t = 8025)]
    pub port: u16,
    /// The subscriber database [default: `database` in site.yaml, else .ozg-site/newsletter.sqlite]
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Mail server: smtp://host:25, smtp+starttls://host:587, smtps://host:465 [default: `smtp`
    /// in site.yaml]
    #[arg(long)]
    pub smtp: Option<String>,
    /// The site's address instead of site.yaml's base_url (a test or staging copy of the site)
    #[arg(long)]
    pub base_url: Option<String>,
}

/// Loads the site for the service's pages: like a build, but every link a full address, because
/// the pages may be served from another host than the site.
fn load(opts: &ServeOptions) -> Result<Site, Diagnostics> {
    let mut site = crate::load_site(&crate::Options {
        root: opts.root.clone(),
        now: Timestamp::now(),
        drafts: false,
        base_url: opts.base_url.clone(),
    })?;
    let config = &mut site.config;
    config.base_path = config.base_url.clone();
    let origin = origin_of(&config.base_url);
    let absolute = |url: &mut String| {
        if url.starts_with('/') && !url.starts_with("//") {
            *url = format!("{origin}{url}");
        }
    };
    for item in config
        .site
        .navigation
        .iter_mut()
        .chain(config.site.footer_navigation.iter_mut())
        .chain(config.site.social.iter_mut())
    {
        absolute(&mut item.url);
    }
    if let Some(page) = config
        .site
        .newsletter
        .as_mut()
        .and_then(|n| n.subscriptions.as_mut())
        .and_then(|s| s.privacy_page.as_mut())
    {
        absolute(page);
    }
    Ok(site)
}

/// The theme's pages and mails for the service, each rendered once to find template errors;
/// with `feedback:` also the feedback form's pages and its mail to the team.
fn pages_and_mails(
    site: &Arc<Site>,
    theme: &Theme,
    nl: &NewsletterConfig,
    subs: &SubscriptionsConfig,
    urls: &ServiceUrls,
) -> Result<(pages::Pages, mail::Mailer, Option<feedback::ReportMailer>), Diagnostics> {
    let fb: Option<&FeedbackConfig> = site.config.site.feedback.as_ref();
    let archive_url = site
        .sections
        .iter()
        .find(|s| s.kind == Kind::Newsletter)
        .map(|s| site.config.url(&s.path))
        .unwrap_or_default();
    let pages = pages::Pages::new(
        site,
        theme,
        &pages::ServiceFacts {
            signup_url: &urls.signup,
            confirm_url: &urls.confirm,
            unsubscribe_url: &urls.unsubscribe,
            archive_url: &archive_url,
            privacy_url: subs.privacy_page.as_deref().unwrap_or_default(),
            consent: &subs.consent,
            lists: &nl.lists(),
            confirm_hours: subs.confirm_within_hours,
            feedback: fb.map(|fb| pages::FeedbackFacts {
                url: &urls.feedback,
                to: &fb.to,
            }),
        },
    )?;
    let mailer = mail::Mailer::new(site, theme, nl, urls)?;
    let reports = fb
        .map(|fb| feedback::ReportMailer::new(site, theme, nl, fb))
        .transpose()?;
    Ok((pages, mailer, reports))
}

/// For `check`: when the site has the service, its pages and mails render with this theme.
pub fn check_theme(site: &Arc<Site>, theme: &Theme) -> Result<(), Diagnostics> {
    let Some(nl) = &site.config.site.newsletter else {
        return Ok(());
    };
    if let (Some(subs), Some(urls)) = (&nl.subscriptions, &nl.service) {
        pages_and_mails(site, theme, nl, subs, urls)?;
    }
    Ok(())
}

/// Runs the service until Ctrl-C or SIGTERM.
pub fn serve(opts: ServeOptions) -> Result<(), Failure> {
    let site = load(&opts)?;
    let nl = site.config.site.newsletter.clone().ok_or_else(|| {
        Diagnostic::error("site.yaml has no `newsletter:` settings")
            .in_file(CONFIG_FILE)
            .hint("add `newsletter: {from: \"Name <adresse@example.org>\", subscriptions: {consent: \"Ich möchte den Newsletter per E-Mail erhalten.\"}}`")
    })?;
    let (Some(subs), Some(urls)) = (nl.subscriptions.clone(), nl.service.clone()) else {
        return Err(Diagnostic::error("the newsletter has no `subscriptions:` settings")
            .in_file(CONFIG_FILE)
            .hint("add `subscriptions: {consent: \"…\"}` under `newsletter:`; the consent statement is shown beside the form and kept with each subscriber")
            .into());
    };
    let site = Arc::new(site);
    let theme = Theme::load(&opts.root, &site.config.site.theme)?;
    let (pages, mailer, report_mailer) = pages_and_mails(&site, &theme, &nl, &subs, &urls)?;
    let feedback = match (report_mailer, &site.config.site.feedback) {
        (Some(mailer), Some(fb)) => Some(feedback::Feedback {
            site: feedback::SiteAddress::new(&site.config.base_url),
            mailer,
            limits: feedback::ReportLimits::new(
                fb.reports_per_client_per_hour,
                fb.reports_per_hour,
            ),
            per_hour: fb.reports_per_hour,
        }),
        _ => None,
    };

    let db = crate::newsletter::send::database_path(&opts.root, Some(&nl), opts.db.as_deref());
    let first = Store::open(&db)?;
    let hasher = first.hasher();
    let worker_stores = (0..nl.connections.max(1))
        .map(|_| first.reopen())
        .collect::<Result<Vec<_>, _>>()?;
    let pool = pool::Pool::new(first, CONNECTIONS)?;

    let smtp = opts.smtp.clone().or_else(|| nl.smtp.clone());
    let outbox = opts
        .root
        .join(nl.outbox.as_deref().unwrap_or(".ozg-site/outbox"))
        .join("anmeldungen");
    let helo = crate::newsletter::outlet::helo_name(&nl);
    let outlet = Outlet::new(
        smtp.as_deref(),
        outbox,
        nl.connections.max(1),
        helo.as_deref(),
    )?;
    if let Err(e) = outlet.check(smtp.as_deref().unwrap_or_default()) {
        // Sign-ups are still taken: their mails wait in the queue until the server answers.
        eprint!("warning: {}", e.render());
        eprintln!(
            "         Sign-ups are taken; their mails are sent once the mail server answers."
        );
    }
    let destination = outlet.describe(smtp.as_deref());

    let (runtime, listener, local) = crate::net::listen(SocketAddr::new(opts.bind, opts.port))?;

    let wake = Arc::new(worker::Wake::default());
    let sender = Arc::new(worker::Sender {
        outlet,
        wake: wake.clone(),
        hasher: hasher.clone(),
        first_retry: Duration::from_millis(nl.retry_delay_ms.max(1)),
    });
    let workers: Vec<_> = worker_stores
        .into_iter()
        .map(|store| {
            let sender = sender.clone();
            std::thread::spawn(move || sender.run(store))
        })
        .collect();

    let site_origin = origin_of(&site.config.base_url);
    let mut origins = vec![site_origin.clone()];
    if urls.origin != site_origin {
        origins.push(urls.origin.clone());
    }
    let csp = format!(
        "default-src 'none'; style-src 'self' {site_origin}; img-src 'self' {site_origin} data:; \
         script-src 'self' {site_origin}; font-src 'self' {site_origin}; \
         manifest-src 'self' {site_origin}; form-action 'self' {}; frame-ancestors 'none'; \
         base-uri 'none'",
        origins.join(" ")
    );
    let app = Arc::new(http::App {
        pool,
        pages,
        mailer,
        limits: guard::Limits::new(
            subs.signups_per_client_per_hour,
            subs.signups_per_address_per_hour,
            subs.confirmation_mails_per_hour,
        ),
        mails_per_hour: subs.confirmation_mails_per_hour,
        origins,
        trusted_proxies: subs.trusted_proxies.clone(),
        lists: nl.lists(),
        valid_for: SignedDuration::from_hours(i64::from(subs.confirm_within_hours)),
        wake: wake.clone(),
        hasher,
        csp: HeaderValue::from_str(&csp)
            .map_err(|e| OpError::Internal(format!("bad security header: {e}")))?,
        writes: Default::default(),
        feedback,
    });

    println!("Subscription service listening on http://{local} (Ctrl-C stops it)");
    println!(
        "Readers reach it at {}; mails go to {destination}; subscribers in {}.",
        urls.signup,
        db.display()
    );
    if app.feedback.is_some() {
        println!(
            "The form \"Barriere melden\" is at {}; reports are mailed, not kept.",
            urls.feedback
        );
    }
    if !opts.bind.is_loopback() {
        println!(
            "note: bound to {}: X-Forwarded-For is trusted only from 127.0.0.1 and `trusted_proxies`",
            opts.bind
        );
    }
    let router = http::router(app.clone());
    let trusted = subs.trusted_proxies.clone();
    runtime.block_on(async {
        let upkeep = tokio::spawn(upkeep(app.clone()));
        listener::serve(
            listener,
            router,
            listener::Settings::default(),
            move |peer| guard::is_proxy(peer, &trusted),
            stopped(),
        )
        .await;
        upkeep.abort();
    });
    wake.stop();
    for w in workers {
        let _ = w.join();
    }
    log("stopped");
    Ok(())
}

/// One line on stderr, with the time: the service's log. A log that cannot be written (a closed
/// pipe) loses the line; it does not stop the service, as `eprintln!` would with a panic.
pub(crate) fn log(line: &str) {
    use std::io::Write;
    let now = Timestamp::now();
    let now = now.round(jiff::Unit::Second).unwrap_or(now);
    let _ = writeln!(std::io::stderr().lock(), "{now} {line}");
}

/// How often the upkeep looks whether a burst of writes has ended.
const LOOK_EVERY: Duration = Duration::from_secs(5);
/// Writing requests after which the WAL is checkpointed even while more come.
const BURST: u64 = 200;
/// How often limiter entries whose allowance is full again are forgotten: under a flood from
/// many addresses the maps would otherwise grow for an hour.
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// The service's housekeeping: hourly [`tidy`]; checkpoints of the WAL after writes — passive
/// every [`BURST`] writes while they go on, truncating once they paused for a look — so the WAL
/// file is emptied after every burst; idle limiter entries forgotten every minute.
async fn upkeep(app: Arc<http::App>) {
    use crate::newsletter::store::optin::Checkpoint;
    let mut look = tokio::time::interval(LOOK_EVERY);
    look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tidied: Option<Instant> = None;
    let mut forgotten = Instant::now();
    // Writes counted at the last look, at the last passive and at the last truncating checkpoint.
    let (mut seen, mut passive, mut truncated) = (0u64, 0u64, 0u64);
    loop {
        look.tick().await;
        let now = Instant::now();
        if tidied.is_none_or(|t| now.duration_since(t) >= TIDY_EVERY) {
            tidy(&app).await;
            tidied = Some(now);
        }
        if now.duration_since(forgotten) >= FORGET_EVERY {
            app.limits.forget_idle();
            if let Some(fb) = &app.feedback {
                fb.limits.forget_idle();
            }
            forgotten = now;
        }
        let writes = app.writes.load(std::sync::atomic::Ordering::Relaxed);
        let quiet = writes == seen;
        seen = writes;
        let mode = if quiet && writes > truncated {
            Checkpoint::Truncate
        } else if !quiet && writes - passive >= BURST {
            Checkpoint::Passive
        } else {
            continue;
        };
        match app.pool.run(move |store| store.checkpoint(mode)).await {
            Ok(true) if mode == Checkpoint::Truncate => (passive, truncated) = (writes, writes),
            Ok(true) => passive = writes,
            // Readers of an older snapshot, or writers: the next look tries again.
            Ok(false) => {}
            Err(e) => log(&format!("database: {e}")),
        }
    }
}

/// Deletes unconfirmed sign-ups whose links expired 30 days ago, and empties the WAL.
async fn tidy(app: &http::App) {
    use crate::newsletter::store::optin::Checkpoint;
    match app
        .pool
        .run(|store| {
            let deleted = store.delete_stale_signups(Timestamp::now())?;
            store.checkpoint(Checkpoint::Truncate)?;
            Ok(deleted)
        })
        .await
    {
        Ok(0) => {}
        Ok(n) => log(&format!("deleted {n} sign-ups never confirmed")),
        Err(e) => log(&format!("database: {e}")),
    }
}

/// Ctrl-C, or SIGTERM from systemd.
async fn stopped() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
