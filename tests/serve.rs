//! `ozg-site serve` as an editor uses it: start it on a free loopback port, edit files, and watch
//! the reload event and the new content arrive over HTTP; a broken save shows the overlay and the
//! next good save clears it.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{NOW, Site};

struct Server {
    child: Child,
    addr: String,
    /// What the server prints after its address line.
    output: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(site: &Site, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ozg-site"))
        .args(["serve", "--port", "0", "--root"])
        .arg(site.root())
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("serve announces its address");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Server {
        child,
        addr,
        output: rx,
    }
}

/// A plain HTTP/1.1 GET: (status, content type, body).
fn get(addr: &str, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    (status, content_type, body.to_string())
}

/// Subscribes to the live-reload events; each SSE event arrives as "name: data".
fn subscribe(addr: &str) -> mpsc::Receiver<String> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET /__ozg/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut name, mut data) = (String::new(), Vec::new());
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Some(n) = line.strip_prefix("event: ") {
                name = n.to_string();
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push(d.strip_prefix(' ').unwrap_or(d).to_string());
            } else if line.is_empty() && !name.is_empty() {
                if tx.send(format!("{name}: {}", data.join("\n"))).is_err() {
                    return;
                }
                name.clear();
                data.clear();
            }
        }
    });
    // Let the subscription reach the server before anything is edited.
    std::thread::sleep(Duration::from_millis(300));
    rx
}

fn next_event(rx: &mpsc::Receiver<String>, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Ok(e) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if e.starts_with(prefix) {
            return e;
        }
    }
    panic!("no {prefix} event within 20 s");
}

#[test]
fn edits_reload_open_pages_with_the_new_content() {
    let site = Site::fixture("basic");
    let server = start(&site, &["--now", NOW]);
    let (status, ctype, body) = get(&server.addr, "/kontakt/");
    assert_eq!((status, ctype.as_str()), (200, "text/html; charset=utf-8"));
    assert!(
        body.contains("/__ozg/live.js"),
        "live-reload script injected into served pages"
    );
    let events = subscribe(&server.addr);

    site.write(
        "content/kontakt.md",
        "---\ntitle: Kontakt\n---\nNeue Telefonzeiten: montags.\n",
    );
    next_event(&events, "reload");
    assert!(
        get(&server.addr, "/kontakt/")
            .2
            .contains("Neue Telefonzeiten")
    );

    // Editors' tools save through a temporary file and a rename.
    site.write(
        "content/kontakt.md.tmp",
        "---\ntitle: Kontakt\n---\nGespeichert per Umbenennen.\n",
    );
    std::fs::rename(
        site.path("content/kontakt.md.tmp"),
        site.path("content/kontakt.md"),
    )
    .unwrap();
    next_event(&events, "reload");
    assert!(
        get(&server.addr, "/kontakt/")
            .2
            .contains("Gespeichert per Umbenennen")
    );
}

#[test]
fn added_and_deleted_pages_appear_and_disappear() {
    let site = Site::fixture("basic");
    let server = start(&site, &["--now", NOW]);
    let events = subscribe(&server.addr);
    site.write(
        "content/aktuelles/neu.md",
        "---\ntitle: Ganz neue Meldung\ndate: 2025-12-01\n---\nText.\n",
    );
    next_event(&events, "reload");
    assert_eq!(get(&server.addr, "/aktuelles/ganz-neue-meldung/").0, 200);
    assert!(
        get(&server.addr, "/aktuelles/")
            .2
            .contains("Ganz neue Meldung")
    );

    std::fs::remove_file(site.path("content/aktuelles/neu.md")).unwrap();
    next_event(&events, "reload");
    assert_eq!(get(&server.addr, "/aktuelles/ganz-neue-meldung/").0, 404);
    assert!(
        !get(&server.addr, "/aktuelles/")
            .2
            .contains("Ganz neue Meldung")
    );
}

#[test]
fn a_broken_save_shows_the_overlay_and_the_next_good_save_clears_it() {
    let site = Site::fixture("basic");
    let server = start(&site, &["--now", NOW]);
    let events = subscribe(&server.addr);
    let good = site.read("content/kontakt.md");
    site.write("content/kontakt.md", "---\ntitel: Kontakt\n---\nText\n");
    let error = next_event(&events, "builderror");
    assert!(error.contains("content/kontakt.md:2:1"), "{error}");
    let (_, _, status) = get(&server.addr, "/__ozg/status");
    assert!(status.contains("did you mean `title`"), "{status}");
    // The last good build is still served while the error is shown.
    assert_eq!(get(&server.addr, "/kontakt/").0, 200);

    site.write("content/kontakt.md", good);
    next_event(&events, "reload");
    assert!(
        get(&server.addr, "/__ozg/status")
            .2
            .contains("\"error\":null")
    );
}

