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
        // `offset` is a character boundary now, so the split cannot fail.
        let (before, after) = text.split_at_checked(offset).unwrap_or((text, ""));
        let head = before.rsplit_once('\n').map_or(before, |(_, head)| head);
        let tail = after.split_once('\n').map_or(after, |(tail, _)| tail);
        // The characters that lie wholly within the `len` bytes, on this line.
        let width = tail
            .char_indices()
            .take_while(|(i, c)| i + c.len_utf8() <= len)
            .count()
            .max(1);
        Location {
            path: path.into(),
            line: before.matches('\n').count() + 1,
            column: head.chars().count() + 1,
            width,
            source_line: Some(format!("{head}{tail}").trim_end_matches('\r').to_string()),
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
    let mut rest = text;
    for _ in 1..line.max(1) {
        match rest.split_once('\n') {
            Some((_, next)) => rest = next,
            None => return text.len(),
        }
    }
    let line = rest.split_once('\n').map_or(rest, |(line, _)| line);
    let within = line
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line.len(), |(i, _)| i);
    text.len() - rest.len() + within
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
        let message = for_terminal(&self.message, "\t");
        match self.code {
            Some(code) => {
                let _ = writeln!(out, "{label}[{code}]: {message}");
            }
            None => {
                let _ = writeln!(out, "{label}: {message}");
            }
        }
        let gutter = self
            .location
            .as_ref()
            .map_or(1, |l| l.line.to_string().len().max(1));
        let pad = " ".repeat(gutter);
        if let Some(loc) = &self.location {
            let path = for_terminal(&display_path(&loc.path), "\t");
            if loc.line == 0 {
                let _ = writeln!(out, "{pad}--> {path}");
            } else {
                let _ = writeln!(out, "{pad}--> {path}:{}:{}", loc.line, loc.column);
                if let Some(src) = &loc.source_line {
                    // A tab becomes four spaces and every other character one, also a control
                    // character shown as its picture: so the caret stays under the column.
                    let shown = for_terminal(src, "    ");
                    let before: String = src
                        .chars()
                        .take(loc.column.saturating_sub(1))
                        .map(|c| if c == '\t' { "    " } else { " " })
                        .collect();
                    let _ = writeln!(out, "{pad} |");
                    let _ = writeln!(out, "{:>gutter$} | {shown}", loc.line);
                    let _ = writeln!(out, "{pad} | {before}{}", "^".repeat(loc.width.max(1)));
                }
            }
        }
        for note in &self.notes {
            let _ = writeln!(out, "{pad} = note: {}", for_terminal(note, "\t"));
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "{pad} = help: {}", for_terminal(hint, "\t"));
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// `s` with control characters shown as their pictures (`␛`, `␍`; `�` for C1 controls), for
/// messages that show names from disk: a file name cannot rewrite the editor's terminal.
pub fn printable(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| match u32::from(c) {
            code @ 0..0x20 => char::from_u32(0x2400 + code).unwrap_or('\u{FFFD}'),
            0x7f => '\u{2421}',
            _ if c.is_control() => '\u{FFFD}',
            _ => c,
        })
        .collect()
}

/// `text` for the editor's terminal: control characters from a content file (ESC starting an
/// escape sequence, CR moving the cursor back, NUL) as their pictures (`␛`, `␍`, `␀`), so they
/// cannot rewrite what the editor sees. Line breaks stay, a tab becomes `tab`. One character in
/// stays one character out (a tab aside), which keeps the caret under a source line's column.
fn for_terminal(text: &str, tab: &str) -> String {
    text.split('\n')
        .map(|line| {
            line.split('\t')
                .map(printable)
                .collect::<Vec<_>>()
                .join(tab)
        })
        .collect::<Vec<_>>()
        .join("\n")
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
    fn control_characters_in_a_source_line_are_shown_as_pictures_with_the_caret_in_place() {
        let text = "---\n\tti\u{1b}[2Jtel\r: x\r\n---\n";
        let d = Diagnostic::error("unknown key").at(Location::at_offset(
            "content/a.md",
            text,
            text.find('x').unwrap(),
            1,
        ));
        let out = d.render();
        assert!(!out.contains(['\u{1b}', '\r', '\t']), "{out:?}");
        let lines: Vec<&str> = out.lines().collect();
        let source = lines.iter().find(|l| l.starts_with("2 | ")).unwrap();
        assert_eq!(*source, "2 |     ti\u{241b}[2Jtel\u{240d}: x");
        let caret = lines.iter().find(|l| l.ends_with('^')).unwrap();
        let column = |line: &str, c: char| line.chars().position(|x| x == c).unwrap();
        assert_eq!(column(caret, '^'), column(source, 'x'), "{out}");
    }

    #[test]
    fn control_characters_in_message_path_and_hint_are_shown_as_pictures() {
        let d = Diagnostic::error("unknown key `a\u{1b}]0;pwned\u{7}`")
            .in_file("content/\u{1b}[2J.md")
            .note("see\u{0}")
            .hint("remove `\u{9b}31m`");
        let out = d.render();
        assert!(
            !out.contains(|c: char| c.is_control() && c != '\n'),
            "{out:?}"
        );
        assert!(out.contains("`a\u{241b}]0;pwned\u{2407}`"), "{out}");
        assert!(out.contains("content/\u{241b}[2J.md"), "{out}");
    }

    #[test]
    fn a_location_of_any_length_at_any_offset_does_not_panic() {
        let text = "äb\nc";
        let loc = Location::at_offset("a.md", text, 2, usize::MAX);
        assert_eq!((loc.line, loc.column, loc.width), (1, 2, 1));
        let loc = Location::at_offset("a.md", text, usize::MAX, usize::MAX);
        assert_eq!((loc.line, loc.column, loc.width), (2, 2, 1));
    }

    proptest::proptest! {
        #[test]
        fn locations_and_their_rendering_never_panic(
            text in "[aä€\n\r\t\u{1b}]{0,40}",
            offset in 0usize..60,
            len in proptest::prelude::any::<usize>(),
            column in 0usize..60,
        ) {
            let loc = Location::at_offset("a.md", &text, offset, len);
            proptest::prop_assert!(loc.line >= 1 && loc.column >= 1 && loc.width >= 1);
            let _ = Diagnostic::error("x").at(loc).render();
            let at = offset_of_line_column(&text, offset, column);
            proptest::prop_assert!(text.is_char_boundary(at));
        }
    }

    #[test]
    fn suggests_close_field() {
        let hint = unknown_field_hint("unknown field `titel`, expected one of `title`, `date`");
        assert_eq!(hint.as_deref(), Some("did you mean `title`?"));
        let hint = unknown_field_hint("unknown field `zzz`, expected `title`").unwrap();
        assert!(hint.contains("title"));
    }
}
