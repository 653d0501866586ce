//! Plain text filled to a width: the paragraphs, headings and list items of the newsletter's text
//! part and of the theme's `wrap` filter. A leaf: it knows nothing of Markdown or mail.

use textwrap::{WordSeparator, WordSplitter, WrapAlgorithm};

/// Stands in for a space that must not become a line break ("Seite [3]" stays together); it is
/// replaced by a space after wrapping. A control character, so it is stripped from the input first
/// and never collides with the author's text, and textwrap counts it as one column like the space
/// it becomes.
pub const GLUE: char = '\u{1f}';

/// Wraps one paragraph of plain text at `width` with `indent` before every line after the first
/// and `first` before the first line (for list items: first="- ", indent="  "). Words longer than the
/// width (URLs) stay whole on their own line.
///
/// Words are split at ASCII spaces only, so hyphenated words and no-break spaces hold together;
/// a "\n" in `text` starts a new line. The result has no trailing spaces and no final "\n";
/// empty text gives `first` alone (trimmed).
pub fn wrap(text: &str, width: usize, first: &str, indent: &str) -> String {
    // textwrap gives no line at all for empty text; a list item without text still shows its marker.
    if text.trim().is_empty() {
        return first.trim_end().to_owned();
    }
    wrap_lines(text, width, first, indent).join("\n")
}

/// A heading line underlined for plain text: level 1/2 with '=' the length of the text (in chars), level 3+ with '-'.
///
/// A heading already wrapped to several lines is underlined as long as its longest line. Empty
/// text gives an empty string; the result has no final "\n".
pub fn heading(text: &str, level: u8) -> String {
    let lines: Vec<&str> = text
        .trim()
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
        .collect();
    let length = lines.iter().map(|line| char_count(line)).max().unwrap_or(0);
    if length == 0 {
        return String::new();
    }
    let mark = if level <= 2 { "=" } else { "-" };
    format!("{}\n{}", lines.join("\n"), mark.repeat(length))
}

/// The lines of `text` filled to `width` (see [`wrap`]), each without trailing spaces.
pub fn wrap_lines(text: &str, width: usize, first: &str, indent: &str) -> Vec<String> {
    // First fit (each line as full as it goes) is how plain-text mail is filled. With textwrap's
    // default features off (Cargo.toml) every char below U+1100 counts one column, so the width is
    // counted in chars, umlauts included; wider scripts count two, which only shortens a line.
    let options = textwrap::Options::new(width)
        .initial_indent(first)
        .subsequent_indent(indent)
        .break_words(false)
        .word_separator(WordSeparator::AsciiSpace)
        .word_splitter(WordSplitter::NoHyphenation)
        .wrap_algorithm(WrapAlgorithm::FirstFit);
    textwrap::wrap(text, options)
        .into_iter()
        .map(|line| line.trim_end().replace(GLUE, " "))
        .collect()
}

/// Columns of `text` as plain-text mail counts them: one per char.
pub fn char_count(text: &str) -> usize {
    text.chars().count()
}
