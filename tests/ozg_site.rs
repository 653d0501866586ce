//! The bundled OZG site itself: it builds at any moment, and closed advent doors leave no trace.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{ozg, snapshot};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Every output file of the bundled site built at `now`, by path below the output folder.
fn files_at(now: &str) -> (tempfile::TempDir, BTreeMap<PathBuf, String>) {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("public");
    let dir_s = dir.to_string_lossy().into_owned();
    ozg(&["build", "--root", ROOT, "--now", now, "--output", &dir_s]).ok();
    let files = snapshot(&dir)
        .into_iter()
        .map(|(path, bytes)| (path, String::from_utf8_lossy(&bytes).into_owned()))
        .collect();
    (out, files)
}

/// What a reader sees of an HTML page, one block per line: inline elements stay in their
/// sentence, every other tag ends a line. Good enough for looking for words in sentences.
fn visible_text(html: &str) -> String {
    const INLINE: [&str; 9] = [
        "a", "strong", "em", "span", "time", "abbr", "code", "b", "i",
    ];
    let mut text = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        text.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        let tag = &rest[start + 1..start + len];
        let name = tag
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("");
        if !INLINE.contains(&name) {
            text.push('\n');
        }
        rest = &rest[start + len + 1..];
    }
    text.push_str(rest);
    text.replace("&quot;", "\"")
        .replace("&amp;", "&")
        .replace('\u{ad}', "")
}

fn build_at(now: &str) -> (tempfile::TempDir, String) {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("public");
    let dir_s = dir.to_string_lossy().into_owned();
    ozg(&["build", "--root", ROOT, "--now", now, "--output", &dir_s]).ok();
    let text = snapshot(&dir)
        .values()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
        // Soft hyphens in headings and tiles would hide a leaked sentence from `contains`.
        .replace('\u{ad}', "");
    (out, text)
}

/// The title and the sentences of an advent door's source file.
fn door_texts(day: u32) -> Vec<String> {
    let path = Path::new(ROOT).join(format!("content/adventskalender/2025/{day:02}.md"));
    let text = std::fs::read_to_string(&path).unwrap();
    let (front, body) = text[4..].split_once("\n---\n").unwrap();
    let title = front
        .lines()
        .find_map(|l| l.strip_prefix("title:"))
        .unwrap()
        .trim()
        .trim_matches('"')
        .to_string();
    let mut texts = vec![title];
    texts.extend(
        body.split(['.', '!', '?', '\n'])
            .map(str::trim)
            .filter(|s| s.len() > 30 && !s.contains(['[', '*', '`']))
            .map(str::to_string),
    );
    texts
}

/// The source text of every content file except the doors: door text found there may appear legitimately.
fn other_sources() -> String {
    walkdir::WalkDir::new(Path::new(ROOT).join("content"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_type().is_file() && !e.path().to_string_lossy().contains("adventskalender/2025/")
        })
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn doors_6_to_24_leave_no_text_in_any_output_on_5_december() {
    let (_dir, all) = build_at("2025-12-05T13:00:00+01:00");
    let elsewhere = other_sources();
    for day in 1..=5 {
        for text in door_texts(day) {
            assert!(
                all.contains(&html_escape(&text)),
                "open door {day}: {text:?} missing"
            );
        }
    }
    let mut checked = 0;
    for day in 6..=24 {
        for text in door_texts(day)
            .into_iter()
            .filter(|t| !elsewhere.contains(t.as_str()))
        {
            assert!(
                !all.contains(&html_escape(&text)),
                "closed door {day} leaked: {text:?}"
            );
            checked += 1;
        }
        assert!(
            !all.contains(&format!("/adventskalender/2025/{day}/")),
            "link to closed door {day}"
        );
    }
    assert!(checked >= 19 * 2, "only {checked} door texts were checked");
}

#[test]
fn the_site_builds_before_during_and_long_after_the_advent_season() {
    for now in [
        "2025-04-01T09:00:00+02:00",
        "2025-11-20T10:00:00+01:00",
        "2025-11-30T23:59:59+01:00",
        "2025-12-01T12:00:00+01:00",
        "2025-12-24T12:00:00+01:00",
        "2026-01-10T10:00:00+01:00",
        "2026-11-23T10:00:00+01:00",
    ] {
        build_at(now);
    }
}

#[test]
fn today_the_home_page_points_to_the_archive_instead_of_an_empty_box() {
    let (dir, _) = build_at("2026-11-23T10:00:00+01:00");
    let home = std::fs::read_to_string(dir.path().join("public/index.html")).unwrap();
    assert!(home.contains("/sprechstunden/"), "links the archive");
    assert!(home.contains("/newsletter/"), "links the newsletter");
    assert!(
        !home.contains("Nächste OZG-Sprechstunde</h2>\n  </section>"),
        "no empty box"
    );
    let sessions =
        std::fs::read_to_string(dir.path().join("public/sprechstunden/index.html")).unwrap();
    assert!(
        sessions.contains("noch kein neuer Termin"),
        "says plainly that none is announced"
    );
}

#[test]
fn no_page_says_a_sprechstunde_is_online_or_in_the_internet() {
    // No source says where a Sprechstunde takes place; "online" was a guess that stood on the
    // home page, the section pages, a door and the Leichte-Sprache and Gebärdensprache pages.
    let (_dir, files) = files_at("2026-01-10T10:00:00+01:00");
    let mut sessions_mentioned = 0;
    for (path, html) in files
        .iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "html"))
    {
        for sentence in visible_text(html).split(['.', '!', '?', ':', '\n']) {
            let folded = sentence.to_lowercase().replace('-', "");
            if !folded.contains("sprechstunde") {
                continue;
            }
            sessions_mentioned += 1;
            let online = sentence
                .split(|c: char| !(c.is_alphanumeric() || c == '-'))
                .map(str::to_lowercase)
                .any(|w| w == "online" || w.starts_with("online-sprechstunde"));
            assert!(
                !online && !folded.contains("im internet"),
                "{}: {sentence:?}",
                path.display()
            );
        }
    }
    assert!(
        sessions_mentioned > 50,
        "only {sessions_mentioned} sentences checked"
    );
}

