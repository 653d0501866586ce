//! Subscriber lists as people keep them: CSV files from Excel (`;` or `,`, with or without BOM).
//! An export holds the consent record of each subscriber; read back in, only its active rows
//! are added.

use std::path::Path;

use crate::diagnostics::{Diagnostic, Location};

/// What an import found.
#[derive(Debug, Default)]
pub struct Parsed {
    pub valid: Vec<(String, Option<String>)>,
    /// One per bad line, with its line number.
    pub invalid: Vec<Diagnostic>,
    /// Rows whose `status` column says they receive nothing (`pending`, `unsubscribed`).
    pub not_active: u64,
}

/// Checks an address the way mail servers will: `name@domain.tld`, nothing around it.
pub fn check_address(email: &str) -> Result<String, String> {
    let email = email.trim();
    if email.is_empty() {
        return Err("the address is empty".into());
    }
    let parsed: lettre::Address = email
        .parse()
        .map_err(|_| format!("`{email}` is not an e-mail address"))?;
    if !parsed.domain().contains('.') || parsed.domain().ends_with('.') {
        return Err(format!(
            "`{email}` has no complete domain (like example.org)"
        ));
    }
    Ok(email.to_string())
}

/// Reads `path`: a header row with an `email` column (any letter case; `E-Mail` too), an optional
/// `name` column and an optional `status` column (rows not `active` are left out); other columns
/// are ignored.
pub fn read_csv(path: &Path) -> Result<Parsed, Diagnostic> {
    let shown = path.to_path_buf();
    let text = crate::load::read_text(path, &shown)?;
    let first_line = text.lines().next().unwrap_or_default();
    // Excel writes `;` in German settings and `,` elsewhere: the header tells which.
    let delimiter = if first_line.matches(';').count() > first_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| Diagnostic::error(format!("cannot read the header row: {e}")).in_file(&shown))?
        .clone();
    let column = |names: &[&str]| {
        headers.iter().position(|h| {
            let h = h.trim().to_lowercase();
            names.iter().any(|n| h == *n)
        })
    };
    let email_col = column(&["email", "e-mail", "mail", "e-mail-adresse"]).ok_or_else(|| {
        Diagnostic::error("the file has no `email` column")
            .at(Location::at_offset(&shown, &text, 0, first_line.len()))
            .hint("the first row names the columns, e.g. `email;name`")
    })?;
    let name_col = column(&["name"]);
    let status_col = column(&["status"]);
    let mut parsed = Parsed::default();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                parsed.invalid.push(
                    Diagnostic::error(format!("line {line} cannot be read: {e}"))
                        .in_file(&shown)
                        .hint("check the quotes in that line"),
                );
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let status = status_col.and_then(|c| record.get(c)).map(str::trim);
        if status.is_some_and(|s| !s.is_empty() && !s.eq_ignore_ascii_case("active")) {
            parsed.not_active += 1;
            continue;
        }
        match check_address(record.get(email_col).unwrap_or_default()) {
            Ok(email) => {
                let name = name_col
                    .and_then(|c| record.get(c))
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string);
                parsed.valid.push((email, name));
            }
            Err(why) => parsed.invalid.push(
                Diagnostic::error(format!("line {line}: {why}; skipped"))
                    .in_file(&shown)
                    .hint("correct the address and import the file again (addresses already there are not added twice)"),
            ),
        }
    }
    Ok(parsed)
}

/// Writes a row per subscriber with their consent record ([`super::store::Subscriber::record`]), UTF-8 with BOM so Excel shows umlauts
/// correctly, `;` as German Excel expects.
pub fn write_csv(path: &Path, subscribers: &[super::store::Subscriber]) -> Result<(), Diagnostic> {
    let fail = |e: &dyn std::fmt::Display| {
        Diagnostic::error(format!("cannot write {}: {e}", path.display()))
            .hint("check that the folder exists and is writable")
    };
    let mut out = Vec::from("\u{feff}".as_bytes());
    {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(b';')
            .from_writer(&mut out);
        writer
            .write_record(super::store::Subscriber::RECORD)
            .map_err(|e| fail(&e))?;
        for s in subscribers {
            writer.write_record(s.record()).map_err(|e| fail(&e))?;
        }
        writer.flush().map_err(|e| fail(&e))?;
    }
    // Written beside and renamed, so an interrupted export never leaves half a file.
    let tmp = path.with_extension("csv.tmp");
    std::fs::write(&tmp, out).map_err(|e| fail(&e))?;
    std::fs::rename(&tmp, path).map_err(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Parsed {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("liste.csv");
        std::fs::write(&p, text).unwrap();
        read_csv(&p).unwrap()
    }

    #[test]
    fn excel_semicolons_bom_and_extra_columns() {
        let p = parse(
            "\u{feff}Name;E-Mail;Ort\nJürgen Müller;juergen@example.org;Halle\n;ohne-at;Dessau\n\n\"Doe; Jane\";jane@example.org;\n",
        );
        assert_eq!(
            p.valid,
            vec![
                ("juergen@example.org".into(), Some("Jürgen Müller".into())),
                ("jane@example.org".into(), Some("Doe; Jane".into()))
            ]
        );
        assert_eq!(p.invalid.len(), 1);
        assert!(
            p.invalid[0].message.starts_with("line 3:"),
            "{}",
            p.invalid[0].message
        );
    }

    #[test]
    fn commas_and_no_name_column() {
        let p = parse("email,abteilung\na@example.org,IT\nb@localhost,IT\n");
        assert_eq!(p.valid, vec![("a@example.org".into(), None)]);
        assert!(p.invalid[0].message.contains("complete domain"));
    }

    #[test]
    fn an_export_read_back_adds_only_its_active_rows() {
        let p = parse(
            "email;name;status;source\na@example.org;A;active;form\nb@example.org;;unsubscribed;cli\nc@example.org;;pending;form\n",
        );
        assert_eq!(p.valid, vec![("a@example.org".into(), Some("A".into()))]);
        assert_eq!(p.not_active, 2);
    }
}
