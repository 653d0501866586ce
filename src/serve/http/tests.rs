use proptest::arbitrary::any;
use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

#[test]
fn paths_map_to_keys() {
    for (path, key) in [
        ("/", "index.html"),
        ("", "index.html"),
        ("/aktuelles/", "aktuelles/index.html"),
        ("/css/site.css", "css/site.css"),
        ("/a%20b/", "a b/index.html"),
        ("//aktuelles///neu", "aktuelles/neu"),
        ("/a%2Fb", "a/b"),
        ("/a%2F", "a/index.html"),
        ("/%C3%BCber-uns/", "über-uns/index.html"),
        ("/über-uns/", "über-uns/index.html"),
        ("/a%3Fb", "a?b"),
    ] {
        assert_eq!(resolve_path(path), Lookup::Key(key.into()), "{path}");
    }
}

#[test]
fn a_percent_sign_in_a_name_is_decoded_exactly_once() {
    for (path, key) in [
        ("/100%25.pdf", "100%.pdf"),
        ("/%25", "%"),
        ("/%2525", "%25"),
        ("/%25zz", "%zz"),
        ("/%252F", "%2F"),
        // A third round is nobody's business: `%252e` is a name after the one decoding.
        ("/%25252e%25252e/x", "%252e%252e/x"),
    ] {
        assert_eq!(resolve_path(path), Lookup::Key(key.into()), "{path}");
    }
}

#[test]
fn deeply_nested_percent_signs_do_not_exhaust_the_stack() {
    // The old resolver recursed once per remaining `%` and overflowed on `/%25` already.
    let path = format!("/{}", "%25".repeat(200_000));
    assert_eq!(resolve_path(&path), Lookup::Key("%".repeat(200_000)));
    let slashes = "/".repeat(1_000_000);
    assert_eq!(resolve_path(&slashes), Lookup::Key("index.html".into()));
}

#[test]
fn malformed_encodings_are_a_bad_request() {
    for path in [
        "/a%zz",
        "/100%",
        "/%",
        "/%2",
        "/%2/",
        "/%%",
        "/%g0",
        "/%0g",
        "/%c3%28",
        "/%ff",
        "/%c3",
        "/%ed%a0%80", // an encoded surrogate is not UTF-8
        "/ok/%e2%82",
    ] {
        assert_eq!(resolve_path(path), Lookup::Malformed, "{path}");
    }
}

#[test]
fn traversal_is_refused_in_every_spelling() {
    for p in [
        "/../etc/passwd",
        "/a/../../etc/passwd",
        "/%2e%2e/etc/passwd",
        "/%2E%2E%2Fetc%2Fpasswd",
        "/..%2fetc",
        "/a/..",
        "/a/%2e",
        "/./x",
        "/a/..\\..\\etc",
        "/a/%5c..%5c",
        "/%5C%5Cevil.example",
        "/a%00b",
        "/%00",
        // Refused after the one decoding as defence in depth (see `resolve_path`).
        "/%252e%252e/etc",
        "/%252E%252e/etc",
        "/%252e/etc",
        "/a%252f..%252fb",
        "/a%255cb",
        "/a%2500b",
    ] {
        assert_eq!(resolve_path(p), Lookup::Refused, "{p}");
    }
}

#[test]
fn a_directory_redirect_stays_on_the_site() {
    for (key, query, location) in [
        ("aktuelles", None, "/aktuelles/"),
        (
            "aktuelles",
            Some("seite=2&x=%20"),
            "/aktuelles/?seite=2&x=%20",
        ),
        ("a b/100%", None, "/a%20b/100%25/"),
        ("über", None, "/%C3%BCber/"),
        ("evil.example", None, "/evil.example/"),
        ("http:", None, "/http:/"),
        ("a?b#c", Some("q\"<>\\"), "/a%3Fb%23c/?q%22%3C%3E%5C"),
    ] {
        assert_eq!(directory_location(key, query), location, "{key}");
    }
}

