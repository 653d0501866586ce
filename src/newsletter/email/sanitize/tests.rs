use proptest::prelude::*;

use super::*;

const ORIGIN: &str = "https://ozg.example";

/// A mail as `mjml_to_html` and `make_links_absolute` leave it, around `body`.
fn mail(body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"de\" dir=\"auto\"><head><title>Ausgabe 2: Größe &amp; Übergang</title><meta charset=\"utf-8\"><script>alert('head')</script></head><body style=\"margin: 0;background: url(https://evil.example/bg.png);background-color: #f2f4f7\">{body}<a href=\"%%UNSUBSCRIBE_URL%%\">Abbestellen</a></body></html>"
    )
}

fn body_of(html: &str) -> &str {
    let start = html.find("<body").unwrap();
    &html[start..]
}

#[test]
fn scripts_frames_handlers_and_loading_styles_are_gone() {
    let dirty = mail(concat!(
        "<script>alert(1)</script>",
        "<iframe src=\"https://evil.example\">Rahmen</iframe>",
        "<p onclick=\"alert(1)\">Absatz</p>",
        "<img src=x onerror=alert(1) alt=\"x\">",
        "<div style=\"background:url(https://evil.example/x.png);color:#1b1f24\">Farbe</div>",
        "<a href=\"javascript:alert(1)\">Link</a>",
        "<svg><script>alert(1)</script></svg>",
        "<form action=\"https://evil.example\"><input name=a></form>",
        "<object data=\"https://evil.example/x.swf\"></object>",
        "<base href=\"https://evil.example/\">",
        "<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example\">",
        "<td background=\"https://evil.example/x.png\">Zelle</td>",
        "<p style=\"width:expression(alert(1))\">alt</p>",
        "<!-- [if mso]><script>x</script><![endif] -->",
        "<!--[if mso]><img src=\"https://tracker.example/x.gif\"><![endif]-->",
    ));
    let clean = sanitize(&dirty, ORIGIN);
    let lower = clean.to_lowercase();
    for gone in [
        "<script",
        "alert",
        "<iframe",
        "onclick",
        "onerror",
        "url(",
        "javascript:",
        "<svg",
        "<form",
        "<input",
        "<object",
        "<base",
        "refresh",
        "background=",
        "expression",
        "tracker.example",
        "evil.example",
    ] {
        assert!(!lower.contains(gone), "{gone} in {clean}");
    }
    for kept in [
        "<p>Absatz</p>",
        "<div style=\"color:#1b1f24\">Farbe</div>",
        "<a>Link</a>",
        "<title>Ausgabe 2: Größe &amp; Übergang</title>",
        "<body style=\"margin: 0;background-color: #f2f4f7\">",
    ] {
        assert!(clean.contains(kept), "{kept} missing in {clean}");
    }
    // The mail as a whole passes the checks that read it.
    assert_eq!(check(&clean), Err("an image of the e-mail has no https:// address (mail programs block others): <img alt=\"x\">".to_string()));
}

#[test]
fn what_a_real_edition_needs_stays_as_it_is() {
    let body = concat!(
        "<div style=\"display:none;font-size:1px;color:#ffffff;line-height:1px;max-height:0px;max-width:0px;opacity:0;overflow:hidden;\">Vorschau</div>",
        "<div aria-label=\"Ausgabe 2\" aria-roledescription=\"email\" role=\"article\" lang=\"de\" dir=\"auto\" style=\"background-color:#f2f4f7;\">",
        "<!--[if mso | IE]><table border=\"0\" cellpadding=\"0\" cellspacing=\"0\" role=\"presentation\" align=\"center\" width=\"600\" style=\"width:600px;\"><tr><td style=\"line-height:0px;font-size:0px;mso-line-height-rule:exactly;\"><![endif]-->",
        "<table border=\"0\" cellpadding=\"0\" cellspacing=\"0\" role=\"presentation\" align=\"center\" style=\"border-collapse: collapse;width: 100%\"><tbody><tr>",
        "<td align=\"left\" class=\"prose\" style=\"font-size: 0px;padding: 0 24px\">",
        "<h2 id=\"teil\" style=\"font-size: 22px\">Wir ziehen um</h2>",
        "<p>Ins <strong>Elbe-Office</strong>, <a href=\"https://ozg.example/newsletter/2/#teil\" style=\"color: #0b57a4\">mehr</a> und <a href=\"mailto:ozg@example.org\">Mail</a>.</p>",
        "<img alt=\"Das Team\" src=\"https://ozg.example/bilder/team.png\" width=\"120\" height=\"auto\" style=\"border: 0;display: block\">",
        "<ul><li>eins</li></ul><ol start=\"2\"><li>zwei</li></ol>",
        "<div class=\"table-scroll\" tabindex=\"0\"><table><thead><tr><th style=\"text-align: left\">Größe</th></tr></thead><tbody><tr><td>10</td></tr></tbody></table></div>",
        "<pre class=\"code\" data-lang=\"rust\"><code><span class=\"hl-source\">fn</span></code></pre>",
        "<blockquote>Zitat</blockquote><p>%%SALUTATION%%</p>",
        "<p style=\"border-top:solid 1px #c9ced6;font-size:1px;margin:0px auto;width:100%;\"></p>",
        "<!--[if mso | IE]><table align=\"center\" border=\"0\" cellpadding=\"0\" cellspacing=\"0\" style=\"border-top:solid 1px #c9ced6;font-size:1px;margin:0px auto;width:552px;\" role=\"presentation\" width=\"552px\" ><tr><td style=\"height:0;line-height:0;\"> &nbsp;\n</td></tr></table><![endif]-->",
        "</td></tr></tbody></table>",
        "<!--[if mso | IE]></td></tr></table><![endif]-->",
        "</div>",
    );
    let html = format!(
        "<!DOCTYPE html><html lang=\"de\" dir=\"auto\" xmlns=\"http://www.w3.org/1999/xhtml\" xmlns:v=\"urn:schemas-microsoft-com:vml\" xmlns:o=\"urn:schemas-microsoft-com:office:office\"><head><title>Ausgabe 2</title><!--[if !mso]><!--><meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\"><!--<![endif]--><meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{OUTLOOK_SETTINGS}</head><body style=\"margin: 0;padding: 0\">{body}<a href=\"%%UNSUBSCRIBE_URL%%\">Abbestellen</a></body></html>"
    );
    assert_eq!(sanitize(&html, ORIGIN), html);
    assert_eq!(check(&html), Ok(()));
}

