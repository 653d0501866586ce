//! The MIME message of one edition for one recipient: multipart/alternative (text first, then
//! HTML, as RFC 2046 orders them from plainest to richest), headers encoded by `lettre` (RFC 2047
//! for umlauts), and the one-click unsubscribe headers of RFC 2369 and RFC 8058.

use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType, MIME_VERSION_1_0};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};

use super::address::clean_name;
use super::prepared::Prepared;
use super::{Edition, Personal};
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};

use crate::config::{CONFIG_FILE, DkimAlgorithm, NewsletterConfig};
use crate::diagnostics::{Diagnostic, Diagnostics};

/// A recipient of one message.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub mailbox: Mailbox,
    pub personal: Personal,
}

/// The preview recipient from `sample_recipient` (with a made-up unsubscribe token). Its name
/// is checked as a subscriber's is ([`clean_name`]): a line break in it would make the mail
/// library fail to write the `To:` header.
pub fn sample(config: &NewsletterConfig) -> Result<Recipient, Diagnostic> {
    let sample = &config.sample_recipient;
    let address = sample
        .email
        .parse()
        .map_err(|e| setting_error("sample_recipient", &sample.email, e))?;
    let name = match sample.name.as_deref().map(clean_name) {
        None => None,
        Some(Ok(name)) => name,
        Some(Err(why)) => {
            return Err(Diagnostic::error(format!(
                "`newsletter.sample_recipient.name`: {}",
                why.reason()
            ))
            .in_file(CONFIG_FILE)
            .hint("write the name on one line, e.g. `name: Erika Mustermann`"));
        }
    };
    Ok(Recipient {
        personal: Personal::new(config, "vorschau", name.as_deref()),
        mailbox: Mailbox::new(name, address),
    })
}

/// `List-Unsubscribe: <https://…>, <mailto:…>`: where mail clients offer "Abbestellen".
#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Id: "OZG Sachsen-Anhalt" <newsletter.sachsen-anhalt.de>` (RFC 2919): lets mail
/// programs and filters recognise the list.
#[derive(Clone)]
struct ListId(String);

impl Header for ListId {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Id")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListId(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): the client unsubscribes
/// with one POST, without opening a page.
#[derive(Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_string())
    }
}

/// The headers a DKIM signature covers: every header a reader or a filter judges the message by,
/// so none can be changed on the way without breaking the signature. RFC 8058 §3.1 requires
/// both List-Unsubscribe headers, or providers will not offer one-click unsubscribing;
/// Content-Type and MIME-Version are signed because they say how the signed body is read.
const SIGNED_HEADERS: [&str; 10] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Content-Type",
    "MIME-Version",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// The DKIM signer of `site.yaml`'s `dkim:` settings, if any; the key is read once.
pub fn dkim(
    config: &NewsletterConfig,
    root: &std::path::Path,
) -> Result<Option<DkimConfig>, Diagnostic> {
    let Some(settings) = &config.dkim else {
        return Ok(None);
    };
    let path = root.join(&settings.private_key);
    let key_text = std::fs::read_to_string(&path).map_err(|e| {
        Diagnostic::error(format!("cannot read the DKIM key {}: {e}", path.display()))
            .in_file(CONFIG_FILE)
            .hint("`dkim.private_key` names the key file relative to the site folder")
    })?;
    let algorithm = match settings.algorithm {
        DkimAlgorithm::Rsa => DkimSigningAlgorithm::Rsa,
        DkimAlgorithm::Ed25519 => DkimSigningAlgorithm::Ed25519,
    };
    let key = DkimSigningKey::new(key_text.trim(), algorithm).map_err(|e| {
        Diagnostic::error(format!("the DKIM key {} cannot be used: {e}", path.display()))
            .in_file(CONFIG_FILE)
            .hint("an RSA key must be PEM in PKCS#1 form (-----BEGIN RSA PRIVATE KEY-----), e.g. from `openssl genrsa -traditional 2048`")
    })?;
    let domain = match &settings.domain {
        Some(d) => d.clone(),
        None => config
            .from
            .parse::<Mailbox>()
            .map(|m| m.email.domain().to_string())
            .map_err(|e| setting_error("from", &config.from, e))?,
    };
    Ok(Some(DkimConfig::new(
        settings.selector.clone(),
        domain,
        key,
        SIGNED_HEADERS
            .iter()
            .map(|h| HeaderName::new_from_ascii_str(h))
            .collect(),
        DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        },
    )))
}

