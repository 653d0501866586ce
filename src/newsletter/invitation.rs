//! `ozg-site newsletter invite <nr>`: the Terminanfrage for a Sprechstunde, mailed to the
//! section's list with the event as an iCalendar invitation.
//!
//! Every fact comes from the Sprechstunde's front matter; nothing is typed twice. The calendar is
//! an iTIP message (RFC 5546) with `METHOD:REQUEST` — not `PUBLISH` — because only a request
//! is what Outlook ("Terminanfrage") and Thunderbird treat as an invitation they keep track of:
//! they add it with one click and, when a later message with the same `UID` and a higher
//! `SEQUENCE` arrives, move the event they already have instead of adding a second one; a
//! `METHOD:CANCEL` removes it. A `PUBLISH` calendar is imported as a copy, and neither program
//! ties a later `PUBLISH` to it, so a changed time would leave the old entry standing.
//!
//! Each version of an invitation is a campaign of the journal, keyed by the event's `UID` and
//! its `SEQUENCE`, with the facts it carried (date, time, place, whether it is called off). A
//! run that finds the facts as the latest version sent continues that version (and sends
//! nothing to anyone who has it); changed facts start the next version, which goes to the list
//! as an update, or as a cancellation to those who got an earlier version.

use std::sync::Arc;

use tera::{Context, Value};

pub use super::campaign::{Invitation, Kind};
use super::email::{
    Addresses, Edition, finish_html, finish_text, footer_navigation, recipient_placeholders,
};
use crate::config::{CONFIG_FILE, NewsletterConfig};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::parse::kinds::{CalendarSettings, InvitationSettings, KindFields, SprechstundeFields};
use crate::render::calendar::{self, Itip, Method};
use crate::render::context::obj;
use crate::render::templates::Templates;
use crate::site::{Page, PageId, Section, Site};
use crate::time::{GermanFormat, format_german};
use crate::yaml::fact::{Fact, known};

pub const HTML_TEMPLATE: &str = "invitation.mjml";
pub const TEXT_TEMPLATE: &str = "invitation.txt";
/// The attachment's file name, as calendar programs show it.
pub const CALENDAR_FILE: &str = "einladung.ics";

/// A Sprechstunde that invitations go out for, with its section's settings.
#[derive(Debug, Clone, Copy)]
pub struct Session<'a> {
    pub id: PageId,
    pub page: &'a Page,
    pub section: &'a Section,
    pub fields: &'a SprechstundeFields,
    pub settings: &'a InvitationSettings,
}

impl Session<'_> {
    /// The list the invitations go to.
    pub fn list(&self) -> &str {
        &self.settings.list
    }
}

/// The published Sprechstunde `number`, if its section sends invitations.
pub fn session(site: &Site, number: u32) -> Result<Session<'_>, Diagnostic> {
    let (id, page, fields) = site
        .pages
        .iter()
        .enumerate()
        .find_map(|(id, p)| match &p.fields {
            KindFields::Sprechstunde(f) if f.number == number => Some((id, p, f.as_ref())),
            _ => None,
        })
        .ok_or_else(|| {
            Diagnostic::error(format!("there is no published Sprechstunde number {number}"))
                .hint("Sprechstunden are pages with `number:` in a section of `kind: sprechstunde`; drafts and pages published later are not there yet (try --drafts or --now)")
        })?;
    session_of(site, id, page, fields)
}

/// The published Sprechstunden whose sections send invitations.
pub fn sessions(site: &Site) -> Vec<Session<'_>> {
    site.pages
        .iter()
        .enumerate()
        .filter_map(|(id, p)| match &p.fields {
            KindFields::Sprechstunde(f) => session_of(site, id, p, f).ok(),
            _ => None,
        })
        .collect()
}

fn session_of<'a>(
    site: &'a Site,
    id: PageId,
    page: &'a Page,
    fields: &'a SprechstundeFields,
) -> Result<Session<'a>, Diagnostic> {
    let section = site.sections.get(page.section).ok_or_else(|| {
        Diagnostic::error(format!(
            "the {}. Sprechstunde has no section",
            fields.number
        ))
    })?;
    let settings = section.front.invitation.as_ref().ok_or_else(|| {
        Diagnostic::error(format!(
            "the section of the {}. Sprechstunde sends no invitations",
            fields.number
        ))
        .in_file(section.file.shown.clone())
        .hint("add `invitation: {list: sprechstunden}` to the front matter (the list must be one of `newsletter.lists` in site.yaml)")
    })?;
    let declared = site
        .config
        .site
        .newsletter
        .as_ref()
        .map(NewsletterConfig::list_ids)
        .unwrap_or_default();
    if !declared.contains(&settings.list) {
        return Err(Diagnostic::error(format!(
            "the invitations of this section go to the list `{}`, which site.yaml does not declare",
            settings.list
        ))
        .at(section
            .split
            .yaml_source(&section.file)
            // The `list:` under `invitation:` (the word alone may stand in `kind:` above it).
            .value_location(&format!("list: {}", settings.list), "invitation"))
        .hint(format!(
            "use one of `newsletter.lists` in {CONFIG_FILE}: {}",
            declared.join(", ")
        )));
    }
    Ok(Session {
        id,
        page,
        section,
        fields,
        settings,
    })
}

