//! Dates and times as editors write them, and as German readers expect to read them.
//!
//! Front matter holds local wall-clock values (`2025-12-03`, `13:00`, `2025-12-01 12:00`); they only
//! become instants once combined with the site's timezone, which is where the CET/CEST switch is
//! handled (by jiff's tz database, bundled into the binary so every machine agrees).

use std::fmt;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar date: `2025-12-03` or the German `03.12.2025`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalDate(pub Date);

/// A wall-clock time: `13:00` or `13:00:30`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime(pub Time);

/// A moment as written in front matter: local wall-clock or an exact instant with an offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateTimeInput {
    Local(DateTime),
    Exact(Timestamp),
}

impl LocalDate {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(d) = s.parse::<Date>() {
            return Ok(LocalDate(d));
        }
        let parts: Vec<&str> = s.split('.').collect();
        if let [d, m, y] = parts.as_slice()
            && let (Ok(d), Ok(m), Ok(y)) = (d.parse::<i8>(), m.parse::<i8>(), y.parse::<i16>())
            && y > 999
        {
            return Date::new(y, m, d)
                .map(LocalDate)
                .map_err(|_| format!("`{s}` is not a date that exists"));
        }
        Err(format!(
            "`{s}` is not a date; write it as YYYY-MM-DD (e.g. 2025-12-03) or DD.MM.YYYY"
        ))
    }
}

impl LocalTime {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().trim_end_matches(" Uhr");
        let parsed = s.parse::<Time>().ok().or_else(|| {
            s.len()
                .le(&2)
                .then(|| s.parse::<i8>().ok())
                .flatten()
                .and_then(|h| Time::new(h, 0, 0, 0).ok())
        });
        parsed.map(LocalTime).ok_or_else(|| {
            format!("`{s}` is not a time; write it as HH:MM in 24-hour form (e.g. \"13:00\")")
        })
    }
}

impl DateTimeInput {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(ts) = s.parse::<Timestamp>() {
            return Ok(DateTimeInput::Exact(ts));
        }
        if let Ok(dt) = s.replacen(' ', "T", 1).parse::<DateTime>() {
            return Ok(DateTimeInput::Local(dt));
        }
        if let Ok(LocalDate(d)) = LocalDate::parse(s) {
            return Ok(DateTimeInput::Local(d.to_datetime(Time::midnight())));
        }
        Err(format!(
            "`{s}` is not a date-time; write it as YYYY-MM-DD HH:MM (site time, e.g. 2025-12-01 12:00) \
             or RFC 3339 with an offset (e.g. 2025-12-01T12:00:00+01:00)"
        ))
    }

    /// The instant this names in the site's timezone. A wall-clock time that does not exist (skipped
    /// by the spring DST switch) or exists twice (autumn) is an error, not a guess.
    pub fn resolve(&self, tz: &TimeZone) -> Result<Zoned, String> {
        match self {
            DateTimeInput::Exact(ts) => Ok(ts.to_zoned(tz.clone())),
            DateTimeInput::Local(dt) => local_to_zoned(*dt, tz),
        }
    }
}

/// Combines a wall-clock date-time with the site's timezone, rejecting gaps and folds.
pub fn local_to_zoned(dt: DateTime, tz: &TimeZone) -> Result<Zoned, String> {
    let ambiguous = tz.to_ambiguous_zoned(dt);
    if ambiguous.is_ambiguous() {
        let kind = if matches!(ambiguous.offset(), jiff::tz::AmbiguousOffset::Gap { .. }) {
            "does not exist (the clocks skip it for daylight saving time)"
        } else {
            "exists twice (the clocks go back for daylight saving time)"
        };
        return Err(format!(
            "{dt} {kind} in {}; pick another time or give the offset, e.g. {}+01:00",
            tz.iana_name().unwrap_or("the site's timezone"),
            dt.strftime("%Y-%m-%dT%H:%M:%S")
        ));
    }
    ambiguous.unambiguous().map_err(|e| e.to_string())
}

