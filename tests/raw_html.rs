//! Raw HTML that runs script, sends data or embeds other sites never reaches a reader: `check`
//! and `build` refuse it in pages and editions, and the e-mail keeps only its safe subset.

mod common;

use std::path::Path;

use common::{NOW, Site};

const PAGE: &str = "content/roh.md";
const EDITION: &str = "newsletters/2-ausgabe.md";
const HINT: &str = "aus Sicherheitsgründen nicht erlaubt";
const NEWSLETTER: &str = "newsletter:\n  from: team@example.org\n  unsubscribe_url: \"https://test.example.org/abmelden/?t={token}\"\n";
const YOUTUBE: &str = "https://www.youtube-nocookie.com/embed/";

/// A page whose body starts on line 4.
fn page(body: &str) -> String {
    format!("---\ntitle: Roh\n---\n{body}")
}

fn check(site: &Site) -> common::Run {
    site.run(&["check", "--now", NOW])
}

fn with_newsletter() -> Site {
    let site = Site::fixture("basic");
    site.write("site.yaml", site.read("site.yaml") + NEWSLETTER);
    site
}

fn newsletter_build(site: &Site) -> common::Run {
    let out = site.path("mail").to_string_lossy().into_owned();
    site.run(&["newsletter", "build", "2", "--now", NOW, "--out", &out])
}

#[test]
fn every_forbidden_construct_fails_check_at_its_place_with_a_german_hint() {
    // (line in the file, column, what the message says); the body starts on line 4.
    let cases: &[(&str, usize, usize, &str)] = &[
        (
            "<ScRiPt>alert(1)</script>",
            4,
            1,
            "raw HTML `<script>` is not allowed",
        ),
        (
            "<iframe src=\"https://evil.example/\"></iframe>",
            6,
            1,
            "is not a trusted embed",
        ),
        (
            "<object data=\"x.swf\"></object>",
            8,
            1,
            "`<object>` is not allowed",
        ),
        ("<embed src=\"x.swf\">", 10, 1, "`<embed>` is not allowed"),
        (
            "<form action=\"https://evil.example/\">",
            12,
            1,
            "`<form>` is not allowed",
        ),
        (
            "Text <img src=x onerror=alert(1) alt=\"\">",
            14,
            17,
            "`onerror` on `<img>` runs a script",
        ),
        (
            "<a href=\"java&#x09;script:alert(1)\">x</a>",
            16,
            4,
            "`javascript:` address is not allowed (in `href`)",
        ),
        (
            "[Link](JavaScript:alert(1))",
            18,
            8,
            "`javascript:` address is not allowed as a link",
        ),
        ("Siehe <vbscript:msgbox(1)>", 20, 8, "`vbscript:` address"),
        (
            "![Bild](data:image/png;base64,AAAA)",
            22,
            9,
            "`data:` address",
        ),
        ("[ref]: javascript:alert(1)", 24, 8, "`javascript:` address"),
        (
            "<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example/\">",
            26,
            1,
            "`<meta>` is not allowed",
        ),
        (
            "<base href=\"https://evil.example/\">",
            28,
            1,
            "`<base>` is not allowed",
        ),
        (
            "<p style=\"background:url(https://evil.example/x.png)\">x</p>",
            30,
            4,
            "`style` attribute on `<p>` loads or runs something",
        ),
        (
            "<svg><script>alert(1)</script></svg>",
            32,
            1,
            "`<svg>` is not allowed",
        ),
        ("<div title=\"", 34, 1, "ends inside a tag or a comment"),
    ];
    let body: String = cases.iter().map(|(md, ..)| format!("{md}\n\n")).collect();
    let site = Site::fixture("basic");
    site.write(PAGE, page(&body));
    let run = check(&site);
    run.failed_with(1);
    for (_, line, column, message) in cases {
        run.stderr_has(&format!("content/roh.md:{line}:{column}"));
        run.stderr_has(message);
    }
    run.stderr_has(HINT);
    // All of them in one run, not the first one only (the `<svg>` line has two).
    run.stderr_has(&format!("{} errors found", cases.len() + 1));
}

#[test]
fn build_refuses_raw_script_and_leaves_public_as_it_was() {
    let site = Site::fixture("basic");
    site.build().ok();
    let before = site.snapshot();
    site.write(PAGE, page("Hallo <img src=x onerror=alert(1)>\n"));
    let run = site.build();
    run.failed_with(1);
    run.stderr_has("content/roh.md:4:18");
    run.stderr_has("`onerror`");
    assert_eq!(site.snapshot(), before);
}

