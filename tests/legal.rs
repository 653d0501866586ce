//! The legal pages as the ministry publishes them: the Impressum, the Datenschutzerklärung and
//! the Erklärung zur Barrierefreiheit come from `site.yaml` and the content, so a changed setting
//! or page changes them, in `build` and in the preview alike; open legal facts are listed by
//! `check` and refused by `--strict`; Impressum, footer and newsletter give one address.

mod common;

use common::{NOW, Site};
use ozg_site::serve::{Rebuilt, SiteBuilder};

/// The newsletter with the sign-up service, as the bundled site has it.
const SERVICE: &str = "newsletter:\n  from: \"Team <team@example.org>\"\n  subscriptions:\n    consent: \"Ich möchte den Newsletter per E-Mail erhalten. Ich kann ihn jederzeit abbestellen.\"\n";

/// Everything the three pages need, the postal address known.
const LEGAL: &str = r#"contact:
  organisation: Testministerium für Digitales
  department: Referat 7
  street: Amtsweg 1
  postal_code: "39104"
  city: Magdeburg
  visitor_address: {name: Haus am Fluss, street: Uferstraße 9, postal_code: "39106", city: Magdeburg}
  email: test@example.org
  phone: "+49 391 000 0000"
markdown:
  open_fact_text: wird ergänzt
feedback:
  to: barrieren@example.org
legal:
  provider: Land Testland
  represented_by: die Ministerin für Digitales
  editorial_responsible: {name: Erika Mustermann, role: Referatsleiterin}
  data_protection_officer: {role: Behördliche Datenschutzbeauftragte, email: datenschutz@example.org}
  supervisory_authority: {name: Die Landesbeauftragte für den Datenschutz, street: Aufsichtsweg 2, postal_code: "39104", city: Magdeburg, website: "https://datenschutz.example.org"}
  hosting_provider: Rechenzentrum Test AöR
  web_server_log_retention: sieben Tage
  service_log_retention: vierzehn Tage
  third_country_transfer: false
  data_protection_law: dem Testdatenschutzgesetz (TDSG)
  accessibility:
    compliance: partial
    law: dem Testgleichstellungsgesetz
    standard: den Anforderungen der BITV 2.0
    created: 2025-11-20
    reviewed: 2025-12-01
    method: einer Selbstbewertung
    feedback_page: "@/barriere-melden.md"
    pages: ["@/gebaerdensprache.md"]
"#;

/// The basic fixture with the three legal pages, a feedback page, a sign language page with an
/// open fact, and `site.yaml` as `newsletter` (may be empty) and [`LEGAL`] say.
fn legal_site(newsletter: &str) -> Site {
    let site = Site::fixture("basic");
    let config = site
        .read("site.yaml")
        .replace("contact:\n  email: test@example.org\n", "");
    site.write("site.yaml", format!("{config}{LEGAL}{newsletter}"));
    for (file, title, template, body) in [
        (
            "impressum.md",
            "Impressum",
            "legal/impressum.html",
            "## Haftung für Links\n\nFür Inhalte anderer Anbieter sind wir nicht verantwortlich.\n",
        ),
        (
            "datenschutz.md",
            "Datenschutzerklärung",
            "legal/datenschutz.html",
            "## Kontakt per E-Mail\n\nWir beantworten Ihre E-Mail.\n",
        ),
        (
            "barrierefreiheit.md",
            "Erklärung zur Barrierefreiheit",
            "legal/barrierefreiheit.html",
            "Wir antworten innerhalb eines Monats.\n\n## Durchsetzungsverfahren\n\nZuständig ist: [offen: Stelle für das Durchsetzungsverfahren und ihre Kontaktdaten]\n",
        ),
        (
            "barriere-melden.md",
            "Barriere melden",
            "feedback.html",
            "Sagen Sie es uns.\n",
        ),
        (
            "gebaerdensprache.md",
            "Gebärdensprache",
            "page.html",
            "Das Video folgt: [offen: Video in Deutscher Gebärdensprache]\n",
        ),
    ] {
        site.write(
            &format!("content/{file}"),
            format!(
                "---\ntitle: {title}\nslug: {}\ntemplate: {template}\n---\n{body}",
                file.trim_end_matches(".md")
            ),
        );
    }
    site
}

