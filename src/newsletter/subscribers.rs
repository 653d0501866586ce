//! Subscriber lists as people keep them: CSV files from Excel (`;` or `,`, with or without BOM).
//! An export holds the consent record of each subscriber; read back in, only its active rows
//! are added.

use std::path::Path;

use super::address::{Email, clean_name, excerpt, printable};
use crate::diagnostics::{Diagnostic, Location};
use crate::error::OpError;

/// What an import found.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Addresses in their one form, names cleaned ([`clean_name`]).
    pub valid: Vec<(Email, Option<String>)>,
    /// One per refused row, at its line and column.
    pub invalid: Vec<Diagnostic>,
    /// Rows whose `status` column says they receive nothing (`pending`, `unsubscribed`).
    pub not_active: u64,
}

/// Checks an address the way mail servers will and returns its stored form ([`Email::parse`],
/// which new code should call itself).
pub fn check_address(email: &str) -> Result<String, String> {
    Email::parse(email)
        .map(Email::into_string)
        .map_err(|e| e.reason(email))
}

/// Reads `path`: a header row with an `email` column (any letter case; `E-Mail` too), an optional
/// `name` column and an optional `status` column (rows not `active` are left out); other columns
/// are ignored. Every address and name is checked as [`Email::parse`] and [`clean_name`] do; a
/// row with a refused value is reported at the line where it starts and the column of the value,
/// and left out as a whole. A cell our export protected from spreadsheet formulas gets its value
/// back ([`unprotect`]).
pub fn read_csv(path: &Path) -> Result<Parsed, Diagnostic> {
    let shown = path.to_path_buf();
    let text = crate::load::read_text(path, &shown).map_err(|mut d| {
        if let Some(loc) = &mut d.location {
            loc.source_line = loc.source_line.take().map(|l| printable(&l).into_owned());
        }
        d
    })?;
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
            .at(readable(Location::at_offset(
                &shown,
                &text,
                0,
                first_line.len(),
            )))
            .hint("the first row names the columns, e.g. `email;name`")
    })?;
    let name_col = column(&["name"]);
    let status_col = column(&["status"]);
    let header = |c: usize| excerpt(headers.get(c).unwrap_or_default().trim());
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
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let (line, start) = record
            .position()
            .map_or((0, 0), |p| (p.line() as usize, p.byte() as usize));
        let refuse = |col: usize, why: String, hint: &str| {
            let at = cell_location(&shown, &text, start, line, delimiter, col);
            Diagnostic::error(format!(
                "line {line}, column {} (`{}`): {why}; the row was not imported",
                col + 1,
                header(col)
            ))
            .at(at)
            .hint(hint)
        };
        let cell = |c: usize| unprotect(record.get(c).unwrap_or_default());
        let status = status_col.map(cell);
        if status.is_some_and(|s| !s.trim().is_empty() && !s.trim().eq_ignore_ascii_case("active"))
        {
            parsed.not_active += 1;
            continue;
        }
        let raw_email = cell(email_col);
        let email = match Email::parse(raw_email) {
            Ok(e) => e,
            Err(why) => {
                parsed.invalid.push(refuse(
                    email_col,
                    why.reason(raw_email),
                    "correct the address and import the file again (addresses already there are not added twice)",
                ));
                continue;
            }
        };
        let name = match name_col.map(|c| (c, clean_name(cell(c)))) {
            None => None,
            Some((_, Ok(name))) => name,
            Some((c, Err(why))) => {
                parsed.invalid.push(refuse(
                    c,
                    why.reason(),
                    "write the name on one line, without line breaks (in Excel: Alt+Enter in the cell) or other control characters, at most 100 characters; then import the file again",
                ));
                continue;
            }
        };
        parsed.valid.push((email, name));
    }
    Ok(parsed)
}

/// Where cell `col` of the record starting at byte `start` (on `line`) is: its own line and
/// column when it starts on the record's first line, else the record's first line. The line's
/// text is shown only when it holds nothing a terminal would obey and is of a length to read.
fn cell_location(
    path: &Path,
    text: &str,
    start: usize,
    line: usize,
    delimiter: u8,
    col: usize,
) -> Location {
    let offset = cell_offset(text, start, delimiter, col).unwrap_or(start);
    let on_first_line = text
        .get(start..offset)
        .is_some_and(|between| !between.contains('\n'));
    let mut at = Location::at_offset(path, text, if on_first_line { offset } else { start }, 1);
    at.line = line.max(1);
    readable(at)
}

/// `at` without its line's text if that holds what a terminal would obey or is too long to
/// read: the diagnostic then names line and column only.
fn readable(mut at: Location) -> Location {
    if at
        .source_line
        .as_deref()
        .is_some_and(|l| l.len() > 200 || printable(l).len() != l.len())
    {
        at.source_line = None;
    }
    at
}

