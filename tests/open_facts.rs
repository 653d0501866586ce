//! Open facts as an editor meets them: `offen` in front matter and `site.yaml`, `[offen: …]` in
//! a body. `check` lists each at its place, `--strict` refuses them, `build` counts them, readers
//! see the theme's honest text (never the editor's note), calendars get all-day entries, and
//! only the preview outlines them.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{NOW, Site};

const NOTE: &str = "Uhrzeit stimmt das Referat 55 ab";

/// The basic fixture with Sprechstunde 70's time and place open, the publisher's phone open,
/// and the contact page naming an open fact in a table and a heading (and one in code).
fn site_with_open_facts() -> Site {
    let site = with_calendar(Site::fixture("basic"));
    site.write(
        "content/sprechstunden/70.md",
        format!(
            "---\ntitle: Jahresrückblick 2025\nnumber: 70\ndate: 2025-12-17\nstart: {{offen: \"{NOTE}\"}}\nend: offen\nlocation: offen\n---\nRückblick auf das Jahr.\n"
        ),
    );
    let config = site.read("site.yaml");
    site.write(
        "site.yaml",
        config.replace(
            "contact:\n  email: test@example.org",
            "contact:\n  email: test@example.org\n  phone: offen\nmarkdown:\n  open_fact_text: wird ergänzt",
        ),
    );
    site.write(
        "content/kontakt.md",
        "---\ntitle: Kontakt\n---\n## Datenschutz: [offen: Name der oder des Datenschutzbeauftragten]\n\n| Rolle | Telefon |\n|---|---|\n| Sekretariat | [offen: Durchwahl] |\n\nIm Code bleibt es stehen: `[offen: kein Fakt]`\n",
    );
    site
}

