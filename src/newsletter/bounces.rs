//! `ozg-site newsletter bounces`: reads the bounces (RFC 3464 delivery status notifications) and
//! complaints (RFC 5965 feedback reports) that mail servers send back, from a Maildir or an mbox,
//! and records them in the store, where they stop sending to dead addresses.
//!
//! Each report is matched to its recipient and campaign by, in this order: the VERP return path
//! it was sent to (`newsletter.bounces.return_path`, carrying edition, subscriber and a keyed tag),
//! the Message-ID of the returned mail (`<ausgabe-<nr>.…>`, see [`super::message`]), and the
//! Final-Recipient / Original-Recipient fields. A Maildir's messages move from `new/` to `cur/`
//! marked seen; every report's hash is stored, so a second run (and an mbox, which is only read)
//! counts nothing twice.
//!
//! The input comes from anyone who can send mail to the sender: messages over
//! [`MAX_MESSAGE`] are not parsed, every field is cleaned ([`fields`]), and each message gets its
//! own line in the report instead of stopping the run.

pub mod fields;

use std::path::{Path, PathBuf};

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use super::store::bounces::{BounceKind, CampaignRef, NewBounce, Recorded};
use super::store::{AddressHasher, Store};
use crate::config::BouncesConfig;
use crate::error::{Failure, OpError};

/// Reports are a few kilobytes; a bigger message is no report and is not parsed.
pub const MAX_MESSAGE: u64 = 10 * 1024 * 1024;

/// Where the reports are.
#[derive(Debug, Clone)]
pub enum Mailbox {
    /// A Maildir (`cur/`, `new/`, `tmp/`): what Postfix and Dovecot deliver to.
    Maildir(PathBuf),
    /// An mbox file; read only, never changed.
    Mbox(PathBuf),
}

/// What became of one message of the mailbox.
#[derive(Debug)]
pub struct MessageReport {
    /// The Maildir file name, or `mbox message <n>`.
    pub source: String,
    pub outcome: Outcome,
}

#[derive(Debug)]
pub enum Outcome {
    /// Read in an earlier run.
    SeenBefore,
    /// Not a bounce or complaint (or too big, or not MIME): why, in a sentence.
    Ignored(String),
    /// A report: each recipient and what was recorded.
    Recorded(Vec<(NewBounce, Recorded)>),
}

/// The VERP envelope sender of one message: `template`'s `{token}` becomes
/// `<edition>-<subscriber>-<tag>`, the tag keyed with the database's key so nobody can make a
/// report that stops someone else's address. `None` without a template or with a broken one.
pub fn verp_address(
    template: &str,
    campaign: CampaignRef,
    subscriber: i64,
    hasher: &AddressHasher,
) -> Option<lettre::Address> {
    if !template.contains("{token}") {
        return None;
    }
    let of = campaign.to_string();
    let token = format!("{of}-{subscriber}-{}", verp_tag(&of, subscriber, hasher));
    template.replace("{token}", &token).parse().ok()
}

fn verp_tag(campaign: &str, subscriber: i64, hasher: &AddressHasher) -> String {
    hasher.short(&format!("verp {campaign} {subscriber}"))
}

/// The campaign and subscriber that `address` names under `template`, if its tag is right.
pub fn parse_verp(
    template: &str,
    address: &str,
    hasher: &AddressHasher,
) -> Option<(CampaignRef, i64)> {
    let (prefix, suffix) = template.split_once("{token}")?;
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    let lower = address.to_ascii_lowercase();
    let token_len = address.len().checked_sub(prefix.len() + suffix.len())?;
    if !lower.starts_with(&prefix.to_ascii_lowercase())
        || !lower.ends_with(&suffix.to_ascii_lowercase())
    {
        return None;
    }
    let token = address.get(prefix.len()..prefix.len() + token_len)?;
    let mut parts = token.split('-');
    let campaign_text = parts.next()?.to_ascii_lowercase();
    let campaign = CampaignRef::parse(&campaign_text)?;
    let subscriber: i64 = parts.next()?.parse().ok()?;
    let tag = parts.next()?;
    (parts.next().is_none() && tag == verp_tag(&campaign.to_string(), subscriber, hasher))
        .then_some((campaign, subscriber))
}

/// Reads every new message of `mailbox` and records its bounces in `store`.
pub fn process(
    store: &mut Store,
    mailbox: &Mailbox,
    config: &BouncesConfig,
) -> Result<Vec<MessageReport>, Failure> {
    match mailbox {
        Mailbox::Maildir(dir) => process_maildir(store, dir, config),
        Mailbox::Mbox(file) => process_mbox(store, file, config),
    }
}

