//! URL segments and heading ids made from German text.
//!
//! German readers expect `Größe` to become `groesse`, not `grosse` or `gr-e`: umlauts and ß are
//! transliterated the German way first, everything else falls back to ASCII via `deunicode`.

use std::fmt;

use serde::Serialize;

/// A URL-safe segment: lowercase ASCII letters, digits and single hyphens, never empty.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    /// Makes a slug from any text; `None` if nothing URL-worthy remains (e.g. only punctuation).
    pub fn from_text(text: &str) -> Option<Slug> {
        let s = slugify(text);
        (!s.is_empty()).then_some(Slug(s))
    }

    /// Accepts `s` only if it already is a valid slug, so editors' explicit slugs are not silently changed.
    pub fn parse(s: &str) -> Result<Slug, String> {
        if !s.is_empty() && slugify(s) == s {
            Ok(Slug(s.to_string()))
        } else {
            Err(match Slug::from_text(s) {
                Some(good) => format!(
                    "`{s}` is not a valid URL segment; use lowercase letters, digits and hyphens, e.g. `{good}`"
                ),
                None => format!("`{s}` is not a valid URL segment"),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The slug algorithm: German transliteration, ASCII folding, lowercase, hyphens between words.
pub fn slugify(text: &str) -> String {
    let mut german = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            'ä' => german.push_str("ae"),
            'ö' => german.push_str("oe"),
            'ü' => german.push_str("ue"),
            'Ä' => german.push_str("Ae"),
            'Ö' => german.push_str("Oe"),
            'Ü' => german.push_str("Ue"),
            'ß' | 'ẞ' => german.push_str("ss"),
            '&' => german.push_str(" und "),
            _ => german.push(c),
        }
    }
    let ascii = deunicode::deunicode(&german);
    let mut out = String::with_capacity(ascii.len());
    let mut pending_hyphen = false;
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_hyphen && !out.is_empty() {
                out.push('-');
            }
            pending_hyphen = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending_hyphen = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn german_transliteration() {
        assert_eq!(slugify("Größe & Übersicht"), "groesse-und-uebersicht");
        assert_eq!(
            slugify("Erklärung zur Barrierefreiheit"),
            "erklaerung-zur-barrierefreiheit"
        );
        assert_eq!(slugify("Gebärdensprache"), "gebaerdensprache");
        assert_eq!(slugify("Straße"), "strasse");
        assert_eq!(slugify("ÄÖÜ"), "aeoeue");
    }

    #[test]
    fn punctuation_collapses_to_single_hyphens() {
        assert_eq!(
            slugify("  69. OZG-Sprechstunde: 2. GDST-Forum!  "),
            "69-ozg-sprechstunde-2-gdst-forum"
        );
        assert_eq!(slugify("Q4/2025 – Q4/2026"), "q4-2025-q4-2026");
    }

    #[test]
    fn other_scripts_fold_to_ascii() {
        assert_eq!(slugify("Café Crème"), "cafe-creme");
        assert_eq!(slugify("Łódź"), "lodz");
    }

    #[test]
    fn empty_and_explicit_slugs() {
        assert_eq!(Slug::from_text("!!!"), None);
        assert!(Slug::parse("gdst").is_ok());
        let err = Slug::parse("Mein Beitrag").unwrap_err();
        assert!(err.contains("mein-beitrag"), "{err}");
    }
}