/// Deserialises from text (or a bare YAML number) and parses inside the visitor, so a parse error
/// carries serde_yaml's position of the value.
macro_rules! string_deserialize {
    ($ty:ty, $expecting:literal) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        <$ty>::parse(v).map_err(E::custom)
                    }
                    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<$ty, E> {
                        <$ty>::parse(&v.to_string()).map_err(E::custom)
                    }
                    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<$ty, E> {
                        <$ty>::parse(&v.to_string()).map_err(E::custom)
                    }
                }
                d.deserialize_any(Visitor)
            }
        }
    };
}
string_deserialize!(LocalDate, "a date written as text, e.g. 2025-12-03");
string_deserialize!(LocalTime, "a time written as text, e.g. \"13:00\"");
string_deserialize!(
    DateTimeInput,
    "a date-time written as text, e.g. 2025-12-01 12:00"
);

impl Serialize for LocalDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl Serialize for DateTimeInput {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            DateTimeInput::Local(dt) => s.collect_str(&dt.strftime("%Y-%m-%d %H:%M")),
            DateTimeInput::Exact(ts) => s.collect_str(ts),
        }
    }
}

impl Serialize for LocalTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.strftime("%H:%M"))
    }
}

impl fmt::Display for LocalDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// RFC 3339 with the numeric offset (no bracketed zone name), as feeds, calendars and `schedule` want.
pub fn rfc3339(z: &Zoned) -> String {
    z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// Parses `--now` / `OZG_SITE_NOW`: RFC 3339 with an offset.
pub fn parse_now(s: &str) -> Result<Timestamp, String> {
    s.trim().parse::<Timestamp>().map_err(|_| {
        format!("`{s}` is not an RFC 3339 time with offset, e.g. 2025-12-05T13:00:00+01:00")
    })
}

const WEEKDAYS: [&str; 7] = [
    "Montag",
    "Dienstag",
    "Mittwoch",
    "Donnerstag",
    "Freitag",
    "Samstag",
    "Sonntag",
];
const MONTHS: [&str; 12] = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
];

/// The ways a theme may ask for a date to be written, in German.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GermanFormat {
    /// 03.12.2025
    Short,
    /// Mittwoch, 3. Dezember 2025
    Long,
    /// 3. Dezember
    DayMonth,
    /// Dezember 2025
    MonthYear,
    /// 13:00
    Time,
    /// Mittwoch
    Weekday,
    /// 2025-12-03
    Iso,
    /// 2025
    Year,
}

impl GermanFormat {
    pub const NAMES: &'static str = "short, long, day_month, month_year, time, weekday, iso, year";

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "short" => Self::Short,
            "long" => Self::Long,
            "day_month" => Self::DayMonth,
            "month_year" => Self::MonthYear,
            "time" => Self::Time,
            "weekday" => Self::Weekday,
            "iso" => Self::Iso,
            "year" => Self::Year,
            _ => return None,
        })
    }
}

/// Writes a date-time in German. Times without a date (`Time` on a bare date) print `00:00`.
pub fn format_german(dt: DateTime, format: GermanFormat) -> String {
    let d = dt.date();
    // jiff keeps the offset in 0..=6 and the month in 1..=12: both names are always there.
    let weekday = WEEKDAYS
        .get(d.weekday().to_monday_zero_offset() as usize)
        .copied()
        .unwrap_or_default();
    let month = MONTHS
        .get((d.month() - 1) as usize)
        .copied()
        .unwrap_or_default();
    match format {
        GermanFormat::Short => format!("{:02}.{:02}.{}", d.day(), d.month(), d.year()),
        GermanFormat::Long => format!("{weekday}, {}. {month} {}", d.day(), d.year()),
        GermanFormat::DayMonth => format!("{}. {month}", d.day()),
        GermanFormat::MonthYear => format!("{month} {}", d.year()),
        GermanFormat::Time => format!("{:02}:{:02}", dt.hour(), dt.minute()),
        GermanFormat::Weekday => weekday.to_string(),
        GermanFormat::Iso => d.to_string(),
        GermanFormat::Year => d.year().to_string(),
    }
}

