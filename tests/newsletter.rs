//! `ozg-site newsletter build` and the e-mail checks of `ozg-site check`, through the real binary.
//! (The message itself is read by Python's `email` package in tests/python/test_newsletter.py.)

mod common;

use common::{NOW, Site};

const EDITION: &str = "newsletters/2-ausgabe.md";
const SETTINGS: &str = "newsletter:\n  from: \"Testteam Ö <team@example.org>\"\n  reply_to: antwort@example.org\n  unsubscribe_url: \"https://test.example.org/abmelden/?t={token}\"\n";

fn with_settings() -> Site {
    let site = Site::fixture("basic");
    site.write("site.yaml", site.read("site.yaml") + SETTINGS);
    site
}

fn newsletter_build(site: &Site, args: &[&str]) -> common::Run {
    let out = site.path("mail").to_string_lossy().into_owned();
    let mut all = vec!["newsletter", "build"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--now", NOW, "--out", &out]);
    site.run(&all)
}

#[test]
fn an_edition_becomes_html_text_and_a_message() {
    let site = with_settings();
    let run = newsletter_build(&site, &["2"]);
    run.ok();
    assert_eq!(run.stderr, "", "no warnings");
    let html = site.read("mail/2/email.html");
    let text = site.read("mail/2/email.txt");
    let eml = site.read("mail/2/message.eml");
    assert!(
        html.contains("Wir ziehen um") && html.contains("Ins Elbe-Office."),
        "the article's heading and text:\n{html}"
    );
    assert!(
        html.contains("https://test.example.org/newsletter/2/"),
        "the link to the web version is absolute:\n{html}"
    );
    assert!(text.contains("Wir ziehen um\n============="), "{text}");
    assert!(
        eml.contains("Content-Type: multipart/alternative"),
        "HTML and text in one message:\n{eml}"
    );
    // The sender's umlaut is encoded (RFC 2047), never raw in a header.
    let from = eml.lines().find(|l| l.starts_with("From:")).unwrap();
    assert!(from.is_ascii() && from.contains("=?utf-8?"), "{from}");
    assert!(
        eml.contains("List-Unsubscribe: <https://test.example.org/abmelden/?t="),
        "the unsubscribe header with a token:\n{eml}"
    );
    assert!(eml.contains("Reply-To: antwort@example.org"), "{eml}");
    // The web version carries nothing of a recipient.
    site.build().ok();
    let web = site.all_output_text();
    assert!(
        !web.contains("%%") && !web.contains("Erika Mustermann"),
        "a placeholder or a recipient's name reached the web version"
    );
}

/// Every address an HTML part links to, entities decoded as a mail client reads them.
fn html_links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|url| url.replace("&amp;", "&"))
        .collect()
}

#[test]
fn the_text_part_carries_every_link_of_the_html_part() {
    let site = with_settings();
    newsletter_build(&site, &["2"]).ok();
    let html = site.read("mail/2/email.html");
    let text = site.read("mail/2/email.txt");
    let links = html_links(&html);
    assert!(
        links.iter().any(|l| l.ends_with("/kontakt/")),
        "the footer's link is in the HTML: {links:?}"
    );
    for link in &links {
        let shown = link.strip_prefix("mailto:").unwrap_or(link);
        assert!(
            text.contains(shown),
            "{link} is missing in the text part:\n{text}"
        );
    }
}

#[test]
fn the_mail_has_one_h1_and_a_preheader_hidden_by_layout_not_by_colour() {
    let site = with_settings();
    newsletter_build(&site, &["2"]).ok();
    let html = site.read("mail/2/email.html");
    assert_eq!(html.matches("<h1").count(), 1, "{html}");
    let body = html.split("<body").nth(1).unwrap();
    let preheader = body
        .split("<div")
        .find(|d| d.contains("display:none"))
        .unwrap();
    assert!(
        preheader.contains("mso-hide:all") && preheader.contains("Umzug, Dataport und mehr"),
        "the preheader, hidden in Outlook too: {preheader}"
    );
    assert!(
        !preheader.contains("color:#ffffff") && !preheader.contains("font-size:1px"),
        "neither white on grey nor a tiny font, which filters count as hidden text: {preheader}"
    );
    assert!(
        preheader.contains(&"\u{34f}\u{200c}&nbsp;".repeat(40)),
        "padded, so inbox previews end after it: {preheader}"
    );
}

#[test]
fn all_editions_and_unknown_numbers() {
    let site = with_settings();
    newsletter_build(&site, &["--all"]).ok();
    assert!(
        site.path("mail/2/message.eml").is_file(),
        "--all builds edition 2"
    );
    let run = newsletter_build(&site, &["7"]);
    run.failed_with(1);
    run.stderr_has("there is no published edition number 7");
    let run = site.run(&["newsletter", "build"]);
    run.failed_with(2);
}

#[test]
fn without_settings_the_message_cannot_be_made() {
    let site = Site::fixture("basic");
    let run = newsletter_build(&site, &["2"]);
    run.failed_with(1);
    run.stderr_has("site.yaml has no `newsletter:` settings");
    assert!(
        !site.path("mail/2").exists(),
        "a failed newsletter build wrote mail/2"
    );
}

#[test]
fn bad_settings_name_their_line_in_site_yaml() {
    let site = Site::fixture("basic");
    site.write(
        "site.yaml",
        site.read("site.yaml")
            + "newsletter:\n  from: \"kein Absender\"\n  unsubscribe_url: \"http://test.example.org/abmelden/\"\n",
    );
    let run = newsletter_build(&site, &["2"]);
    run.failed_with(1);
    run.stderr_has("site.yaml:16:10");
    run.stderr_has("`from` is not a valid e-mail address");
    run.stderr_has("site.yaml:17:21");
    run.stderr_has("must be an https:// address with `{token}`");
}

