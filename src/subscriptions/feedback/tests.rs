use super::*;
use proptest::prelude::*;

const SITE: &str = "https://ozg.example.org";

fn ozg() -> SiteAddress {
    SiteAddress::new(SITE)
}

#[test]
fn pages_are_paths_or_addresses_of_the_site_and_nothing_else() {
    let ok = |raw: &str, full: &str| {
        assert_eq!(ozg().page(raw), Ok(Some(full.to_string())), "{raw:?}");
    };
    ok("/aktuelles/", "https://ozg.example.org/aktuelles/");
    ok("  /termine/ ", "https://ozg.example.org/termine/");
    ok(
        "https://ozg.example.org/suche/?q=Lotsen#treffer",
        "https://ozg.example.org/suche/?q=Lotsen#treffer",
    );
    ok("HTTPS://OZG.Example.org/x/", "https://ozg.example.org/x/");
    ok(
        "ozg.example.org/projekte/",
        "https://ozg.example.org/projekte/",
    );
    ok("https://ozg.example.org", "https://ozg.example.org/");
    ok("/", "https://ozg.example.org/");
    ok(
        "/seite%0d%0aBcc:x",
        "https://ozg.example.org/seite%0d%0aBcc:x",
    );
    assert_eq!(ozg().page(""), Ok(None));
    assert_eq!(ozg().page("   "), Ok(None));
    let bad = [
        "Startseite",
        "aktuelles/",
        "//evil.example/",
        "https://evil.example/",
        "https://ozg.example.org.evil.example/",
        "https://ozg.example.org@evil.example/",
        "https://ozg.example.org:8443/",
        "http://ozg.example.org\\@evil.example/",
        "/zeile\r\nBcc: opfer@example.org",
        "/zeile\nzwei",
        "/mit leerzeichen/",
        "/\u{1b}[31m",
        "/\u{202e}gpj.exe",
        "/\0",
        "javascript:alert(1)",
        "/<script>",
    ];
    for raw in bad {
        assert_eq!(ozg().page(raw), Err(FieldError::Invalid), "{raw:?}");
    }
    assert_eq!(
        ozg().page(&format!("/{}", "a".repeat(MAX_PAGE))),
        Err(FieldError::TooLong)
    );
}

#[test]
fn below_a_base_path_only_its_own_pages_count() {
    let site = SiteAddress::new("https://land.example/ozg/");
    assert_eq!(
        site.page("/ozg/aktuelles/"),
        Ok(Some("https://land.example/ozg/aktuelles/".into()))
    );
    assert_eq!(
        site.page("https://land.example/ozg"),
        Ok(Some("https://land.example/ozg".into()))
    );
    assert_eq!(
        site.page("https://land.example"),
        Ok(Some("https://land.example/ozg/".into()))
    );
    for raw in ["/aktuelles/", "/ozgx/", "https://land.example/andere/"] {
        assert_eq!(site.page(raw), Err(FieldError::Invalid), "{raw:?}");
    }
}

#[test]
fn a_links_seite_fills_in_only_a_page_of_the_site() {
    let s = ozg();
    assert_eq!(
        page_in_query(&s, Some("seite=%2Ftermine%2F")),
        Some("https://ozg.example.org/termine/".into())
    );
    assert_eq!(
        page_in_query(&s, Some("seite=https%3A%2F%2Fevil.example%2F")),
        None
    );
    assert_eq!(
        page_in_query(&s, Some("seite=Ihr+Konto+wird+gesperrt")),
        None
    );
    assert_eq!(page_in_query(&s, Some("seite=/a/&seite=/b/")), None);
    assert_eq!(page_in_query(&s, Some("x=1")), None);
    assert_eq!(page_in_query(&s, None), None);
    let long = format!("seite=/{}", "a".repeat(MAX_QUERY));
    assert_eq!(page_in_query(&s, Some(&long)), None);
}

#[test]
fn the_description_keeps_its_lines_and_shows_every_invisible_character() {
    assert_eq!(
        safe_text("  Erste Zeile\r\nzweite\tZeile  \r\n\r\nAbsatz\r"),
        "Erste Zeile\nzweite Zeile\n\nAbsatz"
    );
    assert_eq!(safe_text("rot\u{1b}[31m"), "rot\\u{1b}[31m");
    assert_eq!(safe_text("a\0b"), "a\\u{0}b");
    assert_eq!(safe_text("\u{202e}txt.exe"), "\\u{202e}txt.exe");
    assert_eq!(safe_text("a\u{2028}b"), "a\nb");
    assert_eq!(safe_text("kaputt \u{fffd}"), "kaputt \\u{fffd}");
}

