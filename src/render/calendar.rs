//! iCalendar files (RFC 5545) for sections of dated sessions and events, so readers can put a
//! Sprechstunde into Outlook with one click. Times carry `TZID` and a `VTIMEZONE` derived from the
//! site's time zone rules, so clients show the right wall-clock time across the DST switch.
//!
//! An open fact is never written as if it were known: a session whose start is `offen` is an
//! all-day entry on its date until the time is known; one whose end alone is open has its start
//! and no end (RFC 5545 §3.6.1: it ends where it starts, which calendar apps show as a point in
//! time), because the start is what a reader needs and any duration would be a guess; an open
//! place is left out rather than written as "offen".

use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::{Dst, TimeZone};

use crate::parse::kinds::{CalendarSettings, KindFields};
use crate::site::{Page, Section, Site};
use crate::yaml::fact::{Fact, known};

/// The calendar of a whole section.
pub fn section_calendar(site: &Site, section: &Section, settings: &CalendarSettings) -> String {
    let events: Vec<&Page> = section
        .pages
        .iter()
        .map(|p| &site.pages[*p])
        .filter(|p| p.starts_at.is_some())
        .collect();
    let name = settings
        .name
        .clone()
        .unwrap_or_else(|| format!("{} – {}", section.front.title, site.config.site.title));
    calendar(site, &name, settings, &events)
}

/// A calendar with a single event, for the "in den Kalender eintragen" link of one page.
pub fn page_calendar(site: &Site, page: &Page, settings: &CalendarSettings) -> String {
    calendar(site, &page.common.title, settings, &[page])
}

fn calendar(site: &Site, name: &str, settings: &CalendarSettings, events: &[&Page]) -> String {
    let tzid = tzid(site);
    let mut out = head("PUBLISH");
    line(&mut out, &format!("X-WR-CALNAME:{}", text(name)));
    line(&mut out, &format!("X-WR-TIMEZONE:{tzid}"));
    out.push_str(&timezone(site, events));
    for page in events {
        event(&mut out, site, page, settings, None);
    }
    line(&mut out, "END:VCALENDAR");
    out
}

fn tzid(site: &Site) -> &str {
    site.config.tz.iana_name().unwrap_or("UTC")
}

fn head(method: &str) -> String {
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//ozg-site//ozg-site//DE");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, &format!("METHOD:{method}"));
    out
}

/// The `VTIMEZONE` for the earliest year of `events`.
fn timezone(site: &Site, events: &[&Page]) -> String {
    let year = events
        .iter()
        .filter_map(|p| p.starts_at.as_ref())
        .map(|z| z.year())
        .min()
        .unwrap_or(2025);
    let mut out = String::new();
    vtimezone(&mut out, &site.config.tz, tzid(site), year);
    out
}

/// The calendar `UID` of a page: the same in the site's calendars and in every invitation, so
/// an update or a cancellation finds the event a reader already has.
pub fn uid(site: &Site, page: &Page) -> String {
    let host = site
        .config
        .base_url
        .split("://")
        .nth(1)
        .unwrap_or("localhost")
        .split('/')
        .next()
        .unwrap_or("localhost")
        .to_string();
    format!("{}@{host}", page.path.trim_matches('/').replace('/', "-"))
}

/// Whether a Sprechstunde is called off (`cancelled: true`).
pub fn is_cancelled(page: &Page) -> bool {
    matches!(&page.fields, KindFields::Sprechstunde(s) if s.cancelled)
}

/// The scheduling message (iTIP, RFC 5546) an invitation carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A new or changed event: calendar programs offer to add it, or update the one they have
    /// with the same `UID` when the `SEQUENCE` is higher.
    Request,
    /// The event is called off: calendar programs offer to remove it.
    Cancel,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
        }
    }
}

/// What an invitation's calendar says beyond the event itself.
#[derive(Debug, Clone)]
pub struct Itip {
    pub method: Method,
    pub sequence: u32,
    /// `ORGANIZER`: the name (may be empty) and address replies go to.
    pub organizer_name: String,
    pub organizer_email: String,
    /// When this version was made (`DTSTAMP`).
    pub stamp: Timestamp,
}

/// An invitation's calendar with the place of the recipient's `ATTENDEE` line left open: one
/// rendering serves every recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItipCalendar {
    before: String,
    after: String,
    pub method: Method,
}

