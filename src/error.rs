//! Failures that are not an editor's mistake: the subscriber database, the mail server, sockets,
//! and the program's own threads. They have no file and line to point at, so they are not
//! [`Diagnostic`]s (which stay "everything an editor can get wrong"); the command edge turns each
//! into one `error: …` line, with a `help:` line where there is something to do about it.
//!
//! A command that can fail both ways (sending reads the site and the database) returns a
//! [`Failure`], which keeps the two kinds apart until they are printed.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::diagnostics::{Diagnostic, Diagnostics};

/// What an operational failure was caused by, kept for its message.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// An operational failure, with the context an operator needs to act on it.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// SQLite (or the file system under it) cannot use the subscriber database.
    #[error("the subscriber database {} cannot be used: {source}", path.display())]
    Store {
        path: PathBuf,
        #[source]
        source: Cause,
    },
    /// The secret key of the unsubscribe links, kept beside the database.
    #[error("the key of the unsubscribe links {} cannot be used: {source}", path.display())]
    LinkKey {
        path: PathBuf,
        #[source]
        source: Cause,
    },
    /// A file the command was asked to write (an export).
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: Cause,
    },
    /// A value from outside that the store refuses: an address or a name that cannot be sent.
    #[error("{0}")]
    Invalid(String),
    /// The mail server or its settings: unreachable, a refused login, a malformed address.
    #[error("{message}")]
    Mail {
        message: String,
        hint: Option<String>,
    },
    /// A server cannot take its socket (mostly: another program has the port).
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The operating system refused something the program needs (a runtime, a watcher, random
    /// numbers, a folder), said as "cannot <what>: <why>".
    #[error("cannot {what}: {source}")]
    System {
        what: String,
        #[source]
        source: Cause,
    },
    /// A thread crashed or a pool closed: a bug or an exhausted machine, never the input.
    #[error("internal: {0}")]
    Internal(String),
}

impl OpError {
    /// A failure of the database at `path`.
    pub fn store(path: impl Into<PathBuf>, source: impl Into<Cause>) -> OpError {
        OpError::Store {
            path: path.into(),
            source: source.into(),
        }
    }

    /// A failure of the mail server or its settings.
    pub fn mail(message: impl Into<String>) -> OpError {
        OpError::Mail {
            message: message.into(),
            hint: None,
        }
    }

    /// A failure of the system while doing `what`.
    pub fn system(what: impl Into<String>, source: impl Into<Cause>) -> OpError {
        OpError::System {
            what: what.into(),
            source: source.into(),
        }
    }

    /// The same failure with what to do about it (for [`OpError::Mail`]; the others know theirs).
    pub fn hint(self, hint: impl Into<String>) -> OpError {
        match self {
            OpError::Mail { message, .. } => OpError::Mail {
                message,
                hint: Some(hint.into()),
            },
            other => other,
        }
    }

    /// What the operator can do about it, if anything.
    pub fn help(&self) -> Option<String> {
        match self {
            OpError::Store { .. } => Some(
                "check that the folder is writable and the file is an ozg-site database (or pass another with --db)"
                    .to_string(),
            ),
            OpError::LinkKey { .. } => Some(
                "it is made beside the database on first use; check that the folder is writable and the file readable by this user"
                    .to_string(),
            ),
            OpError::Write { .. } => Some("check that the folder exists and is writable".to_string()),
            OpError::Mail { hint, .. } => hint.clone(),
            OpError::Listen { addr, .. } => Some(format!(
                "another program uses the port: pass another one, e.g. --port {}",
                addr.port().wrapping_add(1)
            )),
            OpError::Invalid(_) | OpError::System { .. } | OpError::Internal(_) => None,
        }
    }

    /// The failure as printed at the command edge: `error: …` and, if any, ` = help: …`.
    pub fn render(&self) -> String {
        let diagnostic = Diagnostic::error(self.to_string());
        match self.help() {
            Some(help) => diagnostic.hint(help),
            None => diagnostic,
        }
        .render()
    }
}

/// Why a command failed: what editors must fix, or what went wrong around them.
#[derive(Debug)]
pub enum Failure {
    Content(Diagnostics),
    Op(OpError),
}

impl From<Diagnostics> for Failure {
    fn from(diagnostics: Diagnostics) -> Failure {
        Failure::Content(diagnostics)
    }
}

impl From<Diagnostic> for Failure {
    fn from(diagnostic: Diagnostic) -> Failure {
        Failure::Content(diagnostic.into())
    }
}

impl From<OpError> for Failure {
    fn from(error: OpError) -> Failure {
        Failure::Op(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operational_failure_is_one_error_line_and_its_help() {
        let error = OpError::store("/srv/ozg/newsletter.sqlite", "disk I/O error");
        assert_eq!(
            error.render(),
            "error: the subscriber database /srv/ozg/newsletter.sqlite cannot be used: disk I/O error\n  \
             = help: check that the folder is writable and the file is an ozg-site database (or pass another with --db)\n"
        );
        let crashed = OpError::Internal("a sending thread crashed".into());
        assert_eq!(
            crashed.render(),
            "error: internal: a sending thread crashed\n",
            "nothing to advise: no help line"
        );
    }

    #[test]
    fn a_port_in_use_suggests_the_next_one() {
        let error = OpError::Listen {
            addr: "127.0.0.1:8025".parse().unwrap(),
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        };
        assert!(
            error
                .to_string()
                .starts_with("cannot listen on 127.0.0.1:8025: "),
            "{error}"
        );
        assert_eq!(
            error.help().as_deref(),
            Some("another program uses the port: pass another one, e.g. --port 8026")
        );
    }
}
