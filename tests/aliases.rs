//! Old and printed addresses keep working: `aliases:` in front matter and `redirects:` in
//! `site.yaml` give a redirect page at the old address and the same table as server rules; every
//! collision, chain and hostile address is an error naming file, line and column.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{NOW, Site, ozg};
use ozg_site::serve::{Rebuilt, SiteBuilder};

/// Adds `line` to the front matter of `rel`, right after the opening `---`.
fn add_front(site: &Site, rel: &str, line: &str) {
    let text = site.read(rel);
    let rest = text.strip_prefix("---\n").expect("front matter");
    site.write(rel, format!("---\n{line}\n{rest}"));
}

fn add_site_yaml(site: &Site, yaml: &str) {
    let text = site.read("site.yaml");
    site.write("site.yaml", format!("{text}{yaml}"));
}

#[test]
fn the_redirect_page_refreshes_to_the_target_names_it_canonical_and_links_it_by_title() {
    let site = Site::fixture("basic");
    add_front(
        &site,
        "content/projekte/gdst.md",
        "aliases: [/grundlagen/gdst, /alt/gdst.html]",
    );
    add_front(
        &site,
        "content/aktuelles/_index.md",
        "aliases: [neuigkeiten/]",
    );
    site.build().ok();

    let page = site.read("public/grundlagen/gdst/index.html");
    for expected in [
        "<html lang=\"de\">",
        "<meta http-equiv=\"refresh\" content=\"0; url=/projekte/gdst/\">",
        "<link rel=\"canonical\" href=\"https://test.example.org/projekte/gdst/\">",
        "<meta name=\"robots\" content=\"noindex\">",
        "<a href=\"/projekte/gdst/\">GDST</a>",
        "<title>Weitergeleitet: GDST – Testseite OZG</title>",
    ] {
        assert!(page.contains(expected), "{expected} missing in:\n{page}");
    }
    // `/x.html` is a file of its own; a section's alias leads to the section.
    let file_alias = site.read("public/alt/gdst.html");
    assert!(
        file_alias.contains("content=\"0; url=/projekte/gdst/\""),
        "/alt/gdst.html leads to the section:\n{file_alias}"
    );
    let section = site.read("public/neuigkeiten/index.html");
    assert!(
        section.contains("url=/aktuelles/\"") && section.contains(">Aktuelles</a>"),
        "{section}"
    );
}

#[test]
fn site_yaml_redirects_lead_to_content_anchors_paths_and_other_sites() {
    let site = Site::fixture("basic");
    add_site_yaml(
        &site,
        "redirects:\n  - { from: /ag/, to: \"@/projekte/gdst.md#arbeitsgruppen\" }\n  - { from: /kontakt.html, to: /kontakt }\n  - { from: /extern, to: \"https://www.example.org/ozg?x=1&y=2\" }\n  - { from: /datei/, to: /css/site-extra.css }\n",
    );
    site.build().ok();
    let ag = site.read("public/ag/index.html");
    assert!(
        ag.contains("url=/projekte/gdst/#arbeitsgruppen\"")
            && ag.contains("href=\"https://test.example.org/projekte/gdst/#arbeitsgruppen\"")
            && ag.contains(">GDST</a>"),
        "{ag}"
    );
    // A path of a page becomes that page (its folder address and its title).
    let kontakt = site.read("public/kontakt.html");
    assert!(
        kontakt.contains("url=/kontakt/\"") && kontakt.contains(">Kontakt</a>"),
        "{kontakt}"
    );
    let extern_ = site.read("public/extern/index.html");
    assert!(
        extern_.contains("href=\"https://www.example.org/ozg?x=1&amp;y=2\""),
        "{extern_}"
    );
    let to_file = site.read("public/datei/index.html");
    assert!(
        to_file.contains("url=/css/site-extra.css\""),
        "the redirect leads to the file:\n{to_file}"
    );
    let nginx = site.read("public/redirects.nginx.conf");
    assert!(
        nginx.contains(
            "location = \"/extern/\" { return 301 \"https://www.example.org/ozg?x=1&y=2\"; }"
        ),
        "nginx redirects /extern/ with the query unescaped:\n{nginx}"
    );
}