/// The fixture's Sprechstunden with calendar files.
fn with_calendar(site: Site) -> Site {
    site.write(
        "content/sprechstunden/_index.md",
        "---\ntitle: Sprechstunden\nkind: sprechstunde\ncalendar: {file: kalender.ics, event_file: termin.ics, event_prefix: OZG-Sprechstunde}\n---\n",
    );
    site
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn check_lists_every_open_fact_at_its_position_and_passes() {
    let site = site_with_open_facts();
    let run = site.run(&["check", "--now", NOW]);
    run.ok();
    let err = lines(&run.stderr);
    for expected in [
        "warning[open-fact]: `start` is open: not known yet",
        " --> content/sprechstunden/70.md:5:9",
        "  = note: Uhrzeit stimmt das Referat 55 ab",
        "  = help: Offene Angabe: Uhrzeit – tragen Sie die Uhrzeit ein, sobald sie feststeht.",
        "warning[open-fact]: `end` is open: not known yet",
        " --> content/sprechstunden/70.md:6:6",
        "  = help: Offene Angabe: Ende – tragen Sie das Ende ein, sobald es feststeht.",
        "warning[open-fact]: `location` is open: not known yet",
        " --> content/sprechstunden/70.md:7:11",
        "  = help: Offene Angabe: Ort – tragen Sie den Ort ein, sobald er feststeht.",
        "warning[open-fact]: `contact.phone` is open: not known yet",
        "  --> site.yaml:15:10",
        "warning[open-fact]: open fact in the text: Name der oder des Datenschutzbeauftragten",
        " --> content/kontakt.md:4:17",
        "warning[open-fact]: open fact in the text: Durchwahl",
        " --> content/kontakt.md:8:17",
        "  = help: Offene Angabe im Text – ersetzen Sie `[offen: …]` durch die Angabe, sobald sie feststeht.",
        "6 open facts (marked `offen`); `--strict` fails on them.",
    ] {
        assert!(
            err.contains(&expected),
            "missing line {expected:?} in:\n{}",
            run.stderr
        );
    }
    assert!(!run.stderr.contains("kein Fakt"), "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "No errors found.");
}

#[test]
fn check_json_gives_open_facts_their_own_id() {
    let site = site_with_open_facts();
    let run = site.run(&["check", "--now", NOW, "--format", "json"]);
    run.ok();
    let all: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let open: Vec<&serde_json::Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["check"] == "open-fact")
        .collect();
    assert_eq!(open.len(), 6, "{}", run.stdout);
    let start = open
        .iter()
        .find(|d| d["message"].as_str().unwrap().contains("`start`"))
        .unwrap();
    assert_eq!(start["severity"], "warning");
    assert_eq!(start["file"], "content/sprechstunden/70.md");
    assert_eq!(
        (start["line"].clone(), start["column"].clone()),
        (5.into(), 9.into())
    );
    assert_eq!(start["notes"][0], NOTE);
}

#[test]
fn strict_fails_names_them_and_writes_nothing() {
    let site = site_with_open_facts();
    let run = site.run(&["build", "--now", NOW, "--strict"]);
    run.failed_with(1)
        .stderr_has("error[open-fact]: `start` is open: not known yet")
        .stderr_has(" --> content/sprechstunden/70.md:5:9")
        .stderr_has("error[open-fact]: open fact in the text: Durchwahl")
        .stderr_has("6 errors found; nothing was written (the previous output is unchanged).");
    assert!(
        !site.public().exists(),
        "build --strict wrote public/ despite open facts"
    );
    let run = site.run(&["check", "--now", NOW, "--strict"]);
    run.failed_with(1)
        .stderr_has("error[open-fact]: `contact.phone` is open: not known yet");
    let run = site.run(&["check", "--now", NOW, "--strict", "--format", "json"]);
    run.failed_with(1);
    assert!(
        run.stdout.contains("\"check\":\"open-fact\""),
        "{}",
        run.stdout
    );
    // Without open facts, strict is no different.
    let clean = Site::fixture("basic");
    clean.run(&["build", "--now", NOW, "--strict"]).ok();
}

#[test]
fn build_prints_how_many_are_open_in_one_line() {
    let site = site_with_open_facts();
    let run = site.build();
    run.ok();
    let counted: Vec<&str> = lines(&run.stdout)
        .into_iter()
        .filter(|l| l.contains("open fact"))
        .collect();
    assert_eq!(
        counted,
        ["6 open facts (marked `offen`): `ozg-site check` lists them, `--strict` refuses them."]
    );
    assert!(!run.stderr.contains("open-fact"), "{}", run.stderr);
    let clean = Site::fixture("basic");
    let clean_build = clean.build();
    assert!(
        !clean_build.stdout.contains("open fact"),
        "a site without open facts counts none: {}",
        clean_build.stdout
    );
}

#[test]
fn readers_see_the_themes_text_never_a_guess_or_the_note() {
    let site = site_with_open_facts();
    site.build().ok();
    let page = site.read("public/sprechstunden/70-jahresrueckblick-2025/index.html");
    assert!(
        page.contains("<dd><span class=\"open-fact\">Uhrzeit folgt</span></dd>"),
        "{page}"
    );
    assert!(
        page.contains("<dd><span class=\"open-fact\">Ort folgt</span></dd>"),
        "{page}"
    );
    let home = site.read("public/index.html");
    let box_start = home.find("home-box--session").unwrap();
    let session_box = &home[box_start..home[box_start..].find("</section>").unwrap() + box_start];
    assert!(
        session_box.contains("<time datetime=\"2025-12-17\">Mittwoch, 17. Dezember 2025</time>, <span class=\"open-fact\">Uhrzeit folgt</span><br><span class=\"open-fact\">Ort folgt</span>"),
        "{session_box}"
    );
    let footer = site.read("public/kontakt/index.html");
    assert!(
        footer.contains("Telefon: <span class=\"open-fact\">wird ergänzt</span>"),
        "{footer}"
    );
    let all = site.all_output_text();
    assert!(!all.contains(NOTE), "an editor's note reached the output");
    assert!(
        !all.contains("Datenschutzbeauftragten"),
        "a description reached the output"
    );
    assert!(
        !all.contains("Durchwahl"),
        "a description reached the output"
    );
    assert!(
        !all.contains("00:00 Uhr"),
        "an open time was shown as midnight"
    );
}

#[test]
fn the_markdown_form_works_in_tables_and_headings_and_stays_literal_in_code() {
    let site = site_with_open_facts();
    site.build().ok();
    let page = site.read("public/kontakt/index.html");
    assert!(
        page.contains("<h2 id=\"datenschutz-wird-ergaenzt\">Da\u{ad}ten\u{ad}schutz: <span class=\"open-fact\">wird ergänzt</span><a class=\"heading-anchor\" href=\"#datenschutz-wird-ergaenzt\" tabindex=\"-1\" aria-hidden=\"true\">#</a></h2>"),
        "{page}"
    );
    assert!(
        page.contains("<td><span class=\"open-fact\">wird ergänzt</span></td>"),
        "{page}"
    );
    assert!(page.contains("<code>[offen: kein Fakt]</code>"), "{page}");
}

#[test]
fn an_open_time_is_an_all_day_calendar_entry_without_a_place() {
    let file = "public/sprechstunden/70-jahresrueckblick-2025/termin.ics";
    let uid = |ics: &str| {
        ics.lines()
            .find(|l| l.starts_with("UID:"))
            .map(str::to_string)
    };
    let known = with_calendar(Site::fixture("basic"));
    known.build().ok();
    let known_uid = uid(&known.read(file));
    let site = site_with_open_facts();
    site.build().ok();
    let ics = site.read(file);
    let ics_lines = lines(&ics);
    assert!(ics_lines.contains(&"DTSTART;VALUE=DATE:20251217"), "{ics}");
    assert!(ics_lines.contains(&"DTEND;VALUE=DATE:20251218"), "{ics}");
    // The reader's calendar app replaces the entry once the time is known.
    assert!(
        known_uid.is_some(),
        "the known session has a UID in {file}:\n{}",
        known.read(file)
    );
    assert_eq!(uid(&ics), known_uid);
    assert!(!ics.contains("LOCATION"), "{ics}");
    assert!(!ics.contains("offen"), "{ics}");
}

#[test]
fn an_open_end_keeps_the_session_upcoming_through_its_day() {
    let site = with_calendar(Site::fixture("basic"));
    site.write(
        "content/sprechstunden/70.md",
        "---\ntitle: Jahresrückblick 2025\nnumber: 70\ndate: 2025-12-17\nstart: \"13:00\"\nend: offen\n---\nText.\n",
    );
    let schedule = site.run(&["schedule", "--now", NOW]);
    schedule.ok();
    assert!(
        lines(&schedule.stdout)
            .contains(&"2025-12-18T00:00:00+01:00\tcontent/sprechstunden/70.md\tends"),
        "{}",
        schedule.stdout
    );
    // Late on its day it is still the next session; the calendar has its start and no end.
    site.run(&["build", "--now", "2025-12-17T20:00:00+01:00"])
        .ok();
    let page = site.read("public/sprechstunden/70-jahresrueckblick-2025/index.html");
    assert!(
        page.contains("<time datetime=\"2025-12-17T13:00:00+01:00\">13:00</time> Uhr, <span class=\"open-fact\">Ende folgt</span>"),
        "{page}"
    );
    assert!(page.contains("badge\">Demnächst"), "{page}");
    let ics = site.read("public/sprechstunden/70-jahresrueckblick-2025/termin.ics");
    assert!(
        lines(&ics).contains(&"DTSTART;TZID=Europe/Berlin:20251217T130000"),
        "{ics}"
    );
    assert!(!ics.contains("DTEND"), "{ics}");
}

#[test]
fn an_event_may_leave_its_venue_and_numbers_open() {
    let site = Site::fixture("basic");
    site.write(
        "content/termine/_index.md",
        "---\ntitle: Termine\nkind: event\ncalendar: {file: kalender.ics, event_file: termin.ics}\n---\n",
    );
    site.write(
        "content/termine/roadshow.md",
        "---\ntitle: Roadshow\ndate: 2026-01-27\nstart: \"09:00\"\nend: \"13:00\"\nvenue: {name: Finanzamt, city: offen}\nmax_participants: offen\nregistration: offen\nregistration_deadline: {offen: Referat 51 entscheidet}\n---\nText.\n",
    );
    site.write(
        "content/termine/workshop.md",
        "---\ntitle: Workshop\ndate: 2026-02-03\nstart: offen\nend: offen\nvenue: offen\n---\nText.\n",
    );
    let run = site.run(&["check", "--now", NOW]);
    run.ok();
    for key in [
        "venue.city",
        "max_participants",
        "registration",
        "registration_deadline",
        "venue",
    ] {
        assert!(
            run.stderr.contains(&format!(
                "warning[open-fact]: `{key}` is open: not known yet"
            )),
            "{key}: {}",
            run.stderr
        );
    }
    site.build().ok();
    let roadshow = site.read("public/termine/roadshow/index.html");
    for text in [
        "Finanzamt<br><span class=\"open-fact\">Ort folgt</span>",
        "<dd><span class=\"open-fact\">Zahl wird ergänzt</span></dd>",
        "<dd><span class=\"open-fact\">Datum folgt</span></dd>",
        "Anmeldung: <span class=\"open-fact\">Der Link zur Anmeldung folgt.</span>",
    ] {
        assert!(roadshow.contains(text), "{text}: {roadshow}");
    }
    let workshop = site.read("public/termine/workshop/index.html");
    assert!(
        workshop.contains("<dd><span class=\"open-fact\">Ort folgt</span></dd>"),
        "{workshop}"
    );
    let list = site.read("public/termine/index.html");
    assert!(
        list.contains("<span class=\"open-fact\">Ort folgt</span>"),
        "{list}"
    );
    let ics = site.read("public/termine/kalender.ics");
    let ics_lines = lines(&ics);
    assert!(ics_lines.contains(&"LOCATION:Finanzamt"), "{ics}");
    assert!(ics_lines.contains(&"DTSTART;VALUE=DATE:20260203"), "{ics}");
    assert_eq!(ics.matches("LOCATION").count(), 1, "{ics}");
}

#[test]
fn a_typo_of_offen_is_a_normal_error_with_did_you_mean() {
    let site = Site::fixture("basic");
    site.write(
        "content/sprechstunden/70.md",
        "---\ntitle: Jahresrückblick 2025\nnumber: 70\ndate: 2025-12-17\nstart: ofen\nend: \"14:00\"\n---\nText.\n",
    );
    let run = site.build();
    run.failed_with(1);
    let err = lines(&run.stderr);
    for expected in [
        "error: invalid value in the front matter of a sprechstunde page: start: `ofen` is neither a value nor `offen`",
        " --> content/sprechstunden/70.md:5:8",
        "5 | start: ofen",
        "  = help: did you mean `offen`?",
    ] {
        assert!(
            err.contains(&expected),
            "missing line {expected:?} in:\n{}",
            run.stderr
        );
    }
    site.write(
        "content/sprechstunden/70.md",
        "---\ntitle: Jahresrückblick 2025\nnumber: 70\ndate: 2025-12-17\nstart: {ofen: Referat 55}\nend: \"14:00\"\n---\nText.\n",
    );
    site.build()
        .failed_with(1)
        .stderr_has("unknown key `ofen`")
        .stderr_has("  = help: did you mean `offen`?");
}

#[test]
fn a_missing_time_is_still_an_error_that_mentions_offen() {
    let site = Site::fixture("basic");
    site.write(
        "content/sprechstunden/70.md",
        "---\ntitle: Jahresrückblick 2025\nnumber: 70\ndate: 2025-12-17\nend: \"14:00\"\n---\nText.\n",
    );
    site.build()
        .failed_with(1)
        .stderr_has("error: required key `start` is missing in the front matter of a sprechstunde page")
        .stderr_has("  = help: add a line `start: …` to the front matter of a sprechstunde page, or `start: offen` while it is not known yet");
}

#[test]
fn the_markdown_form_needs_the_sites_reader_text() {
    let site = Site::fixture("basic");
    site.write(
        "content/kontakt.md",
        "---\ntitle: Kontakt\n---\nTelefon: [offen: Durchwahl]\n",
    );
    let run = site.build();
    run.failed_with(1);
    let err = lines(&run.stderr);
    for expected in [
        "error: `[offen: …]` needs the text readers see instead, and site.yaml has none",
        " --> content/kontakt.md:4:10",
        "  = help: add to site.yaml: `markdown: {open_fact_text: \"wird ergänzt\"}`",
    ] {
        assert!(
            err.contains(&expected),
            "missing line {expected:?} in:\n{}",
            run.stderr
        );
    }
}

#[test]
fn a_newsletter_edition_cannot_leave_a_fact_open() {
    let site = site_with_open_facts();
    let editions = std::fs::read_dir(site.path("newsletters")).unwrap();
    let edition = editions
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "md"))
        .expect("the fixture has an edition");
    let text = std::fs::read_to_string(&edition).unwrap();
    std::fs::write(&edition, format!("{text}\nDer Termin: [offen: Datum]\n")).unwrap();
    site.build()
        .failed_with(1)
        .stderr_has("error: a newsletter edition cannot leave a fact open: it is sent as it is");
}

