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
    assert!(
        run.stdout.contains("No errors found."),
        "check says so: {}",
        run.stdout
    );
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
            "![](https://example.org/bild.png)",
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

/// A tiny HTTP server on 127.0.0.1: `/da` answers 200, `/weg` 404, `/langsam` only after 3 s.
/// Returns its address and the paths it was asked for.
fn link_server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = asked.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                reader.read_line(&mut request).ok();
                let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
                log.lock().unwrap().push(path.clone());
                let status = match path.as_str() {
                    "/da" => "200 OK",
                    "/langsam" => {
                        // The point of this path: an answer slower than check's --timeout.
                        std::thread::sleep(std::time::Duration::from_secs(3));
                        "200 OK"
                    }
                    _ => "404 Not Found",
                };
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            });
        }
    });
    (addr, asked)
}

#[test]
fn external_links_are_checked_against_a_local_server_and_cached() {
    let (addr, asked) = link_server();
    let site = Site::fixture("basic");
    site.write(
        PAGE,
        format!(
            "---\ntitle: Prüfung\nignore_checks:\n  - {{ check: http-link, reason: \"lokaler Testserver ohne TLS\" }}\n---\n\n[Die Seite](http://{addr}/da)\n\n[Die alte Seite](http://{addr}/weg)\n\n[Die langsame Seite](http://{addr}/langsam)\n"
        ),
    );
    // Without --external nothing leaves the machine.
    check(&site, &[]).ok();
    let asked_offline = asked.lock().unwrap().clone();
    assert!(
        asked_offline.is_empty(),
        "no request without --external: {asked_offline:?}"
    );

    let run = check(&site, &["--external", "--timeout", "0.5"]);
    run.failed_with(1);
    run.stderr_has("warning[dead-link]");
    run.stderr_has(&format!("`http://{addr}/weg` does not answer: HTTP 404"));
    run.stderr_has("content/pruefung.md:9:1");
    run.stderr_has(&format!(
        "`http://{addr}/langsam` does not answer: no answer in time"
    ));
    assert!(
        !run.stderr.contains(&format!("{addr}/da`")),
        "{}",
        run.stderr
    );

    asked.lock().unwrap().clear();
    check(&site, &["--external", "--timeout", "0.5"]).failed_with(1);
    let again = asked.lock().unwrap().clone();
    assert!(
        !again.contains(&"/da".to_string()),
        "a live link is cached: {again:?}"
    );
    assert!(
        again.contains(&"/weg".to_string()),
        "a dead link is asked again"
    );
}

/// A check with warnings of three kinds (an open fact with a note, a link text, an image without
/// alternative text): the whole report, and its JSON, as an editor and CI see them.
#[test]
fn a_check_with_several_warnings_shows_each_whole() {
    let site = Site::fixture("basic");
    site.write(
        "content/sprechstunden/70.md",
        "---\ntitle: Jahresrückblick 2025\nnumber: 70\ndate: 2025-12-17\nstart: {offen: \"stimmt das Referat ab\"}\nend: \"14:00\"\n---\nRückblick.\n",
    );
    site.write(
        PAGE,
        "---\ntitle: Prüfung\n---\n\nMehr [hier](@/kontakt.md).\n\n![](https://example.org/bild.png)\n",
    );
    let run = check(&site, &[]);
    run.failed_with(1)
        .stderr_has("warning[open-fact]")
        .stderr_has("warning[link-text]")
        .stderr_has("warning[image-alt]");
    insta::assert_snapshot!("several_warnings_stderr", site.redact(&run.stderr));

    let run = check(&site, &["--format", "json"]);
    run.failed_with(1);
    let findings: serde_json::Value =
        serde_json::from_str(&run.stdout).expect("check --format json prints JSON");
    assert_eq!(
        findings.as_array().map(Vec::len),
        Some(3),
        "three findings: {findings}"
    );
    insta::assert_snapshot!("several_warnings_json", site.redact(&run.stdout));
}