#[test]
fn server_rules_for_two_aliases_are_exactly_these() {
    let site = Site::fixture("basic");
    add_front(
        &site,
        "content/projekte/gdst.md",
        "aliases: [/grundlagen/gdst]",
    );
    add_front(&site, "content/kontakt.md", "aliases: [/über-uns.html]");
    site.build().ok();
    assert_eq!(
        site.read("public/redirects.nginx.conf"),
        "# Permanent redirects of old and printed addresses, written by `ozg-site build`.\n\
         # Include this file inside the site's `server { }` block (see the README).\n\
         location = \"/grundlagen/gdst\" { return 301 \"/projekte/gdst/\"; }\n\
         location = \"/grundlagen/gdst/\" { return 301 \"/projekte/gdst/\"; }\n\
         location = \"/über-uns.html\" { return 301 \"/kontakt/\"; }\n"
    );
    assert_eq!(
        site.read("public/_redirects"),
        "# Permanent redirects of old and printed addresses, written by `ozg-site build`\n\
         # (Netlify, Cloudflare Pages).\n\
         /%C3%BCber-uns.html /kontakt/ 301\n\
         /grundlagen/gdst /projekte/gdst/ 301\n\
         /grundlagen/gdst/ /projekte/gdst/ 301\n"
    );
}

#[test]
fn a_site_without_old_addresses_still_gets_rule_files_for_its_include() {
    let site = Site::fixture("basic");
    site.build().ok();
    let nginx = site.read("public/redirects.nginx.conf");
    assert!(
        nginx.lines().all(|l| l.starts_with('#')),
        "only comments: {nginx}"
    );
    let netlify = site.read("public/_redirects");
    assert!(
        netlify.lines().all(|l| l.starts_with('#')),
        "only comments: {netlify}"
    );
}

#[test]
fn hostile_aliases_are_refused_with_their_place_and_never_reach_the_server_rules() {
    let site = Site::fixture("basic");
    site.build().ok();
    let before = site.snapshot();
    site.write(
        "content/kontakt.md",
        concat!(
            "---\n",
            "title: Kontakt\n",
            "aliases:\n",
            "  - \"/a\\\"; } location / { return 302 https://evil.example/; #\"\n",
            "  - \"/a\\nreturn 302 https://evil.example/;\"\n",
            "  - \"/$host\"\n",
            "  - /a;b\n",
            "  - \"/a{b\"\n",
            "  - \"/a b\"\n",
            "  - /%zz/\n",
            "  - /../../etc/passwd\n",
            "  - //evil.example/\n",
            "  - /a?x=1\n",
            "  - \"/a\\\\b\"\n",
            "  - \"/a\\e[31m\"\n",
            "  - /%C3/\n",
            "  - https://ozg.sachsen-anhalt.de/alt/\n",
            "---\n",
            "Text.\n",
        ),
    );
    let run = site.build();
    run.failed_with(1).stderr_has("nothing was written");
    for message in [
        "contains the character `\\\"`",
        "contains the control character U+000A",
        "contains the character `$`",
        "contains the character `;`",
        "contains the character `{`",
        "contains a space",
        "is not followed by two hexadecimal digits",
        "contains a `..` part",
        "contains `//`",
        "contains a query",
        "contains a backslash",
        "contains the control character U+001B",
        "do not decode to UTF-8 text",
        "is a full address, not a path of this site",
    ] {
        run.stderr_has(message);
    }
    // Plain values are pointed at exactly; the others at their key.
    run.stderr_has("--> content/kontakt.md:7:5")
        .stderr_has("--> content/kontakt.md:10:5")
        .stderr_has("--> content/kontakt.md:3:1");
    assert!(
        !run.stderr.contains('\u{1b}'),
        "an escape sequence from the content reached the terminal"
    );
    assert_eq!(site.snapshot(), before, "the previous output is unchanged");
}

