//! `ozg-site new`: files for editors with every key of their kind, the next number, never overwriting.

mod common;

use common::{NOW, Site};

#[test]
fn new_files_of_every_kind_build_and_take_the_next_number() {
    let site = Site::fixture("basic");
    site.write(
        "content/termine/_index.md",
        "---\ntitle: Termine\nkind: event\n---\n",
    );
    let created: Vec<String> = [
        vec![
            "new",
            "sprechstunde",
            "--date",
            "2026-01-21",
            "--title",
            "Register \"Teil 2\"",
        ],
        vec![
            "new",
            "news",
            "--title",
            "Neue Meldung",
            "--date",
            "2025-12-01",
        ],
        vec![
            "new",
            "event",
            "--title",
            "Roadshow Halle",
            "--date",
            "2026-02-01",
        ],
        vec!["new", "door", "--title", "Tür drei"],
        vec![
            "new",
            "newsletter",
            "--title",
            "Ausgabe drei",
            "--date",
            "2025-12-01",
        ],
        vec!["new", "page", "--title", "Neue Seite"],
    ]
    .iter()
    .map(|args| {
        let run = site.run(args);
        run.ok();
        run.stdout
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("created ")
            .to_string()
    })
    .collect();
    assert_eq!(
        created,
        [
            "content/sprechstunden/71-register-teil-2.md",
            "content/aktuelles/neue-meldung.md",
            "content/termine/roadshow-halle.md",
            "content/advent/03.md",
            "newsletters/3-ausgabe-drei.md",
            "content/neue-seite.md",
        ]
    );
    let session = site.read(&created[0]);
    assert!(
        session.contains("number: 71") && session.contains("# Tagesordnung"),
        "{session}"
    );
    assert!(
        session.contains("title: \"Register \\\"Teil 2\\\"\""),
        "the title's quotes are escaped in YAML:\n{session}"
    );
    // Drafts until the editor says otherwise; with --drafts the site builds with all of them.
    site.run(&["build", "--now", NOW, "--drafts"]).ok();
    for page in [
        "sprechstunden/71-register-teil-2/index.html",
        "advent/3/index.html",
    ] {
        assert!(
            site.public().join(page).is_file(),
            "the new draft {page} is built with --drafts"
        );
    }
    site.build().ok();
    assert!(
        !site
            .public()
            .join("sprechstunden/71-register-teil-2")
            .exists(),
        "a draft by default"
    );
}

#[test]
fn new_never_overwrites_and_asks_for_a_date_where_needed() {
    let site = Site::fixture("basic");
    site.run(&["new", "page", "--title", "Kontakt"])
        .failed_with(1)
        .stderr_has("already exists");
    assert!(
        site.read("content/kontakt.md").contains("test@example.org"),
        "untouched"
    );
    site.run(&["new", "sprechstunde", "--title", "Ohne Datum"])
        .failed_with(2)
        .stderr_has("--date");
    site.run(&["new", "event", "--title", "X", "--date", "2026-01-01"])
        .failed_with(1)
        .stderr_has("no section of kind `event`");
}
