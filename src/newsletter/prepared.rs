//! An edition's two parts encoded for the wire once, so each of ten thousand messages costs a
//! few copies instead of encoding 80 KB again.
//!
//! Both parts go out quoted-printable (RFC 2045 §6.7): readable where it is ASCII, safe for
//! umlauts, and with lines short enough for every server. The text around the placeholders is
//! encoded once; a message is those pieces with the recipient's own values encoded between
//! them, each piece ending in a soft line break so the joins leave no trace in the decoded text.

use super::{Edition, Personal, SALUTATION, UNSUBSCRIBE_URL, email::tidy_text};
use crate::diagnostics::Diagnostic;
use crate::parse::markdown::escape;
use crate::site::Site;

#[derive(Debug, Clone)]
enum Piece {
    Fixed(Vec<u8>),
    Unsubscribe,
    Salutation,
}

/// One part with its placeholders, encoded.
#[derive(Debug, Clone)]
struct Template(Vec<Piece>);

impl Template {
    fn new(text: &str) -> Template {
        let mut pieces = Vec::new();
        let mut rest = text;
        loop {
            let next = [
                (UNSUBSCRIBE_URL, Piece::Unsubscribe),
                (SALUTATION, Piece::Salutation),
            ]
            .into_iter()
            .filter_map(|(token, piece)| rest.find(token).map(|i| (i, token.len(), piece)))
            .min_by_key(|(i, _, _)| *i);
            let Some((i, len, piece)) = next else { break };
            let (Some(fixed), Some(after)) = (rest.get(..i), rest.get(i + len..)) else {
                break;
            };
            pieces.push(Piece::Fixed(encode(fixed)));
            pieces.push(piece);
            rest = after;
        }
        pieces.push(Piece::Fixed(encode(rest)));
        Template(pieces)
    }

    fn fill(&self, unsubscribe: &str, salutation: &str) -> Vec<u8> {
        let (unsubscribe, salutation) = (encode(unsubscribe), encode(salutation));
        let mut out = Vec::with_capacity(
            self.0
                .iter()
                .map(|p| match p {
                    Piece::Fixed(b) => b.len(),
                    _ => 128,
                })
                .sum(),
        );
        for piece in &self.0 {
            out.extend_from_slice(match piece {
                Piece::Fixed(b) => b,
                Piece::Unsubscribe => &unsubscribe,
                Piece::Salutation => &salutation,
            });
        }
        out
    }
}

/// An edition ready to be addressed.
#[derive(Debug, Clone)]
pub struct Prepared {
    html: Template,
    /// The text part for recipients with a salutation, and without (its line removed).
    text_named: Template,
    text_anonymous: Template,
    /// The salutation of recipients without a name ([`Edition::opening`]).
    opening: String,
    /// Fingerprint of the content, for stable Message-IDs.
    pub content_hash: u64,
}

impl Prepared {
    pub fn new(edition: &Edition) -> Prepared {
        let anonymous = super::without_salutation_line(&edition.text);
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(edition.html.as_bytes());
        hasher.update(edition.text.as_bytes());
        hasher.update(edition.subject.as_bytes());
        Prepared {
            html: Template::new(&edition.html),
            text_named: Template::new(&tidy_text(&edition.text)),
            text_anonymous: Template::new(&tidy_text(&anonymous)),
            opening: edition.opening.clone(),
            content_hash: hasher.digest(),
        }
    }

    /// The quoted-printable HTML part for `p` (values escaped for HTML, as [`Personal::html`]
    /// of [`Edition::addressing`]).
    pub fn html(&self, p: &Personal) -> Vec<u8> {
        self.html
            .fill(&escape(&p.unsubscribe_url), &escape(self.salutation(p)))
    }

    /// The quoted-printable text part for `p` (as [`Personal::text`] of [`Edition::addressing`]).
    pub fn text(&self, p: &Personal) -> Vec<u8> {
        let salutation = self.salutation(p);
        let template = if salutation.is_empty() {
            &self.text_anonymous
        } else {
            &self.text_named
        };
        template.fill(&p.unsubscribe_url, salutation)
    }

    /// One salutation per mail: the recipient's own, else the greeting's.
    fn salutation<'a>(&'a self, p: &'a Personal) -> &'a str {
        if p.salutation.is_empty() {
            &self.opening
        } else {
            &p.salutation
        }
    }
}

