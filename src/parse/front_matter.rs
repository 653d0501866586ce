//! Splitting a Markdown file into its YAML front matter and its body.

use crate::diagnostics::{Diagnostic, Location};
use crate::load::SourceFile;
use crate::yaml::YamlSource;

/// The two halves of a content file, as byte ranges into its text so errors keep their positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// Byte range of the YAML between the `---` lines.
    pub yaml: (usize, usize),
    /// Byte offset where the Markdown body starts.
    pub body: usize,
}

impl Split {
    pub fn yaml_source<'a>(&self, file: &'a SourceFile) -> YamlSource<'a> {
        YamlSource {
            path: &file.shown,
            file_text: &file.text,
            yaml: file.text.get(self.yaml.0..self.yaml.1).unwrap_or_default(),
            offset: self.yaml.0,
        }
    }

    /// The Markdown body of `text`, the file this split was made of (empty for any other text).
    pub fn body<'a>(&self, text: &'a str) -> &'a str {
        text.get(self.body..).unwrap_or_default()
    }
}

/// Finds the front matter: a first line `---`, YAML, a closing line `---`.
pub fn split(text: &str, shown: &std::path::Path) -> Result<Split, Diagnostic> {
    let (first_line, after_first) = text.split_once('\n').unwrap_or((text, ""));
    let first_line_end = first_line.len();
    if first_line.trim_end() != "---" {
        return Err(Diagnostic::error("the file does not start with front matter")
            .at(Location::at_offset(shown, text, 0, first_line_end.max(1)))
            .hint("start the file with a line `---`, then `title: …`, then another line `---`, then the text"));
    }
    let yaml_start = text.len() - after_first.len();
    let mut offset = yaml_start;
    for line in after_first.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed == "..." {
            return Ok(Split {
                yaml: (yaml_start, offset),
                body: offset + line.len(),
            });
        }
        offset += line.len();
    }
    Err(Diagnostic::error("the front matter is never closed")
        .at(Location::at_offset(shown, text, 0, 3))
        .hint("add a line containing only `---` after the last front matter key, before the text"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parts(text: &str) -> (String, String) {
        let s = split(text, Path::new("a.md")).unwrap();
        (
            text[s.yaml.0..s.yaml.1].to_string(),
            text[s.body..].to_string(),
        )
    }

    #[test]
    fn splits_yaml_and_body() {
        assert_eq!(
            parts("---\ntitle: a\n---\nBody\n"),
            ("title: a\n".into(), "Body\n".into())
        );
    }

    #[test]
    fn handles_crlf_and_empty_front_matter() {
        assert_eq!(
            parts("---\r\ntitle: a\r\n---\r\nB"),
            ("title: a\r\n".into(), "B".into())
        );
        assert_eq!(parts("---\n---\n"), ("".into(), "".into()));
        assert_eq!(
            parts("---\ntitle: a\n---"),
            ("title: a\n".into(), "".into())
        );
    }

    #[test]
    fn body_may_contain_horizontal_rules() {
        let (_, body) = parts("---\ntitle: a\n---\nx\n\n---\n\ny\n");
        assert_eq!(body, "x\n\n---\n\ny\n");
    }

    #[test]
    fn unterminated_front_matter_points_at_line_one() {
        let d = split("---\ntitle: a\n\nText", Path::new("a.md")).unwrap_err();
        assert!(d.message.contains("never closed"));
        assert_eq!(d.location.unwrap().line, 1);
    }

    #[test]
    fn missing_front_matter() {
        let d = split("# Hallo\n", Path::new("a.md")).unwrap_err();
        assert!(d.message.contains("does not start with front matter"));
    }
}