impl ItipCalendar {
    /// The calendar for one recipient. `RSVP=FALSE`: registering is the Sprechstunde's own way
    /// (its `registration`), and a thousand accept mails to the organiser would help nobody.
    pub fn for_attendee(&self, name: Option<&str>, email: &str) -> String {
        let mut attendee = String::from("ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT");
        attendee.push_str(match self.method {
            Method::Request => ";PARTSTAT=NEEDS-ACTION;RSVP=FALSE",
            Method::Cancel => "",
        });
        if let Some(name) = name.map(param).filter(|n| !n.is_empty()) {
            attendee.push_str(&format!(";CN=\"{name}\""));
        }
        attendee.push_str(&format!(":mailto:{}", uri_safe(email)));
        let mut out = self.before.clone();
        line(&mut out, &attendee);
        out.push_str(&self.after);
        out
    }
}

/// The invitation's calendar for `page`: `METHOD:REQUEST` or `CANCEL`, the event with `SEQUENCE`,
/// `ORGANIZER` and (for a cancellation) `STATUS:CANCELLED`.
pub fn invitation(
    site: &Site,
    page: &Page,
    settings: &CalendarSettings,
    itip: &Itip,
) -> ItipCalendar {
    let mut out = head(itip.method.name());
    out.push_str(&timezone(site, &[page]));
    let split = event(&mut out, site, page, settings, Some(itip)).unwrap_or(out.len());
    line(&mut out, "END:VCALENDAR");
    let (before, after) = out.split_at(split.min(out.len()));
    ItipCalendar {
        before: before.to_string(),
        after: after.to_string(),
        method: itip.method,
    }
}

/// Appends the `VEVENT` of `page`; with `itip`, returns where the `ATTENDEE` line goes.
fn event(
    out: &mut String,
    site: &Site,
    page: &Page,
    settings: &CalendarSettings,
    itip: Option<&Itip>,
) -> Option<usize> {
    let tzid = tzid(site);
    let (Some(start), Some(end)) = (&page.starts_at, &page.ends_at) else {
        return None;
    };
    let permalink = site.config.permalink(&page.path);
    line(out, "BEGIN:VEVENT");
    line(out, &format!("UID:{}", uid(site, page)));
    let stamp = match itip {
        Some(itip) => itip.stamp,
        None => {
            // DTSTAMP must be UTC; the page's date keeps the file identical between builds.
            let stamp_date = page.common.updated.or(page.fields.date()).map(|d| d.0);
            stamp_date
                .and_then(|d| d.to_zoned(TimeZone::UTC).ok())
                .map(|z| z.timestamp())
                .unwrap_or(start.timestamp())
        }
    };
    line(
        out,
        &format!("DTSTAMP:{}", stamp.strftime("%Y%m%dT%H%M%SZ")),
    );
    match page.fields.times() {
        Some((Fact::Known(_), end_fact)) => {
            line(
                out,
                &format!("DTSTART;TZID={tzid}:{}", start.strftime("%Y%m%dT%H%M%S")),
            );
            if !end_fact.is_open() {
                line(
                    out,
                    &format!("DTEND;TZID={tzid}:{}", end.strftime("%Y%m%dT%H%M%S")),
                );
            }
        }
        _ => {
            // The start is open: the date is all that is known.
            let day = start.date();
            let next = day.tomorrow().unwrap_or(day);
            line(
                out,
                &format!("DTSTART;VALUE=DATE:{}", day.strftime("%Y%m%d")),
            );
            line(
                out,
                &format!("DTEND;VALUE=DATE:{}", next.strftime("%Y%m%d")),
            );
        }
    }
    line(out, &format!("SUMMARY:{}", text(&summary(page, settings))));
    let mut description = page.common.description.clone().unwrap_or_default();
    if let KindFields::Sprechstunde(s) = &page.fields
        && !s.agenda.is_empty()
    {
        if !description.is_empty() {
            description.push_str("\n\n");
        }
        for (i, item) in s.agenda.iter().enumerate() {
            let _ = writeln!(description, "{}. {item}", i + 1);
        }
    }
    if !description.is_empty() {
        description.push('\n');
    }
    description.push_str(&permalink);
    line(
        out,
        &format!("DESCRIPTION:{}", text(description.trim_end())),
    );
    if let Some(location) = location(page) {
        line(out, &format!("LOCATION:{}", text(&location)));
    }
    line(out, &format!("URL:{permalink}"));
    let cancelled = is_cancelled(page) || itip.is_some_and(|i| i.method == Method::Cancel);
    line(
        out,
        if cancelled {
            "STATUS:CANCELLED"
        } else {
            "STATUS:CONFIRMED"
        },
    );
    let split = itip.map(|itip| {
        line(out, &format!("SEQUENCE:{}", itip.sequence));
        line(out, "TRANSP:OPAQUE");
        let mut organizer = String::from("ORGANIZER");
        let name = param(&itip.organizer_name);
        if !name.is_empty() {
            organizer.push_str(&format!(";CN=\"{name}\""));
        }
        organizer.push_str(&format!(":mailto:{}", uri_safe(&itip.organizer_email)));
        line(out, &organizer);
        out.len()
    });
    line(out, "END:VEVENT");
    split
}

