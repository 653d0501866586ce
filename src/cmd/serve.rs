//! `ozg-site serve`: the preview.

use std::process::ExitCode;

use super::Outcome;

/// Preview the site: build into memory, serve it over HTTP, rebuild and reload open pages when
/// files change or scheduled content appears.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    serve: ozg_site::serve::ServeOptions,
}

pub fn run(args: Args) -> Outcome {
    ozg_site::serve::serve(args.serve)?;
    Ok(ExitCode::SUCCESS)
}