/// Builds and returns the failing run's stderr.
fn errors_of(site: &Site) -> String {
    let run = site.build();
    run.failed_with(1);
    run.stderr
}

#[test]
fn an_alias_that_is_already_another_address_names_both_files() {
    let site = Site::fixture("basic");
    site.write(
        "content/kontakt.md",
        concat!(
            "---\n",
            "title: Kontakt\n",
            "aliases:\n",
            "  - /projekte/gdst/\n",
            "  - /aktuelles/seite/2\n",
            "  - /alt/\n",
            "  - /alt\n",
            "  - /sprechstunden/69-2-gdst-forum/folien.pdf\n",
            "  - /sitemap.xml\n",
            "  - /atom.xml\n",
            "  - /aktuelles/atom.xml\n",
            "  - /suchindex.json\n",
            "  - /_redirects\n",
            "  - /redirects.nginx.conf\n",
            "  - /404.html\n",
            "  - /newsletter/anmelden\n",
            "  - /newsletter/bestaetigen/\n",
            "  - newsletter/abmelden\n",
            "  - /__ozg/events\n",
            "  - /kontakt\n",
            "  - /gemeinsam/\n",
            "---\n",
            "Text.\n",
        ),
    );
    add_front(&site, "content/projekte/gdst.md", "aliases: [/gemeinsam]");
    add_front(
        &site,
        "content/sprechstunden/_index.md",
        "aliases: [/kontakt/]",
    );
    let stderr = errors_of(&site);
    for (message, place) in [
        (
            "the alias `/projekte/gdst/` is already the address of content/projekte/gdst.md",
            "content/kontakt.md:4:5",
        ),
        (
            "the alias `/aktuelles/seite/2/` is already the address of content/aktuelles/_index.md",
            "content/kontakt.md:5:5",
        ),
        (
            "the alias `/alt/` is already an alias in content/kontakt.md:6:5",
            "content/kontakt.md:7:5",
        ),
        (
            "is already the file content/sprechstunden/69-forum/folien.pdf",
            "content/kontakt.md:8:5",
        ),
        (
            "is already the sitemap (sitemap.xml)",
            "content/kontakt.md:9:5",
        ),
        (
            "is already the site's Atom feed (atom.xml)",
            "content/kontakt.md:10:5",
        ),
        (
            "is already the Atom feed of content/aktuelles/_index.md",
            "content/kontakt.md:11:5",
        ),
        (
            "is already the search index (suchindex.json)",
            "content/kontakt.md:12:5",
        ),
        (
            "is already the redirect rules for Netlify and Cloudflare Pages",
            "content/kontakt.md:13:5",
        ),
        (
            "is already the nginx redirect rules",
            "content/kontakt.md:14:5",
        ),
        (
            "is already the page for addresses that do not exist",
            "content/kontakt.md:15:5",
        ),
        (
            "is already the newsletter service's address /newsletter/anmelden",
            "content/kontakt.md:16:5",
        ),
        (
            "is already the newsletter service's address /newsletter/bestaetigen",
            "content/kontakt.md:17:5",
        ),
        (
            "is already the newsletter service's address /newsletter/abmelden",
            "content/kontakt.md:18:5",
        ),
        (
            "is already an address of the preview server",
            "content/kontakt.md:19:5",
        ),
        (
            "the alias `/kontakt/` is the own address of this file",
            "content/kontakt.md:20:5",
        ),
        (
            "the alias `/kontakt/` is already the address of content/kontakt.md",
            "content/sprechstunden/_index.md:2:11",
        ),
    ] {
        assert!(stderr.contains(message), "{message:?} missing:\n{stderr}");
        assert!(
            stderr.contains(&format!("--> {place}")),
            "{place} missing:\n{stderr}"
        );
    }
    // Two files with the same alias: whichever comes second names the first.
    assert!(
        stderr.contains("the alias `/gemeinsam/` is already an alias in content/kontakt.md:21:5")
            || stderr.contains(
                "the alias `/gemeinsam/` is already an alias in content/projekte/gdst.md:2:11"
            ),
        "{stderr}"
    );
}