/// For `check`: each section with `invitation:` names a declared list, and the invitation of
/// every Sprechstunde still to come whose time is known renders with the theme's templates.
pub fn check(site: &Arc<Site>, theme: &crate::theme::Theme) -> Result<(), Diagnostics> {
    let mut errors = Diagnostics::new();
    let mut seen = std::collections::HashSet::new();
    let mut upcoming = Vec::new();
    for (id, page) in site.pages.iter().enumerate() {
        let KindFields::Sprechstunde(fields) = &page.fields else {
            continue;
        };
        let invites = site
            .sections
            .get(page.section)
            .is_some_and(|s| s.front.invitation.is_some());
        if !invites {
            continue;
        }
        match session_of(site, id, page, fields) {
            Ok(session) => {
                let to_come = page.starts_at.as_ref().is_some_and(|s| *s > site.now);
                if let (true, Ok(facts)) = (to_come, facts(&session)) {
                    upcoming.push((session, facts));
                }
            }
            Err(d) => {
                if seen.insert(page.section) {
                    errors.push(d);
                }
            }
        }
    }
    if errors.has_errors() {
        return Err(errors);
    }
    if upcoming.is_empty() {
        return Ok(());
    }
    let config = super::settings(site)?;
    theme.require_email_templates(&[HTML_TEMPLATE, TEXT_TEMPLATE])?;
    let templates = crate::render::email_templates(site, theme)?;
    for (session, facts) in upcoming {
        render(
            site,
            &templates,
            config,
            &session,
            0,
            Kind::First,
            facts,
            site.now.timestamp(),
        )?;
    }
    Ok(())
}

/// What a version of the invitation states, as the journal keeps it: date, time, place and
/// whether it takes place. An open time cannot go into anyone's calendar: it is an error at
/// its line that says what to do.
pub fn facts(session: &Session<'_>) -> Result<String, Diagnostic> {
    let Session { page, fields, .. } = session;
    for (key, fact) in [("start", &fields.start), ("end", &fields.end)] {
        if let Fact::Open(open) = fact {
            let mut d = Diagnostic::error(format!(
                "the {}. Sprechstunde has no {key} time yet (`{key}: offen`), so its invitation cannot be sent",
                fields.number
            ))
            .at(page.split.yaml_source(&page.file).key_location(key))
            .hint(format!(
                "write the time as `{key}: \"13:00\"` once it is known; the invitation goes out with the next run"
            ));
            if let Some(note) = &open.note {
                d = d.note(format!("the note says: {note}"));
            }
            return Err(d);
        }
    }
    let (Some(start), Some(end)) = (&page.starts_at, &page.ends_at) else {
        return Err(Diagnostic::error(format!(
            "the {}. Sprechstunde has no date and time",
            fields.number
        ))
        .in_file(page.file.shown.clone()));
    };
    let place = calendar::location(page).unwrap_or_default();
    let status = if fields.cancelled {
        "CANCELLED"
    } else {
        "CONFIRMED"
    };
    Ok(format!(
        "{}/{}/{place}/{status}",
        crate::time::rfc3339(start),
        crate::time::rfc3339(end)
    ))
}

/// The version to send for `facts`, given the latest version started before (`SEQUENCE` and
/// its facts): the same one again while nothing changed, else the next. `None`: called off
/// before any invitation went out, so nobody needs to hear of it.
pub fn next_version(
    latest: Option<(u32, &str)>,
    facts: &str,
    cancelled: bool,
) -> Option<(u32, Kind)> {
    let kind = |sequence: u32| match (cancelled, sequence) {
        (true, _) => Kind::Cancel,
        (false, 0) => Kind::First,
        (false, _) => Kind::Update,
    };
    match latest {
        None if cancelled => None,
        None => Some((0, Kind::First)),
        Some((sequence, sent)) if sent == facts => Some((sequence, kind(sequence))),
        Some((sequence, _)) => {
            let next = sequence.saturating_add(1);
            Some((next, kind(next)))
        }
    }
}