#[test]
fn report_fields() {
    type Case<'a> = (&'a str, &'a str, &'a str, &'a str, ReportErrors);
    let none = ReportErrors::default();
    let long = "x".repeat(MAX_DESCRIPTION + 1);
    let cases: [Case<'_>; 10] = [
        ("Der Knopf ist unsichtbar", "", "", "", none),
        ("Text", "/termine/", "erika@example.org", "Erika", none),
        (
            "  \r\n ",
            "",
            "",
            "",
            ReportErrors {
                description: Some(FieldError::Missing),
                ..none
            },
        ),
        (
            &long,
            "",
            "",
            "",
            ReportErrors {
                description: Some(FieldError::TooLong),
                ..none
            },
        ),
        (
            "Text",
            "",
            "erika@",
            "",
            ReportErrors {
                email: Some(FieldError::Invalid),
                ..none
            },
        ),
        (
            "Text",
            "",
            "erika@example.org\r\nBcc: opfer@example.org",
            "",
            ReportErrors {
                email: Some(FieldError::Invalid),
                ..none
            },
        ),
        (
            "Text",
            "",
            "",
            "Erika\r\nBcc: opfer@example.org",
            ReportErrors {
                name: Some(FieldError::Invalid),
                ..none
            },
        ),
        (
            "Text",
            "https://evil.example/",
            "",
            "",
            ReportErrors {
                page: Some(FieldError::Invalid),
                ..none
            },
        ),
        (
            "",
            "x y",
            "@",
            &"n".repeat(101),
            ReportErrors {
                description: Some(FieldError::Missing),
                page: Some(FieldError::Invalid),
                email: Some(FieldError::Invalid),
                name: Some(FieldError::TooLong),
            },
        ),
        // CRLF counts as one character, as the browser's maxlength counts it.
        (&"ab\r\n".repeat(MAX_DESCRIPTION / 3), "", "", "", none),
    ];
    for (description, page, email, name, expected) in cases {
        let got = check_report(&ozg(), description, page, email, name);
        match got {
            Ok(_) => assert_eq!(
                expected, none,
                "{description:.40?} {page:?} {email:?} {name:?}"
            ),
            Err(errors) => assert_eq!(errors, expected, "{description:.40?} {page:?} {email:?}"),
        }
    }
    let report = check_report(
        &ozg(),
        " a\r\nb ",
        " /x/ ",
        " Erika@Example.ORG ",
        " Erika ",
    )
    .unwrap();
    assert_eq!(report.description, "a\nb");
    assert_eq!(report.page.as_deref(), Some("https://ozg.example.org/x/"));
    assert_eq!(report.email.unwrap().as_str(), "Erika@example.org");
    assert_eq!(report.name.as_deref(), Some("Erika"));
}

#[test]
fn the_client_allowance_comes_before_everybodys() {
    let limits = ReportLimits::new(2, 3);
    let a: IpAddr = "192.0.2.1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:2::1".parse().unwrap();
    let b_too: IpAddr = "2001:db8:1:2::ffff".parse().unwrap();
    let c: IpAddr = "198.51.100.7".parse().unwrap();
    let sent = Allowance::Send {
        after_refusals: false,
    };
    assert_eq!(limits.take(a), sent);
    assert_eq!(limits.take(a), sent);
    assert!(matches!(limits.take(a), Allowance::Client(wait) if wait > Duration::from_secs(60)));
    assert_eq!(limits.take(b), sent);
    // The same /64 is the same client; everybody's third report is the last for now.
    assert!(matches!(
        limits.take(b_too),
        Allowance::Busy { first: true, .. }
    ));
    assert!(matches!(
        limits.take(c),
        Allowance::Busy { first: false, .. }
    ));
    limits.forget_idle();
}

/// A site in a temporary folder with the default theme and `feedback:`, loaded as the service
/// loads it.
fn service_site() -> (tempfile::TempDir, Arc<Site>, Theme) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("site.yaml"),
        "title: Testseite\nbase_url: https://ozg.example.org\nlanguage: de\ntimezone: Europe/Berlin\n\
         newsletter:\n  from: \"Team <team@example.org>\"\n  subscriptions:\n    consent: Ja\n\
         feedback:\n  to: barrieren@example.org\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("content")).unwrap();
    std::fs::write(
        dir.path().join("content/_index.md"),
        "---\ntitle: Start\n---\n",
    )
    .unwrap();
    let site = crate::load_site(&crate::Options {
        root: dir.path().to_path_buf(),
        now: Timestamp::now(),
        drafts: false,
        base_url: None,
    })
    .unwrap();
    let theme = Theme::load(dir.path(), "default").unwrap();
    (dir, Arc::new(site), theme)
}

fn mailer(site: &Arc<Site>, theme: &Theme) -> ReportMailer {
    let nl = site.config.site.newsletter.clone().unwrap();
    let fb = site.config.site.feedback.clone().unwrap();
    ReportMailer::new(site, theme, &nl, &fb).unwrap()
}

