//! Facts an editor does not know yet: `start: offen` instead of an invented time.
//!
//! A [`Fact<T>`] is a value of the key's own type or the word `offen`, optionally with a note for
//! editors saying what is missing and who supplies it: `start: {offen: "Uhrzeit stimmt das
//! Referat 55 ab"}`. Readers never see the note; they see the theme's text ("Uhrzeit folgt"),
//! and `check` lists every open fact at its position until it is filled in.
//!
//! The type decides what may be left open: a key declared as `Fact<T>` accepts `offen`, every
//! other key does not. A required key stays required, so an editor writes `offen` consciously
//! instead of forgetting the key.
//!
//! Positions: serde_yaml lends plain and simply quoted scalars straight out of the text it parses.
//! [`YamlSource::parse`](crate::yaml::YamlSource::parse) tells this module where that text lies
//! in its file ([`with_source`]), so the deserialiser turns the borrowed `offen` into a byte
//! offset of the file while it reads it; nothing searches the text afterwards.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::diagnostics::{Diagnostic, Location};
use crate::time::{LocalDate, LocalTime};
use crate::yaml::YamlSource;

/// The word that leaves a fact open, in front matter and in `[offen: …]` in Markdown.
pub const OPEN_WORD: &str = "offen";

/// Required keys (as paths) whose type is a [`Fact`]: when one is missing, the hint says that
/// `offen` is an answer too. Kept beside the kinds' declarations in `kinds.rs`.
pub const REQUIRED_OPENABLE: &[&str] = &["start", "end", "venue", "venue.name"];

/// A value an editor knows, or one they marked as not known yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact<T> {
    Known(T),
    Open(OpenFact),
}

/// What an editor wrote instead of a value: `offen`, or `{offen: "note"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpenFact {
    /// What is missing and who supplies it, for editors (`check`, the preview); never for readers.
    pub note: Option<String>,
    /// Byte offset and length of the word `offen` in its file, when the YAML came from one.
    pub span: Option<(usize, usize)>,
}

impl<T> Fact<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Fact::Known(v) => Some(v),
            Fact::Open(_) => None,
        }
    }

    pub fn known_mut(&mut self) -> Option<&mut T> {
        match self {
            Fact::Known(v) => Some(v),
            Fact::Open(_) => None,
        }
    }

    pub fn open(&self) -> Option<&OpenFact> {
        match self {
            Fact::Known(_) => None,
            Fact::Open(o) => Some(o),
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self, Fact::Open(_))
    }
}

/// The known value of an optional fact (`None` when absent or open).
pub fn known<T>(fact: &Option<Fact<T>>) -> Option<&T> {
    fact.as_ref().and_then(Fact::known)
}

/// An open fact found in a kind's fields, with the key path as the editor wrote it
/// (`start`, `venue.city`, `contact.phone`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenKey<'a> {
    pub key: String,
    pub fact: &'a OpenFact,
}

/// Collects the open facts of a struct's fields, in the order they are declared.
#[derive(Default)]
pub struct OpenKeys<'a>(pub Vec<OpenKey<'a>>);

impl<'a> OpenKeys<'a> {
    pub fn fact<T>(&mut self, key: &str, fact: &'a Fact<T>) -> &mut Self {
        if let Fact::Open(o) = fact {
            self.0.push(OpenKey {
                key: key.to_string(),
                fact: o,
            });
        }
        self
    }

    pub fn optional<T>(&mut self, key: &str, fact: &'a Option<Fact<T>>) -> &mut Self {
        if let Some(f) = fact {
            self.fact(key, f);
        }
        self
    }
}

/// `{key: {note}}` for each open fact, as templates get it (`page.open`, `contact.open`): a
/// theme tests `"start" in page.open`, and shows its own text for it. The note is for editors;
/// the default theme never shows it.
pub fn open_map(keys: &[OpenKey<'_>]) -> serde_json::Map<String, serde_json::Value> {
    keys.iter()
        .map(|k| (k.key.clone(), serde_json::json!({ "note": k.fact.note })))
        .collect()
}

/// A value type a fact can hold: how it is read from YAML's scalars (and mappings).
pub trait FactValue: Sized {
    /// What the value looks like, for "expected …" in errors.
    const EXPECTING: &'static str;

    fn from_text(text: &str) -> Result<Self, String>;

    fn from_integer(n: i128) -> Result<Self, String> {
        Self::from_text(&n.to_string())
    }

    fn from_float(x: f64) -> Result<Self, String> {
        Self::from_text(&x.to_string())
    }

    fn from_bool(b: bool) -> Result<Self, String> {
        Self::from_text(if b { "true" } else { "false" })
    }

    /// Whether a text that is not `offen` but close to it is still a plausible value. Text keys
    /// (a name, a place) take any text, so only near-misses of one letter count as typos there.
    fn typo_of_open(text: &str) -> bool {
        close_to_open(text, 2)
    }

    /// Values written as a mapping (a venue); others refuse one.
    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        drop(map);
        Err(de::Error::invalid_type(
            de::Unexpected::Map,
            &Self::EXPECTING,
        ))
    }
}