#[test]
fn site_yaml_redirects_that_collide_chain_or_loop_are_errors() {
    let site = Site::fixture("basic");
    add_front(&site, "content/projekte/gdst.md", "aliases: [/alt-gdst]");
    add_site_yaml(
        &site,
        concat!(
            "redirects:\n",
            "  - { from: /a/, to: /b/ }\n",
            "  - { from: /b/, to: \"@/kontakt.md\" }\n",
            "  - { from: /c/, to: /c }\n",
            "  - { from: /d/, to: /alt-gdst/ }\n",
            "  - { from: /alt-gdst/, to: \"@/kontakt.md\" }\n",
            "  - { from: /kontakt, to: \"@/projekte/gdst.md\" }\n",
            "  - { from: /e/, to: \"@/aktuelles/entwurf.md\" }\n",
            "  - { from: /f/, to: \"@/kontakt.mdx\" }\n",
            "  - { from: /g/, to: \"@/projekte/gdst.md#arbeitsgruppe\" }\n",
            "  - { from: /h/, to: \"http://example.org/\" }\n",
            "  - { from: /i/, to: \"https://example.org/\\\"; return 302 x\" }\n",
            "  - { from: /j/, to: \"/k/../../etc\" }\n",
        ),
    );
    let stderr = errors_of(&site);
    let line = |n: usize| format!("--> site.yaml:{n}:");
    for (message, at) in [
        (
            "`to` leads to `/b/`, which is redirected itself (by site.yaml:17:",
            line(16),
        ),
        ("the redirect from `/c/` leads to itself", line(18)),
        (
            "`to` leads to `/alt-gdst/`, which is redirected itself (by content/projekte/gdst.md:2:11)",
            line(19),
        ),
        (
            "the redirect from `/alt-gdst/` is already an alias in content/projekte/gdst.md:2:11",
            line(20),
        ),
        (
            "the redirect from `/kontakt/` is already the address of content/kontakt.md",
            line(21),
        ),
        (
            "`to` leads to `@/aktuelles/entwurf.md`, which is not published",
            line(22),
        ),
        ("`to` leads to a missing page `@/kontakt.mdx`", line(23)),
        (
            "`@/projekte/gdst.md` has no heading with the id `arbeitsgruppe`",
            line(24),
        ),
        (
            "`to` is the unencrypted address `http://example.org/`",
            line(25),
        ),
        ("it contains `\\\"`", line(26)),
        ("contains a `..` part", line(27)),
    ] {
        assert!(stderr.contains(message), "{message:?} missing:\n{stderr}");
        assert!(stderr.contains(&at), "{at} missing:\n{stderr}");
    }
    assert!(stderr.contains("did you mean `@/kontakt.md`?"), "{stderr}");
    assert!(
        stderr.contains("did you mean `#arbeitsgruppen`?"),
        "{stderr}"
    );
}

#[test]
fn redirect_pages_are_not_in_the_sitemap_the_search_index_the_feeds_or_the_page_overview() {
    let site = Site::fixture("basic");
    site.write(
        "content/suche.md",
        "---\ntitle: Suche\ntemplate: search.html\n---\nSuchen.\n",
    );
    site.write(
        "content/uebersicht.md",
        "---\ntitle: Seitenübersicht\ntemplate: sitemap.html\n---\nAlles.\n",
    );
    add_front(
        &site,
        "content/aktuelles/zweiter.md",
        "aliases: [/alte-meldung/]",
    );
    add_site_yaml(
        &site,
        "redirects: [{from: /altes-archiv/, to: \"@/aktuelles/_index.md\"}]\n",
    );
    site.build().ok();
    for alias in ["alte-meldung/index.html", "altes-archiv/index.html"] {
        assert!(
            site.public().join(alias).is_file(),
            "the redirect page {alias} is written"
        );
    }
    for file in [
        "sitemap.xml",
        "suchindex.json",
        "atom.xml",
        "aktuelles/atom.xml",
        "seitenuebersicht/index.html",
        "aktuelles/index.html",
        "aktuelles/zweiter-beitrag/index.html",
    ] {
        let text = site.read(&format!("public/{file}"));
        assert!(
            !text.contains("alte-meldung") && !text.contains("altes-archiv"),
            "{file} lists a redirect page"
        );
    }
}