#[test]
fn the_session_pages_offer_no_stand_in_slides_but_say_the_originals_are_open() {
    // The PDFs offered as the slides of the 57th and 69th Sprechstunde were summaries made by
    // developers with the ministry as author, the GDST "Steckbrief" a document of no source.
    let (_dir, files) = files_at("2026-01-10T10:00:00+01:00");
    for gone in [
        "sprechstunden/57-einblick-in-die-zsa-machbarkeitsstudie/folien.pdf",
        "sprechstunden/69-gdst-forum/folien.pdf",
        "downloads/gdst-steckbrief.pdf",
    ] {
        assert!(
            !files.contains_key(Path::new(gone)),
            "{gone} is still published"
        );
    }
    for page in [
        "sprechstunden/57-einblick-in-die-zsa-machbarkeitsstudie/index.html",
        "sprechstunden/69-gdst-forum/index.html",
    ] {
        let html = &files[Path::new(page)];
        assert!(
            !html.contains("folien.pdf") && !html.contains("Folien und Unterlagen"),
            "{page}"
        );
        assert!(
            html.contains("Originalfolien:</strong> <span class=\"open-fact\">wird ergänzt</span>"),
            "{page} does not say the original slides are still open"
        );
    }
    let gdst = &files[Path::new("projekte/gdst/index.html")];
    assert!(
        !gdst.contains("steckbrief") && !gdst.contains(".pdf"),
        "the GDST page links no fact sheet PDF:\n{gdst}"
    );
}

#[test]
fn the_signed_greeting_is_the_editions_own_text() {
    // The greeting signed by Frank Bonse had been rewritten under his name: "nicht nur" for
    // his "nicht immer", and the events everybody looks back on moved into his own sentence.
    let (_dir, files) = files_at("2026-01-10T10:00:00+01:00");
    let edition = &files[Path::new("newsletter/2/index.html")];
    for sentence in [
        "Es geht nicht immer darum, was wir kommunizieren, sondern wie gut und transparent wir auf allen Ebenen miteinander kommunizieren, diskutieren, zuhören und umsetzen (verändern) können!",
        "Alle föderalen Ebenen blicken auf zahlreiche Meetings, Serientermine, Informationsveranstaltungen, Roadshows, Workshops, Länderkonferenzen, OZG-Koordinatorentreffen, Steuerungskreise, OZG-Sprechstunden zurück.",
        "Seit mehr als zwei Jahren gibt es die OZG-Informationsseite des Landes und die OZG-Sprechstunden, nun auch die OZG-Newsletter.",
    ] {
        assert!(edition.contains(sentence), "missing: {sentence}");
    }
    assert!(
        !edition.contains("nicht nur darum"),
        "the greeting is the edition's own, not a template's:\n{edition}"
    );
}

