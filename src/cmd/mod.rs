//! One module per subcommand. Each has the command's clap `Args` (the library's option structs,
//! flattened, plus the flags only that command has) and a `run` that calls the library, prints
//! what came of it and returns the exit code as a value; a failure goes back to [`exit_code`],
//! the one place that prints it.

pub mod build;
pub mod check;
pub mod init;
pub mod new;
pub mod newsletter;
pub mod schedule;
pub mod serve;
pub mod subscribers;
pub mod subscriptions;

use std::process::ExitCode;

use ozg_site::diagnostics::{Diagnostic, Diagnostics};
use ozg_site::error::Failure;

/// What a command's `run` returns: its exit code, or why it failed (not printed yet).
pub type Outcome = Result<ExitCode, Failure>;

/// Exit code 1: the content has errors, or the database, the mail server or a socket failed.
pub const FAILED: u8 = 1;

/// The exit code of `outcome`, after printing a failure: the editor's diagnostics with their
/// count, or one line for an operational failure. `writes_output`: the command promises that a
/// failed run left its previous output alone, and says so.
pub fn exit_code(outcome: Outcome, writes_output: bool) -> ExitCode {
    match outcome {
        Ok(code) => code,
        Err(Failure::Content(diagnostics)) => {
            report(&diagnostics, writes_output);
            ExitCode::from(FAILED)
        }
        Err(Failure::Op(error)) => {
            eprint!("{}", error.render());
            ExitCode::from(FAILED)
        }
    }
}

/// Warnings (or findings) as rendered diagnostics, one after the other.
pub fn print_warnings(warnings: &[Diagnostic]) {
    for w in warnings {
        eprint!("{}", w.render());
    }
}

/// The `s` of an English plural, for a count of `n`.
pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn report(diagnostics: &Diagnostics, writes_output: bool) {
    for d in diagnostics.iter() {
        eprintln!("{}", d.render());
    }
    let n = diagnostics.error_count();
    eprintln!(
        "{n} error{} found{}",
        plural(n),
        if writes_output {
            "; nothing was written (the previous output is unchanged)."
        } else {
            "."
        }
    );
}

/// `--strict` as the library's policy for facts marked `offen`.
pub fn open_facts_policy(strict: bool) -> ozg_site::OpenFacts {
    if strict {
        ozg_site::OpenFacts::Refuse
    } else {
        ozg_site::OpenFacts::Allow
    }
}