/// `ozg-site serve` on a free loopback port, ended when dropped.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).unwrap();
    body
}

#[test]
fn only_the_preview_outlines_open_facts() {
    let site = site_with_open_facts();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ozg-site"))
        .args(["serve", "--port", "0", "--now", NOW, "--root"])
        .arg(site.root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server(child);
    let line = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("http://"))
        .expect("serve announces its address");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();
    let served = get(&addr, "/sprechstunden/70-jahresrueckblick-2025/");
    assert!(
        served.contains("<style id=\"ozg-preview-open-facts\">.open-fact{outline:"),
        "{served}"
    );
    assert!(
        served.contains("<span class=\"open-fact\">Uhrzeit folgt</span>"),
        "{served}"
    );
    drop(server);

    site.build().ok();
    let built = site.all_output_text();
    assert!(
        built.contains("<span class=\"open-fact\">Uhrzeit folgt</span>"),
        "readers see the theme's text for the open time"
    );
    assert!(
        !built.contains("ozg-preview-open-facts") && !built.contains("outline:2px dashed #b3261e"),
        "the preview's outline reached the build output"
    );
}

#[test]
fn a_new_sprechstunde_leaves_time_and_place_open_instead_of_guessing() {
    let site = Site::fixture("basic");
    let run = site.run(&[
        "new",
        "sprechstunde",
        "--date",
        "2026-01-21",
        "--title",
        "Neue Sprechstunde",
    ]);
    run.ok();
    let rel = run
        .stdout
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("created ");
    let rel = rel.rsplit_once("content/").map_or(rel, |(_, r)| r);
    let text = site.read(&format!("content/{rel}"));
    let front = lines(&text);
    for line in ["start: offen", "end: offen", "location: offen"] {
        assert!(front.contains(&line), "{line}: {text}");
    }
    let check = site.run(&["check", "--now", NOW, "--drafts"]);
    check.ok();
    assert_eq!(
        check.stderr.matches("warning[open-fact]").count(),
        3,
        "{}",
        check.stderr
    );
}

#[test]
fn a_past_session_says_its_time_was_not_given_not_that_it_will_follow() {
    let site = site_with_open_facts();
    site.run(&["build", "--now", "2026-01-10T10:00:00+01:00"])
        .ok();
    let page = site.read("public/sprechstunden/70-jahresrueckblick-2025/index.html");
    for text in ["Uhrzeit nicht angegeben", "Ort nicht angegeben"] {
        assert!(
            page.contains(&format!("<span class=\"open-fact\">{text}</span>")),
            "{text} missing on the past session: {page}"
        );
    }
    assert!(
        !page.contains("folgt</span>"),
        "nothing follows for a session that is over: {page}"
    );
}