/// The mail of one version: HTML and text from the theme's `email/invitation.*` with
/// placeholders for each recipient, and the calendar.
#[allow(clippy::too_many_arguments)]
pub fn render(
    site: &Arc<Site>,
    templates: &Templates,
    config: &NewsletterConfig,
    session: &Session<'_>,
    sequence: u32,
    kind: Kind,
    facts: String,
    now: jiff::Timestamp,
) -> Result<Edition, Diagnostics> {
    let Session {
        id,
        page,
        section,
        fields,
        ..
    } = *session;
    let calendar_settings = section
        .front
        .calendar
        .clone()
        .unwrap_or_else(|| CalendarSettings {
            file: String::new(),
            event_file: String::new(),
            name: None,
            event_prefix: None,
        });
    let event = calendar::summary(page, &calendar_settings);
    let date = page
        .starts_at
        .as_ref()
        .map(|z| format_german(z.datetime(), GermanFormat::Short))
        .unwrap_or_default();
    let template = match kind {
        Kind::First => &session.settings.subject,
        Kind::Update => &session.settings.update_subject,
        Kind::Cancel => &session.settings.cancel_subject,
    };
    let subject = one_line(&template.replace("{event}", &event).replace("{date}", &date));
    let (organizer_name, organizer_email) = organizer(config)?;
    let itip = Itip {
        method: if kind == Kind::Cancel {
            Method::Cancel
        } else {
            Method::Request
        },
        sequence,
        organizer_name,
        organizer_email,
        stamp: now,
    };
    let calendar = calendar::invitation(site, page, &calendar_settings, &itip);
    let addresses = Addresses::of(site, page);
    let list_title = config
        .lists()
        .into_iter()
        .find(|l| l.id == session.settings.list)
        .map(|l| l.title)
        .unwrap_or_else(|| session.settings.list.clone());
    let ctx = context(
        site,
        session,
        &addresses,
        kind,
        &subject,
        &event,
        &list_title,
    );
    let html = finish_html(templates, HTML_TEMPLATE, &ctx, &page.file.shown, &addresses)?;
    let text = finish_text(templates, TEXT_TEMPLATE, &ctx, &page.file.shown)?;
    Ok(Edition {
        number: fields.number,
        page: id,
        subject,
        html,
        text,
        web_url: addresses.web_url,
        opening: salutation_without_name(config),
        invitation: Some(Arc::new(Invitation {
            uid: calendar::uid(site, page),
            sequence,
            kind,
            facts,
            calendar,
        })),
    })
}

/// `text` on one line: a line break or other control character in a title (YAML allows
/// `"a\nb"`) must not reach the `Subject:` header, where it would start a header of its own.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_control())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The salutation for recipients without a name: `newsletter.salutation` without its
/// `{name}` ("Guten Tag {name}," → "Guten Tag,"), so every invitation opens with one.
fn salutation_without_name(config: &NewsletterConfig) -> String {
    let words: Vec<&str> = config
        .salutation
        .split_whitespace()
        .filter(|w| !w.contains("{name}"))
        .collect();
    let mut s = words.join(" ");
    if let Some(last) = config
        .salutation
        .split_whitespace()
        .last()
        .filter(|w| w.contains("{name}"))
    {
        // "{name}," keeps its comma: "Guten Tag,".
        s.push_str(&last.replace("{name}", ""));
    }
    if s.chars().any(char::is_alphabetic) {
        s.trim().to_string()
    } else {
        String::new()
    }
}

/// `newsletter.organizer`, else `reply_to`, else `from`, as name and address.
fn organizer(config: &NewsletterConfig) -> Result<(String, String), Diagnostic> {
    let (key, value) = match (&config.organizer, &config.reply_to) {
        (Some(o), _) => ("organizer", o),
        (None, Some(r)) => ("reply_to", r),
        (None, None) => ("from", &config.from),
    };
    let mailbox: lettre::message::Mailbox = value.parse().map_err(|e| {
        Diagnostic::error(format!(
            "`newsletter.{key}` is not a valid e-mail address: {e}"
        ))
        .in_file(CONFIG_FILE)
        .hint("write it like `Landeskoordination OZG <ozg@sachsen-anhalt.de>`")
    })?;
    Ok((mailbox.name.unwrap_or_default(), mailbox.email.to_string()))
}

