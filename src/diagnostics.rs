//! One error type for everything an editor can get wrong, carrying where it happened.
//!
//! A [`Diagnostic`] names a file, a line and a column, says what is wrong and how to fix it. A build
//! collects many of them ([`Diagnostics`]) so an editor sees every mistake in one run, not the first one.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// A place in a text file: 1-based line and column (in characters), plus the line's text for the caret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Path as shown to the editor (relative to the site root where possible).
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    /// How many characters to underline (at least one).
    pub width: usize,
    pub source_line: Option<String>,
}

impl Location {
    /// A location for a file as a whole, when no line can be named (e.g. the file cannot be read).
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Location {
            path: path.into(),
            line: 0,
            column: 0,
            width: 0,
            source_line: None,
        }
    }

    /// The location of byte `offset` (with `len` bytes to underline) in `text`.
    pub fn at_offset(path: impl Into<PathBuf>, text: &str, offset: usize, len: usize) -> Self {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
        let line = text[..offset].matches('\n').count() + 1;
        let column = text[line_start..offset].chars().count() + 1;
        let end = floor_char_boundary(text, (offset + len).min(line_end));
        let width = text[offset..end].chars().count().max(1);
        Location {
            path: path.into(),
            line,
            column,
            width,
            source_line: Some(
                text[line_start..line_end]
                    .trim_end_matches('\r')
                    .to_string(),
            ),
        }
    }

    /// The location of a 1-based line and column in `text`.
    pub fn at_line_column(
        path: impl Into<PathBuf>,
        text: &str,
        line: usize,
        column: usize,
    ) -> Self {
        let offset = offset_of_line_column(text, line, column);
        Location::at_offset(path, text, offset, 1)
    }
}

/// The byte offset of a 1-based line and (character) column, clamped to the text.
pub fn offset_of_line_column(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for _ in 1..line.max(1) {
        match text[offset..].find('\n') {
            Some(i) => offset += i + 1,
            None => return text.len(),
        }
    }
    let rest = &text[offset..];
    let line_len = rest.find('\n').unwrap_or(rest.len());
    let within = rest[..line_len]
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line_len, |(i, _)| i);
    offset + within
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The id of the check that found it (`link-text`), for silencing and machine-readable output.
    pub code: Option<&'static str>,
    pub message: String,
    pub location: Option<Location>,
    /// How to fix it, in words an editor understands.
    pub hint: Option<String>,
    /// Further context, e.g. the other file of a collision.
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code: None,
            message: message.into(),
            location: None,
            hint: None,
            notes: Vec::new(),
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    pub fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// As JSON for `check --format json`.
    pub fn to_json(&self) -> serde_json::Value {
        let loc = self.location.as_ref();
        serde_json::json!({
            "severity": match self.severity { Severity::Error => "error", Severity::Warning => "warning" },
            "check": self.code,
            "message": self.message,
            "file": loc.map(|l| display_path(&l.path)),
            "line": loc.map(|l| l.line).filter(|l| *l > 0),
            "column": loc.map(|l| l.column).filter(|c| *c > 0),
            "hint": self.hint,
            "notes": self.notes,
        })
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    pub fn in_file(self, path: impl Into<PathBuf>) -> Self {
        self.at(Location::file(path))
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic like rustc does: message, `--> file:line:column`, the line, a caret.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match self.code {
            Some(code) => {
                let _ = writeln!(out, "{label}[{code}]: {}", self.message);
            }
            None => {
                let _ = writeln!(out, "{label}: {}", self.message);
            }
        }
        let gutter = self
            .location
            .as_ref()
            .map_or(1, |l| l.line.to_string().len().max(1));
        let pad = " ".repeat(gutter);
        if let Some(loc) = &self.location {
            if loc.line == 0 {
                let _ = writeln!(out, "{pad}--> {}", display_path(&loc.path));
            } else {
                let _ = writeln!(
                    out,
                    "{pad}--> {}:{}:{}",
                    display_path(&loc.path),
                    loc.line,
                    loc.column
                );
                if let Some(src) = &loc.source_line {
                    let src = src.replace('\t', "    ");
                    let before: String = loc
                        .source_line
                        .as_deref()
                        .unwrap_or("")
                        .chars()
                        .take(loc.column - 1)
                        .map(|c| if c == '\t' { "    " } else { " " })
                        .collect();
                    let _ = writeln!(out, "{pad} |");
                    let _ = writeln!(out, "{:>gutter$} | {src}", loc.line);
                    let _ = writeln!(out, "{pad} | {before}{}", "^".repeat(loc.width.max(1)));
                }
            }
        }
        for note in &self.notes {
            let _ = writeln!(out, "{pad} = note: {note}");
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "{pad} = help: {hint}");
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

fn display_path(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// Everything one run found, errors and warnings, in a stable order.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Self {
        Diagnostics(Vec::new())
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.0.extend(other);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    /// Sorts by file and line so output does not depend on thread scheduling.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            let key = |d: &Diagnostic| {
                d.location
                    .as_ref()
                    .map(|l| (l.path.clone(), l.line, l.column))
            };
            (a.severity, key(a)).cmp(&(b.severity, key(b)))
        });
        self.0.dedup();
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.0
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl From<Vec<Diagnostic>> for Diagnostics {
    fn from(v: Vec<Diagnostic>) -> Self {
        Diagnostics(v)
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Turns serde's "unknown field `x`, expected one of `a`, `b`" into a "did you mean" hint.
pub fn unknown_field_hint(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1)?;
    let (unknown, rest) = rest.split_once('`')?;
    let candidates: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let best = candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(unknown, c), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    Some(match best {
        Some((_, c)) => format!("did you mean `{c}`?"),
        None if candidates.is_empty() => format!("remove `{unknown}`: no keys are allowed here"),
        None => format!(
            "remove `{unknown}` or use one of the allowed keys: {}",
            candidates.join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_counts_characters_not_bytes() {
        let text = "titel: Größe\nnumber: x\n";
        let loc = Location::at_offset("a.md", text, text.find('x').unwrap(), 1);
        assert_eq!((loc.line, loc.column), (2, 9));
        let loc = Location::at_offset("a.md", text, text.find('e').unwrap() + 3, 1);
        assert_eq!(loc.line, 1);
    }

    #[test]
    fn line_column_round_trips() {
        let text = "a\nbäc\nd";
        let off = offset_of_line_column(text, 2, 3);
        assert_eq!(&text[off..off + 1], "c");
    }

    #[test]
    fn render_shows_caret_under_column() {
        let text = "---\ntitel: x\n---\n";
        let d = Diagnostic::error("unknown key")
            .at(Location::at_offset("content/a.md", text, 4, 5))
            .hint("did you mean `title`?");
        let out = d.render();
        assert!(out.contains("--> content/a.md:2:1"), "{out}");
        assert!(out.contains("2 | titel: x"), "{out}");
        assert!(out.contains("  | ^^^^^"), "{out}");
        assert!(out.contains("help: did you mean `title`?"), "{out}");
    }

    #[test]
    fn suggests_close_field() {
        let hint = unknown_field_hint("unknown field `titel`, expected one of `title`, `date`");
        assert_eq!(hint.as_deref(), Some("did you mean `title`?"));
        let hint = unknown_field_hint("unknown field `zzz`, expected `title`").unwrap();
        assert!(hint.contains("title"));
    }
}