#[test]
fn check_finds_what_breaks_in_a_mail_client() {
    let site = with_settings();
    site.write(
        EDITION,
        site.read(EDITION)
            + "\nMehr [hier](ausgabe-1.html).\n\n![](https://example.org/team.jpg)\n",
    );
    let run = site.run(&["check", "--now", NOW]);
    run.failed_with(1);
    run.stderr_has("newsletters/2-ausgabe.md:12:6");
    run.stderr_has("the link `ausgabe-1.html` cannot work in an e-mail");
    run.stderr_has("newsletters/2-ausgabe.md:14:1");
    run.stderr_has("this image has no alternative text");
}

#[test]
fn check_warns_when_an_editions_html_nears_gmails_clipping_limit() {
    let site = with_settings();
    let run = site.run(&["check", "--now", NOW]);
    run.ok();
    assert!(!run.stderr.contains("Gmail"), "{}", run.stderr);
    let paragraph = "Ein Absatz mit genug Text, damit die Ausgabe wächst. ".repeat(20);
    site.write(
        EDITION,
        site.read(EDITION) + &format!("\n{paragraph}\n").repeat(100),
    );
    let run = site.run(&["check", "--now", NOW]);
    run.ok();
    run.stderr_has("newsletters/2-ausgabe.md");
    run.stderr_has("KB of HTML as sent; Gmail cuts messages off after 102 KB");
}

#[test]
fn an_empty_preheader_is_an_error_at_its_key() {
    let site = with_settings();
    site.write(
        EDITION,
        site.read(EDITION)
            .replace("preheader: Umzug, Dataport und mehr", "preheader: \"\""),
    );
    let run = site.run(&["check", "--now", NOW]);
    run.failed_with(1);
    run.stderr_has("newsletters/2-ausgabe.md:6:1");
    run.stderr_has("the edition's `preheader` is empty");
}

#[test]
fn a_failed_build_keeps_the_previous_mail() {
    let site = with_settings();
    newsletter_build(&site, &["2"]).ok();
    let before = site.read("mail/2/email.html");
    site.write(EDITION, site.read(EDITION) + "\n![](bild.png)\n");
    newsletter_build(&site, &["2"]).failed_with(1);
    assert_eq!(site.read("mail/2/email.html"), before);
}

#[test]
fn check_names_what_a_theme_lacks_for_the_subscription_service() {
    let site = Site::fixture("basic");
    site.write(
        "site.yaml",
        site.read("site.yaml")
            + "newsletter:\n  from: team@example.org\n  subscriptions:\n    consent: Ich möchte den Newsletter.\n    confirm_within_hours: 0\n",
    );
    let run = site.run(&["check", "--now", NOW]);
    run.failed_with(1);
    run.stderr_has("`confirm_within_hours` is 0; it must be between 1 and 720");
    site.write(
        "site.yaml",
        site.read("site.yaml")
            .replace("    confirm_within_hours: 0\n", ""),
    );
    let run = site.run(&["check", "--now", NOW]);
    run.ok();
    // The fixture's small theme has no pages for the service: `check` says so before anyone
    // starts it.
    site.write(
        "site.yaml",
        site.read("site.yaml")
            .replace("theme: default", "theme: mini"),
    );
    let run = site.run(&["check", "--now", NOW]);
    run.failed_with(1);
    run.stderr_has("the theme `mini` has no page for the subscription service");
    run.stderr_has("templates/subscriptions/form.html");
    run.stderr_has("copy `templates/subscriptions/` from the default theme");
}

#[test]
fn the_newsletter_box_posts_to_the_service_or_names_the_address_to_write_to() {
    let site = Site::fixture("basic");
    site.build().ok();
    let archive = || site.read("public/newsletter/index.html");
    assert!(
        !archive().contains("Newsletter abonnieren"),
        "no newsletter settings, no sign-up"
    );

    // Without the service: the address to write to (reply_to before from).
    site.write("site.yaml", site.read("site.yaml") + SETTINGS);
    site.build().ok();
    let html = archive();
    assert!(
        html.contains("mailto:antwort@example.org?subject=Newsletter%20abonnieren"),
        "{html}"
    );
    assert!(
        !html.contains("<form class=\"signup-form\""),
        "a form without a service to post to:\n{html}"
    );

    // With it: a form posting to the service at the site's address, with the consent beside it.
    site.write(
        "site.yaml",
        site.read("site.yaml").replace(
            "  unsubscribe_url: \"https://test.example.org/abmelden/?t={token}\"\n",
            "  subscriptions:\n    consent: Ich möchte den Testnewsletter erhalten.\n    privacy_page: \"@/kontakt.md\"\n",
        ),
    );
    site.build().ok();
    let html = archive();
    assert!(
        html.contains(
            "<form class=\"signup-form\" method=\"post\" action=\"https://test.example.org/newsletter/anmelden\""
        ),
        "{html}"
    );
    assert!(
        html.contains("Ich möchte den Testnewsletter erhalten.")
            && html.contains("<a href=\"/kontakt/\">Hinweise zum Datenschutz</a>"),
        "the consent and the privacy link beside the form:\n{html}"
    );
    assert!(
        !html.contains("mailto:antwort@example.org?subject"),
        "the mail link stays although the form is there:\n{html}"
    );
}