#[test]
fn only_ghost_tables_survive_in_outlook_comments() {
    assert!(is_outlook_comment(
        "[if mso | IE]><table role=\"presentation\"><tr><td style=\"width:600px;\"><![endif]"
    ));
    assert!(is_outlook_comment("[if !mso]><!"));
    assert!(is_outlook_comment("<![endif]"));
    for bad in [
        "[if mso]><img src=\"https://tracker.example/x.gif\"><![endif]",
        "[if mso]><td style=\"background:url(https://evil.example/x.png)\"><![endif]",
        "[if mso]><td background=\"https://evil.example/x.png\"><![endif]",
        "[if mso]><td title=\"a>b\"><![endif]",
        "[if mso]><v:rect><v:fill src=\"https://evil.example/x.png\"/></v:rect><![endif]",
        "[if mso]><td style=\"x<![endif]",
        "[if mso]><!-- x --><![endif]",
        "[if mso<script>]><table><![endif]",
        " ein Kommentar ",
    ] {
        assert!(!is_outlook_comment(bad), "{bad}");
    }
}

#[test]
fn an_image_without_alt_next_to_umlauts_is_an_error_not_a_panic() {
    // The tag is longer than the 120 characters shown, and character 120 is an umlaut: the old
    // byte slice cut it in half and panicked.
    let src = format!("https://ozg.example/bilder/{}.png", "ä".repeat(100));
    let html = sanitize(
        &mail(&format!("<p>Grüße <img src=\"{src}\"> Übergröße</p>")),
        ORIGIN,
    );
    let error = check(&html).unwrap_err();
    assert!(
        error.starts_with(
            "an image of the e-mail has no `alt` text: <img src=\"https://ozg.example/bilder/ää"
        ),
        "{error}"
    );
    assert!(error.ends_with("ä…"), "{error}");
}

#[test]
fn images_load_over_https_or_from_the_site_itself() {
    let html = mail(concat!(
        "<img alt=\"a\" src=\"http://127.0.0.1:1111/bilder/a.png\">",
        "<img alt=\"b\" src=\"http://tracker.example/b.png\">",
        "<img alt=\"c\" src=\"http://127.0.0.1:1111.evil.example/c.png\">",
    ));
    let clean = sanitize(&html, "http://127.0.0.1:1111");
    assert!(clean.contains("<img alt=\"a\" src=\"http://127.0.0.1:1111/bilder/a.png\">"));
    assert!(clean.contains("<img alt=\"b\">") && clean.contains("<img alt=\"c\">"));
}

#[test]
fn a_mail_without_the_unsubscribe_link_is_refused() {
    let html = sanitize(
        "<html><body><p>Hallo</p><a href=\"https://ozg.example/abmelden\">Abmelden</a></body></html>",
        ORIGIN,
    );
    assert!(check(&html).unwrap_err().contains("no unsubscribe link"));
}

proptest! {
    #[test]
    fn whatever_goes_in_the_result_passes_the_markdown_checks(
        parts in proptest::collection::vec(prop_oneof![
            Just("<script>alert(1)</script>"),
            Just("<img src=x onerror=alert(1) alt=a>"),
            Just("<a href=\"java&#x09;script:alert(1)\">x</a>"),
            Just("<p style=\"background:\\75rl(https://evil.example)\">p</p>"),
            Just("<svg><style><img src=x onerror=alert(1)></style></svg>"),
            Just("<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">"),
            Just("<math><mi><xmp></mi><img src=x onerror=alert(1)></xmp></math>"),
            Just("<table><tr><td>Zelle</td></tr></table>"),
            Just("<!--[if mso]><table><tr><td><![endif]-->"),
            Just("<!--[if mso]><img src=https://tracker.example><![endif]-->"),
            Just("<div title=\""),
            Just("</p>"),
            Just("Größe & Übergang < >"),
            Just("<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>"),
        ], 0..12)
    ) {
        let clean = sanitize(&mail(&parts.concat()), ORIGIN);
        let body = body_of(&clean);
        let findings = raw_html::check(body, &raw_html::Policy::default()).findings;
        prop_assert!(findings.is_empty(), "{:?} in {}", findings, clean);
        // Outlook reads conditional comments as HTML: only ghost tables may be left in them.
        for t in tokenize(body).tokens {
            if let Tok::Comment(data) = t.token {
                prop_assert!(is_outlook_comment(&data), "{} in {}", data, clean);
            }
        }
    }
}
