//! Code blocks highlighted with CSS classes by syntect.

use std::sync::OnceLock;

use syntect::html::{ClassStyle, ClassedHTMLGenerator};
use syntect::parsing::SyntaxSet;
use syntect::util::LinesWithEndings;

use super::escape::escape;

/// Class prefix of highlighted code spans; the theme's `syntax.css` styles `hl-*` classes.
pub const HIGHLIGHT_PREFIX: &str = "hl-";

fn syntax_set() -> &'static SyntaxSet {
    // Loading syntect's definitions takes milliseconds: only pay for it when a page has code.
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

/// Highlights code with CSS classes (no inline styles, so the theme controls colours and contrast).
pub fn highlight(lang: Option<&str>, code: &str) -> String {
    let lang_attr = lang
        .map(|l| format!(" data-lang=\"{}\"", escape(l)))
        .unwrap_or_default();
    let highlighted = lang.and_then(|l| {
        let ss = syntax_set();
        let syntax = ss.find_syntax_by_token(l)?;
        let mut generator = ClassedHTMLGenerator::new_with_class_style(
            syntax,
            ss,
            ClassStyle::SpacedPrefixed {
                prefix: HIGHLIGHT_PREFIX,
            },
        );
        for line in LinesWithEndings::from(code) {
            generator
                .parse_html_for_line_which_includes_newline(line)
                .ok()?;
        }
        Some(generator.finalize())
    });
    let body = highlighted.unwrap_or_else(|| escape(code));
    format!("<pre class=\"code\"{lang_attr}><code>{body}</code></pre>\n")
}