impl FactValue for String {
    const EXPECTING: &'static str = "a text, or `offen` while it is not known";

    fn from_text(text: &str) -> Result<Self, String> {
        Ok(text.to_string())
    }

    fn typo_of_open(text: &str) -> bool {
        close_to_open(text, 1)
    }
}

impl FactValue for LocalTime {
    const EXPECTING: &'static str =
        "a time written as text, e.g. \"13:00\", or `offen` while it is not known";

    fn from_text(text: &str) -> Result<Self, String> {
        LocalTime::parse(text)
    }
}

impl FactValue for LocalDate {
    const EXPECTING: &'static str =
        "a date written as text, e.g. 2025-12-03, or `offen` while it is not known";

    fn from_text(text: &str) -> Result<Self, String> {
        LocalDate::parse(text)
    }
}

impl FactValue for u32 {
    const EXPECTING: &'static str = "a whole number, or `offen` while it is not known";

    fn from_text(text: &str) -> Result<Self, String> {
        Err(format!(
            "`{text}` is not a whole number; write digits only, e.g. 70"
        ))
    }

    fn from_integer(n: i128) -> Result<Self, String> {
        u32::try_from(n).map_err(|_| format!("{n} is not a number from 0 to {}", u32::MAX))
    }

    fn from_float(x: f64) -> Result<Self, String> {
        Err(format!("{x} is not a whole number"))
    }
}

impl FactValue for bool {
    const EXPECTING: &'static str = "`true` or `false`, or `offen` while it is not known";

    fn from_text(text: &str) -> Result<Self, String> {
        Err(format!(
            "`{text}` is neither `true` nor `false`; write one of them, or `offen` while it is not known"
        ))
    }

    fn from_bool(b: bool) -> Result<Self, String> {
        Ok(b)
    }

    fn from_integer(n: i128) -> Result<Self, String> {
        Err(format!("{n} is neither `true` nor `false`"))
    }

    fn from_float(x: f64) -> Result<Self, String> {
        Err(format!("{x} is neither `true` nor `false`"))
    }
}

/// `offen` in any case, with surrounding spaces.
pub fn is_open_word(text: &str) -> bool {
    text.trim().eq_ignore_ascii_case(OPEN_WORD)
}

/// `ofen`, `offn`, `Offen.`: a word that is `offen` with a slip of at most `edits` letters.
fn close_to_open(text: &str, edits: usize) -> bool {
    let t = text.trim().to_lowercase();
    !is_open_word(&t) && t.len() <= 8 && strsim::levenshtein(&t, OPEN_WORD) <= edits
}

impl<T: Serialize> Serialize for Fact<T> {
    /// Templates see a known value as it is and an open one as none; what is open is listed
    /// beside the fields (`page.open`), so a theme that knows nothing of open facts shows nothing
    /// rather than a guess.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Fact::Known(v) => v.serialize(s),
            Fact::Open(_) => s.serialize_none(),
        }
    }
}

impl<'de, T: FactValue> Deserialize<'de> for Fact<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FactVisitor(PhantomData))
    }
}

struct FactVisitor<T>(PhantomData<T>);

impl<T: FactValue> FactVisitor<T> {
    fn text<E: de::Error>(self, text: &str, span: Option<(usize, usize)>) -> Result<Fact<T>, E> {
        if is_open_word(text) {
            return Ok(Fact::Open(OpenFact { note: None, span }));
        }
        if T::typo_of_open(text) {
            return Err(E::custom(format!(
                "`{}` is neither a value nor `{OPEN_WORD}`; did you mean `{OPEN_WORD}`?",
                text.trim()
            )));
        }
        T::from_text(text).map(Fact::Known).map_err(E::custom)
    }
}

