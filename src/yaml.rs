//! YAML into typed structs, with errors that point into the file the YAML came from.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::diagnostics::{Diagnostic, Location, unknown_field_hint};

/// A YAML document embedded in a file: the front matter of a page, or all of `site.yaml`.
#[derive(Clone, Copy)]
pub struct YamlSource<'a> {
    /// Path shown to the editor.
    pub path: &'a Path,
    /// The whole file, for line/column and the caret.
    pub file_text: &'a str,
    /// The YAML text (a slice of `file_text`).
    pub yaml: &'a str,
    /// Where `yaml` starts in `file_text`, in bytes.
    pub offset: usize,
}

impl<'a> YamlSource<'a> {
    pub fn whole_file(path: &'a Path, text: &'a str) -> Self {
        YamlSource {
            path,
            file_text: text,
            yaml: text,
            offset: 0,
        }
    }

    /// Deserialises `T`, turning serde_yaml's error into a diagnostic at the right file position.
    pub fn parse<T: DeserializeOwned>(&self, what: &str) -> Result<T, Diagnostic> {
        // An empty document is an empty mapping for our purposes, so "missing field" errors name the field.
        let yaml = if self.yaml.trim().is_empty() {
            "{}"
        } else {
            self.yaml
        };
        serde_yaml::from_str(yaml).map_err(|e| self.diagnostic(&e, what))
    }

    fn diagnostic(&self, e: &serde_yaml::Error, what: &str) -> Diagnostic {
        let raw = e.to_string();
        // serde_yaml appends " at line X column Y"; we show the place ourselves.
        let message = match raw.rfind(" at line ") {
            Some(i) => raw[..i].to_string(),
            None => raw.clone(),
        };
        let (offset, width) = match e.location() {
            Some(loc) => {
                let start = loc.index().min(self.yaml.len());
                let word = self.yaml[start..]
                    .find([':', '\n', ' ', ','])
                    .unwrap_or(0)
                    .max(1);
                (self.offset + start, word)
            }
            None => (self.offset, 1),
        };
        let location = Location::at_offset(self.path, self.file_text, offset, width);
        let (message, hint) = explain(&message, what);
        Diagnostic::error(message).at(location).hint(hint)
    }

    /// Locates a top-level `key:` in the YAML, for errors found after deserialisation.
    pub fn key_location(&self, key: &str) -> Location {
        let offset = find_top_level_key(self.yaml, key).unwrap_or(0);
        Location::at_offset(self.path, self.file_text, self.offset + offset, key.len())
    }

    /// Locates a value's text (e.g. a link target) in the YAML, falling back to `key`.
    pub fn value_location(&self, value: &str, key: &str) -> Location {
        match self.yaml.find(value) {
            Some(i) if !value.is_empty() => {
                Location::at_offset(self.path, self.file_text, self.offset + i, value.len())
            }
            _ => self.key_location(key),
        }
    }
}

/// Byte offset of `key:` at the start of a line (a top-level key), if present.
pub fn find_top_level_key(yaml: &str, key: &str) -> Option<usize> {
    let mut offset = 0;
    for line in yaml.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix(key)
            && rest.trim_start().starts_with(':')
        {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

/// Rewrites serde's wording into something an editor can act on.
fn explain(message: &str, what: &str) -> (String, String) {
    if message.contains("unknown field `") {
        let hint = unknown_field_hint(message).unwrap_or_default();
        let field = message.split('`').nth(1).unwrap_or_default().to_string();
        let prefix = message
            .split_once(": unknown field")
            .map(|(p, _)| format!(" under `{p}`"))
            .unwrap_or_default();
        return (format!("unknown key `{field}` in {what}{prefix}"), hint);
    }
    if let Some(rest) = message.split("missing field `").nth(1) {
        let field = rest.split('`').next().unwrap_or_default();
        return (
            format!("required key `{field}` is missing in {what}"),
            format!("add a line `{field}: …` to the {what}"),
        );
    }
    if message.contains("invalid type") {
        return (
            format!("wrong type in {what}: {message}"),
            "check the value's form: text, a number, a list (`- item`) or a mapping (`key: value`)"
                .to_string(),
        );
    }
    if message.contains("unknown variant") {
        return (
            format!("{message} in {what}"),
            "use one of the values listed".to_string(),
        );
    }
    if message.contains("duplicate") {
        return (
            format!("{message} in {what}"),
            "each key may appear only once; remove one of them".to_string(),
        );
    }
    if is_syntax_error(message) {
        return (
            format!("YAML syntax error in {what}: {message}"),
            "check indentation and quoting; values containing `: ` or starting with `@`, `[` or `{` need quotes"
                .to_string(),
        );
    }
    (
        format!("invalid value in {what}: {message}"),
        "correct the value as described".to_string(),
    )
}

fn is_syntax_error(message: &str) -> bool {
    [
        "did not find expected",
        "mapping values are not allowed",
        "found character that cannot start",
        "found unexpected",
        "could not find expected",
        "found undefined",
        "while parsing",
        "while scanning",
        "control characters",
        "unexpected end",
    ]
    .iter()
    .any(|p| message.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Fm {
        title: String,
        number: u32,
    }

    fn err(file: &str) -> Diagnostic {
        let start = 4;
        let end = file[start..].find("---").unwrap() + start;
        YamlSource {
            path: Path::new("x.md"),
            file_text: file,
            yaml: &file[start..end],
            offset: start,
        }
        .parse::<Fm>("front matter")
        .unwrap_err()
    }

    #[test]
    fn unknown_key_points_at_its_line_in_the_file() {
        let d = err("---\ntitle: a\nnumber: 1\ntitel: b\n---\n");
        let loc = d.location.unwrap();
        assert_eq!((loc.line, loc.column), (4, 1));
        assert!(d.message.contains("unknown key `titel`"));
        assert_eq!(d.hint.as_deref(), Some("did you mean `title`?"));
    }

    #[test]
    fn wrong_type_points_at_the_value() {
        let d = err("---\ntitle: a\nnumber: drei\n---\n");
        let loc = d.location.unwrap();
        assert_eq!((loc.line, loc.column), (3, 9));
        assert!(d.message.contains("wrong type"), "{}", d.message);
    }

    #[test]
    fn missing_key_is_named() {
        let d = err("---\ntitle: a\n---\n");
        assert!(d.message.contains("`number` is missing"));
    }

    #[test]
    fn syntax_error_is_explained() {
        let d = err("---\ntitle: a: b\nnumber: 1\n---\n");
        assert!(d.message.starts_with("YAML syntax error"), "{}", d.message);
        assert_eq!(d.location.unwrap().line, 2);
    }

    #[test]
    fn top_level_key_lookup() {
        assert_eq!(
            find_top_level_key("a: 1\ntemplate: x\n", "template"),
            Some(5)
        );
        assert_eq!(find_top_level_key("  template: x\n", "template"), None);
    }
}
