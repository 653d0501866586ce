//! `ozg-site schedule`.

use std::process::ExitCode;

use super::Outcome;

/// Print the upcoming moments at which the build output changes, one per line:
/// RFC 3339 time, TAB, file, TAB, what happens (publish | ends).
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    site: ozg_site::Options,
}

pub fn run(args: Args) -> Outcome {
    for m in ozg_site::schedule(&args.site)? {
        println!("{}", ozg_site::format_moment(&m));
    }
    Ok(ExitCode::SUCCESS)
}
