//! The `ozg-site` command line: parse flags, call the library, print diagnostics, set the exit code.
//!
//! Exit codes: 0 success, 1 content error (the editor must fix something), 2 usage error.

#![allow(clippy::result_large_err)] // see lib.rs: diagnostics are the rare path

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
    },
    /// Validate everything `build` validates, rendering every page, but write nothing.
    Check {
        #[command(flatten)]
        site: SiteArgs,
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
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(diagnostics) => {
            report(&diagnostics);
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
        } => {
            let started = Instant::now();
            let opts = site.options(base_url);
            let output = output.unwrap_or_else(|| opts.root.join("public"));
            let report = ozg_site::build(&opts, &output)?;
            print_warnings(&report.warnings);
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
        Command::Check { site } => {
            let warnings = ozg_site::check(&site.options(None))?;
            print_warnings(&warnings);
            println!("No errors found.");
            Ok(())
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

fn print_warnings(warnings: &[Diagnostic]) {
    for w in warnings {
        eprint!("{}", w.render());
    }
}

fn report(diagnostics: &Diagnostics) {
    for d in diagnostics.iter() {
        eprintln!("{}", d.render());
    }
    let n = diagnostics.error_count();
    eprintln!(
        "{} error{} found; nothing was written (the previous output is unchanged).",
        n,
        if n == 1 { "" } else { "s" }
    );
}
