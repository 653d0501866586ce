//! `@/target.md#anchor`, the one form an editor links to other content with: parsed once here
//! (in bodies, front matter, `site.yaml`, e-mails and templates alike), resolved by the site's
//! key index (`site::links::KeyIndex`).

use crate::diagnostics::Diagnostic;

/// A link to content of this site, as written: `@/aktuelles/beitrag.md#ziele`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkTarget<'a> {
    /// The file's key relative to `content/` as written: `aktuelles/beitrag.md` (the resolver
    /// also takes `./aktuelles/beitrag.md`).
    pub key: &'a str,
    /// What follows `#`, if anything.
    pub anchor: Option<&'a str>,
}

impl<'a> LinkTarget<'a> {
    /// The target of `@/…`; `None` for every other address.
    pub fn parse(written: &'a str) -> Option<LinkTarget<'a>> {
        let rest = written.strip_prefix("@/")?;
        let (key, anchor) = match rest.split_once('#') {
            Some((key, anchor)) => (key, Some(anchor)),
            None => (rest, None),
        };
        Some(LinkTarget { key, anchor })
    }

    /// `url` (the target's address) with the anchor, if the link has one.
    pub fn with_anchor(&self, url: &str) -> String {
        match self.anchor {
            Some(anchor) => format!("{url}#{anchor}"),
            None => url.to_string(),
        }
    }
}

/// What a link target in `@/` form turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Url(String),
    /// The page exists but is not published yet (scheduled or draft): render the text only.
    Unpublished,
    Missing {
        suggestion: Option<String>,
    },
}

/// The error for `written`, an `@/` link whose target does not exist, with the closest key.
pub fn missing_page(written: &str, suggestion: Option<&str>) -> Diagnostic {
    let hint = match suggestion {
        Some(s) => format!("did you mean `@/{s}`?"),
        None => "write the path of an existing file relative to `content/`, e.g. `@/aktuelles/beitrag.md`".into(),
    };
    Diagnostic::error(format!("link to a missing page `{written}`")).hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_of_a_link_to_content() {
        assert_eq!(
            LinkTarget::parse("@/aktuelles/x.md#ziele"),
            Some(LinkTarget {
                key: "aktuelles/x.md",
                anchor: Some("ziele")
            })
        );
        assert_eq!(
            LinkTarget::parse("@/kontakt.md"),
            Some(LinkTarget {
                key: "kontakt.md",
                anchor: None
            })
        );
        assert_eq!(LinkTarget::parse("/aktuelles/"), None);
        assert_eq!(LinkTarget::parse("https://example.org/@/x"), None);
        let t = LinkTarget::parse("@/a.md#b").unwrap();
        assert_eq!(t.with_anchor("/a/"), "/a/#b");
    }
}