#[test]
fn every_page_with_a_deadline_of_2022_says_that_it_has_passed() {
    let (_dir, files) = files_at("2026-01-10T10:00:00+01:00");
    let mut deadlines = 0;
    for (path, html) in files
        .iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "html"))
    {
        // The call to write in by 21 November 2022 (a teaser saying it "war möglich" is fine).
        let text = visible_text(html);
        if text.contains("schreiben Sie uns") && text.contains("21. November 2022") {
            deadlines += 1;
            assert!(
                text.contains("Die Frist ist abgelaufen."),
                "{}",
                path.display()
            );
        }
    }
    assert!(
        deadlines >= 2,
        "the news item and the edition name the deadline"
    );
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The tags of `html` (from `<` to `>`) and the contents of its `<script>` and `<title>`
/// elements: where a soft hyphen would be a character rather than a break.
fn tags_and_scripts(html: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        let tag = &rest[start..start + len + 1];
        found.push(tag);
        rest = &rest[start + len + 1..];
        for element in ["script", "title"] {
            if tag.starts_with(&format!("<{element}")) {
                let end = rest.find(&format!("</{element}")).unwrap_or(rest.len());
                found.push(&rest[..end]);
                rest = &rest[end..];
            }
        }
    }
    found
}

#[test]
fn headings_and_tiles_carry_soft_hyphens_and_no_plain_text_output_does() {
    let (_dir, files) = files_at("2025-12-05T13:00:00+01:00");
    let gdst = &files[Path::new("projekte/gdst/index.html")];
    assert!(
        gdst.contains("<nav class=\"toc\""),
        "the longest page has a contents list"
    );
    let shy_headings = gdst
        .split("<h2 id=")
        .skip(1)
        .filter(|h| h.split("</h2>").next().unwrap_or("").contains('\u{ad}'))
        .count();
    assert!(shy_headings >= 2, "GDST's headings have soft hyphens");
    let cells = gdst
        .split("<td>")
        .skip(1)
        .filter(|c| c.split("</td>").next().unwrap_or("").contains('\u{ad}'))
        .count();
    assert!(cells >= 5, "the GDST table's cells have soft hyphens");
    let calendar = &files[Path::new("adventskalender/2025/index.html")];
    assert!(
        calendar.contains("<span class=\"advent-door-tile__title\">Zu\u{ad}sam\u{ad}men\u{ad}ar\u{ad}beit am Online-White\u{ad}board</span>")
            || calendar.contains("<span class=\"advent-door-tile__title\">Zu\u{ad}sam\u{ad}men\u{ad}ar\u{ad}beit am Online-Whiteboard</span>"),
        "the door's tile title is hyphenated"
    );
    let mut html_pages = 0;
    for (path, text) in &files {
        let shown = path.display();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match ext {
            "html" => {
                html_pages += 1;
                for part in tags_and_scripts(text) {
                    assert!(
                        !part.contains('\u{ad}'),
                        "{shown}: a soft hyphen in an attribute, title or script: {part}"
                    );
                }
            }
            "json" | "xml" | "ics" | "txt" | "webmanifest" | "conf" => {
                assert!(!text.contains('\u{ad}'), "{shown} has a soft hyphen")
            }
            _ => {}
        }
    }
    assert!(html_pages >= 40, "only {html_pages} pages were looked at");
    let index = &files[Path::new("suchindex.json")];
    assert!(
        index.contains("Registermodernisierung"),
        "the index has the whole word"
    );
    assert!(
        files.contains_key(Path::new("atom.xml")),
        "the feed was checked"
    );
}

#[test]
fn the_mails_html_headings_are_hyphenated_and_its_text_part_is_not() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_string_lossy().into_owned();
    ozg(&[
        "newsletter",
        "build",
        "2",
        "--root",
        ROOT,
        "--now",
        "2026-01-10T10:00:00+01:00",
        "--out",
        &dir,
    ])
    .ok();
    let html = std::fs::read_to_string(out.path().join("2/email.html")).unwrap();
    let text = std::fs::read_to_string(out.path().join("2/email.txt")).unwrap();
    assert!(
        html.contains("Zu\u{ad}sam\u{ad}men\u{ad}ar\u{ad}beit von Land und Kommunen"),
        "the article's heading has soft hyphens:\n{html}"
    );
    assert!(
        !text.contains('\u{ad}'),
        "the text part has a soft hyphen:\n{text}"
    );
    assert!(text.contains("Zusammenarbeit von Land"), "{text}");
    for part in tags_and_scripts(&html) {
        assert!(!part.contains('\u{ad}'), "a soft hyphen in a tag: {part}");
    }
}
