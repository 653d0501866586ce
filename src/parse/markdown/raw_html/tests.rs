use proptest::prelude::*;

use super::*;

fn problems(html: &str) -> Vec<Problem> {
    check(html, &Policy::default())
        .findings
        .into_iter()
        .map(|f| f.problem)
        .collect()
}

fn youtube() -> Vec<String> {
    vec!["https://www.youtube-nocookie.com/embed/".to_string()]
}

#[test]
fn harmless_markup_passes() {
    for html in [
        "<abbr title=\"Onlinezugangsgesetz\">OZG</abbr>",
        "<kbd>Strg</kbd>+<kbd>C</kbd>",
        "<br>",
        "<br/>",
        "<details><summary>Mehr</summary>\nText\n</details>\n",
        "<!-- more -->",
        "<a href=\"https://www.sachsen-anhalt.de\" title=\"data: Tabelle\">Land</a>",
        "<img src=\"/bilder/team.jpg\" alt=\"Team\" width=\"300\">",
        "<p style=\"color: #0b3f73; background-color: rgb(1, 2, 3)\">Farbe</p>",
        "<table><tr><td colspan=2>Größe</td></tr></table>",
        "<title>Ein Titel</title>",
        "a < b und c > d",
    ] {
        assert_eq!(problems(html), [], "{html}");
    }
}

#[test]
fn forbidden_elements_in_any_spelling_are_found() {
    for (html, name) in [
        ("<script>alert(1)</script>", "script"),
        ("<ScRiPt src=x></ScRiPt>", "script"),
        ("<script/>", "script"),
        (
            "<noscript><p title=\"</noscript><img src=x>\"></noscript>",
            "noscript",
        ),
        ("<object data=x></object>", "object"),
        ("<embed src=x>", "embed"),
        ("<form action=https://x.example><input></form>", "form"),
        ("<button formaction=https://x.example>x</button>", "button"),
        ("<frameset><frame src=x></frameset>", "frameset"),
        ("<applet code=x></applet>", "applet"),
        ("<base href=https://evil.example/>", "base"),
        (
            "<meta http-equiv=refresh content=\"0;url=https://evil.example\">",
            "meta",
        ),
        (
            "<link rel=stylesheet href=https://evil.example/x.css>",
            "link",
        ),
        ("<style>body{display:none}</style>", "style"),
        ("<svg><circle r=1></circle></svg>", "svg"),
        ("<math><mi>x</mi></math>", "math"),
        ("<template><p>x</p></template>", "template"),
        ("<xmp><img src=x onerror=alert(1)></xmp>", "xmp"),
        ("<plaintext>", "plaintext"),
    ] {
        let found = problems(html);
        assert!(
            matches!(found.first(), Some(Problem::Element { name: n, .. }) if n == name),
            "{html}: {found:?}"
        );
    }
}

#[test]
fn event_handlers_on_any_element_are_found() {
    for html in [
        "<img src=x onerror=alert(1)>",
        "<p ONCLICK=\"alert(1)\">x</p>",
        "<details open ontoggle=alert(1)>",
        "<a href=\"/x\"onmouseover=alert(1)>x</a>",
        "<div/onclick=alert(1)>x</div>",
    ] {
        assert!(
            problems(html)
                .iter()
                .any(|p| matches!(p, Problem::EventHandler { .. })),
            "{html}"
        );
    }
}