#[test]
fn the_bundled_site_answers_the_two_printed_addresses() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("public");
    let dir_s = dir.to_string_lossy().into_owned();
    ozg(&["build", "--root", root, "--now", NOW, "--output", &dir_s]).ok();
    let read = |rel: &str| std::fs::read_to_string(dir.join(rel)).unwrap();
    for (alias, target) in [
        (
            "aktuelles/adventskalender-2025/index.html",
            "/adventskalender/2025/",
        ),
        (
            "grundlagen/zsa-machbarkeitsstudie/index.html",
            "/projekte/zsa/",
        ),
    ] {
        let page = read(alias);
        assert!(
            page.contains(&format!("content=\"0; url={target}\"")),
            "{alias} leads to {target}:\n{page}"
        );
    }
    let nginx = read("redirects.nginx.conf");
    for line in [
        "location = \"/aktuelles/adventskalender-2025\" { return 301 \"/adventskalender/2025/\"; }",
        "location = \"/grundlagen/zsa-machbarkeitsstudie\" { return 301 \"/projekte/zsa/\"; }",
    ] {
        assert!(nginx.contains(line), "{nginx}");
    }
    let check = ozg(&["check", "--root", root, "--now", NOW]);
    check.ok();
    // Open facts are warnings the bundled site has on purpose; nothing about the addresses is.
    let other: Vec<&str> = check
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning") && !l.starts_with("warning[open-fact]"))
        .collect();
    assert!(other.is_empty(), "{}", check.stderr);
}

#[test]
fn a_theme_without_a_redirect_template_uses_the_built_in_one() {
    let site = Site::fixture("basic");
    let yaml = site
        .read("site.yaml")
        .replace("theme: default", "theme: mini");
    site.write("site.yaml", yaml);
    add_front(&site, "content/kontakt.md", "aliases: [/alt/kontakt/]");
    site.build().ok();
    let page = site.read("public/alt/kontakt/index.html");
    assert!(
        page.contains("<meta http-equiv=\"refresh\" content=\"0; url=/kontakt/\">"),
        "the alias leads to /kontakt/:\n{page}"
    );
}

