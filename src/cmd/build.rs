//! `ozg-site build`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use ozg_site::time::rfc3339;

use super::{Outcome, open_facts_policy, plural, print_warnings};

/// Build the site into the output folder (atomically: a failed build leaves the old output).
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    site: ozg_site::Options,
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
}

pub fn run(args: Args) -> Outcome {
    let started = Instant::now();
    let opts = ozg_site::Options {
        base_url: args.base_url,
        ..args.site
    };
    let output = args.output.unwrap_or_else(|| opts.root.join("public"));
    let report = ozg_site::build_with(&opts, &output, open_facts_policy(args.strict))?;
    print_warnings(&report.warnings);
    if report.open_facts > 0 {
        println!(
            "{} open fact{} (marked `offen`): `ozg-site check` lists them, `--strict` refuses them.",
            report.open_facts,
            plural(report.open_facts)
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
    Ok(ExitCode::SUCCESS)
}