#[test]
fn script_addresses_are_found_as_browsers_read_them() {
    for html in [
        "<a href=\"javascript:alert(1)\">x</a>",
        "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
        "<a href=\"  javascript:alert(1)\">x</a>",
        "<a href=\"java&#x09;script:alert(1)\">x</a>",
        "<a href=\"java&Tab;script:alert(1)\">x</a>",
        "<a href=\"java&#10;script:alert(1)\">x</a>",
        "<a href=\"&#106;&#97;vascript:alert(1)\">x</a>",
        "<a href=\"javascript&colon;alert(1)\">x</a>",
        "<a href=javascript:alert(1)>x</a>",
        "<a href='vbscript:msgbox(1)'>x</a>",
        "<img src=\"data:image/svg+xml;base64,PHN2Zz4=\" alt=\"x\">",
        "<img srcset=\"/a.png 1x, data:image/png;base64,AAAA 2x\" alt=\"x\">",
        "<a xlink:href=\"javascript:alert(1)\">x</a>",
        "<img data-src=\"javascript:alert(1)\" alt=x>",
        "<blockquote cite=\"javascript:alert(1)\">x</blockquote>",
    ] {
        assert!(
            problems(html)
                .iter()
                .any(|p| matches!(p, Problem::ScriptUrl { .. })),
            "{html}: {:?}",
            problems(html)
        );
    }
    assert_eq!(dangerous_scheme("https://example.org/javascript:x"), None);
    assert_eq!(dangerous_scheme("/seite/?q=data:x"), None);
    assert_eq!(dangerous_scheme("jav%61script:alert(1)"), None);
    assert_eq!(dangerous_scheme("\u{0}java\nscript:"), Some("javascript"));
}

#[test]
fn styles_that_load_or_run_something_are_found() {
    for css in [
        "background:url(https://evil.example/x.png)",
        "background: URL( 'https://evil.example/x.png' )",
        "background:\\75 rl(https://evil.example/x.png)",
        "background:u\\rl(x)",
        "background:/**/url(x)",
        "width: expression(alert(1))",
        "behavior: url(x.htc)",
        "-moz-binding: url(x.xml#x)",
        "background-image: image-set('x.png' 1x)",
        "@import 'x.css'",
        "list-style: src(x)",
    ] {
        assert!(unsafe_css(css).is_some(), "{css}");
    }
    for css in [
        "color:#0b3f73",
        "font-family: Arial, \"Helvetica Neue\", sans-serif",
        "width: calc(100% - 24px)",
        "transform: rotate(2deg) translateX(4px); filter: drop-shadow(0 0 2px rgb(0 0 0 / 50%))",
        "mso-line-height-rule:exactly;border-top:solid 1px #c9ced6",
    ] {
        assert_eq!(unsafe_css(css), None, "{css}");
    }
}

#[test]
fn style_filter_keeps_every_other_declaration_as_written() {
    assert_eq!(
        filter_style("color: red;background:url(https://evil.example/x.png);padding: 0").as_deref(),
        Some("color: red;padding: 0")
    );
    assert_eq!(
        filter_style("font-family: \"a;b\"; color: red").as_deref(),
        Some("font-family: \"a;b\"; color: red")
    );
    assert_eq!(filter_style("background:url(x)"), None);
    assert_eq!(filter_style("a:\"x;url(evil)\";"), None);
}

#[test]
fn a_tag_left_open_is_found_so_the_next_paragraph_cannot_become_its_attributes() {
    for html in [
        "<div title=\"\n",
        "<a href=x\n",
        "<!-- ohne Ende\n",
        "<p>ok</p><img src=x\n",
        "</\n",
        "<title>offen\n",
    ] {
        assert!(
            problems(html)
                .iter()
                .any(|p| matches!(p, Problem::Unterminated { .. })),
            "{html:?}: {:?}",
            problems(html)
        );
    }
    // An unclosed `<script>` is reported once, as a script.
    assert_eq!(problems("<script>").len(), 1);
}

#[test]
fn trusted_embeds_pass_only_with_their_prefix_and_their_attributes() {
    let trusted = youtube();
    let policy = Policy {
        trusted_embeds: &trusted,
    };
    let ok = "<iframe src=\"https://www.youtube-nocookie.com/embed/abc?rel=0\" title=\"Video\" width=\"560\" height=\"315\" sandbox=\"allow-scripts allow-same-origin\" allowfullscreen></iframe>";
    assert_eq!(check(ok, &policy).findings, []);
    assert_eq!(check(ok, &policy).elements.len(), 1);
    assert!(matches!(
        problems(ok).as_slice(),
        [Problem::UntrustedEmbed { .. }]
    ));
    for bad in [
        "<iframe src=\"https://www.youtube-nocookie.com.evil.example/embed/x\"></iframe>",
        "<iframe src=\"https://www.youtube-nocookie.com/embed/../../redirect\"></iframe>",
        "<iframe src=\"https://www.youtube-nocookie.com/embed/%2e%2e/x\"></iframe>",
        "<iframe src=\"https://www.youtube-nocookie.com/embed\\..\\x\"></iframe>",
        "<iframe src=\"https://www.youtube-nocookie.com/embed/x\" srcdoc=\"<script>alert(1)</script>\"></iframe>",
        "<iframe src=\"https://www.youtube-nocookie.com/embed/x\" onload=\"alert(1)\"></iframe>",
        "<iframe src=\"https://www.youtube-nocookie.com/embed/x\" name=\"ziel\"></iframe>",
        "<iframe srcdoc=\"x\"></iframe>",
        "<object data=\"https://www.youtube-nocookie.com/embed/x\"></object>",
    ] {
        assert!(!check(bad, &policy).findings.is_empty(), "{bad}");
    }
}

