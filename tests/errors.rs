//! Every mistake an editor can make: the real binary reports it with file:line:column, exits 1,
//! and leaves the previous build output byte for byte as it was. The whole report is compared with
//! a snapshot in `tests/snapshots/` as well, so a broken caret, gutter or hint line fails a test
//! even where every expected substring is still there.

mod common;

use common::Site;

/// Builds the fixture, breaks it with `mutate`, builds again and checks the report and the output.
/// The whole stderr must match the snapshot `errors__<test name>.snap`.
fn assert_error(mutate: impl FnOnce(&Site), expected: &[&str]) -> Site {
    let site = Site::fixture("basic");
    site.build().ok();
    let before = site.snapshot();
    mutate(&site);
    let run = site.build();
    run.failed_with(1);
    for needle in expected {
        run.stderr_has(needle);
    }
    run.stderr_has("nothing was written");
    assert!(
        !run.stderr.contains("panicked"),
        "the binary panicked:\n{}",
        run.stderr
    );
    insta::assert_snapshot!(common::test_name(), site.redact(&run.stderr));
    assert_eq!(before, site.snapshot(), "the previous output changed");
    let leftovers: Vec<_> = std::fs::read_dir(site.root())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".public."))
        .map(|e| e.file_name())
        .collect();
    assert!(
        leftovers.is_empty(),
        "staging folder left behind: {leftovers:?}"
    );
    site
}

const NEWS: &str = "content/aktuelles/kaputt.md";

#[test]
fn unterminated_front_matter() {
    assert_error(
        |s| {
            s.write(
                NEWS,
                "---\ntitle: Offen\ndate: 2025-01-01\n\nText ohne Ende des Vorspanns.\n",
            )
        },
        &[
            "content/aktuelles/kaputt.md:1:1",
            "front matter is never closed",
            "add a line containing only `---`",
        ],
    );
}

#[test]
fn yaml_syntax_error() {
    assert_error(
        |s| {
            s.write(
                NEWS,
                "---\ntitle: Ein: Doppelpunkt\ndate: 2025-01-01\n---\nText\n",
            )
        },
        &[
            "content/aktuelles/kaputt.md:2:",
            "YAML syntax error",
            "need quotes",
        ],
    );
}

#[test]
fn wrong_type() {
    assert_error(
        |s| {
            s.write(
                "content/sprechstunden/71.md",
                "---\ntitle: Neu\nnumber: einundsiebzig\ndate: 2026-01-21\nstart: \"13:00\"\nend: \"14:00\"\n---\n",
            )
        },
        &[
            "content/sprechstunden/71.md:3:9",
            "wrong type",
            "expected u32",
        ],
    );
}

#[test]
fn unknown_key_suggests_the_right_one() {
    assert_error(
        |s| s.write(NEWS, "---\ntitle: X\ndate: 2025-01-01\nautor: Frank\n---\n"),
        &[
            "content/aktuelles/kaputt.md:4:1",
            "unknown key `autor`",
            "did you mean `author`?",
        ],
    );
}

#[test]
fn missing_required_key() {
    assert_error(
        |s| s.write(NEWS, "---\ntitle: Ohne Datum\n---\nText\n"),
        &[
            "content/aktuelles/kaputt.md:2:",
            "required key `date` is missing",
            "add a line `date: …`",
        ],
    );
}

#[test]
fn invalid_date() {
    assert_error(
        |s| s.write(NEWS, "---\ntitle: X\ndate: 2025-02-30\n---\n"),
        &[
            "content/aktuelles/kaputt.md:3:7",
            "2025-02-30",
            "YYYY-MM-DD",
        ],
    );
}

#[test]
fn publish_time_in_dst_gap() {
    assert_error(
        |s| {
            s.write(
                NEWS,
                "---\ntitle: X\ndate: 2025-03-30\npublish: 2025-03-30 02:30\n---\n",
            )
        },
        &["content/aktuelles/kaputt.md:4:1", "does not exist"],
    );
}

#[test]
fn non_utf8_file() {
    assert_error(
        |s| {
            s.write(
                NEWS,
                b"---\ntitle: Gr\xF6\xDFe\ndate: 2025-01-01\n---\n".as_slice(),
            )
        },
        &[
            "content/aktuelles/kaputt.md:2:10",
            "not valid UTF-8",
            "save the file as UTF-8",
        ],
    );
}

#[test]
fn duplicate_slug_names_both_files() {
    assert_error(
        |s| s.write(NEWS, "---\ntitle: Zweiter Beitrag\ndate: 2025-01-01\n---\n"),
        &[
            "/aktuelles/zweiter-beitrag/",
            "content/aktuelles/kaputt.md",
            "content/aktuelles/zweiter.md",
        ],
    );
}

