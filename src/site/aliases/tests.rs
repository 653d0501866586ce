//! Addresses, targets and locations of `aliases` and `redirects`, one odd input per line.

use super::*;

fn addr(raw: &str) -> String {
    match Address::parse(raw) {
        Ok(a) => a.as_str().to_string(),
        Err(r) => format!("error: {}", r.message),
    }
}

#[test]
fn leading_slash_and_trailing_slash_mean_the_same_folder() {
    for raw in [
        "/alte/adresse/",
        "/alte/adresse",
        "alte/adresse",
        "alte/adresse/",
    ] {
        assert_eq!(addr(raw), "/alte/adresse/", "{raw}");
    }
    let a = Address::parse("/alte/adresse").unwrap();
    assert_eq!(a.output(), "alte/adresse/index.html");
    assert_eq!(a.request_paths(), ["/alte/adresse", "/alte/adresse/"]);
}

#[test]
fn an_html_name_is_a_file() {
    let a = Address::parse("/alt/seite.html").unwrap();
    assert!(a.is_file());
    assert_eq!(a.output(), "alt/seite.html");
    assert_eq!(a.request_paths(), ["/alt/seite.html"]);
    assert_eq!(addr("/alt/SEITE.HTM"), "/alt/SEITE.HTM");
    // Other names are folders: a static server answers `/flyer.pdf` with its folder.
    assert_eq!(addr("/alt/flyer.pdf"), "/alt/flyer.pdf/");
}

#[test]
fn percent_escapes_are_decoded_once() {
    assert_eq!(addr("/%C3%BCber-uns"), "/über-uns/");
    assert_eq!(addr("/über-uns/"), "/über-uns/");
    // A decoded `%` is not decoded again, and is not an address character.
    assert!(
        addr("/100%2541").starts_with("error"),
        "{}",
        addr("/100%2541")
    );
}

#[test]
fn hostile_addresses_are_refused() {
    for (raw, why) in [
        ("", "empty"),
        ("/a/../b/", "`..` part"),
        ("/a/./b/", "`.` part"),
        ("/a/%2e%2e/b/", "`..` part"),
        ("/a//b/", "`//`"),
        ("//evil.example/", "`//`"),
        ("/a%2F%2Fb", "`//`"),
        ("/a?x=1", "query"),
        ("/a%3Fx", "query"),
        ("/a#top", "fragment"),
        ("/a\\b", "backslash"),
        ("/a%5Cb", "backslash"),
        ("/a\nb", "U+000A"),
        ("/a\rb", "U+000D"),
        ("/a\u{1b}[31m", "U+001B"),
        ("/a%00b", "U+0000"),
        ("/a b", "space"),
        ("/a%20b", "space"),
        ("/a;b", "character `;`"),
        ("/a{b", "character `{`"),
        ("/a\"b", "character `\\\"`"),
        ("/a'b", "character `\\'`"),
        ("/a$b", "character `$`"),
        ("/a:b", "character `:`"),
        ("/a*b", "character `*`"),
        ("/a\u{202e}b", "character"),
        ("/u\u{308}ber/", "combining accent U+0308"),
        ("/.well-known/acme-challenge/x", "starts with `.`"),
        ("/.htaccess", "starts with `.`"),
        ("/%zz/", "two hexadecimal digits"),
        ("/%4", "two hexadecimal digits"),
        ("/a%", "two hexadecimal digits"),
        ("/%+1/", "two hexadecimal digits"),
        ("/%C3/", "UTF-8"),
        ("/%FF%FE/", "UTF-8"),
        ("https://ozg.sachsen-anhalt.de/alt/", "full address"),
        ("/a/https://x/", "character `:`"),
    ] {
        let got = addr(raw);
        assert!(
            got.starts_with("error") && got.contains(why),
            "{raw:?}: {got}"
        );
    }
    let long = format!("/{}/", "a".repeat(300));
    assert!(addr(&long).contains("255"), "{}", addr(&long));
    let huge = "/a".repeat(15_000_000);
    assert!(addr(&huge).contains("at most 1000"));
}

#[test]
fn messages_show_control_characters_escaped() {
    let err = Address::parse("/a\u{1b}[2J").unwrap_err();
    assert!(!err.message.contains('\u{1b}'), "{}", err.message);
    assert!(err.message.contains("\\u{1b}"), "{}", err.message);
}

#[test]
fn external_targets_hold_plain_url_characters_only() {
    assert!(external("https://www.example.org/a/b?x=1&y=2#z").is_ok());
    assert!(external("https://example.org:8443/%C3%BC").is_ok());
    for bad in [
        "https://ex ample.org/",
        "https://example.org/a b",
        "https://example.org/\"; return 302 x",
        "https://example.org/a;b",
        "https://example.org/$host",
        "https://example.org/a{b}",
        "https://example.org/\nLocation: x",
        "https://example.org/ü",
        "https://example.org/%zz",
        "https://example.org/:splat",
        "https://user@example.org/",
        "https://example.org:99999/",
        "https:///a",
    ] {
        assert!(external(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn occupied_paths_clash_with_files_folders_and_files_in_the_way() {
    let mut taken = Occupied::default();
    taken.insert("a/b/index.html".into(), Owner::Preview);
    taken.insert("c.pdf".into(), Owner::Preview);
    assert!(taken.clash("a/b/index.html").is_some());
    assert!(taken.clash("a/b").is_some(), "a folder of files is there");
    assert!(
        taken.clash("c.pdf/index.html").is_some(),
        "a file is in the way"
    );
    assert!(taken.clash("a/index.html").is_none());
    assert!(taken.clash("a/bc/index.html").is_none());
}

#[test]
fn line_index_locates_like_the_diagnostics() {
    let text = "a: 1\r\nb: Größe /x/\n\nc: [/y/]";
    let lines = Lines::new(text);
    for (needle, len) in [("1", 1), ("/x/", 3), ("/y/", 3), ("Größe", 7), ("c", 20)] {
        let at = text.find(needle).unwrap();
        assert_eq!(
            lines.at(Path::new("f"), at, len),
            Location::at_offset("f", text, at, len),
            "{needle}"
        );
    }
}

#[test]
fn values_are_located_in_order_below_their_key() {
    let text = "title: T\naliases:\n  - /a/\n  - /b/\n  - /a/\n";
    let yaml = YamlSource::whole_file(Path::new("x.md"), text);
    let at = list_locations(&yaml, "aliases", None, &["/a/", "/b/", "/a/", "/nicht/"]);
    let lines: Vec<(usize, usize)> = at.iter().map(|l| (l.line, l.column)).collect();
    assert_eq!(lines, [(3, 5), (4, 5), (5, 5), (2, 1)]);
    let text = "redirects:\n  - {to: /x/, from: /y/}\n  - {from: /x/, to: \"@/a.md\"}\n";
    let yaml = YamlSource::whole_file(Path::new("site.yaml"), text);
    let froms = list_locations(&yaml, "redirects", Some("from"), &["/y/", "/x/"]);
    assert_eq!((froms[0].line, froms[1].line), (2, 3));
    assert_eq!(froms[1].column, 12);
}
