//! Subscriber addresses and names as they enter the store: checked and normalised once, at the
//! door (the sign-up form, `subscribers add`, a CSV import), so that sending, listing and
//! exporting never meet a value they cannot handle.
//!
//! One form per address: the local part in Unicode NFC, the domain in its ASCII (Punycode) form,
//! lower-cased — so `Jörg@Bücher.de`, `Jörg@xn--bcher-kva.de` and a decomposed `ö` are one
//! subscriber, and a forgotten address stays forgotten in every spelling. Only a non-ASCII local
//! part then needs the mail server's SMTPUTF8 extension.

use unicode_normalization::UnicodeNormalization;

/// Longest address mail servers accept (RFC 5321: 254 characters in a path).
pub const MAX_EMAIL: usize = 254;
/// Longest name we keep.
pub const MAX_NAME: usize = 100;

/// Why an address is refused. [`AddressError::reason`] says it in a sentence for the command
/// line; the sign-up form maps the kinds to its own German texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressError {
    Empty,
    TooLong,
    /// A control character (line break, tab, escape, NUL…) or U+FFFD from undecodable bytes.
    ControlCharacter,
    /// No `@`, an empty or malformed local part, characters mail systems reject.
    Malformed,
    /// A quoted local part (`"a b"@example.org`): valid in RFC 5321, but refused by most mail
    /// servers and by our mail library, so it could never be sent.
    Quoted,
    /// The domain is not a complete, valid domain name (like `example.org`).
    Domain,
}

impl AddressError {
    /// The reason in a sentence, quoting `shown` (what was given) escaped and shortened: a line
    /// with an escape sequence or 30 MB in it never reaches the terminal as it is.
    pub fn reason(&self, shown: &str) -> String {
        let shown = excerpt(shown);
        match self {
            AddressError::Empty => "the address is empty".into(),
            AddressError::TooLong => format!("the address is longer than {MAX_EMAIL} characters"),
            AddressError::ControlCharacter => {
                format!("`{shown}` contains a control character (a line break, tab or similar)")
            }
            AddressError::Malformed => format!("`{shown}` is not an e-mail address"),
            AddressError::Quoted => format!(
                "`{shown}` has a quoted part before the @, which mail servers do not accept"
            ),
            AddressError::Domain => {
                format!("`{shown}` has no complete domain (like example.org)")
            }
        }
    }
}