/// Reads what templates hold (`2025-12-03`, RFC 3339, a zoned string) as wall-clock time in `tz`.
pub fn parse_template_value(s: &str, tz: &TimeZone) -> Option<DateTime> {
    if let Ok(z) = s.parse::<Zoned>() {
        return Some(z.with_time_zone(tz.clone()).datetime());
    }
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Some(ts.to_zoned(tz.clone()).datetime());
    }
    if let Ok(d) = s.parse::<Date>() {
        return Some(d.to_datetime(Time::midnight()));
    }
    s.parse::<DateTime>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }

    #[test]
    fn dates_in_iso_and_german_form() {
        assert_eq!(
            LocalDate::parse("2025-12-03").unwrap().0,
            jiff::civil::date(2025, 12, 3)
        );
        assert_eq!(
            LocalDate::parse("03.12.2025").unwrap().0,
            jiff::civil::date(2025, 12, 3)
        );
        assert!(
            LocalDate::parse("31.02.2025")
                .unwrap_err()
                .contains("exists")
        );
        assert!(LocalDate::parse("morgen").is_err());
    }

    #[test]
    fn winter_time_is_cet_and_summer_time_is_cest() {
        let winter = DateTimeInput::parse("2025-12-03 13:00")
            .unwrap()
            .resolve(&berlin())
            .unwrap();
        assert_eq!(rfc3339(&winter), "2025-12-03T13:00:00+01:00");
        let summer = DateTimeInput::parse("2025-04-23 13:00")
            .unwrap()
            .resolve(&berlin())
            .unwrap();
        assert_eq!(rfc3339(&summer), "2025-04-23T13:00:00+02:00");
    }

    #[test]
    fn dst_gap_and_fold_are_errors() {
        let gap = DateTimeInput::parse("2025-03-30 02:30")
            .unwrap()
            .resolve(&berlin());
        assert!(gap.unwrap_err().contains("does not exist"));
        let fold = DateTimeInput::parse("2025-10-26 02:30")
            .unwrap()
            .resolve(&berlin());
        assert!(fold.unwrap_err().contains("exists twice"));
    }

    #[test]
    fn exact_instants_keep_their_moment() {
        let z = DateTimeInput::parse("2025-12-01T11:00:00Z")
            .unwrap()
            .resolve(&berlin())
            .unwrap();
        assert_eq!(rfc3339(&z), "2025-12-01T12:00:00+01:00");
    }

    #[test]
    fn german_formats() {
        let dt = jiff::civil::date(2025, 12, 3).at(13, 0, 0, 0);
        assert_eq!(format_german(dt, GermanFormat::Short), "03.12.2025");
        assert_eq!(
            format_german(dt, GermanFormat::Long),
            "Mittwoch, 3. Dezember 2025"
        );
        assert_eq!(format_german(dt, GermanFormat::DayMonth), "3. Dezember");
        assert_eq!(format_german(dt, GermanFormat::MonthYear), "Dezember 2025");
        assert_eq!(format_german(dt, GermanFormat::Time), "13:00");
        let march = jiff::civil::date(2026, 3, 1).at(0, 0, 0, 0);
        assert_eq!(format_german(march, GermanFormat::MonthYear), "März 2026");
    }

    #[test]
    fn template_values_convert_to_site_time() {
        let dt = parse_template_value("2025-04-23T11:00:00Z", &berlin()).unwrap();
        assert_eq!(format_german(dt, GermanFormat::Time), "13:00");
        let d = parse_template_value("2025-04-23", &berlin()).unwrap();
        assert_eq!(format_german(d, GermanFormat::Short), "23.04.2025");
    }

    #[test]
    fn times() {
        assert_eq!(
            LocalTime::parse("13:00").unwrap().0,
            Time::new(13, 0, 0, 0).unwrap()
        );
        assert_eq!(
            LocalTime::parse("9").unwrap().0,
            Time::new(9, 0, 0, 0).unwrap()
        );
        assert!(LocalTime::parse("25:00").is_err());
    }
}