#[test]
fn a_static_file_cannot_replace_the_rules_or_take_an_old_address() {
    let site = Site::fixture("basic");
    site.write("static/_redirects", "/* /index.html 200\n");
    site.write("static/alt/index.html", "<p>alt</p>\n");
    add_front(
        &site,
        "content/kontakt.md",
        "aliases: [/alt/, /css/site-extra.css]",
    );
    let stderr = errors_of(&site);
    assert!(
        stderr.contains("`static/_redirects` would replace the redirect rules ozg-site writes"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the address `/alt/` is already the file static/alt/index.html")
            && stderr.contains("--> content/kontakt.md:2:11"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "the address `/css/site-extra.css/` is already the file static/css/site-extra.css"
        ) && stderr.contains("--> content/kontakt.md:2:18"),
        "{stderr}"
    );
}

type Outcome = Result<Vec<(String, ozg_site::write::MemoryFile)>, Vec<String>>;

fn outcome(result: Result<ozg_site::serve::Built, ozg_site::diagnostics::Diagnostics>) -> Outcome {
    match result {
        Ok(built) => Ok(built
            .files
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()),
        Err(d) => Err(d.iter().map(|d| d.render()).collect()),
    }
}

fn builder(site: &Site) -> SiteBuilder {
    SiteBuilder::new(
        site.root().to_path_buf(),
        "http://127.0.0.1:1111".into(),
        false,
        Some(NOW.parse().unwrap()),
    )
}

#[test]
fn preview_rebuilds_after_alias_edits_equal_full_builds() {
    let site = Site::fixture("basic");
    let preview = builder(&site);
    preview.build().unwrap();
    let gdst = "content/projekte/gdst.md";
    let original = site.read(gdst);
    let with = |front: &str, body: &str| {
        let rest = original.strip_prefix("---\n").unwrap();
        format!("---\n{front}{rest}{body}")
    };
    for (what, text) in [
        ("add an alias", with("aliases: [/alt/gdst/]\n", "")),
        ("change it", with("aliases: [/grundlagen/gdst]\n", "")),
        (
            "retitle the target",
            with("aliases: [/grundlagen/gdst]\n", "").replace("title: GDST", "title: GDST neu"),
        ),
        (
            "edit the body",
            with("aliases: [/grundlagen/gdst]\n", "Mehr Text.\n")
                .replace("title: GDST", "title: GDST neu"),
        ),
        (
            "collide with a page",
            with("aliases: [/kontakt/]\n", "").replace("title: GDST", "title: GDST neu"),
        ),
        ("take it out", original.clone()),
    ] {
        let tmp = format!("{gdst}.tmp");
        site.write(&tmp, &text);
        std::fs::rename(site.path(&tmp), site.path(gdst)).unwrap();
        let result = preview.update(&[site.path(&tmp), site.path(gdst)]);
        let how = result.as_ref().ok().map(|b| b.how);
        let patched = outcome(result);
        let full = outcome(builder(&site).build());
        assert!(
            patched == full,
            "{what}: the preview differs from a full build"
        );
        // A page with an alias is still patched when neither the alias nor its title changes.
        if what == "edit the body" {
            assert_eq!(how, Some(Rebuilt::Patched), "{what}");
        }
    }
}

/// `ozg-site serve` on a free port, killed on drop.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(site: &Site) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ozg-site"))
        .args(["serve", "--port", "0", "--now", NOW, "--root"])
        .arg(site.root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .expect("serve announces its address");
    // Keep reading, so the preview never writes into a closed pipe.
    std::thread::spawn(move || for _ in stdout.lines() {});
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Server { child, addr }
}

/// A raw request (no client library normalises the path): the response head.
fn head_of(addr: &str, method: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    text.split_once("\r\n\r\n")
        .map_or(text.clone(), |(h, _)| h.to_string())
}

#[test]
fn the_preview_answers_old_addresses_with_a_301_that_is_not_cached() {
    let site = Site::fixture("basic");
    add_front(
        &site,
        "content/projekte/gdst.md",
        "aliases: [/grundlagen/gdst, /alt/gdst.html, /%C3%BCber-gdst/]",
    );
    let server = serve(&site);
    for (path, method) in [
        ("/grundlagen/gdst", "GET"),
        ("/grundlagen/gdst/", "GET"),
        ("/grundlagen/gdst/", "HEAD"),
        ("/alt/gdst.html", "GET"),
        ("/%C3%BCber-gdst", "GET"),
    ] {
        let head = head_of(&server.addr, method, path);
        assert!(head.starts_with("HTTP/1.1 301"), "{method} {path}: {head}");
        let lower = head.to_ascii_lowercase();
        assert!(
            lower.contains("\r\nlocation: /projekte/gdst/"),
            "{path}: {head}"
        );
        assert!(
            lower.contains("\r\ncache-control: no-store"),
            "{path}: {head}"
        );
    }
    for (path, status) in [("/grundlagen/", "404"), ("/projekte/gdst/", "200")] {
        let head = head_of(&server.addr, "GET", path);
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status}")),
            "{path} answers {status}: {head}"
        );
    }
}