#[test]
fn findings_point_at_the_tag_or_attribute_in_the_source() {
    let html = "<p>a</p>\n<SCRIPT>x</SCRIPT>\n<img title=\"onerror=\" src=x onerror=alert(1)>";
    let found = check(html, &Policy::default()).findings;
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(html.get(found[0].at..found[0].at + 7), Some("<SCRIPT"));
    assert_eq!(
        html.get(found[1].at..found[1].at + found[1].len),
        Some("onerror")
    );
    assert!(html[found[1].at..].starts_with("onerror=alert"));
}

#[test]
fn tokens_carry_their_ranges() {
    let html = "x <b class=a>fett</b><!-- k --> y";
    let tokens = tokenize(html);
    assert!(tokens.complete);
    let spans: Vec<&str> = tokens
        .tokens
        .iter()
        .filter(|t| !matches!(t.token, Tok::Text(_)))
        .map(|t| &html[t.start..t.end])
        .collect();
    assert_eq!(spans, ["<b class=a>", "</b>", "<!-- k -->"]);
}

#[test]
fn shorten_never_splits_a_character() {
    assert_eq!(shorten("Größe", 3), "Grö…");
    assert_eq!(shorten("Größe", 5), "Größe");
    assert_eq!(shorten("", 0), "");
}

/// A way to write `javascript:` that a browser still reads as that scheme.
fn spelled_javascript() -> impl Strategy<Value = String> {
    let letters: Vec<BoxedStrategy<String>> = "javascript:"
        .chars()
        .map(|c| {
            let upper = c.to_ascii_uppercase();
            prop_oneof![
                Just(c.to_string()),
                Just(upper.to_string()),
                Just(format!("&#{};", c as u32)),
                Just(format!("&#x{:X};", c as u32)),
                Just(format!("&#x000{:x};", c as u32)),
            ]
            .boxed()
        })
        .collect();
    let noise = prop_oneof![
        Just(String::new()),
        Just("\t".to_string()),
        Just("&#x09;".to_string()),
        Just("&NewLine;".to_string()),
        Just("\n".to_string()),
    ];
    (letters, proptest::collection::vec(noise, 11)).prop_map(|(letters, noise)| {
        letters
            .into_iter()
            .zip(noise)
            .map(|(l, n)| format!("{n}{l}"))
            .collect()
    })
}

proptest! {
    #[test]
    fn every_spelling_of_javascript_is_refused(url in spelled_javascript(), quote in prop_oneof![Just("\""), Just("'")]) {
        let html = format!("<a href={quote}{url}alert(1){quote}>x</a>");
        prop_assert!(
            problems(&html).iter().any(|p| matches!(p, Problem::ScriptUrl { .. })),
            "{}", html
        );
    }

    #[test]
    fn any_input_tokenizes_without_panic_and_with_ranges_inside_it(html in "(<|>|/|=|\"|'|!|-|a|b|ä|ß|€|\\s|&|;|#|s|c|r|i|p|t|o|n){0,80}") {
        let tokens = tokenize(&html);
        for t in &tokens.tokens {
            prop_assert!(t.start <= t.end && t.end <= html.len());
            prop_assert!(html.is_char_boundary(t.start) && html.is_char_boundary(t.end));
        }
        let checked = check(&html, &Policy::default());
        for f in checked.findings {
            prop_assert!(f.at <= html.len());
            let _ = f.problem.message();
        }
    }
}
