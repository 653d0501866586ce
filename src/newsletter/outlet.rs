//! Where messages go: a mail server over SMTP (pooled connections, TLS, login from the
//! environment), or `.eml` files in an outbox folder when there is none (nothing to install).
//! `newsletter send` and the subscription service send through the same code.

use std::path::PathBuf;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::{PoolConfig, SmtpTransport};
use lettre::{Message, Transport as _};

use crate::config::NewsletterConfig;
use crate::error::OpError;

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
    /// The mail server at `url` (checked to answer), or the outbox folder without one; `helo`
    /// is the name to greet the server with ([`helo_name`]).
    pub fn open(
        url: Option<&str>,
        outbox: PathBuf,
        connections: usize,
        helo: Option<&str>,
    ) -> Result<Outlet, OpError> {
        let outlet = Outlet::new(url, outbox, connections, helo)?;
        outlet.check(url.unwrap_or_default())?;
        Ok(outlet)
    }

    /// Like [`Outlet::open`] without asking the server: for a service that starts while the mail
    /// server is down and sends once it is back.
    pub fn new(
        url: Option<&str>,
        outbox: PathBuf,
        connections: usize,
        helo: Option<&str>,
    ) -> Result<Outlet, OpError> {
        let Some(url) = url else {
            std::fs::create_dir_all(&outbox).map_err(|e| {
                OpError::system(format!("create the outbox {}", outbox.display()), e)
            })?;
            return Ok(Outlet::Outbox(outbox));
        };
        Ok(Outlet::Smtp(smtp_transport(url, connections, helo)?))
    }

    /// Whether the mail server answers and takes the login: the way to tell a wrong setting
    /// before anything is sent.
    pub fn check(&self, url: &str) -> Result<(), OpError> {
        let Outlet::Smtp(transport) = self else {
            return Ok(());
        };
        match transport.test_connection() {
            Ok(true) => Ok(()),
            Ok(false) => Err(OpError::mail(format!(
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
                    OpError::mail(format!("the mail server refused the login: {text}"))
                        .hint("check OZG_SMTP_USER and OZG_SMTP_PASSWORD")
                } else {
                    OpError::mail(format!("cannot reach the mail server at {}: {text}", redact(url)))
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
            Outlet::Smtp(t) => t
                .send_raw(envelope, message)
                .map(|_| ())
                .map_err(|e| refusal(&e)),
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

/// Whether trying again can help with what the mail library reports: the one place that
/// decides it, for `newsletter send` and the subscription service's mail worker alike.
///
/// - 5xx replies: permanent, with the server's words.
/// - A server without SMTPUTF8, for an address whose part before the @ is not ASCII (an
///   internationalised domain alone goes out as Punycode and needs nothing): lettre refuses
///   before sending (RFC 6531 §3.4), and the server's extensions do not change between
///   attempts, so permanent at once. The same for 8BITMIME, which such a message needs too.
/// - Everything else — 4xx, timeouts, dropped connections: temporary, the server may take it
///   later.
pub fn refusal(e: &lettre::transport::smtp::Error) -> Refusal {
    let text = e.to_string();
    if e.is_permanent() {
        return Refusal::Permanent(text);
    }
    if e.is_client() {
        if text.contains("SMTPUTF8") {
            return Refusal::Permanent(NO_SMTPUTF8.to_string());
        }
        if text.contains("8BITMIME") {
            return Refusal::Permanent(NO_8BITMIME.to_string());
        }
    }
    Refusal::Temporary(text)
}

/// Why an address with a non-ASCII local part could not be sent.
pub const NO_SMTPUTF8: &str = "the mail server does not offer SMTPUTF8, which this address needs (it has letters beyond ASCII before the @); ask the mail provider to enable SMTPUTF8";
/// Why a message with non-ASCII header bytes could not be sent.
pub const NO_8BITMIME: &str = "the mail server does not offer 8BITMIME, which this message needs; ask the mail provider to enable 8BITMIME";

/// The name to greet the mail server with: `helo_name` of `site.yaml`, else the domain of the
/// sender. lettre's default is the machine's host name, often a short one like `web01` that
/// receiving filters count against the message; `None` only when `from` is not an address,
/// which building the message reports.
pub fn helo_name(config: &NewsletterConfig) -> Option<String> {
    match &config.helo_name {
        Some(name) => Some(name.clone()),
        None => config
            .from
            .parse::<lettre::message::Mailbox>()
            .ok()
            .map(|m| m.email.domain().to_string()),
    }
}

/// The URL without anything after the host (there should be no password, but never print one).
pub fn redact(url: &str) -> String {
    match url.split_once('@') {
        Some((_, host)) => match url.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://{host}"),
            None => host.to_string(),
        },
        None => url.to_string(),
    }
}

/// `smtp://host:port` (plain, for local servers), `smtp+starttls://host:port`, `smtps://host:port`.
fn smtp_transport(
    url: &str,
    connections: usize,
    helo: Option<&str>,
) -> Result<SmtpTransport, OpError> {
    let malformed = |why: &str| {
        OpError::mail(format!("malformed SMTP address `{}`: {why}", redact(url)))
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
    if let Some(name) = helo {
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c))
        {
            return Err(OpError::mail(format!(
                "`newsletter.helo_name` is not a host name: `{name}`"
            ))
            .hint(
                "write the mail host's full domain name, e.g. `helo_name: mail.sachsen-anhalt.de`",
            ));
        }
        builder = builder.hello_name(ClientId::Domain(name.to_string()));
    }
    match (
        std::env::var("OZG_SMTP_USER"),
        std::env::var("OZG_SMTP_PASSWORD"),
    ) {
        (Ok(user), Ok(password)) => builder = builder.credentials(Credentials::new(user, password)),
        (Err(_), Err(_)) => {}
        _ => {
            return Err(
                OpError::mail("only one of OZG_SMTP_USER and OZG_SMTP_PASSWORD is set")
                    .hint("set both for a server that needs a login, or neither"),
            );
        }
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A scripted SMTP server on 127.0.0.1 for one connection at a time, offering `extensions`;
    /// returns its port and every command it received.
    fn fake_server(extensions: &'static [&'static str]) -> (u16, Arc<Mutex<Vec<String>>>) {
        fake_server_answering(extensions, "250 ok")
    }

    /// [`fake_server`] answering RCPT with `rcpt`.
    fn fake_server_answering(
        extensions: &'static [&'static str],
        rcpt: &'static str,
    ) -> (u16, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut out) = stream else { return };
                out.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut lines = BufReader::new(out.try_clone().unwrap());
                let _ = out.write_all(b"220 fake ESMTP\r\n");
                let mut data = false;
                let mut line = String::new();
                while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
                    let command = line.trim_end().to_string();
                    line.clear();
                    if data {
                        if command == "." {
                            data = false;
                            let _ = out.write_all(b"250 accepted\r\n");
                        }
                        continue;
                    }
                    log.lock().unwrap().push(command.clone());
                    let upper = command.to_ascii_uppercase();
                    let reply = if upper.starts_with("EHLO") {
                        let mut r = String::from("250-fake\r\n");
                        for e in extensions {
                            r.push_str(&format!("250-{e}\r\n"));
                        }
                        r.push_str("250 HELP\r\n");
                        r
                    } else if upper.starts_with("DATA") {
                        data = true;
                        "354 go on\r\n".to_string()
                    } else if upper.starts_with("RCPT") {
                        format!("{rcpt}\r\n")
                    } else if upper.starts_with("QUIT") {
                        let _ = out.write_all(b"221 bye\r\n");
                        break;
                    } else {
                        "250 ok\r\n".to_string()
                    };
                    let _ = out.write_all(reply.as_bytes());
                }
            }
        });
        (port, seen)
    }

    fn envelope(to: &str) -> Envelope {
        Envelope::new(
            Some("team@example.org".parse().unwrap()),
            vec![to.parse().unwrap()],
        )
        .unwrap()
    }

    fn outlet(port: u16) -> Outlet {
        Outlet::new(
            Some(&format!("smtp://127.0.0.1:{port}")),
            PathBuf::new(),
            1,
            Some("mail.example.org"),
        )
        .unwrap()
    }

    const MESSAGE: &[u8] = b"Subject: x\r\n\r\nx\r\n";

    #[test]
    fn a_server_without_smtputf8_refuses_a_utf8_address_for_good_at_once() {
        let (port, seen) = fake_server(&["8BITMIME"]);
        let outlet = outlet(port);
        match outlet.send_raw(&envelope("jörg@xn--bcher-kva.de"), MESSAGE, "x") {
            Err(Refusal::Permanent(why)) => assert_eq!(why, NO_SMTPUTF8),
            other => panic!("{other:?}"),
        }
        assert!(
            !seen.lock().unwrap().iter().any(|c| c.starts_with("MAIL")),
            "nothing was sent"
        );
        // An internationalised domain alone is Punycode: ASCII, no SMTPUTF8 needed.
        outlet
            .send_raw(&envelope("joerg@xn--bcher-kva.de"), MESSAGE, "x")
            .unwrap();
    }

    #[test]
    fn a_utf8_address_goes_out_with_smtputf8_where_the_server_offers_it() {
        let (port, seen) = fake_server(&["8BITMIME", "SMTPUTF8"]);
        outlet(port)
            .send_raw(&envelope("jörg@xn--bcher-kva.de"), MESSAGE, "x")
            .unwrap();
        let seen = seen.lock().unwrap();
        let mail = seen.iter().find(|c| c.starts_with("MAIL")).unwrap();
        assert!(mail.ends_with(" SMTPUTF8"), "{mail}");
        assert!(
            seen.iter().any(|c| c == "RCPT TO:<jörg@xn--bcher-kva.de>"),
            "{seen:?}"
        );
    }

    #[test]
    fn the_server_is_greeted_with_the_configured_name_or_the_senders_domain() {
        let (port, seen) = fake_server(&["8BITMIME"]);
        outlet(port)
            .send_raw(&envelope("a@example.org"), MESSAGE, "x")
            .unwrap();
        assert!(
            seen.lock()
                .unwrap()
                .iter()
                .any(|c| c == "EHLO mail.example.org"),
            "{seen:?}"
        );
        let mut config: NewsletterConfig =
            serde_yaml::from_str("from: OZG-Team <ozg@sachsen-anhalt.de>").unwrap();
        assert_eq!(helo_name(&config).as_deref(), Some("sachsen-anhalt.de"));
        config.helo_name = Some("mail.sachsen-anhalt.de".into());
        assert_eq!(
            helo_name(&config).as_deref(),
            Some("mail.sachsen-anhalt.de")
        );
        let bad = Outlet::new(
            Some("smtp://127.0.0.1:25"),
            PathBuf::new(),
            1,
            Some("web 01"),
        );
        assert!(bad.err().unwrap().to_string().contains("helo_name"));
    }

    #[test]
    fn replies_decide_whether_to_try_again() {
        for (rcpt, permanent) in [
            ("550 5.1.1 no such user", true),
            ("451 4.7.1 try again later", false),
        ] {
            let (port, _) = fake_server_answering(&["8BITMIME"], rcpt);
            match outlet(port).send_raw(&envelope("a@example.org"), MESSAGE, "x") {
                Err(Refusal::Permanent(why)) if permanent => assert!(why.contains("no such user")),
                Err(Refusal::Temporary(why)) if !permanent => assert!(why.contains("try again")),
                other => panic!("{rcpt}: {other:?}"),
            }
        }
        let (port, _) = fake_server(&[]);
        // Non-ASCII content without 8BITMIME: no retry helps either.
        match outlet(port).send_raw(
            &envelope("a@example.org"),
            "Subject: ä\r\n\r\n".as_bytes(),
            "x",
        ) {
            Err(Refusal::Permanent(why)) => assert_eq!(why, NO_8BITMIME),
            other => panic!("{other:?}"),
        }
    }
}