/// A parameter value for a quoted string (RFC 5545 §3.1): no `"` and no control character.
fn param(value: &str) -> String {
    value
        .chars()
        .filter(|c| *c != '"' && !c.is_control())
        .collect::<String>()
        .trim()
        .to_string()
}

/// An address as a `mailto:` value: non-ASCII letters percent-encoded (RFC 6068), and nothing
/// that could end a content line or the value (addresses reach here checked; this is the last
/// guard).
fn uri_safe(email: &str) -> String {
    let mut out = String::with_capacity(email.len());
    for c in email.chars() {
        if c.is_ascii_graphic() && !matches!(c, '"' | '<' | '>' | '\\' | '%') {
            out.push(c);
        } else if !c.is_ascii() {
            let mut bytes = [0; 4];
            for b in c.encode_utf8(&mut bytes).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

pub fn summary(page: &Page, settings: &CalendarSettings) -> String {
    match (&page.fields, &settings.event_prefix) {
        (KindFields::Sprechstunde(s), Some(prefix)) => {
            format!("{}. {prefix}: {}", s.number, page.common.title)
        }
        (_, Some(prefix)) => format!("{prefix}: {}", page.common.title),
        _ => page.common.title.clone(),
    }
}

/// The known parts of the place, or none: an open place is not a place.
pub fn location(page: &Page) -> Option<String> {
    let place = match &page.fields {
        KindFields::Sprechstunde(s) => known(&s.location).cloned(),
        KindFields::Event(e) => {
            let v = e.venue.known()?;
            let city = [known(&v.postal_code), known(&v.city)]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" ");
            Some(
                [
                    v.name.known().map(String::as_str),
                    known(&v.street).map(String::as_str),
                    (!city.is_empty()).then_some(city.as_str()),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", "),
            )
        }
        _ => None,
    };
    place.filter(|p| !p.trim().is_empty())
}

/// A VTIMEZONE with yearly rules read off the zone's transitions in `year`.
fn vtimezone(out: &mut String, tz: &TimeZone, tzid: &str, year: i16) {
    line(out, "BEGIN:VTIMEZONE");
    line(out, &format!("TZID:{tzid}"));
    let start = Date::new(year, 1, 1)
        .ok()
        .and_then(|d| d.to_zoned(tz.clone()).ok())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let transitions: Vec<_> = tz
        .following(start)
        .take_while(|t| t.timestamp().to_zoned(tz.clone()).year() == year)
        .take(2)
        .collect();
    if transitions.len() == 2 {
        for t in &transitions {
            let before = tz.to_offset(
                t.timestamp()
                    .checked_sub(jiff::SignedDuration::from_secs(1))
                    .unwrap_or(t.timestamp()),
            );
            let after = t.offset();
            // DTSTART is the wall-clock moment of the switch in the offset before it.
            let local = t.timestamp().to_zoned(TimeZone::fixed(before)).datetime();
            let kind = if t.dst() == Dst::Yes {
                "DAYLIGHT"
            } else {
                "STANDARD"
            };
            line(out, &format!("BEGIN:{kind}"));
            line(out, &format!("DTSTART:{}", local.strftime("%Y%m%dT%H%M%S")));
            line(out, &format!("TZOFFSETFROM:{}", ics_offset(before)));
            line(out, &format!("TZOFFSETTO:{}", ics_offset(after)));
            line(out, &format!("TZNAME:{}", t.abbreviation()));
            line(
                out,
                &format!(
                    "RRULE:FREQ=YEARLY;BYMONTH={};BYDAY={}",
                    local.month(),
                    byday(local.date())
                ),
            );
            line(out, &format!("END:{kind}"));
        }
    } else {
        // No DST (or rules changing that year): one fixed offset.
        let offset = tz.to_offset(start);
        line(out, "BEGIN:STANDARD");
        line(out, &format!("DTSTART:{year:04}0101T000000"));
        line(out, &format!("TZOFFSETFROM:{}", ics_offset(offset)));
        line(out, &format!("TZOFFSETTO:{}", ics_offset(offset)));
        line(out, "END:STANDARD");
    }
    line(out, "END:VTIMEZONE");
}

/// `-1SU` for the last Sunday of the month, `2SU` for the second, and so on.
fn byday(date: Date) -> String {
    let wd = match date.weekday() {
        Weekday::Monday => "MO",
        Weekday::Tuesday => "TU",
        Weekday::Wednesday => "WE",
        Weekday::Thursday => "TH",
        Weekday::Friday => "FR",
        Weekday::Saturday => "SA",
        Weekday::Sunday => "SU",
    };
    if date.day() + 7 > date.days_in_month() {
        format!("-1{wd}")
    } else {
        format!("{}{wd}", (date.day() - 1) / 7 + 1)
    }
}

fn ics_offset(offset: jiff::tz::Offset) -> String {
    let secs = offset.seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let secs = secs.abs();
    format!("{sign}{:02}{:02}", secs / 3600, (secs % 3600) / 60)
}

/// Escapes TEXT values (RFC 5545 §3.3.11): every line break an editor can type (CR LF, a bare CR,
/// LF, U+0085, U+2028, U+2029) becomes `\n`, so a value can never start a property of its own.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("\\n");
            }
            '\n' | '\u{85}' | '\u{2028}' | '\u{2029}' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line, folded at 75 octets without splitting a UTF-8 character, with CRLF.
/// Control characters are not allowed in content lines (RFC 5545 §3.1): a tab becomes a space,
/// every other one (a CR or LF that [`text`] did not see, ESC, NUL, DEL, C1) is dropped.
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let c = match c {
            '\t' => ' ',
            c if c.is_control() => continue,
            c => c,
        };
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_long_lines_at_75_octets_on_char_boundaries() {
        let mut out = String::new();
        let long = format!("SUMMARY:{}", "ä".repeat(60));
        line(&mut out, &long);
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets", l.len());
        }
        assert_eq!(out.replace("\r\n ", "").trim_end(), long);
    }

    #[test]
    fn escapes_text() {
        assert_eq!(text("a, b; c\\d\ne"), "a\\, b\\; c\\\\d\\ne");
    }

    #[test]
    fn no_line_break_or_control_character_reaches_a_content_line() {
        assert_eq!(text("a\r\nb\rc\nd\u{2028}e"), "a\\nb\\nc\\nd\\ne");
        let mut out = String::new();
        let value = "Titel\rX-EVIL:1\nBEGIN:VEVENT\u{1b}[31m\u{0}\u{7f}\u{85}\tEnde";
        line(&mut out, &format!("SUMMARY:{}", text(value)));
        line(&mut out, "URL:https://x.example/a\rb");
        assert_eq!(
            out,
            "SUMMARY:Titel\\nX-EVIL:1\\nBEGIN:VEVENT[31m\\n Ende\r\nURL:https://x.example/ab\r\n"
        );
    }

    #[test]
    fn a_hostile_attendee_cannot_add_a_property_or_break_the_value() {
        let cal = ItipCalendar {
            before: "BEGIN:VEVENT\r\n".into(),
            after: "END:VEVENT\r\n".into(),
            method: Method::Request,
        };
        let out = cal.for_attendee(
            Some("Eve\"\r\nATTENDEE:mailto:x@evil.example;\u{1b}[31m"),
            "jörg\r\n\"<>%@example.org",
        );
        let unfolded = out.replace("\r\n ", "");
        let lines: Vec<&str> = unfolded.split_terminator("\r\n").collect();
        assert_eq!(lines.len(), 3, "{out:?}");
        let attendee = lines[1];
        assert!(
            attendee.contains(";CN=\"EveATTENDEE:mailto:x@evil.example;[31m\":"),
            "{attendee}"
        );
        assert!(
            attendee.ends_with(":mailto:j%C3%B6rg@example.org"),
            "{attendee}"
        );
        let cancel = ItipCalendar {
            method: Method::Cancel,
            ..cal
        };
        let out = cancel.for_attendee(None, "a@example.org");
        assert!(
            out.contains(
                "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT:mailto:a@example.org\r\n"
            )
        );
        assert!(!out.contains("RSVP"));
    }

    #[test]
    fn berlin_rules_are_last_sundays() {
        let mut out = String::new();
        vtimezone(
            &mut out,
            &TimeZone::get("Europe/Berlin").unwrap(),
            "Europe/Berlin",
            2025,
        );
        assert!(out.contains("BEGIN:DAYLIGHT\r\nDTSTART:20250330T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200"), "{out}");
        assert!(out.contains("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"));
        assert!(out.contains("BEGIN:STANDARD\r\nDTSTART:20251026T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100"), "{out}");
        assert!(out.contains("RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU"));
    }

    #[test]
    fn byday_counts_weeks() {
        assert_eq!(byday(jiff::civil::date(2025, 3, 30)), "-1SU");
        assert_eq!(byday(jiff::civil::date(2025, 3, 9)), "2SU");
    }
}