fn process_maildir(
    store: &mut Store,
    dir: &Path,
    config: &BouncesConfig,
) -> Result<Vec<MessageReport>, Failure> {
    let (new, cur) = (dir.join("new"), dir.join("cur"));
    if !new.is_dir() || !cur.is_dir() {
        return Err(OpError::system(
            format!("read the Maildir {}", dir.display()),
            "it has no new/ and cur/ folders (is it a Maildir?)",
        )
        .into());
    }
    let mut files = Vec::new();
    for (folder, is_new) in [(&new, true), (&cur, false)] {
        let entries = std::fs::read_dir(folder)
            .map_err(|e| OpError::system(format!("read {}", folder.display()), e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Maildir flags after ":2,"; S is "seen": what this command (or a reader) read.
            let seen = name
                .split_once(":2,")
                .is_some_and(|(_, flags)| flags.contains('S'));
            if name.starts_with('.') || (!is_new && seen) {
                continue;
            }
            files.push((entry.path(), name, is_new));
        }
    }
    files.sort();
    let mut out = Vec::new();
    for (path, name, is_new) in files {
        let outcome = match std::fs::metadata(&path) {
            Err(e) => Outcome::Ignored(format!("cannot be read: {e}")),
            Ok(m) if !m.is_file() => continue,
            Ok(m) if m.len() > MAX_MESSAGE => Outcome::Ignored(too_big(m.len())),
            Ok(_) => match std::fs::read(&path) {
                Ok(raw) => record(store, &raw, config)?,
                Err(e) => Outcome::Ignored(format!("cannot be read: {e}")),
            },
        };
        mark_seen(&path, &name, is_new, dir)?;
        out.push(MessageReport {
            source: name,
            outcome,
        });
    }
    Ok(out)
}

/// Moves a message to `cur/` with the S flag, as a mail reader does once it showed it.
fn mark_seen(path: &Path, name: &str, is_new: bool, dir: &Path) -> Result<(), OpError> {
    let seen_name = match name.split_once(":2,") {
        Some((base, flags)) => {
            let mut flags: Vec<char> = flags.chars().chain(['S']).collect();
            flags.sort_unstable();
            flags.dedup();
            format!("{base}:2,{}", flags.into_iter().collect::<String>())
        }
        None => format!("{name}:2,S"),
    };
    let target = dir.join("cur").join(seen_name);
    if is_new || target != path {
        std::fs::rename(path, &target)
            .map_err(|e| OpError::system(format!("mark {} as read", path.display()), e))?;
    }
    Ok(())
}

fn process_mbox(
    store: &mut Store,
    file: &Path,
    config: &BouncesConfig,
) -> Result<Vec<MessageReport>, Failure> {
    let reader = std::fs::File::open(file)
        .map_err(|e| OpError::system(format!("read the mbox {}", file.display()), e))?;
    let messages =
        mail_parser::mailbox::mbox::MessageIterator::new(std::io::BufReader::new(reader));
    let mut out = Vec::new();
    for (i, message) in messages.enumerate() {
        let source = format!("mbox message {}", i + 1);
        let outcome = match message {
            Err(e) => Outcome::Ignored(format!("cannot be read: {e}")),
            Ok(m) if m.contents().len() as u64 > MAX_MESSAGE => {
                Outcome::Ignored(too_big(m.contents().len() as u64))
            }
            Ok(m) => record(store, m.contents(), config)?,
        };
        out.push(MessageReport { source, outcome });
    }
    Ok(out)
}

fn too_big(len: u64) -> String {
    format!(
        "{} MB is too big for a bounce report (at most {} MB are read); not parsed",
        len / (1024 * 1024),
        MAX_MESSAGE / (1024 * 1024)
    )
}

/// Parses one message and records it unless its hash was seen.
fn record(store: &mut Store, raw: &[u8], config: &BouncesConfig) -> Result<Outcome, OpError> {
    let hash = hex(ring::digest::digest(&ring::digest::SHA256, raw).as_ref());
    if store.bounce_report_seen(&hash)? {
        return Ok(Outcome::SeenBefore);
    }
    let hasher = store.hasher();
    let verp = |address: &str| {
        config
            .return_path
            .as_deref()
            .and_then(|t| parse_verp(t, address, &hasher))
    };
    match parse(raw, &verp) {
        Err(why) => {
            // Recorded as read, so it is not parsed again on every run.
            store.record_bounce_report(&hash, &[], config.soft_limit)?;
            Ok(Outcome::Ignored(why))
        }
        Ok(bounces) => {
            let recorded = store.record_bounce_report(&hash, &bounces, config.soft_limit)?;
            Ok(Outcome::Recorded(
                bounces.into_iter().zip(recorded).collect(),
            ))
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bounces of one message: `Err` says why it is not a report. `verp` reads a return path.
pub fn parse(
    raw: &[u8],
    verp: &dyn Fn(&str) -> Option<(CampaignRef, i64)>,
) -> Result<Vec<NewBounce>, String> {
    let message = MessageParser::default()
        .parse(raw)
        .ok_or("not an e-mail message (no headers)")?;
    let report_type = message
        .root_part()
        .content_type()
        .filter(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        })
        .and_then(|ct| ct.attribute("report-type"))
        .map(str::to_ascii_lowercase)
        .ok_or("not a bounce or complaint report (no multipart/report)")?;
    let original = original_headers(&message);
    let edition = original
        .as_ref()
        .and_then(|o| o.message_id.as_deref())
        .and_then(edition_of_message_id);
    let verp_match = ["delivered-to", "x-original-to", "to", "envelope-to"]
        .iter()
        .filter_map(|h| message.header_raw(*h))
        .find_map(|value| verp(value.trim()));
    let status_part = |subtype: &str| {
        message.parts.iter().find_map(|p| {
            let ct = p.content_type()?;
            (ct.ctype().eq_ignore_ascii_case("message")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case(subtype)))
            .then(|| String::from_utf8_lossy(p.contents()).into_owned())
        })
    };
    let mut bounces = Vec::new();
    match report_type.as_str() {
        "delivery-status" => {
            let text = status_part("delivery-status")
                .or_else(|| status_part("global-delivery-status"))
                .ok_or("a delivery report without its message/delivery-status part")?;
            let groups = fields::groups(&text);
            let mut without_address = 0;
            for group in groups.iter().skip(1) {
                let action = fields::get(group, "action")
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                // Only "failed" is a bounce; "delayed" is a warning that the server keeps trying.
                if action != "failed" {
                    continue;
                }
                let status = fields::get(group, "status").and_then(fields::status);
                let kind = match status.as_deref().and_then(|s| s.chars().next()) {
                    Some('4') => BounceKind::Soft,
                    _ => BounceKind::Hard,
                };
                let Some(email) = fields::get(group, "final-recipient")
                    .and_then(fields::address)
                    .or_else(|| fields::get(group, "original-recipient").and_then(fields::address))
                    .or_else(|| original.as_ref().and_then(|o| o.to.clone()))
                else {
                    without_address += 1;
                    continue;
                };
                bounces.push(NewBounce {
                    email,
                    campaign: verp_match
                        .map(|v| v.0)
                        .or(edition.map(CampaignRef::Edition)),
                    subscriber: verp_match.map(|v| v.1),
                    kind,
                    status,
                    diagnostic: fields::get(group, "diagnostic-code").map(str::to_string),
                });
            }
            if bounces.is_empty() && without_address > 0 {
                return Err(format!(
                    "a delivery report whose {without_address} failed recipient(s) name no usable address"
                ));
            }
            if bounces.is_empty() {
                return Err(
                    "a delivery report without a failed recipient (a delay warning?)".into(),
                );
            }
        }
        "feedback-report" => {
            let text = status_part("feedback-report")
                .ok_or("a complaint report without its message/feedback-report part")?;
            let group = fields::groups(&text).into_iter().next().unwrap_or_default();
            let email = fields::get(&group, "original-rcpt-to")
                .and_then(fields::address)
                .or_else(|| original.as_ref().and_then(|o| o.to.clone()))
                .ok_or("a complaint report that names no recipient")?;
            bounces.push(NewBounce {
                email,
                campaign: verp_match
                    .map(|v| v.0)
                    .or(edition.map(CampaignRef::Edition)),
                subscriber: verp_match.map(|v| v.1),
                kind: BounceKind::Complaint,
                status: fields::get(&group, "feedback-type").map(str::to_string),
                diagnostic: None,
            });
        }
        other => {
            return Err(format!(
                "a report of type `{}`, neither delivery-status nor feedback-report",
                fields::clean(other)
            ));
        }
    }
    Ok(bounces)
}

/// What a report quotes of the mail it is about.
struct Original {
    message_id: Option<String>,
    to: Option<String>,
}

/// The returned mail's headers: a message/rfc822 part, or text/rfc822-headers.
fn original_headers(message: &Message<'_>) -> Option<Original> {
    for part in message.parts.iter().skip(1) {
        let inner = match &part.body {
            PartType::Message(m) => Some(m.clone()),
            _ if part.content_type().is_some_and(|ct| {
                ct.subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"))
            }) =>
            {
                MessageParser::default()
                    .parse_headers(part.contents())
                    .map(Message::into_owned)
            }
            _ => None,
        };
        if let Some(m) = inner {
            let to = m
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .and_then(fields::address);
            return Some(Original {
                message_id: m.message_id().map(fields::clean),
                to,
            });
        }
    }
    None
}

/// The edition of one of our Message-IDs: `ausgabe-<nr>.…@…`.
pub fn edition_of_message_id(id: &str) -> Option<u32> {
    let rest = id.trim().trim_start_matches('<').strip_prefix("ausgabe-")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    rest.get(digits.len()..)?.starts_with('.').then_some(())?;
    digits.parse().ok()
}

#[cfg(test)]
mod tests;
