//! The service's mails: the confirmation link after a sign-up, and a note to an address that is
//! subscribed already. Plain text from the theme (`email/confirm.txt`,
//! `email/already-subscribed.txt`): the first line is the subject, then an empty line, then the
//! body. Signed with DKIM like the editions, when it is set up.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use lettre::Message;
use lettre::message::dkim::DkimConfig;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, header};
use tera::Context;

use crate::config::{CONFIG_FILE, NewsletterConfig, ServiceUrls};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::newsletter::store::optin::Signup;
use crate::newsletter::store::outgoing::QueuedMail;
use crate::render::templates::Templates;
use crate::site::Site;
use crate::theme::Theme;

const CONFIRM: &str = "confirm.txt";
const ALREADY: &str = "already-subscribed.txt";

/// A note to an active subscriber is worth sending for a day; a confirmation link until it expires.
const NOTE_LIFETIME: SignedDuration = SignedDuration::from_hours(24);

pub struct Mailer {
    templates: Templates,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    domain: String,
    dkim: Option<DkimConfig>,
    urls: ServiceUrls,
}

impl Mailer {
    pub fn new(
        site: &Arc<Site>,
        theme: &Theme,
        config: &NewsletterConfig,
        urls: &ServiceUrls,
    ) -> Result<Mailer, Diagnostics> {
        theme.require_email_templates(&[CONFIRM, ALREADY])?;
        let address = |key: &str, value: &str| {
            value.parse::<Mailbox>().map_err(|e| {
                Diagnostic::error(format!(
                    "`newsletter.{key}` is not a valid e-mail address: {e}"
                ))
                .in_file(CONFIG_FILE)
            })
        };
        let from = address("from", &config.from)?;
        let reply_to = match &config.reply_to {
            Some(r) => Some(address("reply_to", r)?),
            None => None,
        };
        let mailer = Mailer {
            templates: crate::render::email_templates(site, theme)?,
            domain: from.email.domain().to_string(),
            from,
            reply_to,
            dkim: crate::newsletter::message::dkim(config, &site.config.root)?,
            urls: urls.clone(),
        };
        // Both mails once at start, so a template error stops the start, not a sign-up.
        let now = Timestamp::now();
        let sample = "vorschau@example.org";
        let token = "0123456789abcdef0123456789abcdef";
        for outcome in [
            Signup::Confirm {
                subscriber: 0,
                token: token.into(),
                expires_at: now,
                consent: "Einwilligung".into(),
            },
            Signup::AlreadyActive {
                subscriber: 0,
                unsubscribe_token: token.into(),
            },
        ] {
            mailer.for_signup(&outcome, sample, now)?;
        }
        Ok(mailer)
    }

    /// The mail a sign-up leads to, ready to queue.
    pub fn for_signup(
        &self,
        outcome: &Signup,
        to: &str,
        now: Timestamp,
    ) -> Result<QueuedMail, Diagnostic> {
        let mut context = Context::new();
        context.insert("email", to);
        let (template, kind, subscriber, give_up_at) = match outcome {
            Signup::Confirm {
                subscriber,
                token,
                expires_at,
                consent,
            } => {
                context.insert(
                    "confirm_url",
                    &format!("{}?token={token}", self.urls.confirm),
                );
                context.insert(
                    "expires",
                    &expires_at
                        .round(jiff::Unit::Second)
                        .unwrap_or(*expires_at)
                        .to_string(),
                );
                context.insert("consent", consent);
                (CONFIRM, "confirm", *subscriber, *expires_at)
            }
            Signup::AlreadyActive {
                subscriber,
                unsubscribe_token,
            } => {
                context.insert(
                    "unsubscribe_url",
                    &format!("{}?token={unsubscribe_token}", self.urls.unsubscribe),
                );
                let give_up = crate::newsletter::store::plus(now, NOTE_LIFETIME);
                (ALREADY, "already-subscribed", *subscriber, give_up)
            }
        };
        let text = self.templates.render(template, &context, None)?;
        let (subject, body) = split_subject(&text).ok_or_else(|| {
            Diagnostic::error(format!(
                "the e-mail template `email/{template}` does not start with a subject line and an empty line"
            ))
            .hint("the first line of the rendered text is the subject; the body follows after one empty line")
        })?;
        let recipient: Mailbox = to
            .parse()
            // Not the address itself: this message may end up in the log.
            .map_err(|e| Diagnostic::error(format!("the recipient cannot be mailed to: {e}")))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(recipient)
            .subject(subject)
            .date(std::time::SystemTime::from(now))
            .message_id(Some(format!(
                "<anmeldung-{}@{}>",
                crate::newsletter::store::new_token()
                    .map_err(|e| Diagnostic::error(e.to_string()))?,
                self.domain
            )))
            // RFC 3834: sent by a program; mail programs send no out-of-office reply to it.
            .header(AutoSubmitted)
            .header(ContentType::TEXT_PLAIN);
        if let Some(r) = &self.reply_to {
            builder = builder.reply_to(r.clone());
        }
        let mut message = builder
            .body(body.to_string())
            .map_err(|e| Diagnostic::error(format!("cannot build the {kind} mail: {e}")))?;
        if let Some(dkim) = &self.dkim {
            message.sign(dkim);
        }
        Ok(QueuedMail {
            kind,
            subscriber: Some(subscriber),
            sender: self.from.email.to_string(),
            recipient: to.to_string(),
            message: message.formatted(),
            give_up_at,
        })
    }
}

/// `Auto-Submitted: auto-generated`: written by a program, not by a person.
#[derive(Clone)]
pub(super) struct AutoSubmitted;

impl header::Header for AutoSubmitted {
    fn name() -> header::HeaderName {
        header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }
    fn display(&self) -> header::HeaderValue {
        header::HeaderValue::new(Self::name(), "auto-generated".to_string())
    }
}

/// `Subject\n\nBody` → `(Subject, Body)`; `None` without a subject or the empty line.
pub(super) fn split_subject(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start_matches(['\n', '\r']);
    let (subject, rest) = text.split_once('\n')?;
    let body = rest
        .strip_prefix('\n')
        .or_else(|| rest.strip_prefix("\r\n"))?;
    let subject = subject.trim();
    (!subject.is_empty()).then_some((subject, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_is_the_subject() {
        assert_eq!(
            split_subject("\nBitte bestätigen\n\nGuten Tag,\n\nText\n"),
            Some(("Bitte bestätigen", "Guten Tag,\n\nText\n"))
        );
        assert_eq!(split_subject("Betreff\nGleich Text\n"), None);
        assert_eq!(split_subject("  \n\nText"), None);
    }
}