#[test]
fn an_edition_with_raw_script_is_refused_too() {
    let site = with_newsletter();
    site.write(
        EDITION,
        site.read(EDITION) + "\n<p onclick=\"alert(1)\">Klick</p>\n",
    );
    let run = newsletter_build(&site);
    run.failed_with(1);
    run.stderr_has("newsletters/2-ausgabe.md:12:4");
    run.stderr_has("`onclick` on `<p>` runs a script");
    assert!(
        !site.path("mail/2").exists(),
        "a refused edition was written to mail/2"
    );
}

#[test]
fn a_trusted_embed_passes_only_with_the_site_yaml_setting() {
    let site = Site::fixture("basic");
    let video = format!(
        "Das Video:\n\n<iframe src=\"{YOUTUBE}abc123\" title=\"Video: Das OZG erklärt\" width=\"560\" height=\"315\" allowfullscreen></iframe>\n"
    );
    site.write(PAGE, page(&video));
    let run = check(&site);
    run.failed_with(1);
    run.stderr_has("content/roh.md:6:1");
    run.stderr_has("is not a trusted embed");
    run.stderr_has("markdown: trusted_embeds:");

    site.write(
        "site.yaml",
        site.read("site.yaml") + &format!("markdown:\n  trusted_embeds: [\"{YOUTUBE}\"]\n"),
    );
    check(&site).ok();
    site.build().ok();
    let built = site.read("public/roh/index.html");
    assert!(
        built.contains(&format!("<iframe src=\"{YOUTUBE}abc123\"")),
        "the trusted embed is kept:\n{built}"
    );

    // The setting lets the frame through, nothing else.
    for (bad, message) in [
        (
            format!("<iframe src=\"{YOUTUBE}x\" onload=\"alert(1)\"></iframe>"),
            "`onload`",
        ),
        (
            format!(
                "<iframe src=\"{YOUTUBE}x\" srcdoc=\"&lt;script&gt;alert(1)&lt;/script&gt;\"></iframe>"
            ),
            "`srcdoc` is not allowed on an embedded frame",
        ),
        (
            format!("<iframe src=\"{YOUTUBE}../../redirect?u=https://evil.example\"></iframe>"),
            "is not a trusted embed",
        ),
        (
            "<iframe src=\"https://www.youtube-nocookie.com.evil.example/embed/x\"></iframe>"
                .to_string(),
            "is not a trusted embed",
        ),
        (
            format!("<object data=\"{YOUTUBE}x\"></object>"),
            "`<object>` is not allowed",
        ),
    ] {
        site.write(PAGE, page(&format!("{bad}\n")));
        let run = check(&site);
        run.failed_with(1);
        run.stderr_has(message);
    }
}

#[test]
fn a_trusted_embed_cannot_go_into_an_email() {
    let site = with_newsletter();
    site.write(
        "site.yaml",
        site.read("site.yaml") + &format!("markdown:\n  trusted_embeds: [\"{YOUTUBE}\"]\n"),
    );
    site.write(
        EDITION,
        site.read(EDITION) + &format!("\n<iframe src=\"{YOUTUBE}x\" title=\"Video\"></iframe>\n"),
    );
    let run = check(&site);
    run.failed_with(1);
    run.stderr_has("newsletters/2-ausgabe.md:12:1");
    run.stderr_has("an e-mail cannot show an embedded frame");
}

#[test]
fn unusable_trusted_embeds_and_unknown_markdown_keys_are_errors_in_site_yaml() {
    let site = Site::fixture("basic");
    let yaml = site.read("site.yaml");
    for (setting, message) in [
        (
            "markdown:\n  trusted_embeds: [\"https://www.youtube-nocookie.com\"]\n",
            "`https://www.youtube-nocookie.com` is not a usable trusted embed",
        ),
        (
            "markdown:\n  trusted_embeds: [\"http://www.youtube-nocookie.com/embed/\"]\n",
            "is not a usable trusted embed",
        ),
        (
            "markdown:\n  trusted_embeds: [\"https://www.youtube.com@evil.example/\"]\n",
            "is not a usable trusted embed",
        ),
        ("markdown:\n  trusted_embed: []\n", "trusted_embed"),
    ] {
        site.write("site.yaml", format!("{yaml}{setting}"));
        let run = check(&site);
        run.failed_with(1);
        run.stderr_has("site.yaml:");
        run.stderr_has(message);
    }
}

#[test]
fn harmless_raw_html_still_works() {
    let site = Site::fixture("basic");
    site.write(
        PAGE,
        page(concat!(
            "Das <abbr title=\"Onlinezugangsgesetz\">OZG</abbr>: <kbd>Strg</kbd>+<kbd>C</kbd>,<br>\n",
            "neue Zeile.\n\n",
            "<details>\n<summary>Mehr erfahren</summary>\n\nVersteckter Text.\n\n</details>\n",
        )),
    );
    check(&site).ok();
    site.build().ok();
    let html = site.read("public/roh/index.html");
    for kept in [
        "<abbr title=\"Onlinezugangsgesetz\">OZG</abbr>",
        "<kbd>Strg</kbd>+<kbd>C</kbd>",
        ",<br>",
        "<details>\n<summary>Mehr erfahren</summary>",
        "</details>",
    ] {
        assert!(html.contains(kept), "{kept} missing");
    }
}

