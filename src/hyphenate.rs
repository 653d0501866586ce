//! German hyphenation at build time: soft hyphens (U+00AD) at the break points of the
//! Knuth–Liang patterns for German in the 1996 orthography (the `hyphenation` crate's embedded
//! `de-1996` dictionary, built from TeX's hyph-utf8 patterns).
//!
//! Why at build time: Chromium on Linux ignores `hyphens: auto`, so long German words
//! ("Registermodernisierung") broke mid-syllable and without a hyphen on phones. A soft hyphen
//! is invisible unless the line breaks there, so the text reads the same everywhere else, and
//! copying it, finding it in the page (Ctrl+F) and reading it aloud ignore it.
//!
//! What callers can rely on:
//! - only runs of letters (umlauts and ß included) of at least `min_length` letters get soft
//!   hyphens, and never at their first or last two letters, so a soft hyphen always stands
//!   between two letters;
//! - a run that already has a soft hyphen is left as the editor wrote it, so the function is
//!   idempotent; hyphens stay (`OZG-Sprechstunde` keeps its hyphen, its parts are hyphenated);
//! - a whitespace-separated chunk that looks like an address (`://`, `www.`, `@`, a dot between
//!   letters as in `sachsen-anhalt.de`), a name from code (`_`, `\`, `=`, `#`, `<`, `&`) or
//!   holds a digit is left whole;
//! - [`strip`] of the result is [`strip`] of the input: nothing but U+00AD is ever added.
//!
//! The character itself is emitted, not the entity `&shy;`: an autoescaping template would turn
//! the entity's `&` into `&amp;`, while the character passes escaping unchanged and means the
//! same to every HTML reader.

use std::borrow::Cow;
use std::sync::LazyLock;

use hyphenation::{Hyphenator, Language, Load, Standard};

/// The soft hyphen, U+00AD (`&shy;` in HTML).
pub const SOFT_HYPHEN: char = '\u{ad}';

/// Words shorter than this stay whole unless site.yaml says otherwise
/// (`markdown.hyphenate_min_length`): a word of up to nine letters fits any line of a phone,
/// and fewer breaks read better.
pub const DEFAULT_MIN_LENGTH: usize = 10;

/// The dictionary, deserialised once per process (about 200 KB of patterns). `None` only if the
/// embedded data did not deserialise, which a unit test rules out; text then stays as it is.
static GERMAN: LazyLock<Option<Standard>> =
    LazyLock::new(|| Standard::from_embedded(Language::German1996).ok());

/// `text` with soft hyphens at the syllable boundaries of its words of at least `min_length`
/// letters; `min_length` 0 turns hyphenation off. Borrowed when nothing changed.
pub fn hyphenate(text: &str, min_length: usize) -> Cow<'_, str> {
    let Some(dictionary) = GERMAN.as_ref() else {
        return Cow::Borrowed(text);
    };
    if min_length == 0 || !has_long_word(text, min_length) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for piece in text.split_inclusive(char::is_whitespace) {
        let chunk = piece.trim_end_matches(char::is_whitespace);
        if looks_technical(chunk) {
            out.push_str(piece);
            continue;
        }
        hyphenate_chunk(dictionary, piece, min_length, &mut out);
    }
    Cow::Owned(out)
}

/// `text` without soft hyphens: for plain text made from hyphenated HTML (search index,
/// feeds, meta descriptions), where U+00AD would split words for matching.
pub fn strip(text: &str) -> Cow<'_, str> {
    if text.contains(SOFT_HYPHEN) {
        Cow::Owned(text.replace(SOFT_HYPHEN, ""))
    } else {
        Cow::Borrowed(text)
    }
}