#[test]
fn a_css_change_swaps_the_stylesheet_without_a_reload() {
    let site = Site::fixture("basic");
    let server = start(&site, &["--now", NOW]);
    let events = subscribe(&server.addr);
    site.write("static/css/site-extra.css", "body { color: #111; }\n");
    assert_eq!(next_event(&events, "css"), "css: /css/site-extra.css");
    assert!(get(&server.addr, "/css/site-extra.css").2.contains("#111"));
}

#[test]
fn traversal_is_refused_and_types_are_right() {
    let site = Site::fixture("basic");
    let server = start(&site, &["--now", NOW]);
    for path in [
        "/../site.yaml",
        "/%2e%2e/site.yaml",
        "/aktuelles/..%2f..%2fsite.yaml",
        "/%252e%252e/site.yaml",
    ] {
        assert_eq!(get(&server.addr, path).0, 403, "{path}");
    }
    assert_eq!(
        get(&server.addr, "/sitemap.xml").1,
        "application/xml; charset=utf-8"
    );
    assert_eq!(
        get(&server.addr, "/sprechstunden/69-2-gdst-forum/folien.pdf").1,
        "application/pdf"
    );
    let (status, _, body) = get(&server.addr, "/gibt-es-nicht/");
    assert_eq!(status, 404);
    assert!(
        body.contains("Nicht gefunden") || body.contains("nicht gefunden"),
        "the site's 404 page"
    );
    // The newsletter box posts to the subscription service; the preview says it is not one.
    let (status, _, body) = get(&server.addr, "/newsletter/anmelden");
    assert_eq!(status, 503);
    assert!(body.contains("subscriptions serve"), "{body}");
    // The build output never contains the live-reload script.
    site.build().ok();
    assert!(!site.all_output_text().contains("/__ozg/"));
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let site = Site::fixture("basic");
    let server = start(&site, &["--now", NOW]);
    let port = server.addr.rsplit(':').next().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ozg-site"))
        .args(["serve", "--port", port, "--root"])
        .arg(site.root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--port"));
}

#[test]
fn without_now_the_server_follows_the_clock() {
    let site = Site::fixture("basic");
    let moment = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3);
    let moment = moment.round(jiff::Unit::Second).unwrap();
    site.write(
        "content/aktuelles/punkt.md",
        format!(
            "---\ntitle: Pünktlich erschienen\ndate: 2025-12-01\npublish: {moment}\n---\nJetzt.\n"
        ),
    );
    let server = start(&site, &[]);
    let events = subscribe(&server.addr);
    assert_eq!(
        get(&server.addr, "/aktuelles/puenktlich-erschienen/").0,
        404,
        "not yet published"
    );
    next_event(&events, "reload");
    assert!(jiff::Timestamp::now() >= moment);
    assert_eq!(
        get(&server.addr, "/aktuelles/puenktlich-erschienen/").0,
        200
    );
}

#[test]
fn one_save_is_one_rebuild() {
    // Rebuilding reads files; those reads must not count as changes, or rebuilds never stop.
    let site = Site::fixture("basic");
    site.write(
        "site.yaml",
        site.read("site.yaml")
            .replace("theme: default", "theme: mini"),
    );
    let server = start(&site, &["--now", NOW]);
    let events = subscribe(&server.addr);
    site.write(
        "content/kontakt.md",
        "---\ntitle: Kontakt\n---\nEinmal gespeichert.\n",
    );
    next_event(&events, "reload");
    std::thread::sleep(Duration::from_secs(2));
    let rebuilds = server
        .output
        .try_iter()
        .filter(|l| l.starts_with("Rebuilt"))
        .count();
    assert_eq!(rebuilds, 1);
}

#[test]
fn the_email_preview_shows_both_parts_and_follows_edits() {
    let site = Site::fixture("basic");
    let server = start(&site, &["--now", NOW]);
    let (status, ctype, body) = get(&server.addr, "/newsletter/2/email/");
    assert_eq!((status, ctype.as_str()), (200, "text/html; charset=utf-8"));
    assert!(
        body.contains("E-Mail-Vorschau: OZG-Newsletter Ausgabe 2"),
        "{body}"
    );
    assert!(body.contains("<iframe title=\"HTML-Teil der E-Mail\" srcdoc=\""));
    assert!(
        body.contains("Wir ziehen um\n============="),
        "the text part"
    );
    assert!(
        body.contains("/__ozg/live.js"),
        "live-reloaded like every page"
    );
    let events = subscribe(&server.addr);
    site.write(
        "newsletters/2-ausgabe.md",
        site.read("newsletters/2-ausgabe.md") + "\nNeu in der Vorschau.\n",
    );
    next_event(&events, "reload");
    let body = get(&server.addr, "/newsletter/2/email/").2;
    assert_eq!(
        body.matches("Neu in der Vorschau.").count(),
        2,
        "in both parts"
    );
    // `build` never writes the preview.
    site.build().ok();
    assert!(!site.public().join("newsletter/2/email").exists());
}
