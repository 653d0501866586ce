//! `ozg-site init`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::Outcome;

/// Create a minimal new site in DIR that builds with the built-in theme.
#[derive(clap::Args)]
pub struct Args {
    /// Folder for the new site (created if missing; must not contain a site)
    dir: PathBuf,
}

pub fn run(args: Args) -> Outcome {
    let dir = args.dir;
    for f in ozg_site::scaffold::init(&dir)? {
        println!("created {}", dir.join(f).display());
    }
    println!(
        "Next: cd {} && ozg-site build, then edit site.yaml and content/.",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
