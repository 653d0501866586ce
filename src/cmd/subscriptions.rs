//! `ozg-site subscriptions serve`: the sign-up service.

use std::process::ExitCode;

use super::Outcome;

/// The sign-up and unsubscribe service of the newsletter (double opt-in, one-click
/// unsubscribing), run next to the web server that serves the site.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Answer sign-ups (POST /newsletter/anmelden), confirmation links (/newsletter/bestaetigen)
    /// and unsubscribe links (/newsletter/abmelden) until Ctrl-C or SIGTERM. The web server
    /// passes these three addresses on to it; settings under `newsletter.subscriptions` in
    /// site.yaml. Mails go through `newsletter.smtp` (user and password from OZG_SMTP_USER and
    /// OZG_SMTP_PASSWORD), or into the outbox folder without one.
    Serve(ozg_site::subscriptions::ServeOptions),
}

pub fn run(args: Args) -> Outcome {
    match args.command {
        Command::Serve(opts) => ozg_site::subscriptions::serve(opts)?,
    }
    Ok(ExitCode::SUCCESS)
}
