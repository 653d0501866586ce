//! The `ozg-site` command line: parse the flags, run the command of [`cmd`], turn its outcome
//! into the exit code.
//!
//! Exit codes: 0 success, 1 content error (the editor must fix something) or operational failure
//! (database, mail server, socket), 2 usage error.

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

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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

/// One variant per file of `src/cmd/`; each file's `Args` carries the command's help text.
#[derive(Subcommand)]
enum Command {
    Build(cmd::build::Args),
    Check(cmd::check::Args),
    Schedule(cmd::schedule::Args),
    Serve(cmd::serve::Args),
    New(cmd::new::Args),
    Newsletter(cmd::newsletter::Args),
    Subscribers(cmd::subscribers::Args),
    Subscriptions(cmd::subscriptions::Args),
    Init(cmd::init::Args),
}

fn main() -> ExitCode {
    let command = Cli::parse().command;
    // Commands that write output promise to leave the old output alone on errors; they say so.
    let writes_output = match &command {
        Command::Build(_) => true,
        Command::Newsletter(args) => args.writes_output(),
        _ => false,
    };
    let outcome = match command {
        Command::Build(args) => cmd::build::run(args),
        Command::Check(args) => cmd::check::run(args),
        Command::Schedule(args) => cmd::schedule::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::New(args) => cmd::new::run(args),
        Command::Newsletter(args) => cmd::newsletter::run(args),
        Command::Subscribers(args) => cmd::subscribers::run(args),
        Command::Subscriptions(args) => cmd::subscriptions::run(args),
        Command::Init(args) => cmd::init::run(args),
    };
    cmd::exit_code(outcome, writes_output)
}
