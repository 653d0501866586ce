//! `ozg-site check`'s accessibility checks through the real binary: each finding names file,
//! line and column with a German hint, fails the check, can be silenced with a reason, and comes
//! as JSON for CI.

mod common;

use common::{NOW, Site};

const PAGE: &str = "content/pruefung.md";

fn check(site: &Site, extra: &[&str]) -> common::Run {
    let mut args = vec!["check", "--now", NOW];
    args.extend_from_slice(extra);
    site.run(&args)
}

#[test]
fn the_fixture_passes_every_check() {
    let site = Site::fixture("basic");
    let run = check(&site, &[]);
    run.ok();
    assert!(run.stdout.contains("No errors found."));
}

#[test]
fn each_check_reports_file_line_and_a_german_hint() {
    let cases = [
        (
            "Mehr [hier](@/kontakt.md).",
            "warning[link-text]",
            "5:6",
            "Linktext",
        ),
        (
            "![](/bild.png)",
            "warning[image-alt]",
            "5:1",
            "Beschreiben Sie",
        ),
        (
            "## A\n\n#### B",
            "warning[heading-order]",
            "7:1",
            "Verwenden Sie hier ### statt ####",
        ),
        (
            "[Folien](/folien.pdf)",
            "warning[file-link]",
            "5:1",
            "Dateityp und Größe",
        ),
        (
            "| | |\n|---|---|\n| a | b |",
            "warning[table-header]",
            "5:1",
            "Überschrift",
        ),
        (
            "[Portal](http://example.org/)",
            "warning[http-link]",
            "5:1",
            "https://",
        ),
    ];
    for (body, code, at, hint) in cases {
        let site = Site::fixture("basic");
        site.write(PAGE, format!("---\ntitle: Prüfung\n---\n\n{body}\n"));
        let run = check(&site, &[]);
        run.failed_with(1);
        run.stderr_has(code);
        run.stderr_has(&format!("content/pruefung.md:{at}"));
        run.stderr_has(hint);
        assert!(
            !run.stderr.contains("nothing was written"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_check_is_silenced_per_file_only_with_a_known_id_and_a_reason() {
    let site = Site::fixture("basic");
    site.write(
        PAGE,
        "---\ntitle: Prüfung\nignore_checks:\n  - { check: http-link, reason: \"Das Archiv bietet kein https\" }\n---\n\n[Archiv](http://example.org/)\n",
    );
    check(&site, &[]).ok();

    site.write(
        PAGE,
        "---\ntitle: Prüfung\nignore_checks:\n  - { check: link-txt, reason: \"x\" }\n---\n",
    );
    let run = check(&site, &[]);
    run.failed_with(1);
    run.stderr_has("content/pruefung.md:4:14");
    run.stderr_has("there is no check `link-txt`");
    run.stderr_has("did you mean `link-text`?");

    site.write(
        PAGE,
        "---\ntitle: Prüfung\nignore_checks:\n  - { check: link-text, reason: \"\" }\n---\n",
    );
    check(&site, &[])
        .failed_with(1)
        .stderr_has("needs a reason");
}

#[test]
fn json_for_ci() {
    let site = Site::fixture("basic");
    site.write(
        PAGE,
        "---\ntitle: Prüfung\n---\n\nMehr [hier](@/kontakt.md).\n",
    );
    let run = check(&site, &["--format", "json"]);
    run.failed_with(1);
    let findings: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    let first = &findings[0];
    assert_eq!(first["check"], "link-text");
    assert_eq!(first["file"], "content/pruefung.md");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(5), Some(6))
    );
    assert_eq!(first["severity"], "warning");
    site.write(
        PAGE,
        "---\ntitle: Prüfung\n---\n\nMehr zum [Kontakt](@/kontakt.md).\n",
    );
    let run = check(&site, &["--format", "json"]);
    run.ok();
    assert_eq!(run.stdout.trim(), "[]");
}