/// The message of `edition` for `to`, dated `now`, signed if `dkim` is given; `prepared` is the
/// edition encoded once ([`Prepared::new`]).
pub fn build(
    config: &NewsletterConfig,
    edition: &Edition,
    prepared: &Prepared,
    to: &Recipient,
    now: jiff::Timestamp,
    dkim: Option<&DkimConfig>,
) -> Result<Message, Diagnostics> {
    let from: Mailbox = config
        .from
        .parse()
        .map_err(|e| setting_error("from", &config.from, e))?;
    let mut unsubscribe = format!("<{}>", to.personal.unsubscribe_url);
    if let Some(mailto) = &config.unsubscribe_mailto {
        unsubscribe.push_str(&format!(", <mailto:{mailto}?subject=Abmelden>"));
    }
    let domain = from.email.domain().to_string();
    let list_id = config
        .list_id
        .clone()
        .unwrap_or_else(|| format!("newsletter.{domain}"));
    let list_title = from.name.clone().unwrap_or_else(|| list_id.clone());
    let mut builder = Message::builder()
        .from(from)
        .to(to.mailbox.clone())
        .subject(edition.subject.clone())
        .date(std::time::SystemTime::from(now))
        .message_id(Some(message_id(edition, prepared, &to.mailbox, &domain)))
        .header(ListUnsubscribe(unsubscribe))
        .header(ListUnsubscribePost)
        .header(ListId(format!("{} <{list_id}>", phrase(list_title.trim()))));
    if let Some(reply_to) = &config.reply_to {
        builder = builder.reply_to(
            reply_to
                .parse()
                .map_err(|e| setting_error("reply_to", reply_to, e))?,
        );
    }
    let part = |content_type: ContentType, bytes: Vec<u8>| {
        SinglePart::builder()
            .header(content_type)
            .body(Body::dangerous_pre_encoded(
                bytes,
                ContentTransferEncoding::QuotedPrintable,
            ))
    };
    let alternative = MultiPart::alternative()
        .singlepart(part(ContentType::TEXT_PLAIN, prepared.text(&to.personal)))
        .singlepart(part(ContentType::TEXT_HTML, prepared.html(&to.personal)));
    let body = match &edition.invitation {
        None => alternative,
        Some(invitation) => with_calendar(alternative, &invitation.calendar, &to.mailbox)?,
    };
    let mut message = with_top_level_content_type(builder, &body)?;
    if let Some(dkim) = dkim {
        message.sign(dkim);
    }
    Ok(message)
}

/// An invitation's body: the calendar as a third alternative (`text/calendar; method=…`,
/// where Outlook and Thunderbird look for an invitation and show its buttons) and once more as
/// the attachment `einladung.ics` for programs that only offer attachments (webmail, phones).
/// Base64, so the calendar's CRLF line ends and folding arrive as written.
fn with_calendar(
    alternative: MultiPart,
    calendar: &crate::render::calendar::ItipCalendar,
    to: &Mailbox,
) -> Result<MultiPart, Diagnostic> {
    let cannot = |why: String| Diagnostic::error(format!("cannot build the invitation: {why}"));
    let ics = calendar.for_attendee(to.name.as_deref(), to.email.as_ref());
    let method = calendar.method.name();
    let inline_type = ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}"))
        .map_err(|e| cannot(e.to_string()))?;
    let base64 = |bytes: Vec<u8>| {
        Body::new_with_encoding(bytes, ContentTransferEncoding::Base64)
            .map_err(|_| cannot("the calendar cannot be encoded".into()))
    };
    let inline = SinglePart::builder()
        .header(inline_type)
        .body(base64(ics.clone().into_bytes())?);
    let attachment_type = ContentType::parse(&format!(
        "application/ics; name=\"{}\"",
        super::invitation::CALENDAR_FILE
    ))
    .map_err(|e| cannot(e.to_string()))?;
    let attachment = lettre::message::Attachment::new(super::invitation::CALENDAR_FILE.into())
        .body(base64(ics.into_bytes())?, attachment_type);
    Ok(MultiPart::mixed()
        .multipart(alternative.singlepart(inline))
        .singlepart(attachment))
}

/// The message with `alternative` as its body and the multipart's `Content-Type` among the
/// message's own headers. lettre writes a multipart's `Content-Type` as part of the body, where
/// its DKIM signer does not see it: signing `Content-Type` there would sign it as absent and
/// every verifier would fail. All parts are quoted-printable, so the body is 7-bit.
fn with_top_level_content_type(
    builder: lettre::message::MessageBuilder,
    alternative: &MultiPart,
) -> Result<Message, Diagnostic> {
    let cannot = |why: String| Diagnostic::error(format!("cannot build the message: {why}"));
    let content_type = alternative
        .headers()
        .get::<ContentType>()
        .ok_or_else(|| cannot("the multipart has no Content-Type".into()))?;
    let head = alternative.headers().to_string().len() + "\r\n".len();
    let formatted = alternative.formatted();
    let body = formatted.get(head..).unwrap_or_default().to_vec();
    builder
        .header(content_type)
        .header(MIME_VERSION_1_0)
        .body(Body::dangerous_pre_encoded(
            body,
            ContentTransferEncoding::SevenBit,
        ))
        .map_err(|e| cannot(e.to_string()))
}

