//! `ozg-site newsletter build | send | status`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use ozg_site::newsletter::Which;
use ozg_site::newsletter::address::printable;
use ozg_site::newsletter::bounces::{Mailbox, Outcome as BounceOutcome};
use ozg_site::newsletter::send::{InviteReport, SendOptions, SendReport};
use ozg_site::newsletter::store::bounces::{CampaignRef, Recorded};

use super::Outcome;

/// Newsletter editions as e-mails.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

impl Args {
    /// Whether the command writes output (and so promises to keep the old one on errors).
    pub fn writes_output(&self) -> bool {
        matches!(self.command, Command::Build { .. })
    }
}

#[derive(clap::Subcommand)]
enum Command {
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
        site: ozg_site::Options,
        /// Output folder [default: newsletter-mail/ under the root]
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Send an edition to every subscriber, exactly once: a second run continues where the
    /// first stopped (crash, Ctrl-C, power loss) and sends nothing once all got it. Without an
    /// SMTP server the messages go as .eml files into the outbox folder.
    Send {
        #[command(flatten)]
        site: ozg_site::Options,
        #[command(flatten)]
        send: SendOptions,
    },
    /// Send the invitation (Terminanfrage) to a Sprechstunde to its section's list, with the
    /// event as a calendar invitation: the first one; after a change of date, time or place an
    /// update; with `cancelled: true` a cancellation. Each version reaches every recipient
    /// once; `send --due` sends it at its moment (`invitation.days_before`, default 7 days).
    Invite {
        #[command(flatten)]
        site: ozg_site::Options,
        #[command(flatten)]
        send: SendOptions,
    },
    /// Read bounces (RFC 3464 delivery reports) and complaints (RFC 5965 feedback reports) from
    /// the sender's mailbox: hard bounces and complaints stop an address at once, soft bounces
    /// after `newsletter.bounces.soft_limit` (3). Each message is read once: a Maildir's move to
    /// cur/ marked seen, and every report is remembered.
    Bounces {
        /// A Maildir (with new/ and cur/), e.g. ~/Maildir
        #[arg(long, required_unless_present_any = ["mbox", "reset"], conflicts_with_all = ["mbox", "reset"])]
        maildir: Option<PathBuf>,
        /// An mbox file (read, never changed)
        #[arg(long, conflicts_with = "reset")]
        mbox: Option<PathBuf>,
        /// Let an address that bounced receive again (its mailbox works again); its bounces are
        /// deleted and its soft count starts anew
        #[arg(long, value_name = "ADDRESS")]
        reset: Option<String>,
        #[command(flatten)]
        site: ozg_site::Options,
        /// The subscriber database [default: `database` in site.yaml, else .ozg-site/newsletter.sqlite]
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Show how far sending an edition got, and the failed addresses with the server's reply.
    Status {
        number: u32,
        #[command(flatten)]
        site: ozg_site::Options,
        /// The subscriber database [default: `database` in site.yaml, else .ozg-site/newsletter.sqlite]
        #[arg(long)]
        db: Option<PathBuf>,
    },
}

pub fn run(args: Args) -> Outcome {
    match args.command {
        Command::Build {
            number, site, out, ..
        } => build(number, &site, out),
        Command::Send { site, send } => self::send(&site, send),
        Command::Invite { site, send } => invite(&site, send),
        Command::Bounces {
            maildir,
            mbox,
            reset,
            site,
            db,
        } => bounces(maildir, mbox, reset, &site, db),
        Command::Status { number, site, db } => status(number, &site, db),
    }
}

fn build(number: Option<u32>, site: &ozg_site::Options, out: Option<PathBuf>) -> Outcome {
    let out = out.unwrap_or_else(|| site.root.join("newsletter-mail"));
    let which = number.map_or(Which::All, Which::Number);
    let report = ozg_site::newsletter::build(site, which, &out)?;
    for n in &report.editions {
        println!(
            "Edition {n}: {}",
            report.output.join(n.to_string()).display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn send(site: &ozg_site::Options, send: SendOptions) -> Outcome {
    let opts = on_terminal(send);
    if opts.due {
        return due(site, &opts);
    }
    let report = ozg_site::newsletter::send::send(site, &opts)?;
    print_send(&report);
    Ok(ExitCode::SUCCESS)
}

/// `send` with a progress bar when a person watches (stderr is a terminal).
fn on_terminal(send: SendOptions) -> SendOptions {
    SendOptions {
        progress: std::io::stderr().is_terminal(),
        ..send
    }
}

fn invite(site: &ozg_site::Options, send: SendOptions) -> Outcome {
    let opts = on_terminal(send);
    if opts.due {
        return due(site, &opts);
    }
    match ozg_site::newsletter::send::invite(site, &opts)? {
        InviteReport::Sent(report) => print_send(&report),
        InviteReport::NothingToCancel => println!(
            "The Sprechstunde is cancelled and no invitation to it went out: there is nobody to tell."
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// `send --due`: one line per edition sent or held back; held back ones make the exit code 1,
/// so the rebuild service shows that an edition waits.
fn due(site: &ozg_site::Options, opts: &SendOptions) -> Outcome {
    let report = ozg_site::newsletter::send::send_due(site, opts)?;
    for sent in &report.sent {
        print_send(sent);
    }
    for why in &report.held {
        eprintln!("error: not sent: {why}");
    }
    if !report.done_before.is_empty() {
        println!(
            "Already sent to every subscriber: {}; nothing to do.",
            report.done_before.join(", ")
        );
    }
    if report.sent.is_empty() && report.held.is_empty() && report.done_before.is_empty() {
        println!("Nothing is due to be sent.");
    }
    Ok(if report.held.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::FAILED)
    })
}

fn print_send(report: &SendReport) {
    let what = capitalised(&report.what);
    if report.test_copy {
        println!(
            "Sent one test copy of {} via {}; nothing recorded.",
            report.what, report.destination
        );
    } else if report.dry_run {
        dry_run(report);
    } else if report.sent + report.failed == 0 {
        println!(
            "{what} has already gone to every subscriber ({} sent); nothing to do.",
            report.already_sent
        );
    } else {
        campaign(report);
    }
}

/// "edition 2" → "Edition 2", to start a sentence.
fn capitalised(what: &str) -> String {
    let mut chars = what.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn dry_run(report: &SendReport) {
    println!(
        "Dry run: {} messages of {} rendered; they would go to {}.",
        report.sent, report.what, report.destination
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
}

fn campaign(report: &SendReport) {
    println!(
        "{}: {} sent, {} failed{} via {}.",
        capitalised(&report.what),
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
            "`ozg-site newsletter status` lists the failures; sending again with --retry-failed tries them again."
        );
    }
}

fn status(number: u32, site: &ozg_site::Options, db: Option<PathBuf>) -> Outcome {
    let config = ozg_site::config::Config::load(&site.root, None)?;
    let path = ozg_site::newsletter::send::database_path(
        &site.root,
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
            for (address, reply) in st.failures {
                println!("failed\t{}\t{}", printable(&address), printable(&reply));
            }
        }
    }
    for b in store.bounces_of_edition(number)? {
        println!(
            "bounced\t{}\t{} {}\t{}\t{}",
            printable(&b.email),
            b.kind,
            b.status.as_deref().map(printable).unwrap_or_default(),
            b.received_at,
            b.diagnostic.as_deref().map(printable).unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn bounces(
    maildir: Option<PathBuf>,
    mbox: Option<PathBuf>,
    reset: Option<String>,
    site: &ozg_site::Options,
    db: Option<PathBuf>,
) -> Outcome {
    let config = ozg_site::config::Config::load(&site.root, None)?;
    let newsletter = config.site.newsletter.as_ref();
    let path = ozg_site::newsletter::send::database_path(&site.root, newsletter, db.as_deref());
    let settings = newsletter.map(|n| n.bounces.clone()).unwrap_or_default();
    if let Some(address) = reset {
        let mut store = ozg_site::newsletter::store::Store::open(&path)?;
        if !store.reset_bounces(&address)? {
            return Err(ozg_site::diagnostics::Diagnostic::error(format!(
                "nothing is stored about {}",
                printable(&address)
            ))
            .into());
        }
        println!(
            "{} receives the next edition again; its bounces are deleted.",
            printable(&address)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mailbox = match (maildir, mbox) {
        (Some(dir), _) => Mailbox::Maildir(dir),
        (None, Some(file)) => Mailbox::Mbox(file),
        (None, None) => {
            return Err(ozg_site::diagnostics::Diagnostic::error(
                "give the mailbox with --maildir DIR or --mbox FILE",
            )
            .into());
        }
    };
    let mut store = ozg_site::newsletter::store::Store::open(&path)?;
    let reports = ozg_site::newsletter::bounces::process(&mut store, &mailbox, &settings)?;
    let (mut counted, mut stopped, mut unknown, mut ignored, mut seen) = (0, 0, 0, 0, 0);
    for r in &reports {
        let source = printable(&r.source);
        match &r.outcome {
            BounceOutcome::SeenBefore => {
                seen += 1;
                println!("{source}\tread before, not counted again");
            }
            BounceOutcome::Ignored(why) => {
                ignored += 1;
                println!("{source}\tignored: {}", printable(why));
            }
            BounceOutcome::Recorded(list) => {
                for (b, recorded) in list {
                    let what = format!(
                        "{} {}",
                        b.kind.as_str(),
                        b.status.as_deref().map(printable).unwrap_or_default()
                    );
                    let edition = match b.campaign {
                        Some(CampaignRef::Edition(n)) => format!("edition {n}"),
                        Some(CampaignRef::Row(_)) => "invitation".into(),
                        None => "edition unknown".into(),
                    };
                    let result = match recorded {
                        Recorded::Unknown => {
                            unknown += 1;
                            "unknown address, nothing recorded".to_string()
                        }
                        Recorded::Counted { stopped: true, .. } => {
                            counted += 1;
                            stopped += 1;
                            "receives nothing more".to_string()
                        }
                        Recorded::Counted { soft_count, .. } => {
                            counted += 1;
                            format!("soft bounce {soft_count} of {}", settings.soft_limit.max(1))
                        }
                    };
                    println!(
                        "{source}\t{}\t{}\t{edition}\t{result}",
                        printable(&b.email),
                        what.trim()
                    );
                }
            }
        }
    }
    println!(
        "{} messages: {counted} bounces recorded ({stopped} addresses stopped), {unknown} for unknown addresses, {ignored} ignored, {seen} read before.",
        reports.len()
    );
    Ok(ExitCode::SUCCESS)
}
