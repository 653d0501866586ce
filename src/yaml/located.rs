//! A text value that remembers where in its file it was written, for errors found after parsing
//! (an undeclared topic in `themen: [gdst, zsa]`, a topic declared twice in `site.yaml`).
//!
//! Like the open facts of [`super::fact`], the position comes from serde_yaml lending plain and
//! simply quoted scalars out of the text [`super::YamlSource::parse`] hands it: nothing searches
//! the text afterwards, so two equal values in one file each point at their own place. A value
//! the parser had to copy (a double-quoted one with escapes) has no position; its errors point
//! at the key instead.

use std::fmt;
use std::path::Path;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::diagnostics::Location;

/// A text as written, with its byte offset and length in the file when known.
#[derive(Debug, Clone, Default)]
pub struct Located {
    pub text: String,
    pub span: Option<(usize, usize)>,
}

impl Located {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Where the value stands in `file_text`, or `fallback` when its position is not known.
    pub fn location(
        &self,
        path: &Path,
        file_text: &str,
        fallback: impl FnOnce() -> Location,
    ) -> Location {
        match self.span {
            Some((offset, len)) => Location::at_offset(path, file_text, offset, len),
            None => fallback(),
        }
    }
}

/// Equal when the texts are: where a value stands is not part of what it says.
impl PartialEq for Located {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Located {}

/// Templates and `check --format json` see the text alone.
impl Serialize for Located {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Located {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(LocatedVisitor)
    }
}

struct LocatedVisitor;

impl<'de> Visitor<'de> for LocatedVisitor {
    type Value = Located;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a text")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Located, E> {
        Ok(Located {
            text: v.to_string(),
            span: super::fact::locate(v).map(|offset| (offset, v.len())),
        })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Located, E> {
        Ok(Located {
            text: v.to_string(),
            span: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Front {
        themen: Vec<Located>,
    }

    fn parse(yaml: &str) -> Result<Front, String> {
        super::super::fact::with_source(yaml, 10, || serde_yaml::from_str(yaml))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn equal_values_each_keep_their_own_place() {
        let yaml = "themen: [gdst, 'zsa', gdst]\n";
        let f = parse(yaml).unwrap();
        let spans: Vec<_> = f.themen.iter().map(|t| t.span).collect();
        assert_eq!(spans, [Some((19, 4)), Some((26, 3)), Some((32, 4))]);
        assert_eq!(f.themen[0], f.themen[2]);
    }

    #[test]
    fn a_copied_value_has_no_place_and_a_mapping_is_refused() {
        let f = parse("themen:\n  - \"g\\u0064st\"\n").unwrap();
        assert_eq!(f.themen[0].text, "gdst");
        assert_eq!(f.themen[0].span, None);
        let e = parse("themen: [{gdst: 1}]\n").unwrap_err();
        assert!(e.contains("expected a text"), "{e}");
        // YAML's plain `2025` is a text too, which a slug may be.
        assert_eq!(parse("themen: [2025]\n").unwrap().themen[0].text, "2025");
    }
}