/// The values the invitation templates see: `session` (as pages see it), `invitation` and
/// `recipient`.
fn context(
    site: &Arc<Site>,
    session: &Session<'_>,
    addresses: &Addresses,
    kind: Kind,
    subject: &str,
    event: &str,
    list_title: &str,
) -> Context {
    let page = session.page;
    let fields = session.fields;
    let summary = crate::render::context::page_summary(site, page);
    let full = crate::render::context::page_full(site, session.id, &summary);
    let opt = |s: Option<String>| s.map_or_else(Value::none, Value::from);
    let when = |z: Option<&jiff::Zoned>, f: GermanFormat| {
        z.map(|z| format_german(z.datetime(), f))
            .unwrap_or_default()
    };
    let contact = fields.contact.as_ref().map(|c| {
        obj(vec![
            ("name", opt(known(&c.name).cloned())),
            ("organisation", opt(c.organisation.clone())),
            ("email", opt(known(&c.email).cloned())),
            ("phone", opt(known(&c.phone).cloned())),
        ])
    });
    let preheader = match kind {
        Kind::First => format!(
            "Einladung zur {event} am {}, {}–{} Uhr",
            when(page.starts_at.as_ref(), GermanFormat::Long),
            when(page.starts_at.as_ref(), GermanFormat::Time),
            when(page.ends_at.as_ref(), GermanFormat::Time)
        ),
        Kind::Update => format!(
            "Neuer Stand: {}, {}–{} Uhr",
            when(page.starts_at.as_ref(), GermanFormat::Long),
            when(page.starts_at.as_ref(), GermanFormat::Time),
            when(page.ends_at.as_ref(), GermanFormat::Time)
        ),
        Kind::Cancel => format!(
            "Die Sprechstunde am {} findet nicht statt.",
            when(page.starts_at.as_ref(), GermanFormat::Long)
        ),
    };
    let invitation = obj(vec![
        ("kind", Value::from(kind.name())),
        ("subject", Value::from(subject)),
        ("event", Value::from(event)),
        ("preheader", Value::from(preheader)),
        ("web_url", Value::from(addresses.web_url.as_str())),
        (
            "date",
            Value::from(when(page.starts_at.as_ref(), GermanFormat::Long)),
        ),
        (
            "start",
            Value::from(when(page.starts_at.as_ref(), GermanFormat::Time)),
        ),
        (
            "end",
            Value::from(when(page.ends_at.as_ref(), GermanFormat::Time)),
        ),
        ("location", opt(calendar::location(page))),
        (
            "registration",
            opt(known(&fields.registration).map(|r| addresses.absolute(r))),
        ),
        (
            "agenda",
            Value::from(
                fields
                    .agenda
                    .iter()
                    .map(|a| Value::from(a.as_str()))
                    .collect::<Vec<_>>(),
            ),
        ),
        ("contact", contact.unwrap_or_else(Value::none)),
        ("calendar_file", Value::from(CALENDAR_FILE)),
        ("list_title", Value::from(list_title)),
        ("footer_navigation", footer_navigation(site, addresses)),
    ]);
    let mut ctx = Context::new();
    ctx.insert_value("session", full);
    ctx.insert_value("invitation", invitation);
    ctx.insert_value("recipient", recipient_placeholders());
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_with_line_breaks_makes_a_subject_of_one_line() {
        assert_eq!(
            one_line("Terminanfrage: Teil\r\nBcc: x@example.org\u{1b}[31m am  1.2."),
            "Terminanfrage: Teil Bcc: x@example.org [31m am 1.2."
        );
    }

    #[test]
    fn recipients_without_a_name_get_the_salutation_without_it() {
        let mut c: NewsletterConfig = serde_yaml::from_str("from: team@example.org").unwrap();
        for (with, without) in [
            ("Guten Tag {name},", "Guten Tag,"),
            ("Hallo {name}!", "Hallo!"),
            ("{name},", ""),
            (
                "Sehr geehrte Damen und Herren,",
                "Sehr geehrte Damen und Herren,",
            ),
        ] {
            c.salutation = with.into();
            assert_eq!(salutation_without_name(&c), without, "{with}");
        }
    }

    #[test]
    fn a_version_is_sent_again_only_while_its_facts_stand() {
        let a = "2026-01-21T13:00:00+01:00/2026-01-21T14:00:00+01:00//CONFIRMED";
        let b = "2026-01-21T14:00:00+01:00/2026-01-21T15:00:00+01:00//CONFIRMED";
        let off = "2026-01-21T14:00:00+01:00/2026-01-21T15:00:00+01:00//CANCELLED";
        assert_eq!(next_version(None, a, false), Some((0, Kind::First)));
        // Called off before anyone was invited: nothing to say.
        assert_eq!(next_version(None, off, true), None);
        // The same facts: the same version (its journal sends nothing twice).
        assert_eq!(next_version(Some((0, a)), a, false), Some((0, Kind::First)));
        assert_eq!(
            next_version(Some((0, a)), b, false),
            Some((1, Kind::Update))
        );
        assert_eq!(
            next_version(Some((1, b)), b, false),
            Some((1, Kind::Update))
        );
        assert_eq!(
            next_version(Some((1, b)), off, true),
            Some((2, Kind::Cancel))
        );
        assert_eq!(
            next_version(Some((2, off)), off, true),
            Some((2, Kind::Cancel))
        );
        // Taking place after all: a new request to everybody.
        assert_eq!(
            next_version(Some((2, off)), b, false),
            Some((3, Kind::Update))
        );
        assert_eq!(
            next_version(Some((u32::MAX, a)), b, false),
            Some((u32::MAX, Kind::Update))
        );
    }
}
