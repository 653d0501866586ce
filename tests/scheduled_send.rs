//! Scheduled editions as the rebuild timer sees them: `send_at` in `schedule`, and errors in it.

mod common;

use common::{NOW, Site};

const EDITION: &str = "---
title: Ausgabe 3
number: 3
date: 2025-12-09
publish: 2025-12-09 09:00
send_at: SEND_AT
subject: OZG-Newsletter Ausgabe 3
preheader: Geplant
---
## Geplant

Text.
";

fn with_edition(send_at: &str) -> Site {
    let site = Site::fixture("basic");
    site.write(
        "newsletters/3-geplant.md",
        EDITION.replace("SEND_AT", send_at),
    );
    site
}

#[test]
fn schedule_lists_the_send_moment_of_an_edition_after_its_publication() {
    let site = with_edition("\"2025-12-09 09:30\"");
    let run = site.run(&["schedule", "--now", NOW]);
    run.ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    let publish = "2025-12-09T09:00:00+01:00\tnewsletters/3-geplant.md\tpublish";
    let send = "2025-12-09T09:30:00+01:00\tnewsletters/3-geplant.md\tsend";
    let at = |l: &str| lines.iter().position(|x| *x == l);
    assert!(
        at(publish).is_some() && at(publish) < at(send),
        "{}",
        run.stdout
    );
    // An exact instant in another offset is the same moment.
    let exact = with_edition("2025-12-09T08:30:00Z");
    let run = exact.run(&["schedule", "--now", NOW]);
    assert!(run.stdout.contains(send), "{}", run.stdout);
    // Once the moment has passed, it is no longer upcoming.
    let later = site.run(&["schedule", "--now", "2025-12-09T10:00:00+01:00"]);
    assert!(!later.stdout.contains("\tsend"), "{}", later.stdout);
}

#[test]
fn a_send_at_that_is_no_moment_points_at_its_line() {
    let site = with_edition("\"2025-03-30 02:30\"");
    let run = site.run(&["schedule", "--now", NOW]);
    run.failed_with(1)
        .stderr_has("invalid `send_at`")
        .stderr_has("newsletters/3-geplant.md:6");
}
