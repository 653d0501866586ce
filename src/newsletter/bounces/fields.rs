//! The fields of a delivery status (RFC 3464 §2) or feedback report (RFC 5965 §3): header-like
//! lines in groups separated by blank lines. They come from any mail server on the net, so the
//! parser takes any text, and every value it returns is one line of at most [`MAX_VALUE`]
//! characters without control characters — safe to print and to store.

/// The longest value kept; a longer one is cut (with "…").
pub const MAX_VALUE: usize = 300;

/// One group of fields: `(name lower-cased, value)` in their order.
pub type Group = Vec<(String, String)>;

/// The groups of `text`: for a DSN the first is about the message, each further one about one
/// recipient; a feedback report has one. Continuation lines (starting with a space or a tab)
/// join their field; lines without a colon are skipped.
pub fn groups(text: &str) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    let mut current: Group = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim();
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                current.push((name.to_ascii_lowercase(), value.trim().to_string()));
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    for group in &mut out {
        for (_, value) in group.iter_mut() {
            *value = clean(value);
        }
    }
    out
}

/// The value of field `name` (lower-case) in `group`, if present and not empty.
pub fn get<'a>(group: &'a Group, name: &str) -> Option<&'a str> {
    group
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// One line: control characters (CR, LF, ESC, …) and bidirectional overrides become spaces,
/// runs of spaces one, and at most [`MAX_VALUE`] characters stay.
pub fn clean(value: &str) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut space = false;
    for c in value.chars() {
        let c = if c.is_control() || is_bidi(c) { ' ' } else { c };
        if c == ' ' {
            if space || out.is_empty() {
                continue;
            }
            space = true;
        } else {
            space = false;
        }
        if count == MAX_VALUE {
            out.push('…');
            break;
        }
        out.push(c);
        count += 1;
    }
    out.trim_end().to_string()
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The address of a recipient field: `rfc822; erika@example.org` (RFC 3464 §2.3.2), also
/// without the type and in angle brackets. `None` when no address is left.
pub fn address(value: &str) -> Option<String> {
    let value = clean(value);
    let value = match value.split_once(';') {
        Some((kind, rest)) if !kind.contains('@') => rest,
        _ => value.as_str(),
    };
    let value = value
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (value.contains('@') && !value.contains(' ')).then(|| value.to_string())
}

/// A status code `class.subject.detail` (RFC 3463): class 2, 4 or 5, the others 1–3 digits.
/// Anything else is `None`; the class is its first character.
pub fn status(value: &str) -> Option<String> {
    let code = value.split_whitespace().next()?;
    let mut parts = code.split('.');
    let class = parts.next()?;
    let ok = matches!(class, "2" | "4" | "5")
        && parts.clone().count() == 2
        && parts.all(|p| (1..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit()));
    ok.then(|| code.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const POSTFIX: &str = "Reporting-MTA: dns; mail.example.org\r\nX-Postfix-Queue-ID: 4F1A2\r\nArrival-Date: Wed,  2 Dec 2026 07:00:00 +0100 (CET)\r\n\r\nFinal-Recipient: rfc822; niemand@example.org\r\nOriginal-Recipient: rfc822;niemand@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: X-Postfix; unknown user:\r\n    \"niemand\"\r\n";

    #[test]
    fn a_postfix_delivery_status_splits_into_message_and_recipient_fields() {
        let g = groups(POSTFIX);
        assert_eq!(g.len(), 2);
        assert_eq!(get(&g[0], "reporting-mta"), Some("dns; mail.example.org"));
        let r = &g[1];
        assert_eq!(
            get(r, "final-recipient").and_then(address).as_deref(),
            Some("niemand@example.org")
        );
        assert_eq!(get(r, "status").and_then(status).as_deref(), Some("5.1.1"));
        assert_eq!(
            get(r, "diagnostic-code"),
            Some("X-Postfix; unknown user: \"niemand\"")
        );
    }

    #[test]
    fn hostile_values_come_out_as_one_clean_line() {
        let g = groups(
            "Final-Recipient: rfc822; a@b.org\u{1b}[2J\rX: y\nDiagnostic-Code: \u{202e}evil\u{0}",
        );
        assert_eq!(
            get(&g[0], "final-recipient"),
            Some("rfc822; a@b.org [2J X: y")
        );
        assert_eq!(get(&g[0], "diagnostic-code"), Some("evil"));
        assert_eq!(address("rfc822; a@b.org [2J"), None);
        assert_eq!(address("<a@b.org>").as_deref(), Some("a@b.org"));
        for bad in ["5.1", "6.1.1", "5.1.1000", "x.1.1", "", "5..1"] {
            assert_eq!(status(bad), None, "{bad}");
        }
        assert_eq!(status("4.2.2 (mailbox full)").as_deref(), Some("4.2.2"));
        assert_eq!(clean(&"x".repeat(1000)).chars().count(), MAX_VALUE + 1);
    }

    proptest! {
        #[test]
        fn any_text_gives_clean_bounded_fields(text in "(?s:.{0,400})", extra in proptest::collection::vec("[A-Za-z-]{1,12}: [^\n]{0,40}\n[ \t]?", 0..8)) {
            let text = format!("{text}\n{}", extra.concat());
            for group in groups(&text) {
                for (name, value) in &group {
                    prop_assert!(!name.is_empty());
                    prop_assert!(value.chars().count() <= MAX_VALUE + 1);
                    prop_assert!(!value.chars().any(|c| c.is_control() || is_bidi(c)), "{value:?}");
                    if let Some(a) = address(value) {
                        prop_assert!(a.contains('@') && !a.contains(' '));
                    }
                    if let Some(s) = status(value) {
                        prop_assert!(s.starts_with(['2', '4', '5']));
                    }
                }
            }
        }
    }
}