/// The default theme as files in the site, so a test can change its e-mail template.
fn with_own_theme(site: &Site) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("themes/default");
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(&src).unwrap();
            site.write(
                &format!("themes/default/{}", rel.to_string_lossy()),
                std::fs::read(entry.path()).unwrap(),
            );
        }
    }
}

#[test]
fn a_theme_injecting_script_yields_a_mail_without_it() {
    let site = with_newsletter();
    with_own_theme(&site);
    let template = "themes/default/email/edition.mjml";
    let mjml = site
        .read(template)
        .replace(
            "<mj-head>",
            "<mj-head>\n    <mj-raw><script>alert('head')</script><meta http-equiv=\"refresh\" content=\"0;url=https://evil.example/\"></mj-raw>",
        )
        .replace(
            "<mj-body width=\"600px\" background-color=\"#f2f4f7\">",
            concat!(
                "<mj-body width=\"600px\" background-color=\"#f2f4f7\">\n",
                "    <mj-raw><script>alert('body')</script><iframe src=\"https://evil.example/\"></iframe></mj-raw>\n",
                "    <mj-section><mj-column><mj-text><p onclick=\"alert(1)\" style=\"color:#1b1f24;background:url(https://evil.example/x.png)\">Gruß</p>",
                "<img src=\"https://evil.example/x.png\" onerror=\"alert(1)\" alt=\"Bild\">",
                "<!--[if mso]><img src=\"https://evil.example/track.gif\"><![endif]--></mj-text></mj-column></mj-section>",
            ),
        );
    site.write(template, mjml);
    newsletter_build(&site).ok();
    let html = site.read("mail/2/email.html");
    let eml = site.read("mail/2/message.eml");
    for mail in [&html, &eml] {
        for gone in [
            "<script",
            "alert(",
            "<iframe",
            "onclick",
            "onerror",
            "refresh",
            "javascript:",
            "url(https://evil.example",
            "track.gif",
        ] {
            assert!(!mail.contains(gone), "{gone} is in the mail");
        }
    }
    // The paragraph keeps its other declarations, the image its address and text.
    assert!(html.contains("color: #1b1f24\">Gruß</p>"), "{html}");
    assert!(
        html.contains("<img src=\"https://evil.example/x.png\" alt=\"Bild\"")
            && html.contains("Ins Elbe-Office."),
        "the image and the text are kept:\n{html}"
    );
    // Outlook's ghost tables are still there.
    assert!(
        html.contains("<!--[if mso | IE]><table"),
        "Outlook's ghost tables:\n{html}"
    );
}

#[test]
fn an_image_without_alt_next_to_umlauts_is_a_diagnostic_not_a_panic() {
    // Byte 120 of the tag falls inside an `ä`: the old check cut the text there and panicked.
    let src = format!("https://test.example.org/bilder/x{}.png", "ä".repeat(60));
    let site = with_newsletter();
    with_own_theme(&site);
    let template = "themes/default/email/edition.mjml";
    site.write(
        template,
        site.read(template).replace(
            "<mj-body width=\"600px\" background-color=\"#f2f4f7\">",
            &format!(
                "<mj-body width=\"600px\" background-color=\"#f2f4f7\"><mj-section><mj-column><mj-text>Grüße <img src=\"{src}\"> Übergröße</mj-text></mj-column></mj-section>"
            ),
        ),
    );
    let run = newsletter_build(&site);
    run.failed_with(1);
    run.stderr_has(
        "an image of the e-mail has no `alt` text: <img src=\"https://test.example.org/bilder/xää",
    );
    run.stderr_has("themes/default/email/edition.mjml");

    // Written in the edition itself, it is found where it stands.
    let site = with_newsletter();
    site.write(
        EDITION,
        site.read(EDITION) + &format!("\nGrüße <img src=\"{src}\"> Übergröße\n"),
    );
    let run = check(&site);
    run.failed_with(1);
    run.stderr_has("newsletters/2-ausgabe.md:12:7");
    run.stderr_has("this `<img>` has no alternative text");
}

#[test]
fn a_deeply_nested_edition_is_an_error_not_a_crash() {
    let site = with_newsletter();
    site.write(
        EDITION,
        site.read(EDITION) + &format!("\n{}tief{}\n", "<div>".repeat(5000), "</div>".repeat(5000)),
    );
    let run = newsletter_build(&site);
    run.failed_with(1);
    run.stderr_has("this part of the edition nests 5000 elements deep");
}