/// Which `Host` values each binding answers.
#[test]
fn only_the_previews_own_names_are_admitted() {
    let loopback = Hosts::new("127.0.0.1:1111".parse().unwrap());
    let wildcard = Hosts::new("0.0.0.0:1111".parse().unwrap());
    let wildcard6 = Hosts::new("[::]:1111".parse().unwrap());
    let lan = Hosts::new("192.168.1.5:1111".parse().unwrap());
    for host in [
        "localhost",
        "localhost:1111",
        "localhost:8080",
        "LocalHost:1111",
        "vorschau.localhost:1111",
        "127.0.0.1",
        "127.0.0.1:1111",
        "127.0.0.2:1111",
        "[::1]",
        "[::1]:1111",
        "[::ffff:127.0.0.1]:1111",
    ] {
        for hosts in [&loopback, &wildcard, &wildcard6, &lan] {
            assert!(hosts.allows(host), "{host} for {hosts:?}");
        }
    }
    for host in [
        "evil.example",
        "evil.example:1111",
        "localhost.evil.example",
        "127.0.0.1.nip.io:1111",
        "localhost.",
        "",
        ":1111",
        "localhost:",
        "localhost:99999",
        "localhost:1a",
        "localhost:+1",
        "user@localhost",
        "user:pw@localhost:1111",
        "[::1",
        "[::1]x",
        "::1",
        "[]",
        "127.1",
        "0x7f.0.0.1",
        "[fe80::1%25eth0]",
        "local host",
        "localhost\r\nX: y",
        "localhost\0",
        "..localhost",
    ] {
        for hosts in [&loopback, &wildcard, &wildcard6, &lan] {
            assert!(!hosts.allows(host), "{host:?} for {hosts:?}");
        }
    }
    for host in [
        "192.168.1.5",
        "192.168.1.5:1111",
        "10.0.0.1:80",
        "[2001:db8::1]:1111",
    ] {
        assert!(wildcard.allows(host), "{host}");
        assert!(wildcard6.allows(host), "{host}");
        assert!(!loopback.allows(host), "{host}");
    }
    assert!(lan.allows("192.168.1.5:1111"));
    assert!(!lan.allows("192.168.1.6:1111"));
}

#[test]
fn a_request_without_its_own_host_is_not_admitted() {
    let hosts = Hosts::new("127.0.0.1:1111".parse().unwrap());
    let origin: Uri = "/kontakt/".parse().unwrap();
    let mut headers = HeaderMap::new();
    assert!(!hosts.admit(&origin, &headers), "no Host at all");
    headers.insert(header::HOST, HeaderValue::from_static("localhost:1111"));
    assert!(hosts.admit(&origin, &headers));
    let absolute: Uri = "http://evil.example/kontakt/".parse().unwrap();
    assert!(
        !hosts.admit(&absolute, &headers),
        "an absolute target names the host too"
    );
    let own: Uri = "http://127.0.0.1:1111/kontakt/".parse().unwrap();
    assert!(hosts.admit(&own, &headers));
    assert!(
        hosts.admit(&own, &HeaderMap::new()),
        "HTTP/2 names it in :authority"
    );
    headers.append(header::HOST, HeaderValue::from_static("localhost:1111"));
    assert!(!hosts.admit(&origin, &headers), "two Host headers");
    let mut opaque = HeaderMap::new();
    opaque.insert(
        header::HOST,
        HeaderValue::from_bytes(b"localhost\xff").unwrap(),
    );
    assert!(!hosts.admit(&origin, &opaque), "a Host that is not text");
}

#[test]
fn the_refusal_says_in_german_where_the_preview_is() {
    let hosts = Hosts::new("127.0.0.1:4321".parse().unwrap());
    let response = hosts.refusal();
    assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST);
    assert_eq!(hosts.own_url(), "http://localhost:4321/");
    let lan = Hosts::new("192.168.1.5:4321".parse().unwrap());
    assert_eq!(lan.own_url(), "http://192.168.1.5:4321/");
    let v6 = Hosts::new("[2001:db8::1]:4321".parse().unwrap());
    assert_eq!(v6.own_url(), "http://[2001:db8::1]:4321/");
}

#[test]
fn mime_types_for_site_files() {
    assert_eq!(mime_type("kalender.ics"), "text/calendar; charset=utf-8");
    assert_eq!(
        mime_type("manifest.webmanifest"),
        "application/manifest+json"
    );
    assert_eq!(mime_type("sitemap.xml"), "application/xml; charset=utf-8");
    assert_eq!(mime_type("folien.PDF"), "application/pdf");
}

