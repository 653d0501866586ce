//! `ozg-site check`: the same validation as `build`, plus the accessibility checks, as text for
//! people or JSON for CI.

use std::process::ExitCode;

use ozg_site::CheckReport;
use ozg_site::diagnostics::{Diagnostic, Diagnostics};

use super::{FAILED, Outcome, open_facts_policy, plural, print_warnings};

/// Validate everything `build` validates, rendering every page, plus the newsletter e-mails
/// and the accessibility checks (fails on findings; silence one per file with
/// `ignore_checks: [{check: ID, reason: "…"}]`). Writes nothing.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    site: ozg_site::Options,
    /// `text` for people, `json` for CI (one array of findings, errors and warnings on stdout)
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
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
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: Args) -> Outcome {
    let timeout = args.external.then_some(args.timeout);
    let result = ozg_site::check(&args.site, timeout);
    let policy = open_facts_policy(args.strict);
    match args.format {
        Format::Json => Ok(json(&result, policy)),
        Format::Text => text(result?, policy),
    }
}

/// Every finding, error and warning as one JSON array on stdout; the exit code says whether
/// there was anything to fail on.
fn json(result: &Result<CheckReport, Diagnostics>, policy: ozg_site::OpenFacts) -> ExitCode {
    let all: Vec<serde_json::Value> = match result {
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
        !r.findings.is_empty() || ozg_site::refuse_open_facts(&r.open_facts, policy).is_err()
    });
    if failed {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// The report for people on stderr, and a last line that sums it up.
fn text(report: CheckReport, policy: ozg_site::OpenFacts) -> Outcome {
    print_warnings(&report.warnings);
    ozg_site::refuse_open_facts(&report.open_facts, policy)?;
    print_warnings(&report.open_facts);
    print_warnings(&report.findings);
    if !report.open_facts.is_empty() {
        let n = report.open_fact_count;
        eprintln!(
            "{n} open fact{} (marked `offen`); `--strict` fails on them.",
            plural(n)
        );
    }
    if report.findings.is_empty() {
        println!("No errors found.");
        return Ok(ExitCode::SUCCESS);
    }
    let n = report.findings.len();
    eprintln!(
        "{n} accessibility finding{} (see the help lines; `ignore_checks` in the front matter silences a check for one file, with a reason).",
        plural(n)
    );
    Ok(ExitCode::from(FAILED))
}
