//! Where messages go: a mail server over SMTP (pooled connections, TLS, login from the
//! environment), or `.eml` files in an outbox folder when there is none (nothing to install).
//! `newsletter send` and the subscription service send through the same code.

use std::path::PathBuf;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::{PoolConfig, SmtpTransport};
use lettre::{Message, Transport as _};

use crate::diagnostics::Diagnostic;

/// A refusal by the mail server (or the network), and whether trying again can help.
#[derive(Debug)]
pub enum Refusal {
    Temporary(String),
    Permanent(String),
}

/// Where messages go: a mail server, or `.eml` files in a folder (nothing to install).
pub enum Outlet {
    Smtp(SmtpTransport),
    Outbox(PathBuf),
}

impl Outlet {
    /// The mail server at `url` (checked to answer), or the outbox folder without one.
    pub fn open(
        url: Option<&str>,
        outbox: PathBuf,
        connections: usize,
    ) -> Result<Outlet, Diagnostic> {
        let outlet = Outlet::new(url, outbox, connections)?;
        outlet.check(url.unwrap_or_default())?;
        Ok(outlet)
    }

    /// Like [`Outlet::open`] without asking the server: for a service that starts while the mail
    /// server is down and sends once it is back.
    pub fn new(
        url: Option<&str>,
        outbox: PathBuf,
        connections: usize,
    ) -> Result<Outlet, Diagnostic> {
        let Some(url) = url else {
            std::fs::create_dir_all(&outbox).map_err(|e| {
                Diagnostic::error(format!(
                    "cannot create the outbox {}: {e}",
                    outbox.display()
                ))
            })?;
            return Ok(Outlet::Outbox(outbox));
        };
        Ok(Outlet::Smtp(smtp_transport(url, connections)?))
    }

    /// Whether the mail server answers and takes the login: the way to tell a wrong setting
    /// before anything is sent.
    pub fn check(&self, url: &str) -> Result<(), Diagnostic> {
        let Outlet::Smtp(transport) = self else {
            return Ok(());
        };
        match transport.test_connection() {
            Ok(true) => Ok(()),
            Ok(false) => Err(Diagnostic::error(format!(
                "the mail server at {} does not answer",
                redact(url)
            ))
            .hint(
                "check host and port of --smtp (or `smtp:` in site.yaml) and that the server runs",
            )),
            Err(e) => {
                let text = e.to_string();
                let auth = text.contains("535") || text.to_lowercase().contains("auth");
                Err(if auth {
                    Diagnostic::error(format!("the mail server refused the login: {text}"))
                        .hint("check OZG_SMTP_USER and OZG_SMTP_PASSWORD")
                } else {
                    Diagnostic::error(format!("cannot reach the mail server at {}: {text}", redact(url)))
                        .hint("check host and port of --smtp (or `smtp:` in site.yaml), the network, and the TLS mode (smtp://, smtp+starttls://, smtps://)")
                })
            }
        }
    }

    pub fn describe(&self, url: Option<&str>) -> String {
        match self {
            Outlet::Smtp(_) => redact(url.unwrap_or_default()),
            Outlet::Outbox(dir) => dir.display().to_string(),
        }
    }

    /// Sends `message`; in the outbox it becomes `<name>.eml`.
    pub fn send(&self, message: &Message, name: &str) -> Result<(), Refusal> {
        self.send_raw(message.envelope(), &message.formatted(), name)
    }

    /// Sends a finished message (RFC 5322 bytes) to the envelope's recipients.
    pub fn send_raw(&self, envelope: &Envelope, message: &[u8], name: &str) -> Result<(), Refusal> {
        match self {
            Outlet::Smtp(t) => t.send_raw(envelope, message).map(|_| ()).map_err(|e| {
                let text = e.to_string();
                if e.is_permanent() {
                    Refusal::Permanent(text)
                } else {
                    // 4xx, timeouts and dropped connections: the server may take it later.
                    Refusal::Temporary(text)
                }
            }),
            Outlet::Outbox(dir) => {
                let path = dir.join(format!("{name}.eml"));
                let tmp = dir.join(format!(".{name}.eml.tmp"));
                std::fs::write(&tmp, message)
                    .and_then(|()| std::fs::rename(&tmp, &path))
                    .map_err(|e| {
                        Refusal::Temporary(format!("cannot write {}: {e}", path.display()))
                    })
            }
        }
    }
}

/// The URL without anything after the host (there should be no password, but never print one).
pub fn redact(url: &str) -> String {
    match url.find('@') {
        Some(i) => match url.find("://") {
            Some(s) => format!("{}{}", &url[..s + 3], &url[i + 1..]),
            None => url[i + 1..].to_string(),
        },
        None => url.to_string(),
    }
}

/// `smtp://host:port` (plain, for local servers), `smtp+starttls://host:port`, `smtps://host:port`.
fn smtp_transport(url: &str, connections: usize) -> Result<SmtpTransport, Diagnostic> {
    let malformed = |why: &str| {
        Diagnostic::error(format!("malformed SMTP address `{}`: {why}", redact(url)))
            .hint("write smtp://host:25, smtp+starttls://host:587 or smtps://host:465")
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| malformed("no scheme"))?;
    if rest.contains('@') {
        return Err(malformed("it contains a user").hint(
            "give user and password in the environment (OZG_SMTP_USER, OZG_SMTP_PASSWORD), never in the address",
        ));
    }
    let authority = rest.trim_end_matches('/');
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            Some(
                p.parse::<u16>()
                    .map_err(|_| malformed("the port is not a number"))?,
            ),
        ),
        None => (authority, None),
    };
    if host.is_empty() || host.contains(['/', '?', ' ']) {
        return Err(malformed("no host name"));
    }
    let tls_params = || {
        TlsParameters::new(host.to_string())
            .map_err(|e| malformed(&format!("TLS cannot be set up: {e}")))
    };
    let (tls, default_port) = match scheme {
        "smtp" => (Tls::None, 25),
        "smtp+starttls" => (Tls::Required(tls_params()?), 587),
        "smtps" => (Tls::Wrapper(tls_params()?), 465),
        _ => return Err(malformed("unknown scheme")),
    };
    let mut builder = SmtpTransport::builder_dangerous(host)
        .port(port.unwrap_or(default_port))
        .tls(tls)
        .timeout(Some(Duration::from_secs(60)))
        .pool_config(PoolConfig::new().max_size(connections.max(1) as u32));
    match (
        std::env::var("OZG_SMTP_USER"),
        std::env::var("OZG_SMTP_PASSWORD"),
    ) {
        (Ok(user), Ok(password)) => builder = builder.credentials(Credentials::new(user, password)),
        (Err(_), Err(_)) => {}
        _ => {
            return Err(Diagnostic::error(
                "only one of OZG_SMTP_USER and OZG_SMTP_PASSWORD is set",
            )
            .hint("set both for a server that needs a login, or neither"));
        }
    }
    Ok(builder.build())
}