/// The `<main>` of a built page, as text without tags (entities of umlauts kept as they are).
fn main_text(site: &Site, path: &str) -> String {
    let html = site.read(&format!("public/{path}index.html"));
    let start = html.find("<main").expect("a main element");
    let end = html.find("</main>").expect("its end");
    // What a reader sees: not the headings' self-links (shown on hover, hidden from screen
    // readers), nor the soft hyphens of long words.
    let mut main = html[start..end].to_string();
    while let Some(at) = main.find("<a class=\"heading-anchor\"") {
        let close = main[at..].find("</a>").map_or(main.len(), |e| at + e + 4);
        main.replace_range(at..close, "");
    }
    let main = main.replace('\u{ad}', "");
    let mut text = String::new();
    let mut in_tag = false;
    for c in main.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    // Tags become spaces, so words stay apart; punctuation after an inline element is put back.
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" .", ".")
        .replace(" ,", ",")
        .replace(" :", ":")
}

fn set(site: &Site, from: &str, to: &str) {
    let config = site.read("site.yaml");
    assert!(config.contains(from), "{from:?} not in site.yaml");
    site.write("site.yaml", config.replacen(from, to, 1));
}

#[test]
fn the_privacy_statement_follows_the_confirmation_period_of_the_service() {
    let site = legal_site(&format!("{SERVICE}    confirm_within_hours: 24\n"));
    site.build().ok();
    let text = main_text(&site, "datenschutz/");
    assert!(text.contains("Der Link ist 24 Stunden gültig."), "{text}");
    assert!(text.contains("verfällt der Link nach 24 Stunden. 30 Tage nach Ablauf des letzten Links löschen wir die Anmeldung"), "{text}");
    // The consent statement as the service records it, word for word.
    assert!(
        text.contains(
            "Ich möchte den Newsletter per E-Mail erhalten. Ich kann ihn jederzeit abbestellen."
        ),
        "{text}"
    );
    set(
        &site,
        "confirm_within_hours: 24",
        "confirm_within_hours: 72",
    );
    site.build().ok();
    let text = main_text(&site, "datenschutz/");
    assert!(text.contains("Der Link ist 72 Stunden gültig."), "{text}");
    assert!(!text.contains("24 Stunden"), "{text}");
}

#[test]
fn the_privacy_statement_names_the_smtp_host_and_leaves_it_open_without_one() {
    let site = legal_site(&format!(
        "{SERVICE}  smtp: \"smtp+starttls://mail.test.example.org:587\"\n"
    ));
    site.build().ok();
    let text = main_text(&site, "datenschutz/");
    assert!(
        text.contains("verschicken wir über den Mailserver mail.test.example.org."),
        "{text}"
    );
    let check = site.run(&["check", "--now", NOW]);
    check.ok();
    assert!(
        !check.stderr.contains("newsletter.smtp"),
        "{}",
        check.stderr
    );

    set(
        &site,
        "  smtp: \"smtp+starttls://mail.test.example.org:587\"\n",
        "",
    );
    site.build().ok();
    let text = main_text(&site, "datenschutz/");
    assert!(
        text.contains("Über welchen Mailserver wir den Newsletter und die E-Mails des Anmeldedienstes verschicken, wird ergänzt."),
        "{text}"
    );
    site.run(&["check", "--now", NOW])
        .ok()
        .stderr_has("warning[open-fact]: `newsletter.smtp` is open: not known yet");
    site.run(&["build", "--now", NOW, "--strict"])
        .failed_with(1)
        .stderr_has("`newsletter.smtp` is open");
}

