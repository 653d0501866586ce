//! YAML into typed structs, with errors that point into the file the YAML came from.
//!
//! Front matter comes from anyone who can commit, so the text is measured before serde_yaml sees
//! it: libyaml's scanner does work proportional to the flow nesting (`[`, `{`) for every token, and
//! 100,000 levels of `[` keep it busy for minutes. [`MAX_DEPTH`] and [`MAX_YAML_BYTES`] keep every
//! parse well under a second.

pub mod fact;
pub mod located;

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
    /// Oversized and too deeply nested YAML is refused first (see [`YamlSource::check_shape`]).
    pub fn parse<T: DeserializeOwned>(&self, what: &str) -> Result<T, Diagnostic> {
        self.check_shape(what)?;
        // An empty document is an empty mapping for our purposes, so "missing field" errors name the field.
        let yaml = if self.yaml.trim().is_empty() {
            "{}"
        } else {
            self.yaml
        };
        // Open facts (`start: offen`) take their position from the text while it is parsed.
        crate::yaml::fact::with_source(yaml, self.offset, || serde_yaml::from_str(yaml))
            .map_err(|e| self.diagnostic(&e, what))
    }

    /// Refuses YAML that would keep the parser busy: more than [`MAX_YAML_BYTES`], flow
    /// collections nested deeper than [`MAX_DEPTH`], or so many brackets for its length that a
    /// misreading of the scan above could still make the parser slow.
    pub fn check_shape(&self, what: &str) -> Result<(), Diagnostic> {
        let at =
            |offset: usize| Location::at_offset(self.path, self.file_text, self.offset + offset, 1);
        if self.yaml.len() > MAX_YAML_BYTES {
            return Err(Diagnostic::error(format!(
                "{what} is {} KB long; at most {} KB are read",
                self.yaml.len() / 1024,
                MAX_YAML_BYTES / 1024
            ))
            .at(at(0))
            .hint(
                "keep settings short; long text belongs into the Markdown below the front matter",
            ));
        }
        if let Some(offset) = too_deep(self.yaml) {
            return Err(Diagnostic::error(format!(
                "{what} nests lists or mappings in `[` and `{{` more than {MAX_DEPTH} levels deep"
            ))
            .at(at(offset))
            .hint("real settings need a few levels at most: write lists as `- item` lines and mappings as `key: value` lines"));
        }
        // The scan mimics libyaml closely but not exactly; this bound holds whatever it misread,
        // because the parser's work is at most brackets × length.
        let brackets = self
            .yaml
            .bytes()
            .filter(|b| matches!(b, b'[' | b'{'))
            .count();
        if brackets.saturating_mul(self.yaml.len()) > MAX_BRACKET_WORK {
            let first = self.yaml.find(['[', '{']).unwrap_or(0);
            return Err(Diagnostic::error(format!(
                "{what} has too many `[` and `{{` for its length ({brackets} in {} KB) to be read safely",
                self.yaml.len() / 1024
            ))
            .at(at(first))
            .hint("write lists as `- item` lines and mappings as `key: value` lines, or shorten the text"));
        }
        Ok(())
    }

    fn diagnostic(&self, e: &serde_yaml::Error, what: &str) -> Diagnostic {
        let raw = e.to_string();
        // serde_yaml appends " at line X column Y"; we show the place ourselves.
        let message = match raw.rsplit_once(" at line ") {
            Some((message, _)) => message.to_string(),
            None => raw.clone(),
        };
        let (offset, width) = match e.location() {
            Some(loc) => {
                let start = loc.index().min(self.yaml.len());
                let word = self
                    .yaml
                    .get(start..)
                    .and_then(|rest| rest.find([':', '\n', ' ', ',']))
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

/// Flow collections (`[`, `{`) may nest this deep; real front matter needs three or four levels.
pub const MAX_DEPTH: usize = 64;

/// Front matter and `site.yaml` hold settings, not documents: a megabyte is far more than any
/// needs, and parses in a tenth of a second.
pub const MAX_YAML_BYTES: usize = 1 << 20;

/// Opening brackets × bytes a YAML text may have: libyaml's work grows with (nesting × tokens),
/// which this bounds even where [`too_deep`] misread the text (about 0.3 s unoptimised). Real
/// files stay a thousand times below it (a 3 KB `site.yaml` with 18 brackets: 54,000).
const MAX_BRACKET_WORK: usize = 1 << 25;

/// The byte offset of the first `[` or `{` that opens a flow collection more than [`MAX_DEPTH`]
/// levels deep, if any.
///
/// One pass that follows libyaml's tokens as far as nesting needs: brackets count only where a
/// node starts (after indentation, `- `, `? `, `: `, `,`, `[`, `{`, an anchor or a tag) or inside a
/// flow collection, never inside quoted, plain or block scalars or comments. Its cost is linear.
fn too_deep(yaml: &str) -> Option<usize> {
    let b = yaml.as_bytes();
    let blank =
        |i: usize| matches!(b.get(i), None | Some(b' ' | b'\t')) || line_break(b, i).is_some();
    let flow_indicator = |i: usize| matches!(b.get(i), Some(b',' | b'[' | b']' | b'{' | b'}'));
    let end_of_line = |i: usize| end_of_line(b, i);
    let mut depth = 0usize;
    let mut i = 0;
    let mut line_begin = 0;
    let mut line_start = true;
    // A node may start at the next token.
    let mut node = true;
    // Block context: the indentation a block scalar's or plain scalar's further lines must exceed.
    let mut parent = 0usize;
    // Block context: the column of the current line's first node after `- ` and `? `.
    let mut first_col = 0usize;
    let mut pending_first = false;
    let mut block_scalar: Option<usize> = None;
    let mut plain_continues: Option<usize> = None;
    while i < b.len() {
        if line_start && depth == 0 {
            line_start = false;
            line_begin = i;
            let indent = b.iter().skip(i).take_while(|c| **c == b' ').count();
            let j = i + indent;
            let is_blank = j == b.len() || line_break(b, j).is_some();
            let continues = |limit: Option<usize>| limit.is_some_and(|t| is_blank || indent > t);
            if continues(block_scalar) || (b.get(j) != Some(&b'#') && continues(plain_continues)) {
                // The line belongs to the scalar: nothing in it is structure.
                i = end_of_line(j);
                continue;
            }
            block_scalar = None;
            plain_continues = None;
            if indent == 0
                && b.get(j..)
                    .is_some_and(|rest| rest.starts_with(b"---") || rest.starts_with(b"..."))
                && blank(j + 3)
            {
                i = j + 3;
                node = true;
                continue;
            }
            parent = indent;
            first_col = indent;
            pending_first = false;
            node = true;
            i = j;
            continue;
        }
        if let Some(len) = line_break(b, i) {
            i += len;
            line_start = true;
            line_begin = i;
            continue;
        }
        let Some(&c) = b.get(i) else { break };
        match c {
            b' ' | b'\t' => {
                i += 1;
                continue;
            }
            b'#' if i == 0 || blank(i - 1) => {
                i = end_of_line(i);
                continue;
            }
            _ => {}
        }
        if depth == 0 && pending_first {
            first_col = i.saturating_sub(line_begin);
            pending_first = false;
        }
        match c {
            b'[' | b'{' if node || depth > 0 => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
                node = true;
                i += 1;
            }
            b']' | b'}' if depth > 0 => {
                depth -= 1;
                node = false;
                i += 1;
            }
            b',' if depth > 0 => {
                node = true;
                i += 1;
            }
            b'"' | b'\'' if node => {
                let (end, last_line) = skip_quoted(b, i);
                if let Some(begin) = last_line {
                    line_begin = begin;
                }
                node = false;
                i = end;
            }
            b'&' | b'!' if node => {
                // An anchor or tag: a node still starts after it.
                i += 1;
                while i < b.len() && !blank(i) && !(depth > 0 && flow_indicator(i)) {
                    i += 1;
                }
            }
            b'-' | b'?' if node && blank(i + 1) => {
                if depth == 0 {
                    parent = i.saturating_sub(line_begin);
                    pending_first = true;
                }
                i += 1;
            }
            // In flow, `"key":value` needs no space after the colon.
            b':' if blank(i + 1)
                || (depth > 0 && flow_indicator(i + 1))
                || (depth > 0
                    && matches!(
                        i.checked_sub(1).and_then(|j| b.get(j)),
                        Some(b'"' | b'\'' | b']' | b'}')
                    )) =>
            {
                if depth == 0 {
                    parent = first_col;
                }
                node = true;
                i += 1;
            }
            b'|' | b'>' if node && depth == 0 => {
                block_scalar = Some(parent);
                i = end_of_line(i);
            }
            _ if depth > 0 => {
                // A plain scalar (or an alias) in flow: quotes inside it are plain characters.
                node = false;
                i += 1;
            }
            _ => {
                // A plain scalar in block context runs to `: `, ` #` or the end of the line, and
                // may go on in further lines indented more than its parent.
                let mut j = i;
                loop {
                    if j == b.len() || line_break(b, j).is_some() {
                        plain_continues = Some(parent);
                        break;
                    }
                    match b.get(j) {
                        Some(b':') if blank(j + 1) => break,
                        Some(b'#') if j > 0 && blank(j - 1) => break,
                        _ => j += 1,
                    }
                }
                node = false;
                i = j;
            }
        }
    }
    None
}

/// The end of the quoted scalar opening at `start` (just past its closing quote, or the end of
/// the text), and where the last line inside it begins.
fn skip_quoted(b: &[u8], start: usize) -> (usize, Option<usize>) {
    let quote = b.get(start).copied();
    let mut i = start + 1;
    let mut last_line = None;
    while let Some(&c) = b.get(i) {
        if let Some(len) = line_break(b, i) {
            i += len;
            last_line = Some(i);
            continue;
        }
        match c {
            b'\\' if quote == Some(b'"') => i += 2,
            b'\'' if quote == Some(b'\'') && b.get(i + 1) == Some(&b'\'') => i += 2,
            c if Some(c) == quote => return (i + 1, last_line),
            _ => i += 1,
        }
    }
    (b.len(), last_line)
}

/// The length of the line break at `i`, if one is there: libyaml breaks lines at LF, CR LF and a
/// bare CR, and at NEL, U+2028 and U+2029.
fn line_break(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i..)? {
        [b'\r', b'\n', ..] => Some(2),
        [b'\r' | b'\n', ..] => Some(1),
        [0xC2, 0x85, ..] => Some(2),
        [0xE2, 0x80, 0xA8 | 0xA9, ..] => Some(3),
        _ => None,
    }
}

/// The index of the line break at or after `i`, or the end of the text.
fn end_of_line(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && line_break(b, i).is_none() {
        i += 1;
    }
    i
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
    // An open fact's typo (`start: ofen`): the suggestion is the help line.
    if let Some((problem, suggestion)) = message.split_once("; did you mean ") {
        return (
            format!("invalid value in {what}: {problem}"),
            format!("did you mean {suggestion}"),
        );
    }
    if let Some((path, rest)) = message.split_once("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        // serde_yaml names the mapping the key is missing from: `venue: missing field `name``.
        let path = path.trim().trim_end_matches(':');
        let key = if path.is_empty() {
            field.to_string()
        } else {
            format!("{path}.{field}")
        };
        let open = if crate::yaml::fact::REQUIRED_OPENABLE.contains(&key.as_str()) {
            format!(", or `{field}: offen` while it is not known yet")
        } else {
            String::new()
        };
        return (
            format!("required key `{field}` is missing in {what}"),
            format!("add a line `{field}: …` to {what}{open}"),
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
    if message.contains("recursion limit exceeded") {
        return (
            format!("{what} is nested too deeply"),
            "real settings need a few levels at most: flatten the lists and mappings".to_string(),
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

    fn deep(yaml: &str) -> Option<usize> {
        too_deep(yaml)
    }

    #[test]
    fn deep_flow_nesting_is_found_at_the_bracket_past_the_limit() {
        let yaml = format!("title: a\nx: {}", "[".repeat(100));
        assert_eq!(deep(&yaml), Some("title: a\nx: ".len() + MAX_DEPTH));
        for yaml in [
            format!("x: {}", "{a: ".repeat(100)),
            format!("x: {}", "[{".repeat(50)),
            format!("- {}", "[".repeat(65)),
            format!("x:\n  - k: {}", "[\n".repeat(65)),
            format!("x: &anker !!seq {}", "[".repeat(65)),
            format!("{{\"a\":{}", "[".repeat(65)),
            format!("x: [ \"]]]]]]]]\", '}}}}}}', {}", "[".repeat(65)),
            format!("- k: |\n    text\n  other: {}", "[".repeat(65)),
            format!("x: |\n  text\ny: {}", "[".repeat(65)),
            format!("x: [a, b]\ny: {}", "[ # ]]]]\n".repeat(65)),
            format!("a: 1 # c\rb: {}", "[".repeat(65)),
            format!("a: 1 # c\u{85}b: {}", "[".repeat(65)),
            format!("a: 1 # c\u{2028}b: {}", "[".repeat(65)),
            format!("a: 'x\u{2029}' # ]]]]\u{2029}b: {}", "[".repeat(65)),
            format!("a: |\r  text\rb: {}", "[".repeat(65)),
        ] {
            assert!(deep(&yaml).is_some(), "{yaml}");
        }
        assert_eq!(deep(&format!("x: {}", "[".repeat(MAX_DEPTH))), None);
    }

    #[test]
    fn brackets_inside_scalars_and_comments_do_not_count() {
        let many = "[".repeat(100);
        for yaml in [
            format!("x: \"{many}\""),
            format!("x: '{many}'"),
            format!("x: 'it''s {many}'"),
            format!("x: \"a \\\" {many}\""),
            format!("x: |\n  {many}\n  {many}\ny: 1"),
            format!("- >-\n  {many}\n"),
            format!("title: Ein {many}"),
            format!("title: geht's\n  weiter {many}\n"),
            format!("# {many}\nx: 1 # {many}"),
            format!("x: a#{many}"),
            format!("x: [\"{many}\", '{many}', plain]"),
            "title: Ein [Titel\n".repeat(200),
        ] {
            assert_eq!(deep(&yaml), None, "{yaml}");
        }
    }

    #[test]
    fn every_front_matter_of_the_bundled_sites_passes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        for dir in ["content", "newsletters", "tests/fixtures/basic"] {
            for entry in walkdir::WalkDir::new(root.join(dir)).into_iter().flatten() {
                let name = entry.file_name().to_string_lossy();
                if !(name.ends_with(".md") || name == "site.yaml") {
                    continue;
                }
                let text = std::fs::read_to_string(entry.path()).unwrap();
                let yaml = match text.strip_prefix("---\n") {
                    Some(rest) => rest.split("\n---").next().unwrap(),
                    None => &text,
                };
                assert_eq!(deep(yaml), None, "{}", entry.path().display());
                seen += 1;
            }
        }
        let site = std::fs::read_to_string(root.join("site.yaml")).unwrap();
        assert_eq!(deep(&site), None);
        assert!(seen > 20, "{seen} files");
    }

    #[test]
    fn absurd_yaml_is_refused_at_its_place_before_parsing() {
        let file = format!("---\ntitle: a\nx: {}\n---\n", "[".repeat(100_000));
        let start = std::time::Instant::now();
        let d = err_of(&file);
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
        assert!(d.message.contains("more than 64 levels"), "{}", d.message);
        let loc = d.location.unwrap();
        assert_eq!((loc.line, loc.column), (3, 4 + MAX_DEPTH));

        let file = format!("---\ntitle: \"{}\"\n---\n", "a".repeat(MAX_YAML_BYTES));
        assert!(err_of(&file).message.contains("at most 1024 KB"));

        // Brackets the scan does not count still bound the parser's work.
        let file = format!("---\ntitle: \"{}\"\n---\n", "[".repeat(10_000));
        assert!(err_of(&file).message.contains("too many `[`"));
    }

    fn err_of(file: &str) -> Diagnostic {
        let start = 4;
        let end = file.rfind("---").unwrap();
        YamlSource {
            path: Path::new("x.md"),
            file_text: file,
            yaml: &file[start..end],
            offset: start,
        }
        .parse::<serde_json::Value>("the front matter")
        .unwrap_err()
    }

    /// YAML values as editors (and attackers) write them, with their flow nesting depth.
    #[derive(Debug, Clone)]
    enum Node {
        Scalar(String),
        Seq(Vec<Node>),
        Map(Vec<(String, Node)>),
    }

    fn scalar() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let text = "[a-z\\[\\]{},:#'\" ]{0,12}";
        prop_oneof![
            "[a-z][a-z ]{0,8}",
            text.prop_map(|t| format!("\"{}\"", t.replace('"', "\\\""))),
            text.prop_map(|t| format!("'{}'", t.replace('\'', "''"))),
        ]
    }

    fn node() -> impl proptest::strategy::Strategy<Value = Node> {
        use proptest::prelude::*;
        scalar()
            .prop_map(Node::Scalar)
            .prop_recursive(80, 400, 3, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..3).prop_map(Node::Seq),
                    proptest::collection::vec(("[a-z]{1,4}", inner), 0..3).prop_map(Node::Map),
                ]
            })
    }

    fn flow(n: &Node) -> String {
        match n {
            Node::Scalar(s) => s.clone(),
            Node::Seq(items) => format!(
                "[{}]",
                items.iter().map(flow).collect::<Vec<_>>().join(", ")
            ),
            Node::Map(items) => format!(
                "{{{}}}",
                items
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", flow(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The node as serde_yaml writes it: block style, quoting and `|` block scalars where needed.
    fn block(n: &Node) -> serde_yaml::Value {
        use serde_yaml::Value;
        match n {
            Node::Scalar(s) => Value::String(s.replace("  ", "\n  ")),
            Node::Seq(items) => Value::Sequence(items.iter().map(block).collect()),
            Node::Map(items) => Value::Mapping(
                items
                    .iter()
                    .map(|(k, v)| (Value::String(k.clone()), block(v)))
                    .collect(),
            ),
        }
    }

    fn depth_of(n: &Node) -> usize {
        match n {
            Node::Scalar(_) => 0,
            Node::Seq(items) => 1 + items.iter().map(depth_of).max().unwrap_or(0),
            Node::Map(items) => 1 + items.iter().map(|(_, v)| depth_of(v)).max().unwrap_or(0),
        }
    }

    proptest::proptest! {
        #[test]
        fn the_scan_finds_exactly_the_nesting_libyaml_parses(
            n in node(),
            wrap in 0usize..90,
            comment in "[\\[{ a-z]{0,10}",
        ) {
            // Wrapped in more levels, so both sides of the limit are tried.
            let n = (0..wrap).fold(n, |n, i| match i % 2 {
                0 => Node::Seq(vec![Node::Scalar("'[x'".into()), n]),
                _ => Node::Map(vec![("k".into(), n)]),
            });
            let yaml = format!("# {comment}\ntitle: \"{comment}\"\nx: {} # {comment}\n", flow(&n));
            // The generator writes valid YAML, so the scan and serde_yaml see the same thing.
            proptest::prop_assume!(serde_yaml::from_str::<serde_yaml::Value>(&yaml).is_ok() || depth_of(&n) > MAX_DEPTH);
            proptest::prop_assert_eq!(deep(&yaml).is_some(), depth_of(&n) > MAX_DEPTH, "{}", yaml);
        }

        #[test]
        fn block_style_never_counts_and_a_deep_value_after_it_is_found(
            n in node(),
            brk in proptest::sample::select(vec!["\n", "\r\n", "\r", "\u{85}", "\u{2028}"]),
        ) {
            let yaml = serde_yaml::to_string(&block(&n)).unwrap().replace('\n', brk);
            proptest::prop_assert_eq!(deep(&yaml), None, "{}", yaml);
            let indented: String = yaml.split(brk).map(|l| format!("  {l}{brk}")).collect();
            let then = format!("x:{brk}{indented}y: {}{brk}", "[".repeat(65));
            proptest::prop_assert!(deep(&then).is_some(), "{}", then);
        }
    }
}