#[test]
fn broken_internal_link() {
    assert_error(
        |s| {
            s.write(NEWS, "---\ntitle: X\ndate: 2025-01-01\n---\nText\n\nSiehe [den Beitrag](@/aktuelles/ersterr.md).\n")
        },
        &[
            "content/aktuelles/kaputt.md:7:7",
            "missing page `@/aktuelles/ersterr.md`",
            "did you mean `@/aktuelles/erster.md`?",
        ],
    );
}

#[test]
fn broken_anchor() {
    assert_error(
        |s| {
            s.write(
                NEWS,
                "---\ntitle: X\ndate: 2025-01-01\n---\n[AGs](@/projekte/gdst.md#arbeitsgrupen)\n",
            )
        },
        &[
            "content/aktuelles/kaputt.md:5:1",
            "no heading with the id `arbeitsgrupen`",
            "did you mean `#arbeitsgruppen`?",
        ],
    );
}

#[test]
fn broken_link_in_front_matter() {
    assert_error(
        |s| {
            let text = s
                .read("content/projekte/gdst.md")
                .replace("69-forum/index.md", "96-forum/index.md");
            s.write("content/projekte/gdst.md", text);
        },
        &["content/projekte/gdst.md:7:", "missing page"],
    );
}

#[test]
fn missing_slides_file() {
    assert_error(
        |s| {
            let p = "content/sprechstunden/69-forum/index.md";
            s.write(p, s.read(p).replace("folien.pdf", "folien-fehlt.pdf"));
        },
        &[
            "content/sprechstunden/69-forum/index.md:11:",
            "`folien-fehlt.pdf` does not exist",
        ],
    );
}

#[test]
fn end_before_start() {
    assert_error(
        |s| {
            s.write("content/sprechstunden/71.md", "---\ntitle: Neu\nnumber: 71\ndate: 2026-01-21\nstart: \"14:00\"\nend: \"13:00\"\n---\n")
        },
        &[
            "content/sprechstunden/71.md:6:1",
            "`end` (13:00) is not after `start` (14:00)",
        ],
    );
}

#[test]
fn advent_day_outside_calendar() {
    assert_error(
        |s| {
            s.write(
                "content/advent/25.md",
                "---\ntitle: Zu spät\nday: 25\n---\n",
            )
        },
        &[
            "content/advent/25.md:3:1",
            "door day 25 is outside the calendar",
        ],
    );
}

#[test]
fn missing_template() {
    assert_error(
        |s| {
            s.write(
                NEWS,
                "---\ntitle: X\ndate: 2025-01-01\ntemplate: gibt-es-nicht.html\n---\n",
            )
        },
        &[
            "content/aktuelles/kaputt.md:4:1",
            "template `gibt-es-nicht.html` not found",
        ],
    );
}

fn use_mini_theme(s: &Site) {
    let config = s.read("site.yaml").replace("theme: default", "theme: mini");
    s.write("site.yaml", config);
}

#[test]
fn template_syntax_error() {
    assert_error(
        |s| {
            use_mini_theme(s);
            s.write("themes/mini/templates/page.html", "{% extends \"base.html\" %}\n{% block main %}\n<h1>{{ page.title }</h1>\n{% endblock main %}\n");
        },
        &[
            "themes/mini/templates/page.html:3:",
            "syntax error in template `page.html`",
        ],
    );
}

#[test]
fn template_runtime_error_names_template_line_and_content_file() {
    assert_error(
        |s| {
            use_mini_theme(s);
            s.write("themes/mini/templates/page.html", "{% extends \"base.html\" %}\n{% block main %}\n<h1>{{ page.title }}</h1>\n{{ page.gibtsnicht.tiefer }}\n{% endblock main %}\n");
        },
        &[
            "themes/mini/templates/page.html:4:",
            "while rendering content/",
        ],
    );
}

#[test]
fn template_extending_missing_parent() {
    assert_error(
        |s| {
            use_mini_theme(s);
            s.write(
                "themes/mini/templates/page.html",
                "{% extends \"basis.html\" %}\n{% block main %}{% endblock main %}\n",
            );
        },
        &["themes/mini/templates/page.html:1:", "extends `basis.html`"],
    );
}

#[test]
fn unreadable_file() {
    assert_error(
        |s| std::os::unix::fs::symlink("/nonexistent/ozg-site-test.md", s.path(NEWS)).unwrap(),
        &["content/aktuelles/kaputt.md", "cannot read"],
    );
}

#[test]
fn unknown_key_in_site_yaml() {
    assert_error(
        |s| {
            s.write(
                "site.yaml",
                s.read("site.yaml").replace("publisher:", "publischer:"),
            )
        },
        &[
            "site.yaml:7:1",
            "unknown key `publischer`",
            "did you mean `publisher`?",
        ],
    );
}

#[test]
fn broken_navigation_link_in_site_yaml() {
    assert_error(
        |s| {
            s.write(
                "site.yaml",
                s.read("site.yaml").replace("@/kontakt.md", "@/kontakte.md"),
            )
        },
        &[
            "site.yaml:12:",
            "missing page `@/kontakte.md`",
            "did you mean `@/kontakt.md`?",
        ],
    );
}