/// The mail as a mail program reads it: headers unfolded, the body decoded.
fn parsed(mail: &QueuedMail) -> (Vec<(String, String)>, String) {
    let text = String::from_utf8(mail.message.clone()).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let headers = head
        .replace("\r\n ", " ")
        .replace("\r\n\t", " ")
        .split("\r\n")
        .map(|line| {
            let (k, v) = line.split_once(':').unwrap();
            (k.to_lowercase(), v.trim().to_string())
        })
        .collect();
    let joined = body.replace("=\r\n", "");
    let mut bytes = Vec::new();
    let mut rest = joined.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'=' && tail.len() >= 2 {
            let hex = std::str::from_utf8(&tail[..2]).unwrap();
            bytes.push(u8::from_str_radix(hex, 16).unwrap());
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    (
        headers,
        String::from_utf8(bytes).unwrap().replace("\r\n", "\n"),
    )
}

#[test]
fn a_report_becomes_one_mail_to_the_team_that_answers_the_reader() {
    let (_dir, site, theme) = service_site();
    let mailer = mailer(&site, &theme);
    let report = check_report(
        &ozg(),
        "Der Knopf ist unsichtbar.\r\n\r\nSeite: gefälscht\r\nBcc: opfer@example.org\u{1b}[2J",
        "/termine/",
        "erika@example.org",
        "Erika Müller",
    )
    .unwrap();
    let now: Timestamp = "2025-12-05T12:00:00Z".parse().unwrap();
    let mail = mailer.for_report(&report, now).unwrap();
    assert_eq!(mail.kind, "feedback");
    assert_eq!(mail.subscriber, None);
    assert_eq!(mail.recipient, "barrieren@example.org");
    assert_eq!(mail.sender, "team@example.org");
    assert!(mail.give_up_at > now);
    let (headers, body) = parsed(&mail);
    let header = |name: &str| {
        headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(header("to"), ["barrieren@example.org"]);
    assert_eq!(
        header("subject"),
        ["Barriere gemeldet: https://ozg.example.org/termine/"]
    );
    let reply_to = header("reply-to");
    assert_eq!(reply_to.len(), 1);
    assert!(reply_to[0].ends_with("<erika@example.org>"), "{reply_to:?}");
    assert!(header("bcc").is_empty(), "the reader's text is no header");
    assert!(!String::from_utf8_lossy(&mail.message).contains('\u{1b}'));
    assert!(
        body.contains("  | Der Knopf ist unsichtbar.\n  |\n  | Seite: gefälscht\n"),
        "{body}"
    );
    assert!(
        body.contains("  | Bcc: opfer@example.org\\u{1b}[2J\n"),
        "{body}"
    );
    assert!(
        body.contains("Seite:   https://ozg.example.org/termine/\n"),
        "{body}"
    );
    assert!(body.contains("Name:    Erika Müller\n"), "{body}");
    assert!(body.contains("E-Mail:  erika@example.org\n"), "{body}");
}

#[test]
fn without_an_address_there_is_no_reply_to() {
    let (_dir, site, theme) = service_site();
    let report = check_report(&ozg(), "Text", "", "", "").unwrap();
    let mail = mailer(&site, &theme)
        .for_report(&report, Timestamp::now())
        .unwrap();
    let (headers, body) = parsed(&mail);
    assert!(!headers.iter().any(|(k, _)| k == "reply-to"));
    assert!(body.contains("nicht angegeben"), "{body}");
}

proptest! {
    #[test]
    fn arbitrary_form_bodies_never_panic_the_feedback_parser(
        body in proptest::collection::vec(any::<u8>(), 0..2000),
        base in prop_oneof![Just(SITE), Just("https://land.example/ozg"), Just("http://127.0.0.1:8025")],
    ) {
        let site = SiteAddress::new(base);
        if let Ok(fields) = super::super::guard::parse_form(&body) {
            let field = |k: &str| fields.get(k).map_or("", String::as_str);
            match check_report(&site, field("description"), field("page"), field("email"), field("name")) {
                Ok(report) => {
                    prop_assert!(!report.description.is_empty());
                    prop_assert!(report.description.chars().count() <= MAX_DESCRIPTION * 10);
                    prop_assert!(!report.description.chars().any(|c| c.is_control() && c != '\n'));
                    if let Some(page) = &report.page {
                        prop_assert!(page.starts_with(&origin_of(base)));
                        prop_assert!(!page.chars().any(|c| c.is_control() || c.is_whitespace()));
                    }
                }
                Err(errors) => prop_assert!(errors.any()),
            }
        }
        let query = String::from_utf8_lossy(&body);
        if let Some(page) = page_in_query(&site, Some(&query)) {
            prop_assert!(page.starts_with(&origin_of(base)));
        }
    }

    #[test]
    fn any_text_is_safe_in_the_mail(text in any::<String>()) {
        let safe = safe_text(&text);
        prop_assert!(!safe.chars().any(|c| c.is_control() && c != '\n'));
        prop_assert!(!safe.contains('\r'));
        let bidi = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        prop_assert!(!safe.chars().any(bidi), "no bidirectional override in {:?}", safe);
    }

    #[test]
    fn any_page_field_is_refused_or_an_address_of_the_site(raw in "\\PC{0,60}|[/a-zA-Z0-9:.@%?#\\\\ -]{0,60}") {
        match ozg().page(&raw) {
            Ok(Some(page)) => {
                prop_assert!(page.starts_with("https://ozg.example.org/"));
                prop_assert!(page.chars().count() <= MAX_PAGE + SITE.len() + 1);
            }
            Ok(None) => prop_assert!(raw.trim().is_empty()),
            Err(_) => {}
        }
    }
}