#[test]
fn the_privacy_statement_states_the_service_figures_and_the_feedback_queue() {
    let site = legal_site(&format!(
        "{SERVICE}    signups_per_client_per_hour: 6\n    signups_per_address_per_hour: 2\n"
    ));
    site.build().ok();
    let text = main_text(&site, "datenschutz/");
    for expected in [
        "höchstens 6 Anmeldungen zum Newsletter und 10 Meldungen über „Barriere melden“ pro Stunde",
        "bei IPv6-Adressen an deren ersten 64 Bit",
        // 6 sign-ups an hour is the slower allowance: a counter lives an hour and ten minutes
        // after its last use, and the cleanup comes within 65 seconds.
        "Spätestens 72 Minuten nach Ihrer letzten Anfrage",
        "Je Postfach verschicken wir höchstens 2 solche E-Mails pro Stunde.",
        "Das Protokoll wird vierzehn Tage aufbewahrt",
        "als E-Mail an barrieren@example.org",
        "Nimmt der Mailserver sie 7 Tage lang nicht an, verwirft der Dienst die Meldung.",
        "Danach bleibt nur ein Prüfwert Ihrer Adresse",
        "Die Protokolldaten werden sieben Tage gespeichert und danach gelöscht.",
        "in Verbindung mit dem Testdatenschutzgesetz (TDSG)",
        "in unserem Auftrag von Rechenzentrum Test AöR technisch betrieben",
        "Personenbezogene Daten werden nicht in Staaten außerhalb der Europäischen Union",
        "Die Landesbeauftragte für den Datenschutz",
        "datenschutz@example.org",
        "Inhalte von Servern anderer Anbieter werden nicht eingebunden.",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn a_site_without_the_service_gets_no_sign_up_section_or_the_mailto_variant() {
    let site = legal_site("");
    site.build().ok();
    let text = main_text(&site, "datenschutz/");
    assert!(!text.contains("Newsletter"), "{text}");
    assert!(!text.contains("Schutz der Formulare"), "{text}");
    // Reports go by e-mail: there is no form without the service.
    assert!(
        text.contains("Barrieren auf dieser Website können Sie uns per E-Mail an barrieren@example.org melden."),
        "{text}"
    );
    let other = "newsletter:\n  from: team@example.org\n  unsubscribe_url: \"https://listen.example.org/ab?t={token}\"\n";
    let site = legal_site(other);
    site.build().ok();
    let text = main_text(&site, "datenschutz/");
    assert!(
        text.contains(
            "Sie können unseren Newsletter mit einer E-Mail an team@example.org bestellen."
        ),
        "{text}"
    );
    assert!(!text.contains("Bestätigung"), "{text}");
}

#[test]
fn a_page_loading_from_another_server_is_named_in_the_privacy_statement() {
    let site = legal_site("");
    site.write(
        "content/kontakt.md",
        "---\ntitle: Kontakt\n---\n![Karte des Amtswegs](https://karten.example.net/amtsweg.png)\n",
    );
    site.build().ok();
    let text = main_text(&site, "datenschutz/");
    assert!(
        text.contains("Einige Seiten binden Inhalte ein, die von Servern anderer Anbieter geladen werden: karten.example.net"),
        "{text}"
    );
}

#[test]
fn an_ignored_check_and_an_undeclared_pdf_are_listed_in_the_statement() {
    let site = legal_site("");
    site.build().ok();
    let text = main_text(&site, "barrierefreiheit/");
    // The fixture's session offers its slides as a PDF without `accessible`.
    assert!(
        text.contains("Folien zur 69. Sprechstunde (PDF, "),
        "the slides are missing in:\n{text}"
    );
    assert!(text.contains("auf der Seite 2. GDST-Forum"), "{text}");
    assert!(!text.contains("Begründung"), "{text}");

    let kontakt = "---\ntitle: Kontakt\nignore_checks:\n  - {check: link-text, reason: \"Der Name der Behörde ist der Linktext.\"}\n---\nText.\n";
    site.write("content/kontakt.md", kontakt);
    site.build().ok();
    let text = main_text(&site, "barrierefreiheit/");
    assert!(
        text.contains("Kontakt: Linktexte, die ohne ihren Zusammenhang nicht verständlich sind. Begründung: Der Name der Behörde ist der Linktext."),
        "{text}"
    );
    assert!(
        text.contains("Diese Website ist wegen der folgenden Unvereinbarkeiten teilweise mit den Anforderungen der BITV 2.0 vereinbar."),
        "{text}"
    );
}

#[test]
fn a_document_declared_accessible_or_with_an_alternative_is_not_listed() {
    let site = legal_site("");
    let session = "content/sprechstunden/69-forum/index.md";
    let original = site.read(session);
    for declared in [
        "{ file: folien.pdf, title: Folien zur 69. Sprechstunde, accessible: true }",
        "{ file: folien.pdf, title: Folien zur 69. Sprechstunde, alternative: \"@/kontakt.md\" }",
    ] {
        site.write(
            session,
            original.replace(
                "{ file: folien.pdf, title: Folien zur 69. Sprechstunde }",
                declared,
            ),
        );
        site.build().ok();
        let text = main_text(&site, "barrierefreiheit/");
        assert!(
            !text.contains("Folien zur 69. Sprechstunde"),
            "{declared}: {text}"
        );
    }
    // The session offers the alternative beside the file.
    let session_page = site.read("public/sprechstunden/69-2-gdst-forum/index.html");
    assert!(
        session_page.contains(r#" – <a href="/kontakt/">barrierefreie Fassung</a></li>"#),
        "{session_page}"
    );
    // The alternative is a link like any other: one to nowhere is an error at its place.
    site.write(
        session,
        original.replace(
            "{ file: folien.pdf, title: Folien zur 69. Sprechstunde }",
            "{ file: folien.pdf, title: Folien, alternative: \"@/gibt-es-nicht.md\" }",
        ),
    );
    site.build()
        .failed_with(1)
        .stderr_has("link to a missing page `@/gibt-es-nicht.md`")
        .stderr_has("content/sprechstunden/69-forum/index.md:11:54");
}

#[test]
fn open_facts_of_an_accessibility_page_are_a_known_barrier() {
    let site = legal_site("");
    site.build().ok();
    let text = main_text(&site, "barrierefreiheit/");
    assert!(
        text.contains("Auf diesen Seiten fehlen noch Inhalte; sie sind dort mit „wird ergänzt“ gekennzeichnet: Gebärdensprache (1 Stelle)"),
        "{text}"
    );
    // What is missing is for editors: the note never reaches the statement.
    assert!(!text.contains("Video in Deutscher"), "{text}");
    site.write(
        "content/gebaerdensprache.md",
        "---\ntitle: Gebärdensprache\n---\nDas Video ist da.\n",
    );
    site.build().ok();
    let text = main_text(&site, "barrierefreiheit/");
    assert!(!text.contains("fehlen noch Inhalte"), "{text}");
}

#[test]
fn the_statement_gives_its_dates_method_and_feedback_ways() {
    let site = legal_site("");
    site.build().ok();
    let text = main_text(&site, "barrierefreiheit/");
    for expected in [
        "Wir sind bemüht, diese Website im Einklang mit dem Testgleichstellungsgesetz barrierefrei zugänglich zu machen.",
        "gilt für die Website test.example.org (Testministerium für Digitales)",
        "Diese Erklärung wurde am 20. November 2025 erstellt. Die Erklärung beruht auf einer Selbstbewertung. Die Erklärung wurde zuletzt am 1. Dezember 2025 überprüft.",
        "mit dem Formular Barriere melden",
        "per E-Mail an barrieren@example.org",
        "telefonisch unter +49 391 000 0000",
        "per Post an Testministerium für Digitales, Amtsweg 1, 39104 Magdeburg Wir antworten",
        "Wir antworten innerhalb eines Monats. Durchsetzungsverfahren Zuständig ist: wird ergänzt",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let html = site.read("public/barrierefreiheit/index.html");
    assert!(
        html.contains(r#"<a href="/barriere-melden/">Barriere melden</a>"#),
        "the statement links the feedback form:\n{html}"
    );
}

#[test]
fn the_impressum_the_footer_and_the_mail_footer_give_one_address() {
    let site = legal_site(SERVICE);
    site.build().ok();
    let imprint = main_text(&site, "impressum/");
    for expected in [
        "Angaben gemäß § 5 DDG",
        "Land Testland vertreten durch die Ministerin für Digitales",
        "Herausgeber Testministerium für Digitales Referat 7",
        "Postanschrift Amtsweg 1 39104 Magdeburg",
        "Besucheradresse Haus am Fluss Uferstraße 9 39106 Magdeburg",
        "E-Mail: test@example.org",
        "Telefon: +49 391 000 0000",
        "Verantwortlich für den Inhalt nach § 18 Abs. 2 MStV Erika Mustermann Referatsleiterin",
        "Anschrift: wie die Postanschrift oben.",
        "Für Inhalte anderer Anbieter sind wir nicht verantwortlich.",
    ] {
        assert!(
            imprint.contains(expected),
            "missing {expected:?} in:\n{imprint}"
        );
    }
    // No VAT id is said when none is given.
    assert!(!imprint.contains("Umsatzsteuer"), "{imprint}");

    let home = site.read("public/index.html");
    let footer = &home[home.find("<footer").unwrap()..];
    for part in [
        "Postanschrift:",
        "Amtsweg 1<br>39104 Magdeburg",
        "Besucheradresse:",
        "Uferstraße 9<br>39106 Magdeburg",
    ] {
        assert!(footer.contains(part), "footer lacks {part:?}:\n{footer}");
    }

    let out = site.path("mail");
    site.run(&["newsletter", "build", "2", "--out", out.to_str().unwrap()])
        .ok();
    let text = site.read("mail/2/email.txt");
    assert!(
        text.contains("Testministerium für Digitales\nAmtsweg 1, 39104 Magdeburg\n"),
        "{text}"
    );
    let html = site.read("mail/2/email.html");
    assert!(html.contains("Amtsweg 1, 39104 Magdeburg"), "{html}");

    // While the postal address is open, the mail names the visitor address, labelled.
    set(
        &site,
        "  street: Amtsweg 1\n",
        "  street: {offen: \"bestätigt das Amt\"}\n",
    );
    site.run(&["newsletter", "build", "2", "--out", out.to_str().unwrap()])
        .ok();
    let text = site.read("mail/2/email.txt");
    assert!(
        text.contains("Besucheradresse: Haus am Fluss, Uferstraße 9, 39106 Magdeburg"),
        "{text}"
    );
    assert!(!text.contains("Amtsweg"), "{text}");
    site.build().ok();
    let imprint = main_text(&site, "impressum/");
    assert!(
        imprint.contains("Postanschrift Anschrift wird ergänzt"),
        "{imprint}"
    );
}

#[test]
fn open_legal_facts_are_listed_by_check_and_refused_by_strict() {
    let site = legal_site("");
    set(
        &site,
        "  represented_by: die Ministerin für Digitales\n",
        "  represented_by: {offen: \"Name und Amt nennt das Ministerium\"}\n",
    );
    set(&site, "    created: 2025-11-20\n", "    created: offen\n");
    set(
        &site,
        "  supervisory_authority: {name: Die Landesbeauftragte für den Datenschutz, street: Aufsichtsweg 2, postal_code: \"39104\", city: Magdeburg, website: \"https://datenschutz.example.org\"}\n",
        "  supervisory_authority: {offen: \"Anschrift prüfen\"}\n",
    );
    let run = site.run(&["check", "--now", NOW]);
    run.ok();
    for expected in [
        "warning[open-fact]: `legal.represented_by` is open: not known yet",
        "  = note: Name und Amt nennt das Ministerium",
        "Offene Angabe: Vertretung des Anbieters – tragen Sie die vertretungsberechtigte Person ein, sobald sie feststeht.",
        "warning[open-fact]: `legal.accessibility.created` is open: not known yet",
        "Offene Angabe: Datum der Erstellung – tragen Sie das Datum ein, sobald es feststeht.",
        "warning[open-fact]: `legal.supervisory_authority` is open: not known yet",
        // The statement's own `[offen: …]` is listed as any other.
        "warning[open-fact]: open fact in the text: Stelle für das Durchsetzungsverfahren und ihre Kontaktdaten",
    ] {
        assert!(
            run.stderr.contains(expected),
            "missing {expected:?} in:\n{}",
            run.stderr
        );
    }
    let strict = site.run(&["build", "--now", NOW, "--strict"]);
    strict
        .failed_with(1)
        .stderr_has("`legal.represented_by` is open");
    assert!(!site.public().exists(), "--strict wrote output");

    site.build().ok();
    let imprint = main_text(&site, "impressum/");
    assert!(
        imprint.contains("vertreten durch wird ergänzt"),
        "{imprint}"
    );
    assert!(!imprint.contains("Ministerium nennt"), "{imprint}");
    let statement = main_text(&site, "barrierefreiheit/");
    assert!(
        statement.contains("Das Datum, an dem diese Erklärung erstellt wurde, wird ergänzt."),
        "{statement}"
    );
}

#[test]
fn a_legal_page_without_what_it_must_state_is_an_error() {
    let site = legal_site("");
    set(
        &site,
        "  represented_by: die Ministerin für Digitales\n",
        "",
    );
    site.build()
        .failed_with(1)
        .stderr_has("error: the Impressum needs `legal.represented_by` in site.yaml")
        .stderr_has("represented_by: {offen:");

    let site = Site::fixture("basic");
    site.write(
        "content/impressum.md",
        "---\ntitle: Impressum\ntemplate: legal/impressum.html\n---\n",
    );
    site.build()
        .failed_with(1)
        .stderr_has("`template: legal/impressum.html` needs the `legal:` settings in site.yaml")
        .stderr_has("content/impressum.md:3:1");
}

#[test]
fn legal_settings_that_cannot_be_right_are_errors_at_their_line() {
    for (from, to, message) in [
        (
            "  third_country_transfer: false\n",
            "  third_country_transfer: false\n  vat_id: DE12345\n",
            "`legal.vat_id` is not a German VAT identification number: `DE12345`",
        ),
        (
            "website: \"https://datenschutz.example.org\"",
            "website: \"http://datenschutz.example.org\"",
            "`legal.supervisory_authority.website` is not an https:// address",
        ),
        (
            "data_protection_officer: {role: Behördliche Datenschutzbeauftragte, email: datenschutz@example.org}",
            "data_protection_officer: {role: Behördliche Datenschutzbeauftragte, email: \"Datenschutz <d@example.org>\"}",
            "`legal.data_protection_officer.email` is not an e-mail address",
        ),
        (
            "    reviewed: 2025-12-01\n",
            "    reviewed: 2025-11-01\n",
            "the statement was reviewed (2025-11-01) before it was made (2025-11-20)",
        ),
        (
            "    compliance: partial\n",
            "    compliance: teilweise\n",
            "`teilweise` is not a compliance status",
        ),
        (
            "    compliance: partial\n",
            "    compliance: ofen\n",
            "did you mean `offen`?",
        ),
        (
            "    pages: [\"@/gebaerdensprache.md\"]\n",
            "    pages: [\"@/gebaerden.md\"]\n",
            "`legal.accessibility.pages` names `@/gebaerden.md`, which is no published page",
        ),
        (
            "    compliance: partial\n",
            "    compliance: full\n",
            "`compliance: full`, but the site declares 2 barriers",
        ),
        (
            "  represented_by: die Ministerin für Digitales\n",
            "  represented_by: \"die Ministerin\\e[31m für Digitales\"\n",
            "`legal.represented_by` contains a control character: `die Ministerin\u{241b}[31m für Digitales`",
        ),
        (
            "  hosting_provider: Rechenzentrum Test AöR\n",
            "  hosting_provider: \"Rechenzentrum\\r\\nBcc: x\"\n",
            "`legal.hosting_provider` contains a control character",
        ),
    ] {
        let site = legal_site("");
        set(&site, from, to);
        let run = site.run(&["check", "--now", NOW]);
        run.failed_with(1);
        assert!(
            run.stderr.contains(message),
            "missing {message:?} in:\n{}",
            run.stderr
        );
        assert!(run.stderr.contains("--> site.yaml:"), "{}", run.stderr);
    }
}

#[test]
fn attacker_text_in_legal_settings_is_escaped_and_notes_are_shown_not_obeyed() {
    let site = legal_site("");
    set(
        &site,
        "  represented_by: die Ministerin für Digitales\n",
        "  represented_by: \"<script>alert(1)</script> & Co\"\n",
    );
    set(
        &site,
        "    created: 2025-11-20\n",
        "    created: {offen: \"\\e[31mrot\\r\\nFalsche Zeile\"}\n",
    );
    site.build().ok();
    let html = site.read("public/impressum/index.html");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt; &amp; Co")
            || html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"),
        "{html}"
    );
    let run = site.run(&["check", "--now", NOW]);
    run.ok();
    assert!(!run.stderr.contains('\u{1b}'), "{}", run.stderr);
    assert!(!run.stderr.contains("rot\r\n"), "{}", run.stderr);
}

/// The preview patches the one page an editor saved; the statement, which lists what that
/// page declares, follows it and equals a fresh build.
#[test]
fn the_statement_in_the_preview_follows_an_edit_of_another_page() {
    let site = legal_site("");
    let builder = |s: &Site| {
        SiteBuilder::new(
            s.root().to_path_buf(),
            "http://127.0.0.1:1111".into(),
            false,
            Some(NOW.parse().unwrap()),
        )
    };
    let preview = builder(&site);
    let statement = |built: &ozg_site::serve::Built| -> String {
        match built.files.get("barrierefreiheit/index.html") {
            Some(ozg_site::write::MemoryFile::Bytes(b)) => String::from_utf8(b.to_vec()).unwrap(),
            other => panic!("no statement: {other:?}"),
        }
    };
    let first = preview.build().unwrap();
    let before = statement(&first);
    assert!(
        !before.contains("Begründung"),
        "no exception is listed before one is declared:\n{before}"
    );
    let kontakt = "content/kontakt.md";
    let edited = "---\ntitle: Kontakt\nignore_checks:\n  - {check: table-header, reason: \"Eine Liste ohne Kopf.\"}\n---\nSchreiben Sie an [test@example.org](mailto:test@example.org).\n";
    site.write(kontakt, edited);
    let patched = preview.update(&[site.path(kontakt)]).unwrap();
    assert!(
        matches!(patched.how, Rebuilt::Patched),
        "the edit was not patched"
    );
    let shown = statement(&patched);
    assert!(shown.contains("Eine Liste ohne Kopf."), "{shown}");
    assert_eq!(shown, statement(&builder(&site).build().unwrap()));

    // And back: the entry goes as soon as the check is on again.
    site.write(
        kontakt,
        "---\ntitle: Kontakt\n---\nSchreiben Sie an [test@example.org](mailto:test@example.org).\n",
    );
    let patched = preview.update(&[site.path(kontakt)]).unwrap();
    let without_reason = statement(&patched);
    assert!(
        !without_reason.contains("Eine Liste ohne Kopf."),
        "a withdrawn reason stays listed:\n{without_reason}"
    );
    let session = "content/sprechstunden/69-forum/index.md";
    let declared = site.read(session).replace(
        "{ file: folien.pdf, title: Folien zur 69. Sprechstunde }",
        "{ file: folien.pdf, title: Folien zur 69. Sprechstunde, accessible: true }",
    );
    site.write(session, declared);
    let patched = preview.update(&[site.path(session)]).unwrap();
    let declared_accessible = statement(&patched);
    assert!(
        !declared_accessible.contains("Folien zur 69. Sprechstunde"),
        "slides declared accessible are still listed as a barrier:\n{declared_accessible}"
    );
    assert_eq!(
        statement(&patched),
        statement(&builder(&site).build().unwrap())
    );
}

#[test]
fn the_bundled_site_builds_and_check_reports_only_open_facts() {
    let root = env!("CARGO_MANIFEST_DIR");
    let run = common::ozg(&["check", "--now", NOW, "--format", "json", "--root", root]);
    run.ok();
    let all: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let found = all.as_array().unwrap();
    let others: Vec<_> = found.iter().filter(|d| d["check"] != "open-fact").collect();
    assert!(others.is_empty(), "not only open facts: {others:?}");
    for key in [
        "legal.represented_by",
        "legal.editorial_responsible",
        "legal.data_protection_officer",
        "legal.supervisory_authority",
        "legal.accessibility.created",
        "contact.street",
    ] {
        assert!(
            found
                .iter()
                .any(|d| d["message"].as_str().unwrap().contains(&format!("`{key}`"))),
            "{key} is not open in the bundled site: {}",
            run.stdout
        );
    }
    let out = tempfile::tempdir().unwrap();
    common::ozg(&[
        "build",
        "--now",
        NOW,
        "--root",
        root,
        "--output",
        out.path().to_str().unwrap(),
    ])
    .ok();
    let imprint = std::fs::read_to_string(out.path().join("impressum/index.html")).unwrap();
    assert!(
        imprint.contains("Joseph-von-Fraunhofer-Straße 2"),
        "the confirmed address is shown:\n{imprint}"
    );
    assert!(
        !imprint.contains("Turmschanzenstraße"),
        "an unconfirmed address is shown"
    );
}
