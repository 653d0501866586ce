//! `ozg-site new`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::CommandFactory;
use ozg_site::scaffold::{NewContent, NewKind};

use super::Outcome;

/// Create a new content file with every front matter key of its kind, commented in German.
/// Sprechstunden and editions get the next free number, doors the next free day. It is created
/// as a draft (except doors) and never overwrites a file.
#[derive(clap::Args)]
pub struct Args {
    /// What to create
    #[arg(value_enum)]
    kind: NewKind,
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
}

fn parse_date(s: &str) -> Result<jiff::civil::Date, String> {
    ozg_site::time::LocalDate::parse(s).map(|d| d.0)
}

pub fn run(args: Args) -> Outcome {
    if args.date.is_none() && args.kind.needs_date() {
        // A usage error like clap's own (exit code 2), which cannot express "required for some
        // values of another argument".
        let error = crate::Cli::command().error(
            clap::error::ErrorKind::MissingRequiredArgument,
            "--date is required for a sprechstunde or an event, e.g. --date 2026-01-21",
        );
        let _ = error.print();
        return Ok(ExitCode::from(2));
    }
    let request = NewContent {
        kind: args.kind,
        title: args.title,
        date: args.date,
        day: args.day,
        section: args.section,
    };
    let rel = ozg_site::scaffold::new_content(&args.root, &request)?;
    println!("created {}", rel.display());
    println!("Fill in the marked keys; it is a draft until you set `draft: false`.");
    Ok(ExitCode::SUCCESS)
}