#[test]
fn newest_on_a_menu_item_that_is_not_a_section() {
    assert_error(
        |s| {
            s.write(
                "site.yaml",
                s.read("site.yaml").replace(
                    "url: \"@/kontakt.md\" }",
                    "url: \"@/kontakt.md\", newest: true }",
                ),
            )
        },
        &[
            "site.yaml:12:",
            "`newest: true` needs a section, but `@/kontakt.md` is not the `_index.md` of one",
            "drop `newest`",
        ],
    );
}

#[test]
fn several_errors_in_one_run() {
    let site = assert_error(
        |s| {
            s.write(NEWS, "---\ntitle: X\ndate: 2025-01-01\nautor: A\n---\n");
            s.write(
                "content/aktuelles/auch-kaputt.md",
                "---\ntitle: Y\ndate: gestern\n---\n",
            );
            s.write(
                "content/kontakt.md",
                "---\ntitle: Kontakt\n---\n[x](@/nirgends.md)\n",
            );
        },
        &[
            "kaputt.md:4:1",
            "auch-kaputt.md:3:7",
            "content/kontakt.md:4:1",
            "3 errors found",
        ],
    );
    drop(site);
}

#[test]
fn two_mistakes_in_one_file_are_both_shown() {
    assert_error(
        |s| {
            s.write(
                NEWS,
                "---\ntitle: X\ndate: 2025-01-01\n---\n[x](@/nirgends.md)\n\nSiehe [y](@/aktuelles/ersterr.md).\n",
            )
        },
        &[
            "content/aktuelles/kaputt.md:5:1",
            "content/aktuelles/kaputt.md:7:7",
            "2 errors found",
        ],
    );
}

#[test]
fn mistakes_in_two_files_are_both_shown() {
    assert_error(
        |s| {
            s.write(
                NEWS,
                "---\ntitle: X\ndate: 2025-01-01\n---\n[AGs](@/projekte/gdst.md#arbeitsgrupen)\n",
            );
            s.write(
                "content/sprechstunden/71.md",
                "---\ntitle: Neu\nnumber: einundsiebzig\ndate: 2026-01-21\nstart: \"13:00\"\nend: \"14:00\"\n---\n",
            );
        },
        &[
            "content/aktuelles/kaputt.md:5:1",
            "content/sprechstunden/71.md:3:9",
            "2 errors found",
        ],
    );
}

#[test]
fn root_without_site_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_string_lossy().into_owned();
    let run = common::ozg(&["build", "--root", &root]);
    run.failed_with(1)
        .stderr_has("no site.yaml in")
        .stderr_has("ozg-site init");
    insta::assert_snapshot!(common::redact_dir(&run.stderr, dir.path()));
    assert!(
        !dir.path().join("public").exists(),
        "a failed build made public/"
    );
}

#[test]
fn check_lists_the_same_mistakes_as_json() {
    let site = Site::fixture("basic");
    site.write(NEWS, "---\ntitle: X\ndate: 2025-01-01\nautor: A\n---\n");
    site.write(
        "content/kontakt.md",
        "---\ntitle: Kontakt\n---\n[x](@/nirgends.md)\n",
    );
    let run = site.run(&["check", "--format", "json", "--now", common::NOW]);
    run.failed_with(1);
    let findings: serde_json::Value =
        serde_json::from_str(&run.stdout).expect("check --format json prints JSON");
    assert_eq!(
        findings.as_array().map(Vec::len),
        Some(2),
        "two findings: {findings}"
    );
    insta::assert_snapshot!(site.redact(&run.stdout));
}

#[test]
fn section_without_advent_settings() {
    assert_error(
        |s| {
            s.write(
                "content/advent/_index.md",
                "---\ntitle: Advent\nkind: advent_door\n---\n",
            )
        },
        &[
            "content/advent/_index.md:3:1",
            "needs its `advent` settings",
        ],
    );
}

#[test]
fn a_missing_image_names_page_and_file() {
    assert_error(
        |s| {
            s.write(
                "content/kontakt.md",
                "---\ntitle: Kontakt\n---\n![Unser Haus](/bilder/haus.jpg)\n",
            )
        },
        &[
            "content/kontakt.md",
            "the image `/bilder/haus.jpg` cannot be used: static/bilder/haus.jpg does not exist",
            "into static/",
        ],
    );
}

#[test]
fn broken_anchor_in_site_yaml_navigation() {
    assert_error(
        |s| {
            s.write(
                "content/kontakt.md",
                "---\ntitle: Kontakt\n---\n## Telefon\n\nText.\n\n## Anschrift\n\nText.\n",
            );
            s.write(
                "site.yaml",
                s.read("site.yaml")
                    .replace("\"@/kontakt.md\"", "\"@/kontakt.md#telefn\""),
            )
        },
        &[
            "site.yaml:12:29",
            "`@/kontakt.md` has no heading with the id `telefn`",
            "did you mean `#telefon`?",
        ],
    );
}