/// A cheap first look: most titles have no run of letters long enough, and then no copy is made.
fn has_long_word(text: &str, min_length: usize) -> bool {
    let mut run = 0;
    for c in text.chars() {
        if c.is_alphabetic() {
            run += 1;
            if run >= min_length {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// An address, e-mail address, file name, piece of code or anything with digits: breaking it
/// would change what a reader copies or types, so it is left whole.
fn looks_technical(chunk: &str) -> bool {
    if chunk.contains("://") || chunk.contains("www.") {
        return true;
    }
    if chunk.chars().any(|c| {
        c.is_numeric()
            || matches!(
                c,
                '@' | '_' | '\\' | '=' | '#' | '<' | '>' | '&' | '~' | '|'
            )
    }) {
        return true;
    }
    // `sachsen-anhalt.de`, `site.yaml`, `index.html`: a dot with a letter on both sides.
    let chars: Vec<char> = chunk.chars().collect();
    chars
        .windows(3)
        .any(|w| matches!(w, [a, '.', b] if a.is_alphanumeric() && b.is_alphanumeric()))
}

/// One whitespace-separated piece: each run of letters hyphenated by itself (so hyphens,
/// slashes and quotes around it stay), runs that carry a soft hyphen left as they are.
fn hyphenate_chunk(dictionary: &Standard, piece: &str, min_length: usize, out: &mut String) {
    let mut rest = piece;
    while !rest.is_empty() {
        let word_len = rest
            .find(|c: char| !(c.is_alphabetic() || c == SOFT_HYPHEN))
            .unwrap_or(rest.len());
        let (word, after) = rest.split_at(word_len);
        push_word(dictionary, word, min_length, out);
        let gap_len = after
            .find(|c: char| c.is_alphabetic() || c == SOFT_HYPHEN)
            .unwrap_or(after.len());
        let (gap, next) = after.split_at(gap_len);
        out.push_str(gap);
        rest = next;
    }
}

fn push_word(dictionary: &Standard, word: &str, min_length: usize, out: &mut String) {
    if word.contains(SOFT_HYPHEN) || word.chars().count() < min_length {
        out.push_str(word);
        return;
    }
    let breaks = dictionary.hyphenate(word).breaks;
    let mut from = 0;
    for at in breaks {
        // The dictionary's breaks are byte offsets inside the word; only those strictly inside
        // it and on a character boundary are taken, so a soft hyphen never ends up at the edge.
        if at <= from || at >= word.len() || !word.is_char_boundary(at) {
            continue;
        }
        if let Some(part) = word.get(from..at) {
            out.push_str(part);
            out.push(SOFT_HYPHEN);
            from = at;
        }
    }
    out.push_str(word.get(from..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The word as the dictionary breaks it, with `|` for each soft hyphen.
    fn shown(word: &str) -> String {
        hyphenate(word, DEFAULT_MIN_LENGTH).replace(SOFT_HYPHEN, "|")
    }

    #[test]
    fn the_embedded_german_dictionary_loads() {
        assert!(GERMAN.is_some());
    }

    #[test]
    fn long_words_break_only_at_syllable_boundaries() {
        // The break points the de-1996 patterns give; each part is a German syllable (or,
        // for compounds, several), never a cut like "Zusammenar|beit" or "Serviceangeb|ote".
        for (word, expected) in [
            ("Registermodernisierung", "Re|gis|ter|mo|der|ni|sie|rung"),
            ("Zusammenarbeit", "Zu|sam|men|ar|beit"),
            ("Serviceangebote", "Ser|vice|an|ge|bo|te"),
            ("SachsenAnhaltsPunkte", "Sach|sen|An|halts|Punk|te"),
            ("Onlinezugangsgesetz", "On|line|zu|gangs|ge|setz"),
        ] {
            assert_eq!(shown(word), expected, "{word}");
        }
    }

    #[test]
    fn umlauts_and_eszett_are_letters() {
        assert_eq!(shown("Verwaltungsleistungen"), "Ver|wal|tungs|leis|tun|gen");
        assert_eq!(shown("Bürgerbeteiligung"), "Bür|ger|be|tei|li|gung");
        assert_eq!(shown("Straßenverkehrsamt"), "Stra|ßen|ver|kehrs|amt");
    }

    #[test]
    fn short_words_and_a_zero_threshold_leave_text_alone() {
        assert_eq!(shown("Verwaltung"), "Ver|wal|tung", "ten letters are long");
        for text in ["Digitalen", "OZG", "Amt und Land", ""] {
            assert!(matches!(hyphenate(text, 10), Cow::Borrowed(_)), "{text}");
        }
        assert_eq!(hyphenate("Zusammenarbeit", 0), "Zusammenarbeit");
        assert_eq!(
            hyphenate("Zusammenarbeit", 15),
            "Zusammenarbeit",
            "fourteen letters are short for 15"
        );
    }

    #[test]
    fn compounds_keep_their_hyphens_and_text_around_words_stays() {
        assert_eq!(shown("OZG-Sprechstunde"), "OZG-Sprech|stun|de");
        assert_eq!(
            shown("„Zusammenarbeit“, (Serviceangebote)!"),
            "„Zu|sam|men|ar|beit“, (Ser|vice|an|ge|bo|te)!"
        );
        assert_eq!(
            shown("Die  Registermodernisierung\n geht\tweiter"),
            "Die  Re|gis|ter|mo|der|ni|sie|rung\n geht\tweiter"
        );
    }

    #[test]
    fn addresses_code_and_numbers_are_never_broken() {
        for text in [
            "https://ozg.sachsen-anhalt.de/registermodernisierung",
            "ozg.sachsen-anhalt.de/zusammenarbeit",
            "www.onlinezugangsgesetz.de",
            "registermodernisierung@sachsen-anhalt.de",
            "mailto:zusammenarbeit@example.org",
            "Registermodernisierung2025",
            "heading_registermodernisierung",
            "zusammenarbeit.yaml",
            "Zusammenarbeit#ziele",
        ] {
            assert_eq!(hyphenate(text, 10), text);
        }
        // The address stays whole, the words beside it do not.
        assert_eq!(
            shown("Zusammenarbeit: https://example.org/zusammenarbeit"),
            "Zu|sam|men|ar|beit: https://example.org/zusammenarbeit"
        );
    }

    #[test]
    fn hyphenated_input_is_left_as_it_is() {
        let once = hyphenate("Registermodernisierung und OZG-Zusammenarbeit", 10).into_owned();
        assert_eq!(hyphenate(&once, 10), once);
        // An editor's own soft hyphen is the only break of its word.
        let own = "Register\u{ad}modernisierung";
        assert_eq!(hyphenate(own, 10), own);
    }

    #[test]
    fn hostile_text_neither_panics_nor_gains_anything_but_soft_hyphens() {
        let long = "registermodernisierung".repeat(10_000);
        for text in [
            "\u{1b}[2JRegistermodernisierung\r\nZusammenarbeit\u{0}",
            // Letters whose lower case is longer or shorter in bytes than they are.
            "İSTANBULERİNNENSTADTVERWALTUNG GROẞSTADTVERWALTUNG",
            // Combining marks (NFD umlauts), right-to-left text, a zero-width joiner.
            "Zusammena\u{308}rbeitsstruktur \u{5d0}\u{5d1}\u{5d2}\u{5d3}\u{5d4}\u{5d5}\u{5d6}\u{5d7}\u{5d8}\u{5d9}\u{5da} Register\u{200d}modernisierung",
            long.as_str(),
        ] {
            let out = hyphenate(text, 10);
            assert_eq!(strip(&out), text);
        }
        assert!(hyphenate(&long, 10).contains(SOFT_HYPHEN));
    }

    #[test]
    fn strip_removes_only_soft_hyphens() {
        assert_eq!(strip("Zu\u{ad}sam\u{ad}men-ar beit"), "Zusammen-ar beit");
        assert!(matches!(strip("ohne"), Cow::Borrowed(_)));
    }

    proptest! {
        #[test]
        fn only_soft_hyphens_between_letters_are_added(text in "\\PC{0,80}", min in 0usize..14) {
            let text = strip(&text).into_owned();
            let out = hyphenate(&text, min);
            prop_assert_eq!(strip(&out), text.as_str());
            let chars: Vec<char> = out.chars().collect();
            for (i, c) in chars.iter().enumerate() {
                if *c == SOFT_HYPHEN {
                    let before = i.checked_sub(1).and_then(|j| chars.get(j));
                    let after = chars.get(i + 1);
                    prop_assert!(before.is_some_and(|c| c.is_alphabetic()), "{:?}", out);
                    prop_assert!(after.is_some_and(|c| c.is_alphabetic()), "{:?}", out);
                }
            }
            prop_assert_eq!(hyphenate(&out, min), out.as_ref());
        }

        #[test]
        fn german_looking_text_round_trips(text in "[A-Za-zäöüÄÖÜß -]{0,120}") {
            let out = hyphenate(&text, 6);
            prop_assert_eq!(strip(&out), text.as_str());
        }
    }
}
