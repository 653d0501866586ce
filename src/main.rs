//! The `ozg-site` command line: parse flags, call the library, print diagnostics, set the exit code.
//!
//! Exit codes: 0 success, 1 content error (the editor must fix something), 2 usage error.

#![allow(clippy::result_large_err)]
// see lib.rs: diagnostics are the rare path
// As in lib.rs: no unwrap, expect, panic, string slicing or indexing outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::string_slice,
        clippy::indexing_slicing
    )
)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};

use ozg_site::diagnostics::{Diagnostic, Diagnostics};
use ozg_site::{Options, time::rfc3339};

#[derive(Parser)]
#[command(
    name = "ozg-site",
    version,
    about = "Static site generator for the OZG information site of Sachsen-Anhalt"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the site into the output folder (atomically: a failed build leaves the old output).
    Build {
        #[command(flatten)]
        site: SiteArgs,
        /// Output folder [default: public/ under the root]
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Base URL to use instead of site.yaml's base_url (e.g. for a preview server)
        #[arg(long)]
        base_url: Option<String>,
        /// Fail (exit 1, nothing written) while any fact is marked `offen`, listing them; for
        /// the production build
        #[arg(long)]
        strict: bool,
    },
    /// Validate everything `build` validates, rendering every page, plus the newsletter e-mails
    /// and the accessibility checks (fails on findings; silence one per file with
    /// `ignore_checks: [{check: ID, reason: "…"}]`). Writes nothing.
    Check {
        #[command(flatten)]
        site: SiteArgs,
        /// `text` for people, `json` for CI (one array of findings, errors and warnings on stdout)
        #[arg(long, value_enum, default_value = "text")]
        format: CheckFormat,
        /// Also ask every linked external site whether the page still exists (needs the network;
        /// answers are cached for a day in .ozg-site/link-cache.json)
        #[arg(long)]
        external: bool,
        /// Seconds to wait for each external site (above 0, at most 300)
        #[arg(long, default_value = "10", value_parser = ozg_site::audit::external::parse_timeout)]
        timeout: std::time::Duration,
        /// Fail while any fact is marked `offen` (they are warnings otherwise)
        #[arg(long)]
        strict: bool,
    },
    /// Print the upcoming moments at which the build output changes, one per line:
    /// RFC 3339 time, TAB, file, TAB, what happens (publish | ends).
    Schedule {
        #[command(flatten)]
        site: SiteArgs,
    },
    /// Preview the site: build into memory, serve it over HTTP, rebuild and reload open pages when
    /// files change or scheduled content appears.
    Serve {
        /// The site folder, which holds site.yaml
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Address to listen on; the default keeps the preview on this machine
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// Port to listen on (0 picks a free one)
        #[arg(long, default_value_t = 1111)]
        port: u16,
        /// Fix "now" (RFC 3339) instead of following the clock
        #[arg(long, env = "OZG_SITE_NOW", value_parser = parse_now)]
        now: Option<jiff::Timestamp>,
        /// Include drafts (`draft: true`)
        #[arg(long)]
        drafts: bool,
        /// Open the preview in the default browser
        #[arg(long)]
        open: bool,
    },
    /// Create a new content file with every front matter key of its kind, commented in German.
    /// Sprechstunden and editions get the next free number, doors the next free day. It is created
    /// as a draft (except doors) and never overwrites a file.
    New {
        /// What to create
        #[arg(value_enum)]
        kind: ozg_site::scaffold::NewKind,
        /// Title of the new page
        #[arg(long)]
        title: String,
        /// Date (YYYY-MM-DD); required for sprechstunde and event, default today
        #[arg(long, value_parser = parse_date)]
        date: Option<jiff::civil::Date>,
        /// Day of an advent door (default: the first day without a door)
        #[arg(long)]
        day: Option<u8>,
        /// Folder below content/ to create it in (default: the first section of the kind)
        #[arg(long)]
        section: Option<String>,
        /// The site folder, which holds site.yaml
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
    /// Newsletter editions as e-mails.
    Newsletter {
        #[command(subcommand)]
        command: NewsletterCommand,
    },
    /// The newsletter's subscribers (kept in SQLite, never in the site or the repository).
    Subscribers {
        #[command(subcommand)]
        command: SubscribersCommand,
        /// The site folder, which holds site.yaml
        #[arg(long, default_value = ".", global = true)]
        root: PathBuf,
        /// The subscriber database [default: `database` in site.yaml, else .ozg-site/newsletter.sqlite]
        #[arg(long, global = true)]
        db: Option<PathBuf>,
    },
    /// The sign-up and unsubscribe service of the newsletter (double opt-in, one-click
    /// unsubscribing), run next to the web server that serves the site.
    Subscriptions {
        #[command(subcommand)]
        command: SubscriptionsCommand,
    },
    /// Create a minimal new site in DIR that builds with the built-in theme.
    Init {
        /// Folder for the new site (created if missing; must not contain a site)
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum NewsletterCommand {
    /// Write email.html, email.txt and message.eml (a complete preview message to the sample
    /// recipient of site.yaml) of an edition to <out>/<nr>/.
    Build {
        /// The edition's number
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        number: Option<u32>,
        /// Build every published edition
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        site: SiteArgs,
        /// Output folder [default: newsletter-mail/ under the root]
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Send an edition to every subscriber, exactly once: a second run continues where the
    /// first stopped (crash, Ctrl-C, power loss) and sends nothing once all got it. Without an
    /// SMTP server the messages go as .eml files into the outbox folder.
    Send {
        /// The edition's number
        number: u32,
        #[command(flatten)]
        site: SiteArgs,
        /// The subscriber database [default: `database` in site.yaml, else .ozg-site/newsletter.sqlite]
        #[arg(long)]
        db: Option<PathBuf>,
        /// Mail server: smtp://host:25, smtp+starttls://host:587, smtps://host:465 [default: `smtp`
        /// in site.yaml]; user and password from OZG_SMTP_USER and OZG_SMTP_PASSWORD
        #[arg(long)]
        smtp: Option<String>,
        /// Send one test copy (subject starts with [TEST]) to this address; records nothing
        #[arg(long)]
        to: Option<String>,
        /// Render every message and report what would be sent, without sending
        #[arg(long)]
        dry_run: bool,
        /// Messages per second over all connections, 0 for no limit [default: `rate` in site.yaml, 10]
        #[arg(long, value_parser = parse_rate)]
        rate: Option<f64>,
        /// Connections to the mail server [default: `connections` in site.yaml, 2]
        #[arg(long)]
        connections: Option<usize>,
        /// Also send to subscribers added after this edition's sending started
        #[arg(long)]
        include_new: bool,
        /// Try the recipients that failed before again
        #[arg(long)]
        retry_failed: bool,
    },
    /// Show how far sending an edition got, and the failed addresses with the server's reply.
    Status {
        number: u32,
        #[command(flatten)]
        site: SiteArgs,
        #[arg(long)]
        db: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum SubscriptionsCommand {
    /// Answer sign-ups (POST /newsletter/anmelden), confirmation links (/newsletter/bestaetigen)
    /// and unsubscribe links (/newsletter/abmelden) until Ctrl-C or SIGTERM. The web server
    /// passes these three addresses on to it; settings under `newsletter.subscriptions` in
    /// site.yaml. Mails go through `newsletter.smtp` (user and password from OZG_SMTP_USER and
    /// OZG_SMTP_PASSWORD), or into the outbox folder without one.
    Serve {
        /// The site folder, which holds site.yaml
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Address to listen on; the default takes requests from a web server on this machine only
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// Port to listen on (0 picks a free one)
        #[arg(long, default_value_t = 8025)]
        port: u16,
        /// The subscriber database [default: `database` in site.yaml, else .ozg-site/newsletter.sqlite]
        #[arg(long)]
        db: Option<PathBuf>,
        /// Mail server: smtp://host:25, smtp+starttls://host:587, smtps://host:465 [default: `smtp`
        /// in site.yaml]
        #[arg(long)]
        smtp: Option<String>,
        /// The site's address instead of site.yaml's base_url (a test or staging copy of the site)
        #[arg(long)]
        base_url: Option<String>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CheckFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum SubscribersCommand {
    /// Add the addresses of a CSV file (header row with `email`, optional `name` and `status`;
    /// `;` or `,`). Addresses that unsubscribed or were forgotten are never added again, nor rows
    /// whose `status` is not `active` (an export read back in); known addresses stay as they are
    /// (unconfirmed sign-ups unconfirmed, names unchanged). Rows with a value that cannot be sent
    /// are reported with line and column and left out; the exit code is then 1.
    Import { file: PathBuf },
    /// Add one address whose owner agreed to receive the newsletter (outside the sign-up form);
    /// with --name for an active subscriber, correct their name
    Add {
        email: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// Unsubscribe an address: it receives nothing more; its consent record and sent editions
    /// are kept as proof. With --forget, delete everything about it instead.
    Remove {
        email: String,
        /// Delete every trace of the address (GDPR Art. 17): subscriber, consent record, links,
        /// send journal. Only a keyed hash stays, so no import adds it again.
        #[arg(long)]
        forget: bool,
    },
    /// Print every subscriber (address, status, name), tab-separated
    List,
    /// Print everything stored about one address: status, consent record, editions sent (for a
    /// request under GDPR Art. 15)
    Show { email: String },
    /// Write every subscriber with their consent record to a CSV file (UTF-8 for Excel)
    Export { file: PathBuf },
    /// Print the number of subscribers who receive the newsletter
    Count,
}

#[derive(Args)]
struct SiteArgs {
    /// The site folder, which holds site.yaml
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Fix "now" for every time-dependent decision (scheduled publication, upcoming sessions,
    /// advent doors), as RFC 3339, e.g. 2025-12-05T13:00:00+01:00 [default: the current time]
    #[arg(long, env = "OZG_SITE_NOW", value_parser = parse_now)]
    now: Option<jiff::Timestamp>,
    /// Include drafts (`draft: true`); content scheduled for later stays out
    #[arg(long)]
    drafts: bool,
}

fn parse_date(s: &str) -> Result<jiff::civil::Date, String> {
    ozg_site::time::LocalDate::parse(s).map(|d| d.0)
}

fn parse_now(s: &str) -> Result<jiff::Timestamp, String> {
    ozg_site::time::parse_now(s)
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let rate: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    ozg_site::config::check_rate(rate)
}

impl SiteArgs {
    fn options(&self, base_url: Option<String>) -> Options {
        Options {
            root: self.root.clone(),
            now: self.now.unwrap_or_else(jiff::Timestamp::now),
            drafts: self.drafts,
            base_url,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::New {
        kind, date: None, ..
    } = &cli.command
        && kind.needs_date()
    {
        use clap::CommandFactory;
        Cli::command()
            .error(
                clap::error::ErrorKind::MissingRequiredArgument,
                "--date is required for a sprechstunde or an event, e.g. --date 2026-01-21",
            )
            .exit();
    }
    // Commands that write output promise to leave the old output alone on errors; say so.
    let writes_output = matches!(
        cli.command,
        Command::Build { .. }
            | Command::Newsletter {
                command: NewsletterCommand::Build { .. }
            }
    );
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(diagnostics) => {
            report(&diagnostics, writes_output);
            ExitCode::from(1)
        }
    }
}

fn run(command: Command) -> Result<(), Diagnostics> {
    match command {
        Command::Build {
            site,
            output,
            base_url,
            strict,
        } => {
            let started = Instant::now();
            let opts = site.options(base_url);
            let output = output.unwrap_or_else(|| opts.root.join("public"));
            let report = ozg_site::build_with(&opts, &output, open_facts_policy(strict))?;
            print_warnings(&report.warnings);
            if report.open_facts > 0 {
                println!(
                    "{} open fact{} (marked `offen`): `ozg-site check` lists them, `--strict` refuses them.",
                    report.open_facts,
                    if report.open_facts == 1 { "" } else { "s" }
                );
            }
            println!(
                "Built {} pages ({} files) into {} in {} ms.",
                report.pages,
                report.files,
                report.output.display(),
                started.elapsed().as_millis()
            );
            match &report.next_change {
                Some(m) => println!(
                    "Next change: {} ({} {}); rebuild then. `ozg-site schedule` lists all.",
                    rfc3339(&m.at),
                    m.file.display(),
                    m.what.name()
                ),
                None => println!("Next change: none scheduled."),
            }
            Ok(())
        }
        Command::Check {
            site,
            format,
            external,
            timeout,
            strict,
        } => {
            let timeout = external.then_some(timeout);
            let result = ozg_site::check(&site.options(None), timeout);
            let policy = open_facts_policy(strict);
            if let CheckFormat::Json = format {
                let all: Vec<serde_json::Value> = match &result {
                    Ok(r) => r
                        .warnings
                        .iter()
                        .chain(&r.open_facts)
                        .chain(&r.findings)
                        .map(Diagnostic::to_json)
                        .collect(),
                    Err(ds) => ds.iter().map(Diagnostic::to_json).collect(),
                };
                println!("{}", serde_json::Value::from(all));
                let failed = result.as_ref().map_or(true, |r| {
                    !r.findings.is_empty()
                        || ozg_site::refuse_open_facts(&r.open_facts, policy).is_err()
                });
                return if failed {
                    Err(Diagnostics::new())
                } else {
                    Ok(())
                };
            }
            let report = result?;
            print_warnings(&report.warnings);
            ozg_site::refuse_open_facts(&report.open_facts, policy)?;
            print_warnings(&report.open_facts);
            print_warnings(&report.findings);
            if !report.open_facts.is_empty() {
                let n = report.open_fact_count;
                eprintln!(
                    "{n} open fact{} (marked `offen`); `--strict` fails on them.",
                    if n == 1 { "" } else { "s" }
                );
            }
            if report.findings.is_empty() {
                println!("No errors found.");
                Ok(())
            } else {
                let n = report.findings.len();
                eprintln!(
                    "{n} accessibility finding{} (see the help lines; `ignore_checks` in the front matter silences a check for one file, with a reason).",
                    if n == 1 { "" } else { "s" }
                );
                Err(Diagnostics::new())
            }
        }
        Command::Schedule { site } => {
            for m in ozg_site::schedule(&site.options(None))? {
                println!("{}", ozg_site::format_moment(&m));
            }
            Ok(())
        }
        Command::Serve {
            root,
            bind,
            port,
            now,
            drafts,
            open,
        } => ozg_site::serve::serve(ozg_site::serve::ServeOptions {
            root,
            bind,
            port,
            now,
            drafts,
            open,
        }),
        Command::New {
            kind,
            title,
            date,
            day,
            section,
            root,
        } => {
            let request = ozg_site::scaffold::NewContent {
                kind,
                title,
                date,
                day,
                section,
            };
            let rel = ozg_site::scaffold::new_content(&root, &request)?;
            println!("created {}", rel.display());
            println!("Fill in the marked keys; it is a draft until you set `draft: false`.");
            Ok(())
        }
        Command::Newsletter {
            command:
                NewsletterCommand::Build {
                    number,
                    all: _,
                    site,
                    out,
                },
        } => {
            let opts = site.options(None);
            let out = out.unwrap_or_else(|| opts.root.join("newsletter-mail"));
            let which = match number {
                Some(n) => ozg_site::newsletter::Which::Number(n),
                None => ozg_site::newsletter::Which::All,
            };
            let report = ozg_site::newsletter::build(&opts, which, &out)?;
            for n in &report.editions {
                println!(
                    "Edition {n}: {}",
                    report.output.join(n.to_string()).display()
                );
            }
            Ok(())
        }
        Command::Newsletter {
            command:
                NewsletterCommand::Send {
                    number,
                    site,
                    db,
                    smtp,
                    to,
                    dry_run,
                    rate,
                    connections,
                    include_new,
                    retry_failed,
                },
        } => {
            use std::io::IsTerminal;
            let opts = site.options(None);
            let report = ozg_site::newsletter::send::send(
                &opts,
                &ozg_site::newsletter::send::SendOptions {
                    number,
                    db,
                    smtp,
                    to,
                    dry_run,
                    rate,
                    connections,
                    include_new,
                    retry_failed,
                    progress: std::io::stderr().is_terminal(),
                },
            )?;
            if report.test_copy {
                println!(
                    "Sent one test copy of edition {number} via {}; nothing recorded.",
                    report.destination
                );
            } else if report.dry_run {
                println!(
                    "Dry run: {} messages of edition {number} rendered; they would go to {}.",
                    report.sent, report.destination
                );
                for (address, why) in &report.unsendable {
                    eprintln!("would fail: {address}: {why}");
                }
                if report.failed > 0 {
                    println!(
                        "{} recipients cannot be sent to (see above); a send marks them failed and goes on with the others.",
                        report.failed
                    );
                }
            } else if report.sent + report.failed == 0 {
                println!(
                    "Edition {number} has already gone to every subscriber ({} sent); nothing to do. `ozg-site newsletter status {number}` shows details.",
                    report.already_sent
                );
            } else {
                println!(
                    "Edition {number}: {} sent, {} failed{} via {}.",
                    report.sent,
                    report.failed,
                    if report.already_sent > 0 {
                        format!(" ({} sent before)", report.already_sent)
                    } else {
                        String::new()
                    },
                    report.destination
                );
                if report.unsubscribed > 0 {
                    println!(
                        "{} unsubscribed while it was being sent and got nothing.",
                        report.unsubscribed
                    );
                }
                if report.failed > 0 {
                    println!(
                        "`ozg-site newsletter status {number}` lists the failures; `send {number} --retry-failed` tries them again."
                    );
                }
            }
            Ok(())
        }
        Command::Newsletter {
            command: NewsletterCommand::Status { number, site, db },
        } => {
            let opts = site.options(None);
            let config = ozg_site::config::Config::load(&opts.root, None)?;
            let path = ozg_site::newsletter::send::database_path(
                &opts.root,
                config.site.newsletter.as_ref(),
                db.as_deref(),
            );
            let store = ozg_site::newsletter::store::Store::open(&path)?;
            match store.status(number)? {
                None => println!("Edition {number} has not been sent yet."),
                Some(st) => {
                    println!(
                        "Edition {number}: {} sent, {} failed, {} pending (started {}{}).",
                        st.sent,
                        st.failed,
                        st.pending,
                        st.started_at.unwrap_or_default(),
                        st.finished_at
                            .map(|f| format!(", finished {f}"))
                            .unwrap_or_default()
                    );
                    use ozg_site::newsletter::address::printable;
                    for (address, reply) in st.failures {
                        println!("failed\t{}\t{}", printable(&address), printable(&reply));
                    }
                }
            }
            Ok(())
        }
        Command::Subscribers { command, root, db } => {
            let config = ozg_site::config::Config::load(&root, None)?;
            let path = ozg_site::newsletter::send::database_path(
                &root,
                config.site.newsletter.as_ref(),
                db.as_deref(),
            );
            let unsubscribe_link = config
                .site
                .newsletter
                .as_ref()
                .map(|n| n.unsubscribe_link.clone())
                .filter(|l| !l.is_empty());
            subscribers(command, &path, unsubscribe_link.as_deref())
        }
        Command::Subscriptions {
            command:
                SubscriptionsCommand::Serve {
                    root,
                    bind,
                    port,
                    db,
                    smtp,
                    base_url,
                },
        } => ozg_site::subscriptions::serve(ozg_site::subscriptions::ServeOptions {
            root,
            bind,
            port,
            db,
            smtp,
            base_url,
        }),
        Command::Init { dir } => {
            let files = ozg_site::scaffold::init(&dir)?;
            for f in files {
                println!("created {}", dir.join(f).display());
            }
            println!(
                "Next: cd {} && ozg-site build, then edit site.yaml and content/.",
                dir.display()
            );
            Ok(())
        }
    }
}

fn subscribers(
    command: SubscribersCommand,
    db: &std::path::Path,
    unsubscribe_link: Option<&str>,
) -> Result<(), Diagnostics> {
    use ozg_site::newsletter::address::{Email, clean_name, printable};
    use ozg_site::newsletter::store::{Added, Store, subscribers::Source};
    use ozg_site::newsletter::subscribers;
    let mut store = Store::open(db)?;
    match command {
        SubscribersCommand::Import { file } => {
            let parsed = subscribers::read_csv(&file)?;
            let imported = store.add_all(&parsed.valid, Source::Import)?;
            for (email, why) in &imported.refused {
                eprintln!("skipped {email}: {}", refusal(why));
            }
            println!(
                "{} added, {} already there, {} not added again (unsubscribed or forgotten), {} invalid, {} not active in the file; {} subscribers in all.",
                imported.added,
                imported.already_there,
                imported.refused.len(),
                parsed.invalid.len(),
                parsed.not_active,
                store.count()?
            );
            if imported.not_confirmed > 0 {
                println!(
                    "{} already signed up but not confirmed: left unchanged (only the link in their confirmation mail activates them).",
                    imported.not_confirmed
                );
            }
            if !parsed.invalid.is_empty() {
                let mut refused = Diagnostics::new();
                refused.extend(parsed.invalid);
                return Err(refused);
            }
        }
        SubscribersCommand::Add { email, name } => {
            let email = Email::parse(&email).map_err(|why| {
                Diagnostic::error(why.reason(&email))
                    .hint("write the address like erika.mustermann@example.org")
            })?;
            let name = match name.as_deref().map(clean_name) {
                None => None,
                Some(Ok(name)) => name,
                Some(Err(why)) => {
                    return Err(Diagnostic::error(format!("--name: {}", why.reason()))
                        .hint("give the name on one line, at most 100 characters, e.g. --name \"Erika Mustermann\"")
                        .into());
                }
            };
            match store.add(email.as_str(), name.as_deref(), Source::Cli)? {
                Added::Added => println!("added {email}"),
                Added::AlreadyThere => println!("{email} is subscribed"),
                Added::Renamed(Some(name)) => {
                    println!("{email} is subscribed; its name is now {name}")
                }
                Added::Renamed(None) => println!("{email} is subscribed"),
                Added::NotConfirmed => {
                    return Err(Diagnostic::error(format!(
                        "{email} is not added: it signed up through the form and has not confirmed yet; it is left unchanged"
                    ))
                    .hint("it becomes a subscriber when its owner clicks the link in the confirmation mail; nothing else activates it")
                    .into());
                }
                why => {
                    return Err(Diagnostic::error(format!(
                        "{email} is not added again: {}",
                        refusal(&why)
                    ))
                    .hint("only its owner can subscribe again, through the sign-up form (with double opt-in)")
                    .into());
                }
            }
        }
        SubscribersCommand::Remove {
            email,
            forget: true,
        } => {
            let had_data = store.forget(&email)?;
            let email = printable(&email);
            if had_data {
                println!(
                    "forgot {email}: every record of it is deleted; a keyed hash keeps it from being imported again"
                );
            } else {
                println!(
                    "nothing was stored about {email}; a keyed hash keeps it from being imported"
                );
            }
        }
        SubscribersCommand::Remove {
            email,
            forget: false,
        } => {
            if store.unsubscribe_address(&email)? {
                println!(
                    "unsubscribed {} (its consent record stays; `remove --forget` deletes it)",
                    printable(&email)
                );
            } else {
                let known = store.find(&email)?.is_some();
                let email = printable(&email);
                return Err(Diagnostic::error(if known {
                    format!("{email} is unsubscribed already")
                } else {
                    format!("{email} is not subscribed")
                })
                .hint("`ozg-site subscribers list` shows every address")
                .into());
            }
        }
        SubscribersCommand::List => {
            // Rows from older versions or edited by hand may hold escape sequences: never raw.
            for s in store.list()? {
                println!(
                    "{}\t{}\t{}",
                    printable(&s.email),
                    s.status.as_str(),
                    printable(s.name.as_deref().unwrap_or_default())
                );
            }
        }
        SubscribersCommand::Show { email } => {
            let Some(s) = store.find(&email)? else {
                let forgotten = store.is_forgotten(&email)?;
                let email = printable(&email);
                return Err(Diagnostic::error(if forgotten {
                    format!("nothing is stored about {email} but a keyed hash: it was forgotten")
                } else {
                    format!("nothing is stored about {email}")
                })
                .into());
            };
            for (key, value) in ozg_site::newsletter::store::Subscriber::RECORD
                .iter()
                .zip(s.record())
            {
                println!("{key}\t{}", printable(&value));
            }
            // Not stored (the database keeps only its hash), but what support needs when a
            // reader cannot find the link in their mails.
            if s.status == ozg_site::newsletter::store::SubscriberStatus::Active
                && let Some(link) = unsubscribe_link
            {
                let token = store.register_unsubscribe_link(&s)?;
                println!("unsubscribe_link\t{}", link.replace("{token}", &token));
            }
            for (edition, state, at) in store.deliveries_of(s.id)? {
                println!("edition {edition}\t{state}\t{}", at.unwrap_or_default());
            }
        }
        SubscribersCommand::Export { file } => {
            let list = store.list()?;
            subscribers::write_csv(&file, &list)?;
            println!("{} subscribers written to {}", list.len(), file.display());
        }
        SubscribersCommand::Count => println!("{}", store.count()?),
    }
    Ok(())
}

fn refusal(why: &ozg_site::newsletter::store::Added) -> String {
    use ozg_site::newsletter::store::Added;
    match why {
        Added::Unsubscribed(at) => format!("it unsubscribed on {at}"),
        Added::Forgotten => "its owner asked for its data to be deleted".to_string(),
        Added::NotConfirmed => {
            "it signed up through the form and has not confirmed yet".to_string()
        }
        Added::Added | Added::AlreadyThere | Added::Renamed(_) => String::new(),
    }
}

fn open_facts_policy(strict: bool) -> ozg_site::OpenFacts {
    if strict {
        ozg_site::OpenFacts::Refuse
    } else {
        ozg_site::OpenFacts::Allow
    }
}

fn print_warnings(warnings: &[Diagnostic]) {
    for w in warnings {
        eprint!("{}", w.render());
    }
}

fn report(diagnostics: &Diagnostics, writes_output: bool) {
    if diagnostics.is_empty() {
        return; // already reported in its own way (check)
    }
    for d in diagnostics.iter() {
        eprintln!("{}", d.render());
    }
    let n = diagnostics.error_count();
    eprintln!(
        "{} error{} found{}",
        n,
        if n == 1 { "" } else { "s" },
        if writes_output {
            "; nothing was written (the previous output is unchanged)."
        } else {
            "."
        }
    );
}