/// An address in its one stored form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Checks and normalises `raw` (surrounding white space is dropped).
    pub fn parse(raw: &str) -> Result<Email, AddressError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(AddressError::Empty);
        }
        if raw.chars().any(is_forbidden) {
            return Err(AddressError::ControlCharacter);
        }
        if raw.chars().count() > MAX_EMAIL {
            return Err(AddressError::TooLong);
        }
        let nfc: String = raw.nfc().collect();
        let (local, domain) = nfc.rsplit_once('@').ok_or(AddressError::Malformed)?;
        if local.starts_with('"') {
            return Err(AddressError::Quoted);
        }
        if !is_dot_atom(local) {
            return Err(AddressError::Malformed);
        }
        let ascii_domain =
            idna::domain_to_ascii_strict(domain).map_err(|_| AddressError::Domain)?;
        if !ascii_domain.contains('.') || ascii_domain.ends_with('.') {
            return Err(AddressError::Domain);
        }
        let email = format!("{local}@{ascii_domain}");
        if email.chars().count() > MAX_EMAIL {
            return Err(AddressError::TooLong);
        }
        // Whatever we store, the mail library must take as it is.
        email
            .parse::<lettre::Address>()
            .map_err(|_| AddressError::Malformed)?;
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The form that decides whether two addresses are one subscriber: local parts are
    /// case-sensitive in theory and never in practice.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }

    /// The mailbox behind the address, for rate limits: without a `+tag` and letter case, so
    /// `anna+1@…`, `Anna+2@…` and `anna@…` count as one mailbox.
    pub fn mailbox(&self) -> String {
        let key = self.key();
        match key.rsplit_once('@') {
            Some((local, domain)) => {
                let base = local.split_once('+').map_or(local, |(b, _)| b);
                let base = if base.is_empty() { local } else { base };
                format!("{base}@{domain}")
            }
            None => key,
        }
    }

    /// Whether sending needs the server's SMTPUTF8 extension (a non-ASCII local part).
    pub fn needs_smtputf8(&self) -> bool {
        !self.0.is_ascii()
    }

    /// The keys older versions may have stored for this address: they lower-cased what was
    /// typed, so the domain may be in Unicode or Punycode, either in NFC or decomposed. Only
    /// for finding hashes of addresses forgotten before keys had one form; [`Email::key`] first.
    pub fn legacy_keys(&self) -> Vec<String> {
        let key = self.key();
        let Some((local, domain)) = key.rsplit_once('@') else {
            return vec![key];
        };
        let (unicode_domain, _) = idna::domain_to_unicode(domain);
        let locals = [local.to_string(), local.nfd().collect()];
        let domains = [
            domain.to_string(),
            unicode_domain.clone(),
            unicode_domain.nfd().collect(),
        ];
        let mut keys = vec![key.clone()];
        for l in &locals {
            for d in &domains {
                let k = format!("{l}@{d}").to_lowercase();
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        keys
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The key of an address as stored before this module existed, or of anything that does not
/// parse: trimmed and lower-cased. Parsed addresses use [`Email::key`].
pub fn address_key(raw: &str) -> String {
    match Email::parse(raw) {
        Ok(e) => e.key(),
        Err(_) => raw.trim().to_lowercase(),
    }
}

/// Why a name is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    TooLong,
    /// A control character, a bidirectional override or U+FFFD: a line break in a greeting breaks
    /// the mail's header or body, an override makes the name read differently than it is stored.
    ControlCharacter,
}

impl NameError {
    pub fn reason(&self) -> String {
        match self {
            NameError::TooLong => format!("the name is longer than {MAX_NAME} characters"),
            NameError::ControlCharacter => {
                "the name contains a line break, tab or other control character".into()
            }
        }
    }
}

/// A subscriber's name in its stored form (trimmed, NFC, inner white space as typed), or `None`
/// for an empty one.
pub fn clean_name(raw: &str) -> Result<Option<String>, NameError> {
    let trimmed = raw.trim();
    // NFC composes at most a few code points into one: far longer input cannot become short.
    if trimmed.len() > MAX_NAME * 16 {
        return Err(NameError::TooLong);
    }
    if trimmed.chars().any(is_forbidden) {
        return Err(NameError::ControlCharacter);
    }
    let name: String = trimmed.nfc().collect();
    if name.chars().count() > MAX_NAME {
        return Err(NameError::TooLong);
    }
    Ok((!name.is_empty()).then_some(name))
}

/// `value` for a terminal or a log line: every character [`clean_name`] and [`Email::parse`]
/// refuse (line breaks, escape sequences, NUL, bidirectional overrides) written as `\u{1b}`, the
/// rest as it is. Values stored by older versions or edited by hand may still hold them.
pub fn printable(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.chars().any(is_forbidden) {
        return std::borrow::Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if is_forbidden(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// At most [`EXCERPT`] characters of `value`, [`printable`], with `…` where it was cut: for
/// quoting input in an error message.
pub fn excerpt(value: &str) -> String {
    let mut chars = value.chars();
    let head: String = chars.by_ref().take(EXCERPT).collect();
    let cut = if chars.next().is_some() { "…" } else { "" };
    format!("{}{cut}", printable(&head))
}

/// How much of a refused value an error message quotes.
const EXCERPT: usize = 60;

/// Characters no address or name may hold: C0/C1 controls (CR, LF, TAB, ESC, NUL…), the
/// replacement character that undecodable bytes became, and the bidirectional embeddings,
/// overrides and isolates that make text display in another order than it is stored.
fn is_forbidden(c: char) -> bool {
    c.is_control()
        || c == '\u{fffd}'
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{2028}' | '\u{2029}')
}

/// RFC 5322 dot-atom (RFC 6531 allows any non-ASCII character in it as well).
fn is_dot_atom(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= 64
        && local.split('.').all(|atom| {
            !atom.is_empty()
                && atom.chars().all(|c| {
                    !c.is_ascii() || c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_form_for_every_spelling() {
        let composed = Email::parse("Jörg@Bücher.de").unwrap();
        let decomposed = Email::parse("Jo\u{308}rg@bu\u{308}cher.DE").unwrap();
        let punycode = Email::parse(" jörg@xn--bcher-kva.de ").unwrap();
        assert_eq!(composed.as_str(), "Jörg@xn--bcher-kva.de");
        assert_eq!(composed.key(), decomposed.key());
        assert_eq!(composed.key(), punycode.key());
        assert!(composed.needs_smtputf8());
        assert!(!Email::parse("a@bücher.de").unwrap().needs_smtputf8());
    }

    #[test]
    fn refused_addresses() {
        for (raw, why) in [
            ("", AddressError::Empty),
            ("   ", AddressError::Empty),
            ("a\r\nb@example.org", AddressError::ControlCharacter),
            ("a@exa\u{1b}mple.org", AddressError::ControlCharacter),
            ("a\u{0}@example.org", AddressError::ControlCharacter),
            ("a\u{202e}b@example.org", AddressError::ControlCharacter),
            ("\"a b\"@example.org", AddressError::Quoted),
            ("no-at.example.org", AddressError::Malformed),
            ("a..b@example.org", AddressError::Malformed),
            (".a@example.org", AddressError::Malformed),
            ("a b@example.org", AddressError::Malformed),
            ("a@localhost", AddressError::Domain),
            ("a@example.", AddressError::Domain),
            ("a@exa_mple.org", AddressError::Domain),
            ("a@-example.org", AddressError::Domain),
        ] {
            assert_eq!(Email::parse(raw), Err(why), "{raw:?}");
        }
        let long = format!("{}@example.org", "a".repeat(300));
        assert_eq!(Email::parse(&long), Err(AddressError::TooLong));
    }

    #[test]
    fn formulas_are_addresses_only_where_mail_allows_them() {
        // `=1+1@example.org` is a valid address: export neutralises it, validation cannot.
        assert!(Email::parse("=1+1@example.org").is_ok());
    }

    #[test]
    fn mailboxes_ignore_tags_and_case() {
        let m = |s: &str| Email::parse(s).unwrap().mailbox();
        assert_eq!(m("Anna+1@Example.org"), "anna@example.org");
        assert_eq!(m("anna+x+y@example.org"), "anna@example.org");
        assert_eq!(m("anna@example.org"), "anna@example.org");
        assert_eq!(m("+only@example.org"), "+only@example.org");
    }

    #[test]
    fn names() {
        assert_eq!(
            clean_name("  Erika  Mustermann "),
            Ok(Some("Erika  Mustermann".into()))
        );
        assert_eq!(clean_name("   "), Ok(None));
        assert_eq!(clean_name("Jo\u{308}rg"), Ok(Some("Jörg".into())));
        for bad in [
            "a\nb",
            "a\rb",
            "a\tb",
            "\u{1b}[31mrot",
            "a\u{0}",
            "a\u{fffd}",
            "\u{202e}abc",
        ] {
            assert_eq!(clean_name(bad), Err(NameError::ControlCharacter), "{bad:?}");
        }
        assert_eq!(clean_name(&"x".repeat(101)), Err(NameError::TooLong));
        assert!(clean_name(&"x".repeat(30_000_000)).is_err());
    }

    #[test]
    fn printable_escapes_what_a_terminal_would_obey() {
        assert_eq!(printable("Jürgen Müller"), "Jürgen Müller");
        assert_eq!(
            printable("\u{1b}[2Jrot\r\nzwei\u{0}\u{202e}"),
            "\\u{1b}[2Jrot\\u{d}\\u{a}zwei\\u{0}\\u{202e}"
        );
        let long = excerpt(&"ä".repeat(30_000_000));
        assert_eq!(long.chars().count(), EXCERPT + 1);
        assert!(long.ends_with('…'));
        let why = AddressError::ControlCharacter.reason(&format!("a\u{1b}{}", "b".repeat(1000)));
        assert!(why.contains("a\\u{1b}b") && why.len() < 200, "{why}");
    }

    #[test]
    fn legacy_keys_cover_the_spellings_older_versions_stored() {
        let keys = Email::parse("Jörg@Bücher.de").unwrap().legacy_keys();
        assert_eq!(keys[0], "jörg@xn--bcher-kva.de");
        for old in [
            "jörg@bücher.de",
            "jo\u{308}rg@bu\u{308}cher.de",
            "jo\u{308}rg@xn--bcher-kva.de",
        ] {
            assert!(keys.contains(&old.to_string()), "{old}");
        }
        assert_eq!(
            Email::parse("a@example.org").unwrap().legacy_keys(),
            vec!["a@example.org"]
        );
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_is_idempotent(raw in "\\PC{0,80}|[a-zA-Z0-9.+_@\u{e4}\u{f6}\u{fc}-]{0,40}") {
            if let Ok(e) = Email::parse(&raw) {
                let again = Email::parse(e.as_str()).expect("a stored address parses again");
                prop_assert_eq!(&again, &e);
                prop_assert!(!e.as_str().chars().any(is_forbidden));
                prop_assert!(e.as_str().parse::<lettre::Address>().is_ok());
            }
        }

        #[test]
        fn clean_names_hold_no_control_characters(raw in any::<String>()) {
            if let Ok(Some(n)) = clean_name(&raw) {
                prop_assert!(!n.chars().any(is_forbidden));
                prop_assert_eq!(clean_name(&n), Ok(Some(n.clone())));
            }
        }
    }
}