#[test]
fn script_goes_before_body_end() {
    let html = b"<html><body>x</body></html>".to_vec();
    let out = String::from_utf8(inject_live_script(html, 7)).unwrap();
    assert_eq!(
        out,
        format!(
            "<html><body>x{PREVIEW_STYLE}<script src=\"{LIVE_SCRIPT_PATH}\" data-generation=\"7\"></script>\n</body></html>"
        )
    );
}

/// What every key the resolver hands out must be: relative, no empty, `.` or `..` component,
/// no backslash or NUL, and nothing a second decoding would turn into one of those.
fn assert_safe(raw: &str, lookup: &Lookup) {
    let Lookup::Key(key) = lookup else {
        return;
    };
    assert!(!key.starts_with('/'), "{raw:?} → {key:?}");
    assert!(!key.contains(['\\', '\0']), "{raw:?} → {key:?}");
    for part in key.split('/') {
        assert!(
            !part.is_empty() && part != "." && part != "..",
            "{raw:?} → {key:?}"
        );
        assert!(survives_second_decoding(part), "{raw:?} → {key:?}");
    }
}

/// Pieces that make paths interesting: separators, dots and their encodings, percent signs.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/".to_string()),
        Just("//".to_string()),
        Just(".".to_string()),
        Just("..".to_string()),
        Just("%2e".to_string()),
        Just("%2E".to_string()),
        Just("%2f".to_string()),
        Just("%5c".to_string()),
        Just("\\".to_string()),
        Just("%00".to_string()),
        Just("%25".to_string()),
        Just("%252e".to_string()),
        Just("%".to_string()),
        Just("%c3%a4".to_string()),
        Just("%c3".to_string()),
        Just("ä".to_string()),
        "[a-z0-9]{1,3}",
    ]
}

/// A segment of a key a site may really have: no separator, no NUL, not `.` or `..`; a `%`
/// only where it cannot start an escape.
fn key_segment() -> impl Strategy<Value = String> {
    (
        "[^/\\\\\\x00%]{1,12}",
        prop_oneof![Just(""), Just("%"), Just("%zz"), Just("%%"), Just("%-x")],
    )
        .prop_map(|(name, tail)| format!("{name}{tail}"))
        .prop_filter("not . or ..", |s| s != "." && s != "..")
}

proptest! {
    #[test]
    fn any_string_resolves_to_a_safe_key_or_a_refusal(raw in "\\PC*") {
        let lookup = resolve_path(&raw);
        assert_safe(&raw, &lookup);
    }

    #[test]
    fn any_bytes_percent_encoded_resolve_to_a_safe_key_or_a_refusal(
        bytes in vec(any::<u8>(), 0..48),
        lower in any::<bool>(),
    ) {
        let encoded: String = bytes
            .iter()
            .map(|b| if lower { format!("%{b:02x}") } else { format!("%{b:02X}") })
            .collect();
        let raw = format!("/{encoded}");
        let lookup = resolve_path(&raw);
        assert_safe(&raw, &lookup);
        // Bytes that are UTF-8 and hold no separator or forbidden character come back as they were.
        if let Ok(text) = std::str::from_utf8(&bytes)
            && !text.is_empty()
            && !text.contains(['/', '\\', '\0', '%'])
            && text != "."
            && text != ".."
        {
            prop_assert_eq!(lookup, Lookup::Key(text.to_string()));
        }
    }

    #[test]
    fn paths_built_from_tricky_pieces_resolve_to_a_safe_key_or_a_refusal(
        pieces in vec(piece(), 0..24),
    ) {
        let raw = format!("/{}", pieces.concat());
        let lookup = resolve_path(&raw);
        assert_safe(&raw, &lookup);
    }

    #[test]
    fn an_encoded_key_resolves_to_itself(segments in vec(key_segment(), 1..6)) {
        let key = segments.join("/");
        for set in [SEGMENT, NON_ALPHANUMERIC] {
            let raw: String = segments
                .iter()
                .map(|s| format!("/{}", utf8_percent_encode(s, set)))
                .collect();
            prop_assert_eq!(resolve_path(&raw), Lookup::Key(key.clone()));
        }
        // And the redirect to the folder names the same folder.
        let location = directory_location(&key, None);
        prop_assert!(location.starts_with('/') && !location.starts_with("//"));
        prop_assert_eq!(
            resolve_path(&location),
            Lookup::Key(format!("{key}/index.html"))
        );
    }
}
