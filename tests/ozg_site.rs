//! The bundled OZG site itself: it builds at any moment, and closed advent doors leave no trace.

mod common;

use std::path::Path;

use common::{ozg, snapshot};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn build_at(now: &str) -> (tempfile::TempDir, String) {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("public");
    let dir_s = dir.to_string_lossy().into_owned();
    ozg(&["build", "--root", ROOT, "--now", now, "--output", &dir_s]).ok();
    let text = snapshot(&dir)
        .values()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
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
        "2025-11-30T23:59:59+01:00",
        "2025-12-01T12:00:00+01:00",
        "2025-12-24T12:00:00+01:00",
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

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