/// Gmail shows only the first 102 KB of a message's HTML and hides the rest, the unsubscribe
/// link in the footer with it; warn with room to spare for the recipient's own values.
const CLIPPING_WARNING: usize = 90 * 1024;

/// A warning when the HTML part of `edition` as sent (quoted-printable, as it is encoded here)
/// nears Gmail's clipping limit, at the edition's file.
pub fn clipping_warning(edition: &Edition, site: &Site) -> Option<Diagnostic> {
    let size = encode(&edition.html).len();
    if size < CLIPPING_WARNING {
        return None;
    }
    let page = site.pages.get(edition.page)?;
    Some(
        Diagnostic::warning(format!(
            "the e-mail of edition {} has {} KB of HTML as sent; Gmail cuts messages off after 102 KB, the unsubscribe link with them",
            edition.number,
            size.div_ceil(1024)
        ))
        .in_file(&page.file.shown)
        .hint("shorten the edition or move long articles to the web and link to them"),
    )
}

/// Quoted-printable with CRLF line ends; a piece that does not end a line ends in a soft break.
fn encode(text: &str) -> Vec<u8> {
    const MAX: usize = 75;
    let mut out = Vec::with_capacity(text.len() + text.len() / 8);
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let bytes = line.as_bytes();
        let mut width = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let literal =
                (b == b' ' || b == b'\t') && !last || (33..=126).contains(&b) && b != b'=';
            let len = if literal { 1 } else { 3 };
            if width + len > MAX {
                out.extend_from_slice(b"=\r\n");
                width = 0;
            }
            if literal {
                out.push(b);
            } else {
                out.extend_from_slice(format!("={b:02X}").as_bytes());
            }
            width += len;
        }
        if lines.peek().is_some() {
            out.extend_from_slice(b"\r\n");
        } else if !line.is_empty() {
            // No newline here in the text: the next piece continues the same line.
            out.extend_from_slice(b"=\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes quoted-printable the way RFC 2045 says, for checking.
    fn decode(qp: &[u8]) -> String {
        let text = String::from_utf8(qp.to_vec()).unwrap().replace("=\r\n", "");
        let mut out = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap().replace("\r\n", "\n")
    }

    #[test]
    fn lines_stay_short_and_decode_to_the_text() {
        let text = format!(
            "Grüße aus Sachsen-Anhalt = 100 %\n{}\nEnde mit Leerzeichen \nx",
            "ä".repeat(60)
        );
        let qp = encode(&text);
        for line in String::from_utf8(qp.clone()).unwrap().split("\r\n") {
            assert!(line.len() <= 76, "{line}");
            assert!(!line.ends_with(' '));
        }
        assert_eq!(decode(&qp), text);
    }

    #[test]
    fn filled_pieces_equal_the_personal_rendering() {
        let edition = Edition {
            number: 2,
            page: 0,
            subject: "Betreff".into(),
            html: format!("<p>{SALUTATION}</p><a href=\"{UNSUBSCRIBE_URL}\">ab</a>"),
            text: format!("Kopf\n\n{SALUTATION}\n\nText\nAbmelden: {UNSUBSCRIBE_URL}\n"),
            web_url: String::new(),
            opening: String::new(),
            invitation: None,
        };
        for opening in ["", "Liebe Leserinnen, liebe Leser,"] {
            let edition = Edition {
                opening: opening.into(),
                ..edition.clone()
            };
            let prepared = Prepared::new(&edition);
            for salutation in ["Guten Tag Jürgen & Co,", ""] {
                let p = Personal {
                    unsubscribe_url: "https://x.example/ab?t=1&u=2".into(),
                    salutation: salutation.into(),
                };
                let addressed = edition.addressing(&p);
                assert_eq!(decode(&prepared.html(&p)), addressed.html(&edition.html));
                assert_eq!(decode(&prepared.text(&p)), addressed.text(&edition.text));
                let one = if salutation.is_empty() {
                    opening
                } else {
                    salutation
                };
                assert_eq!(
                    decode(&prepared.text(&p)).contains(&format!("\n\n{one}\n\nText")),
                    !one.is_empty()
                );
            }
        }
    }
}
