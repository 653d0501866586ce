//! Topics ("Themen"): declared in `site.yaml`, named in the front matter of every kind, listed at
//! `/themen/` and `/themen/<slug>/` (newest first, paginated, with a feed), shown on each page,
//! carried by the search index; every mistake an error at its file, line and column.

mod common;

use common::{NOW, Site};

const TOPICS: &str = "themen:\n  - { slug: gdst, title: Gemeinsam Digital, description: Das Projekt GDST. }\n  - { slug: leer, title: Noch leer, description: Ein Thema ohne Seiten. }\n";

/// Adds `line` to the front matter of `rel`, right after the opening `---`.
fn add_front(site: &Site, rel: &str, line: &str) {
    let text = site.read(rel);
    let rest = text.strip_prefix("---\n").expect("front matter");
    site.write(rel, format!("---\n{line}\n{rest}"));
}

fn with_topics() -> Site {
    let site = Site::fixture("basic");
    let yaml = site.read("site.yaml");
    site.write("site.yaml", format!("{yaml}{TOPICS}"));
    site
}

fn output(site: &Site, rel: &str) -> String {
    std::fs::read_to_string(site.public().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The targets of the card links of a list page, in order.
fn card_links(html: &str) -> Vec<String> {
    html.split("class=\"card__title\"><a href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn a_topic_lists_its_published_pages_of_every_kind_newest_first_and_undated_last() {
    let site = with_topics();
    for rel in [
        "content/aktuelles/erster.md",
        "content/aktuelles/zweiter.md",
        "content/aktuelles/entwurf.md",
        "content/aktuelles/geplant.md",
        "content/sprechstunden/70.md",
        "content/projekte/gdst.md",
        "content/advent/1.md",
        "content/advent/24.md",
    ] {
        add_front(&site, rel, "themen: [gdst]");
    }
    site.build().ok();
    let list = output(&site, "themen/gdst/index.html");
    assert_eq!(
        card_links(&list),
        [
            "/sprechstunden/70-jahresrueckblick-2025/",
            "/advent/1/",
            "/aktuelles/zweiter-beitrag/",
            "/aktuelles/erster-beitrag-ueber-groesse/",
            "/projekte/gdst/",
        ],
        "{list}"
    );
    // Drafts and what is scheduled for later are in no topic, as they are in no section.
    let all = site.all_output_text();
    for hidden in [
        "Entwurfstext-QUUX",
        "Unfertiger Entwurf",
        "Geheimer Zukunftsplan",
        "/advent/24/",
    ] {
        assert!(!all.contains(hidden), "{hidden} is out");
    }
    assert!(list.contains("<link rel=\"alternate\" type=\"application/atom+xml\" title=\"Gemeinsam Digital – Testseite OZG (Atom-Feed)\" href=\"/themen/gdst/atom.xml\">"), "{list}");
    assert!(
        list.contains("<link rel=\"canonical\" href=\"https://test.example.org/themen/gdst/\">")
    );

    // The feed has the dated pages only, newest first; Atom needs a date for each entry.
    let feed = output(&site, "themen/gdst/atom.xml");
    let ids: Vec<&str> = feed
        .split("<entry>\n    <id>")
        .skip(1)
        .filter_map(|e| e.split('<').next())
        .collect();
    assert_eq!(
        ids,
        [
            "https://test.example.org/sprechstunden/70-jahresrueckblick-2025/",
            "https://test.example.org/aktuelles/zweiter-beitrag/",
            "https://test.example.org/aktuelles/erster-beitrag-ueber-groesse/",
        ],
        "{feed}"
    );
    assert!(
        feed.contains("<title>Gemeinsam Digital – Testseite OZG</title>"),
        "{feed}"
    );

    // The index lists every topic, an empty one too, with its count.
    let index = output(&site, "themen/index.html");
    assert_eq!(card_links(&index), ["/themen/gdst/", "/themen/leer/"]);
    assert!(index.contains("5 Seiten"), "{index}");
    assert!(index.contains("Noch keine Seiten"), "{index}");
    assert!(
        output(&site, "themen/leer/index.html")
            .contains("Zu diesem Thema gibt es noch keine Seiten.")
    );

    // Each page names its topics as links, with a label for screen readers.
    let page = output(&site, "aktuelles/erster-beitrag-ueber-groesse/index.html");
    assert!(page.contains("<ul class=\"topics__list\" aria-labelledby=\"themen-der-seite\">\n    <li><a href=\"/themen/gdst/\">Gemeinsam Digital</a></li>"), "{page}");
    assert!(!output(&site, "kontakt/index.html").contains("class=\"topics\""));

    let sitemap = output(&site, "sitemap.xml");
    for loc in ["/themen/", "/themen/gdst/", "/themen/leer/"] {
        assert!(
            sitemap.contains(&format!("<loc>https://test.example.org{loc}</loc>")),
            "{loc}"
        );
    }
}

#[test]
fn a_topic_with_more_pages_than_fit_is_paginated_like_a_section() {
    let site = with_topics();
    for n in 1..=12 {
        site.write(
            &format!("content/aktuelles/thema-{n:02}.md"),
            format!(
                "---\ntitle: Meldung {n:02}\ndate: 2025-10-{n:02}\nthemen: [gdst]\n---\nText {n}.\n"
            ),
        );
    }
    site.build().ok();
    let first = output(&site, "themen/gdst/index.html");
    let second = output(&site, "themen/gdst/seite/2/index.html");
    assert_eq!(card_links(&first).len(), 10);
    assert_eq!(card_links(&first)[0], "/aktuelles/meldung-12/");
    assert_eq!(
        card_links(&second),
        ["/aktuelles/meldung-02/", "/aktuelles/meldung-01/"]
    );
    assert!(
        first.contains("<a href=\"/themen/gdst/seite/2/\" rel=\"next\">"),
        "{first}"
    );
    assert!(second.contains("Seite 2 von 2"), "{second}");
    assert!(second.contains(
        "<link rel=\"canonical\" href=\"https://test.example.org/themen/gdst/seite/2/\">"
    ));
    assert!(!site.public().join("themen/gdst/seite/3").exists());
}

#[test]
fn the_search_index_carries_each_pages_topics() {
    let site = with_topics();
    site.write(
        "content/suche.md",
        "---\ntitle: Suche\ntemplate: search.html\n---\nHilfe.\n",
    );
    add_front(&site, "content/sprechstunden/70.md", "themen: [leer, gdst]");
    site.build().ok();
    let index: serde_json::Value =
        serde_json::from_str(&output(&site, "suchindex.json")).expect("JSON");
    let entry = |url: &str| {
        index
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["url"] == url)
            .unwrap_or_else(|| panic!("{url} in the index"))
            .clone()
    };
    assert_eq!(
        entry("/sprechstunden/70-jahresrueckblick-2025/")["themen"],
        serde_json::json!(["leer", "gdst"])
    );
    assert_eq!(entry("/kontakt/")["themen"], serde_json::json!([]));
    let search = output(&site, "suche/index.html");
    assert!(
        search.contains("<select id=\"thema\" name=\"thema\">"),
        "{search}"
    );
    assert!(search.contains("<option value=\"gdst\">Gemeinsam Digital</option>"));
}

/// Builds and checks the broken site: both exit 1 with the diagnostic, and nothing is written.
fn fails_in_build_and_check(site: &Site, expected: &[&str]) -> String {
    let build = site.build();
    build.failed_with(1);
    let check = site.run(&["check", "--now", NOW]);
    check.failed_with(1);
    for run in [&build, &check] {
        for needle in expected {
            run.stderr_has(needle);
        }
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    build.stderr.clone()
}

#[test]
fn an_undeclared_topic_is_an_error_at_its_value_with_the_closest_declared_one() {
    let site = with_topics();
    site.build().ok();
    let before = site.snapshot();
    add_front(
        &site,
        "content/aktuelles/zweiter.md",
        "themen: [leer, gsdt]",
    );
    let stderr = fails_in_build_and_check(
        &site,
        &[
            "the topic `gsdt` is not declared",
            "content/aktuelles/zweiter.md:2:16",
            "did you mean „gdst“?",
            "declare this one in site.yaml under `themen:`",
        ],
    );
    insta::assert_snapshot!(common::test_name(), site.redact(&stderr));
    assert_eq!(before, site.snapshot(), "the previous output changed");
}

#[test]
fn a_draft_with_a_mistyped_topic_fails_too_and_a_title_is_a_hint_for_its_slug() {
    let site = with_topics();
    add_front(
        &site,
        "content/aktuelles/entwurf.md",
        "themen:\n  - Gemeinsam Digital",
    );
    fails_in_build_and_check(
        &site,
        &[
            "content/aktuelles/entwurf.md:3:5",
            "the topic `Gemeinsam Digital` is not declared",
            "did you mean „gdst“?",
        ],
    );
}

#[test]
fn a_topic_named_twice_in_one_page_is_an_error_at_the_second() {
    let site = with_topics();
    add_front(
        &site,
        "content/projekte/gdst.md",
        "themen: [gdst, leer, gdst]",
    );
    fails_in_build_and_check(
        &site,
        &[
            "content/projekte/gdst.md:2:22",
            "the topic `gdst` is named twice",
        ],
    );
}

#[test]
fn a_site_without_topics_names_none_and_says_so() {
    let site = Site::fixture("basic");
    add_front(&site, "content/kontakt.md", "themen: [gdst]");
    fails_in_build_and_check(
        &site,
        &[
            "the topic `gdst` is not declared",
            "site.yaml declares no topics yet",
        ],
    );
    assert!(!site.public().join("themen").exists());
}

#[test]
fn topics_declared_twice_or_with_a_bad_slug_are_errors_at_their_line() {
    let site = Site::fixture("basic");
    let yaml = site.read("site.yaml");
    let lines = yaml.lines().count();
    site.write(
        "site.yaml",
        format!("{yaml}themen:\n  - {{ slug: gdst, title: A, description: B }}\n  - {{ slug: gdst, title: C, description: D }}\n  - {{ slug: Über, title: E, description: F }}\n"),
    );
    fails_in_build_and_check(
        &site,
        &[
            &format!("site.yaml:{}:13", lines + 3),
            "the topic `gdst` is declared twice",
            &format!("site.yaml:{}:13", lines + 4),
            "`Über` is not usable as the slug of a topic",
        ],
    );
}

#[test]
fn no_section_page_or_alias_can_take_the_topic_addresses() {
    let site = with_topics();
    site.write("content/themen/_index.md", "---\ntitle: Themen\n---\n");
    fails_in_build_and_check(
        &site,
        &[
            "content/themen/_index.md",
            "the address /themen/ belongs to the topic pages",
        ],
    );
    std::fs::remove_dir_all(site.path("content/themen")).unwrap();
    add_front(
        &site,
        "content/kontakt.md",
        "aliases: [/themen/gdst/atom.xml]",
    );
    fails_in_build_and_check(&site, &["the topic pages (`themen:` in site.yaml)"]);
}