impl<'de, T: FactValue> Visitor<'de> for FactVisitor<T> {
    type Value = Fact<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Fact<T>, E> {
        let span = locate(v).map(|offset| (offset, v.len()));
        self.text(v, span)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Fact<T>, E> {
        self.text(v, None)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Fact<T>, E> {
        T::from_integer(v.into())
            .map(Fact::Known)
            .map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Fact<T>, E> {
        T::from_integer(v.into())
            .map(Fact::Known)
            .map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Fact<T>, E> {
        T::from_float(v).map(Fact::Known).map_err(E::custom)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Fact<T>, E> {
        T::from_bool(v).map(Fact::Known).map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fact<T>, A::Error> {
        let Some((key, span)) = map.next_key_seed(KeySeed)? else {
            return T::from_map(map).map(Fact::Known);
        };
        if is_open_word(&key) {
            let note: Option<String> = map.next_value()?;
            if let Some(other) = map.next_key::<String>()? {
                return Err(de::Error::custom(format!(
                    "`{other}` cannot stand beside `{OPEN_WORD}`: an open fact has only its note, e.g. {{{OPEN_WORD}: \"Uhrzeit stimmt das Referat 55 ab\"}}"
                )));
            }
            let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
            return Ok(Fact::Open(OpenFact { note, span }));
        }
        if close_to_open(&key, 2) {
            return Err(de::Error::unknown_field(&key, &[OPEN_WORD]));
        }
        T::from_map(Replay {
            first: Some(key),
            map,
        })
        .map(Fact::Known)
    }
}

/// Reads a mapping's first key, with its position when serde_yaml lends it from the text.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = (String, Option<(usize, usize)>);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = (String, Option<(usize, usize)>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok((v.to_string(), locate(v).map(|o| (o, v.len()))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok((v.to_string(), None))
    }
}

/// A mapping whose first key was already read (to see whether it is `offen`): hands that key out
/// again first, then the rest as they come.
struct Replay<A> {
    first: Option<String>,
    map: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Replay<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        match self.first.take() {
            Some(key) => seed.deserialize(key.into_deserializer()).map(Some),
            None => self.map.next_key_seed(seed),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// A mapping value (a venue) read through the derived `Deserialize` of its struct.
pub fn from_map<'de, T: Deserialize<'de>, A: MapAccess<'de>>(map: A) -> Result<T, A::Error> {
    T::deserialize(de::value::MapAccessDeserializer::new(map))
}

/// The id of open facts in `check` (and `check --format json`).
pub const CHECK_ID: &str = "open-fact";

/// What an editor has to fill in, as the German hint names it: (label, the thing to enter).
fn label(key: &str) -> (&'static str, &'static str) {
    match key.rsplit('.').next().unwrap_or(key) {
        "start" => ("Uhrzeit", "die Uhrzeit"),
        "end" => ("Ende", "das Ende"),
        "location" | "city" => ("Ort", "den Ort"),
        "venue" => ("Veranstaltungsort", "den Veranstaltungsort"),
        "name" if key.starts_with("venue") => ("Name des Veranstaltungsorts", "den Namen"),
        "name" => ("Name der Ansprechperson", "den Namen"),
        "street" => ("Straße", "die Straße"),
        "postal_code" => ("Postleitzahl", "die Postleitzahl"),
        "registration" => ("Anmeldung", "den Link zur Anmeldung"),
        "registration_deadline" => ("Anmeldeschluss", "den Anmeldeschluss"),
        "max_participants" => ("Teilnehmerzahl", "die höchste Teilnehmerzahl"),
        "email" => ("E-Mail-Adresse", "die E-Mail-Adresse"),
        "phone" => ("Telefonnummer", "die Telefonnummer"),
        "organisation" => ("Organisation", "die Organisation"),
        "department" => ("Abteilung", "die Abteilung"),
        // The legal pages (`legal:` in site.yaml, see `crate::site::legal`).
        "visitor_address" => ("Besucheradresse", "die Besucheradresse"),
        "represented_by" => (
            "Vertretung des Anbieters",
            "die vertretungsberechtigte Person",
        ),
        "editorial_responsible" => (
            "Verantwortliche Person nach § 18 Abs. 2 MStV",
            "die verantwortliche Person mit Anschrift",
        ),
        "vat_id" => (
            "Umsatzsteuer-Identifikationsnummer",
            "die Umsatzsteuer-Identifikationsnummer",
        ),
        "data_protection_officer" => (
            "Datenschutzbeauftragte Person",
            "die Erreichbarkeit der oder des Datenschutzbeauftragten",
        ),
        "supervisory_authority" => (
            "Datenschutz-Aufsichtsbehörde",
            "die Anschrift der Aufsichtsbehörde",
        ),
        "hosting_provider" => ("Betreiber des Webservers", "den Betreiber"),
        "web_server_log_retention" => (
            "Speicherdauer der Protokolle des Webservers",
            "die Speicherdauer",
        ),
        "service_log_retention" => (
            "Speicherdauer des Protokolls des Anmeldedienstes",
            "die Speicherdauer",
        ),
        "third_country_transfer" => (
            "Übermittlung in Staaten außerhalb der EU",
            "die Angabe des Betreibers",
        ),
        "smtp" => ("Mailserver", "den Mailserver (`newsletter.smtp`)"),
        "compliance" => ("Stand der Vereinbarkeit", "den Stand der Vereinbarkeit"),
        "created" => ("Datum der Erstellung", "das Datum"),
        "reviewed" => ("Datum der letzten Überprüfung", "das Datum"),
        "method" => ("Methode der Bewertung", "die Methode"),
        _ => ("Angabe", "die Angabe"),
    }
}

/// The warning `check` shows for an open fact of front matter or `site.yaml`.
pub fn diagnostic(key: &str, fact: &OpenFact, at: Location) -> Diagnostic {
    let (label, what) = label(key);
    let pronoun = match what.split(' ').next() {
        Some("den") => "er",
        Some("das") => "es",
        _ => "sie",
    };
    let d = Diagnostic::warning(format!("`{key}` is open: not known yet"))
        .code(CHECK_ID)
        .at(at)
        .hint(format!(
            "Offene Angabe: {label} – tragen Sie {what} ein, sobald {pronoun} feststeht."
        ));
    // Notes reach the editor's terminal: escape sequences are shown, never obeyed.
    match &fact.note {
        Some(note) => d.note(crate::diagnostics::printable(note)),
        None => d,
    }
}

/// The warning for `[offen: …]` in a body.
pub fn text_diagnostic(description: Option<&str>, at: Location) -> Diagnostic {
    let message = match description {
        Some(d) => format!(
            "open fact in the text: {}",
            crate::diagnostics::printable(d)
        ),
        None => "open fact in the text".to_string(),
    };
    Diagnostic::warning(message).code(CHECK_ID).at(at).hint(
        "Offene Angabe im Text – ersetzen Sie `[offen: …]` durch die Angabe, sobald sie feststeht.",
    )
}

/// Where an open fact is: the word `offen` itself, else the top-level key it belongs to.
pub fn location(fact: &OpenFact, key: &str, yaml: &YamlSource<'_>) -> Location {
    match fact.span {
        Some((offset, len)) => Location::at_offset(yaml.path, yaml.file_text, offset, len),
        None => yaml.key_location(key.split('.').next().unwrap_or(key)),
    }
}

thread_local! {
    /// The YAML text being parsed on this thread: (address, length, offset of the text in its file).
    static SOURCE: Cell<Option<(usize, usize, usize)>> = const { Cell::new(None) };
}

/// Runs `parse` with `yaml` (which starts at byte `offset` of its file) as the text open facts
/// are located in. Nested calls restore the outer text, also when `parse` panics.
pub fn with_source<R>(yaml: &str, offset: usize, parse: impl FnOnce() -> R) -> R {
    struct Restore(Option<(usize, usize, usize)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            SOURCE.set(self.0);
        }
    }
    let _restore = Restore(SOURCE.replace(Some((yaml.as_ptr() as usize, yaml.len(), offset))));
    parse()
}

/// The file offset of `part` if it is a slice of the text given to [`with_source`]. Addresses
/// are only compared, never followed.
pub(super) fn locate(part: &str) -> Option<usize> {
    let (base, len, offset) = SOURCE.get()?;
    let at = part.as_ptr() as usize;
    (at >= base && at + part.len() <= base + len).then(|| offset + (at - base))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Front {
        start: Fact<LocalTime>,
        #[serde(default)]
        location: Option<Fact<String>>,
        #[serde(default)]
        seats: Option<Fact<u32>>,
    }

    fn parse(yaml: &str) -> Result<Front, String> {
        with_source(yaml, 100, || serde_yaml::from_str(yaml)).map_err(|e| e.to_string())
    }

    #[test]
    fn offen_leaves_a_fact_open_at_its_position() {
        let yaml = "start: offen\nlocation: Offen\n";
        let f = parse(yaml).unwrap();
        assert_eq!(
            f.start,
            Fact::Open(OpenFact {
                note: None,
                span: Some((100 + 7, 5))
            })
        );
        assert!(f.location.unwrap().is_open());
    }

    #[test]
    fn a_note_says_what_is_missing() {
        let yaml = "start: {offen: \"Uhrzeit stimmt das Referat 55 ab\"}\n";
        let f = parse(yaml).unwrap();
        let open = f.start.open().unwrap();
        assert_eq!(
            open.note.as_deref(),
            Some("Uhrzeit stimmt das Referat 55 ab")
        );
        assert_eq!(open.span, Some((100 + 8, 5)));
        let block = "start:\n  offen: Referat 55\n";
        let open = parse(block).unwrap().start.open().cloned().unwrap();
        assert_eq!(open.note.as_deref(), Some("Referat 55"));
        assert_eq!(open.span, Some((100 + 9, 5)));
        // An empty note is no note.
        assert_eq!(
            parse("start: {offen: }\n")
                .unwrap()
                .start
                .open()
                .unwrap()
                .note,
            None
        );
    }

    #[test]
    fn known_values_read_as_before() {
        let f = parse("start: \"13:00\"\nlocation: 39104\nseats: 70\n").unwrap();
        assert_eq!(f.start.known().unwrap().0.hour(), 13);
        assert_eq!(known(&f.location).map(String::as_str), Some("39104"));
        assert_eq!(known(&f.seats), Some(&70));
        assert_eq!(
            parse("start: 9\n").unwrap().start.known().unwrap().0.hour(),
            9
        );
    }

    #[test]
    fn typos_of_offen_are_errors_with_a_suggestion() {
        for yaml in [
            "start: ofen\n",
            "start: offn\n",
            "start: Offen.\n",
            "start: \"13:00\"\nlocation: ofen\n",
            "start: \"13:00\"\nseats: offem\n",
        ] {
            let e = parse(yaml).unwrap_err();
            assert!(e.contains("did you mean `offen`?"), "{yaml}: {e}");
        }
        let e = parse("start: {ofen: x}\n").unwrap_err();
        assert!(e.contains("unknown field `ofen`, expected `offen`"), "{e}");
        // Real places a letter or more away from `offen` stay places.
        let f = parse("start: \"13:00\"\nlocation: Essen\n").unwrap();
        assert_eq!(known(&f.location).map(String::as_str), Some("Essen"));
    }

    #[test]
    fn wrong_values_are_still_errors() {
        assert!(
            parse("start: \"25:00\"\n")
                .unwrap_err()
                .contains("not a time")
        );
        assert!(
            parse("start: offen\nseats: viele\n")
                .unwrap_err()
                .contains("whole number")
        );
        assert!(
            parse("start: offen\nseats: -1\n")
                .unwrap_err()
                .contains("0 to")
        );
        let e = parse("start: {offen: a, end: b}\n").unwrap_err();
        assert!(e.contains("cannot stand beside `offen`"), "{e}");
        assert!(parse("start: [offen]\n").is_err());
        assert!(
            parse("start: {time: \"13:00\"}\n")
                .unwrap_err()
                .contains("invalid type")
        );
        // A required fact is still required.
        assert!(
            parse("location: offen\n")
                .unwrap_err()
                .contains("missing field `start`")
        );
    }

    #[test]
    fn open_facts_serialise_as_none() {
        let known: Fact<String> = Fact::Known("Online".into());
        let open: Fact<String> = Fact::Open(OpenFact::default());
        assert_eq!(serde_json::to_value(&known).unwrap(), "Online");
        assert_eq!(
            serde_json::to_value(&open).unwrap(),
            serde_json::Value::Null
        );
    }

    #[test]
    fn control_characters_in_a_note_are_shown_not_obeyed() {
        let f = parse("start: {offen: \"rot\\e[31m\\r\\nX\\0\"}\n").unwrap();
        let d = diagnostic("start", f.start.open().unwrap(), Location::file("a.md"));
        assert_eq!(d.notes, ["rot\u{241b}[31m\u{240d}\u{240a}X\u{2400}"]);
        let d = text_diagnostic(Some("a\u{1b}]0;x\u{7}"), Location::file("a.md"));
        assert!(!d.message.chars().any(char::is_control), "{}", d.message);
    }

    #[test]
    fn text_outside_the_source_has_no_position() {
        let yaml = "start: offen\n";
        let f: Front = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(f.start.open().unwrap().span, None);
        let copy = yaml.to_string();
        let f: Front = with_source(yaml, 0, || serde_yaml::from_str(&copy)).unwrap();
        assert_eq!(f.start.open().unwrap().span, None);
    }
}