/// The byte offset of cell `col` of the CSV record starting at byte `start`, reading quotes as
/// the csv crate does (a delimiter or line break inside quotes belongs to the cell).
fn cell_offset(text: &str, start: usize, delimiter: u8, col: usize) -> Option<usize> {
    if col == 0 {
        return Some(start);
    }
    let mut quoted = false;
    let mut seen = 0;
    for (i, &b) in text.as_bytes().get(start..)?.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => return None,
            b if b == delimiter && !quoted => {
                seen += 1;
                if seen == col {
                    return Some(start + i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether a spreadsheet would read `cell` as a formula (or would after removing one of our
/// protecting `'`): what OWASP lists for CSV injection — `=`, `+`, `-`, `@`, TAB, CR first.
fn looks_like_a_formula(cell: &str) -> bool {
    let rest = cell.trim_start_matches('\'');
    rest.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// A cell as the export writes it: one `'` in front of anything a spreadsheet would run as a
/// formula (`=HYPERLINK(…)` as a name, `=1+1@example.org` as an address — both valid input of
/// the public sign-up form), so Excel shows it as text.
pub fn protect(cell: &str) -> std::borrow::Cow<'_, str> {
    if looks_like_a_formula(cell) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// The value of a cell [`protect`] wrote: exactly the one `'` it added comes off, so an export
/// read back gives the original values. Other cells stay as they are.
pub fn unprotect(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if looks_like_a_formula(rest) => rest,
        _ => cell,
    }
}

/// Writes a row per subscriber with their consent record ([`super::store::Subscriber::record`]),
/// UTF-8 with BOM so Excel shows umlauts correctly, `;` as German Excel expects, every cell
/// [`protect`]ed from being run as a formula.
pub fn write_csv(path: &Path, subscribers: &[super::store::Subscriber]) -> Result<(), OpError> {
    let fail = |e: &dyn std::fmt::Display| OpError::Write {
        path: path.to_path_buf(),
        source: e.to_string().into(),
    };
    let mut out = Vec::from("\u{feff}".as_bytes());
    {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(b';')
            .from_writer(&mut out);
        // The consent record, then the lists received (`newsletter,sprechstunden`); the consent
        // record of each list is in `subscribers show`.
        writer
            .write_record(super::store::Subscriber::RECORD.iter().chain(&["lists"]))
            .map_err(|e| fail(&e))?;
        for s in subscribers {
            let lists: Vec<&str> = s
                .lists
                .iter()
                .filter(|m| m.is_active())
                .map(|m| m.list.as_str())
                .collect();
            writer
                .write_record(
                    s.record()
                        .iter()
                        .chain(std::iter::once(&lists.join(",")))
                        .map(|c| protect(c).into_owned()),
                )
                .map_err(|e| fail(&e))?;
        }
        writer.flush().map_err(|e| fail(&e))?;
    }
    // Written beside and renamed, so an interrupted export never leaves half a file. The file
    // beside is new (never one that is there, nor where a symbolic link of that name points) and
    // readable by its owner only: it holds every subscriber's address.
    let tmp = beside(path)?;
    let written =
        std::io::Write::write_all(&mut private_new_file(&tmp).map_err(|e| fail(&e))?, &out)
            .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(&e));
    }
    Ok(())
}

/// A name for a new file next to `path`: `.<name>.<random>.tmp`.
fn beside(path: &Path) -> Result<std::path::PathBuf, OpError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".into());
    let random = super::store::new_token()?;
    let short = random.get(..12).unwrap_or(&random);
    Ok(path.with_file_name(format!(".{name}.{short}.tmp")))
}

/// Creates `path`, failing if anything (a file, a symbolic link) is there; mode 0600 on Unix.
fn private_new_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
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

    fn valid(p: &Parsed) -> Vec<(&str, Option<&str>)> {
        p.valid
            .iter()
            .map(|(e, n)| (e.as_str(), n.as_deref()))
            .collect()
    }

    #[test]
    fn excel_semicolons_bom_and_extra_columns() {
        let p = parse(
            "\u{feff}Name;E-Mail;Ort\nJürgen Müller;juergen@example.org;Halle\n;ohne-at;Dessau\n\n\"Doe; Jane\";jane@example.org;\n",
        );
        assert_eq!(
            valid(&p),
            vec![
                ("juergen@example.org", Some("Jürgen Müller")),
                ("jane@example.org", Some("Doe; Jane"))
            ]
        );
        assert_eq!(p.invalid.len(), 1);
        assert!(
            p.invalid[0]
                .message
                .starts_with("line 3, column 2 (`E-Mail`):"),
            "{}",
            p.invalid[0].message
        );
        let at = p.invalid[0].location.as_ref().unwrap();
        assert_eq!((at.line, at.column), (3, 2));
    }

    #[test]
    fn commas_and_no_name_column() {
        let p = parse("email,abteilung\na@example.org,IT\nb@localhost,IT\n");
        assert_eq!(valid(&p), vec![("a@example.org", None)]);
        assert!(p.invalid[0].message.contains("complete domain"));
    }

    #[test]
    fn an_export_read_back_adds_only_its_active_rows() {
        let p = parse(
            "email;name;status;source\na@example.org;A;active;form\nb@example.org;;unsubscribed;cli\nc@example.org;;pending;form\n",
        );
        assert_eq!(valid(&p), vec![("a@example.org", Some("A"))]);
        assert_eq!(p.not_active, 2);
    }

    #[test]
    fn refused_values_are_reported_at_the_line_where_their_row_starts() {
        let p = parse(concat!(
            "email;name\n",                                 // 1
            "a@example.org;\"Erika\nMustermann\"\n",        // 2-3: Alt+Enter in Excel
            "\"b@example.org\";\"ok\"\n",                   // 4
            "\"mehr\nzeilen\";\"x\";\"c\n@example.org\"\n", // 5-7 (the extra column is ignored)
            "d\u{1b}[31m@example.org;Dora\n",               // 8
            "e@example.org;\u{0}Eva\n",                     // 9
            "\"\"\"q\"\"\"@example.org;Q\n",                // 10: a quoted local part
            "f@example.org;Fritz\n",                        // 11
        ));
        assert_eq!(
            valid(&p),
            vec![
                ("b@example.org", Some("ok")),
                ("f@example.org", Some("Fritz"))
            ]
        );
        let at: Vec<_> = p
            .invalid
            .iter()
            .map(|d| {
                let l = d.location.as_ref().unwrap();
                (
                    l.line,
                    l.column,
                    d.message.split(':').next().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            at,
            vec![
                (2, 15, "line 2, column 2 (`name`)".to_string()),
                (5, 1, "line 5, column 1 (`email`)".to_string()),
                (8, 1, "line 8, column 1 (`email`)".to_string()),
                (9, 15, "line 9, column 2 (`name`)".to_string()),
                (10, 1, "line 10, column 1 (`email`)".to_string()),
            ]
        );
        for d in &p.invalid {
            let shown = d.render();
            assert!(
                !shown.contains('\u{1b}') && !shown.contains('\u{0}'),
                "{shown}"
            );
        }
        assert!(p.invalid[0].hint.as_deref().unwrap().contains("Alt+Enter"));
        assert!(
            p.invalid[2].message.contains("\\u{1b}"),
            "{}",
            p.invalid[2].message
        );
        assert!(
            p.invalid[4].message.contains("quoted"),
            "{}",
            p.invalid[4].message
        );
    }

    #[test]
    fn a_header_without_email_is_reported_without_its_escape_sequences() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("liste.csv");
        std::fs::write(&p, "na\u{1b}[2Jme;ort\nx;y\n").unwrap();
        let d = read_csv(&p).err().unwrap();
        assert!(d.message.contains("no `email` column"));
        assert!(!d.render().contains('\u{1b}'), "{}", d.render());
    }

    #[test]
    fn a_30_mb_name_is_refused_without_quoting_it() {
        let p = parse(&format!(
            "email;name\na@example.org;{}\n",
            "x".repeat(30_000_000)
        ));
        assert!(p.valid.is_empty());
        let d = p.invalid[0].render();
        assert!(
            d.len() < 1000 && d.contains("longer than 100"),
            "{}",
            d.len()
        );
    }

    fn subscriber(email: &str, name: &str) -> super::super::store::Subscriber {
        use super::super::store::{Consent, SubscriberStatus, subscribers::Source};
        super::super::store::Subscriber {
            id: 1,
            email: email.into(),
            name: Some(name.into()),
            link_nonce: "n".into(),
            status: SubscriberStatus::Active,
            consent: Consent {
                source: Source::Form,
                requested_at: "2026-01-01T00:00:00Z".into(),
                confirmed_at: None,
                statement: None,
                unsubscribed_at: None,
                unsubscribed_via: None,
            },
            lists: Vec::new(),
        }
    }

    #[test]
    fn an_export_protects_formulas_in_its_bytes_and_reads_back_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.csv");
        std::fs::write(&path, "old").unwrap();
        let list = [subscriber(
            "=1+1@example.org",
            "=HYPERLINK(\"http://x\",\"y\")",
        )];
        write_csv(&path, &list).unwrap();
        let bytes = std::fs::read_to_string(&path).unwrap();
        assert!(
            bytes.contains(
                "\n'=1+1@example.org;\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\";active;form;"
            ),
            "{bytes}"
        );
        let back = read_csv(&path).unwrap();
        assert_eq!(
            valid(&back),
            vec![("=1+1@example.org", Some("=HYPERLINK(\"http://x\",\"y\")"))]
        );
        // Nothing is left beside it, and only its owner may read it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn formulas_are_protected_and_come_back_unchanged() {
        for cell in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "=1+1@example.org",
            "+49 345",
            "-x",
            "@SUM(A1)",
            "\tTab",
            "\rCR",
            "'=schon geschützt",
            "''=zweimal",
        ] {
            let out = protect(cell);
            assert!(out.starts_with('\''), "{cell:?}");
            assert_eq!(unprotect(&out), cell);
        }
        for cell in [
            "Jürgen",
            "a@example.org",
            "'Tom",
            "",
            "2025-01-01T00:00:00Z",
            " =x",
        ] {
            assert_eq!(protect(cell), cell);
            assert_eq!(unprotect(cell), cell);
        }
    }
}