/// `name` as the phrase of a header (RFC 5322 §3.2.5): a quoted string while it is ASCII, else
/// RFC 2047 encoded words (an encoded word may not stand inside quotes), so "Ministerium für
/// Digitales" keeps its ü in every mail program.
fn phrase(name: &str) -> String {
    if name.is_ascii() {
        let escaped: String = name
            .chars()
            .filter(|c| !c.is_ascii_control())
            .flat_map(|c| match c {
                '"' | '\\' => vec!['\\', c],
                _ => vec![c],
            })
            .collect();
        return format!("\"{escaped}\"");
    }
    encoded_words(name)
}

/// `text` as RFC 2047 "Q" encoded words in UTF-8, each at most 75 characters long (§2) and cut
/// only between characters, separated by spaces that decoders drop (§6.2).
fn encoded_words(text: &str) -> String {
    const OPEN: &str = "=?utf-8?q?";
    const CLOSE: &str = "?=";
    const MAX: usize = 75 - OPEN.len() - CLOSE.len();
    let mut words = Vec::new();
    let mut word = String::new();
    for c in text.chars().filter(|c| !c.is_control()) {
        let mut encoded = String::new();
        match c {
            ' ' => encoded.push('_'),
            'A'..='Z' | 'a'..='z' | '0'..='9' | '!' | '*' | '+' | '-' | '/' => encoded.push(c),
            _ => {
                let mut bytes = [0; 4];
                for b in c.encode_utf8(&mut bytes).bytes() {
                    encoded.push_str(&format!("={b:02X}"));
                }
            }
        }
        if word.len() + encoded.len() > MAX {
            words.push(std::mem::take(&mut word));
        }
        word.push_str(&encoded);
    }
    words.push(word);
    words
        .iter()
        .map(|w| format!("{OPEN}{w}{CLOSE}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The same edition for the same recipient always gets the same Message-ID, so a message sent
/// again after a crash is recognisably the same one.
fn message_id(edition: &Edition, prepared: &Prepared, to: &Mailbox, domain: &str) -> String {
    let content = prepared.content_hash;
    let who = xxhash_rust::xxh3::xxh3_64(to.email.to_string().to_lowercase().as_bytes());
    let what = match &edition.invitation {
        None => format!("ausgabe-{}", edition.number),
        Some(i) => format!("einladung-{}-{}", edition.number, i.sequence),
    };
    format!("<{what}.{content:016x}.{who:016x}@{domain}>")
}

fn setting_error(key: &str, value: &str, e: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(format!("`newsletter.{key}` is not a valid e-mail address: {e}"))
        .in_file(CONFIG_FILE)
        .note(format!("it is `{value}`"))
        .hint("write it like `OZG-Team Sachsen-Anhalt <ozg@sachsen-anhalt.de>` or just `ozg@sachsen-anhalt.de`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_name_with_a_line_break_is_an_error_not_a_panic() {
        let mut config: NewsletterConfig = serde_yaml::from_str(
            "from: team@example.org\nsample_recipient: {email: v@example.org, name: \"Erika\\nMustermann\"}",
        )
        .unwrap();
        let e = sample(&config).err().unwrap();
        assert!(e.message.contains("sample_recipient.name"), "{}", e.message);
        config.sample_recipient.name = Some(" Erika ".into());
        let r = sample(&config).unwrap();
        assert_eq!(r.mailbox.to_string(), "Erika <v@example.org>");
    }

    #[test]
    fn a_list_name_keeps_its_umlauts_as_encoded_words() {
        assert_eq!(phrase("OZG \"Team\""), r#""OZG \"Team\"""#);
        assert_eq!(
            phrase("Ministerium für Digitales"),
            "=?utf-8?q?Ministerium_f=C3=BCr_Digitales?="
        );
        let long = phrase(&"Ministerium für Infrastruktur und Digitales ".repeat(3));
        let words: Vec<&str> = long.split(' ').collect();
        assert!(words.len() > 1, "{long}");
        for word in words {
            assert!(word.len() <= 75 && word.starts_with("=?utf-8?q?") && word.ends_with("?="));
        }
    }
}
