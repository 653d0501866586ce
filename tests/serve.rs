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
    let (status, head, body) = send(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n"),
    );
    (status, header(&head, "content-type"), body)
}

/// Sends a request head exactly as written (no client library normalises the path or the
/// `Host`), then reads until the server closes: (status, response head, body).
fn send(addr: &str, head: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // A head too long for the server is answered (414/431) and the connection closed before the
    // client has written it all: the write then fails, but the answer is there to read.
    let _ = write!(stream, "{head}\r\n");
    let mut raw = Vec::new();
    // The close may come as a reset after the answer; what arrived before it is kept.
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

/// One header's value from a response head, or "" without it.
fn header(head: &str, name: &str) -> String {
    head.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
        .unwrap_or_default()
}

/// Subscribes to the live-reload events; each SSE event arrives as "name: data". Returns once the
/// server's `hello` greeting has arrived: the server subscribes the stream to its changes before
/// it greets, so no rebuild after this call can be missed.
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
    next_event(&rx, "hello");
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
    let page = get(&server.addr, "/kontakt/").2;
    assert!(
        page.contains("Neue Telefonzeiten"),
        "the saved text is served:\n{page}"
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
    let page = get(&server.addr, "/kontakt/").2;
    assert!(
        page.contains("Gespeichert per Umbenennen"),
        "the renamed file's text is served:\n{page}"
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
    let list = get(&server.addr, "/aktuelles/").2;
    assert!(
        list.contains("Ganz neue Meldung"),
        "the section lists the new page:\n{list}"
    );

    std::fs::remove_file(site.path("content/aktuelles/neu.md")).unwrap();
    next_event(&events, "reload");
    assert_eq!(get(&server.addr, "/aktuelles/ganz-neue-meldung/").0, 404);
    let list = get(&server.addr, "/aktuelles/").2;
    assert!(
        !list.contains("Ganz neue Meldung"),
        "the section still lists the deleted page:\n{list}"
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
    let status = get(&server.addr, "/__ozg/status").2;
    assert!(
        status.contains("\"error\":null"),
        "the good save clears the error: {status}"
    );
}

#[test]
fn a_css_change_swaps_the_stylesheet_without_a_reload() {
    let site = Site::fixture("basic");
    let server = start(&site, &["--now", NOW]);
    let events = subscribe(&server.addr);
    site.write("static/css/site-extra.css", "body { color: #111; }\n");
    assert_eq!(next_event(&events, "css"), "css: /css/site-extra.css");
    let css = get(&server.addr, "/css/site-extra.css").2;
    assert!(css.contains("#111"), "the new stylesheet is served: {css}");
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
    assert!(
        !site.all_output_text().contains("/__ozg/"),
        "the live-reload script reached the build output"
    );
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
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--port"),
        "the error names --port: {stderr}"
    );
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
    let reloaded = jiff::Timestamp::now();
    assert!(
        reloaded >= moment,
        "reloaded at {reloaded}, before the publication at {moment}"
    );
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
    // A rebuild set off by the first one's own reads would be queued before any later save: a
    // second save marks the end. Its rebuild must be the next one, and for that save alone.
    site.write("static/merker.txt", "Merker\n");
    let rebuilds = rebuilds_until(&server, "static/merker.txt", 3);
    assert_eq!(rebuilds.len(), 2, "one rebuild per save: {rebuilds:?}");
    assert!(
        rebuilds[0].ends_with("(content/kontakt.md)")
            && rebuilds[1].ends_with("(static/merker.txt)"),
        "each rebuild names its save alone: {rebuilds:?}"
    );
}

/// The server's "Rebuilt …" lines up to the first that names `file`, or the first `at_most`
/// (enough to show a preview that keeps rebuilding by itself).
fn rebuilds_until(server: &Server, file: &str, at_most: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut rebuilds = Vec::new();
    while let Ok(line) = server
        .output
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        if line.starts_with("Rebuilt") {
            let done = line.contains(file);
            rebuilds.push(line);
            if done || rebuilds.len() == at_most {
                return rebuilds;
            }
        }
    }
    panic!("no rebuild for {file} within 20 s; rebuilds so far: {rebuilds:?}");
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
    assert!(
        body.contains("<iframe title=\"HTML-Teil der E-Mail\" srcdoc=\""),
        "the HTML part in a titled frame:\n{body}"
    );
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
    assert!(
        !site.public().join("newsletter/2/email").exists(),
        "build wrote the e-mail preview"
    );
}

fn port(server: &Server) -> &str {
    server.addr.rsplit(':').next().unwrap()
}

#[test]
fn odd_percent_encodings_get_an_answer_and_never_stop_the_preview() {
    let site = Site::fixture("basic");
    site.write("static/100%.pdf", "%PDF-1.4 hundert Prozent");
    let server = start(&site, &["--now", NOW]);
    // `/%25` overflowed the old resolver's stack and killed the preview.
    let (status, _, body) = get(&server.addr, "/%25");
    assert_eq!(status, 404);
    assert!(
        body.contains("nicht gefunden") || body.contains("Nicht gefunden"),
        "the site's 404 page:\n{body}"
    );
    assert_eq!(get(&server.addr, "/kontakt/").0, 200, "still answers");
    for path in ["/a%zz", "/100%", "/%2", "/%c3%28"] {
        let (status, ctype, body) = get(&server.addr, path);
        assert_eq!(status, 400, "{path}");
        assert_eq!(ctype, "text/plain; charset=utf-8");
        assert!(body.contains("„%25“"), "{path}: {body}");
    }
    let (status, ctype, body) = get(&server.addr, "/100%25.pdf");
    assert_eq!((status, ctype.as_str()), (200, "application/pdf"));
    assert_eq!(body, "%PDF-1.4 hundert Prozent");
    // A megabyte of path is refused by the HTTP layer (too long for its buffer); what fits
    // reaches the resolver, and slashes collapse.
    let huge = format!("/{}", "%25".repeat(350_000));
    let status = get(&server.addr, &huge).0;
    assert!(matches!(status, 414 | 431), "{status}");
    assert_eq!(
        get(&server.addr, &format!("/{}", "%25".repeat(20_000))).0,
        404
    );
    assert_eq!(get(&server.addr, &"/".repeat(20_000)).0, 200);
    assert_eq!(get(&server.addr, "/kontakt/").0, 200, "still answers");
}

#[test]
fn only_requests_naming_the_preview_are_answered() {
    let site = Site::fixture("basic");
    let server = start(&site, &["--now", NOW]);
    let port = port(&server);
    // A page on evil.example whose name now points at 127.0.0.1 (DNS rebinding) reads nothing.
    for path in [
        "/",
        "/kontakt/",
        "/__ozg/events",
        "/__ozg/live.js",
        "/__ozg/status",
        "/newsletter/anmelden",
        "/gibt-es-nicht",
    ] {
        let (status, head, body) = send(
            &server.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: evil.example:{port}\r\nConnection: close\r\n"),
        );
        assert_eq!(status, 421, "{path}");
        assert_eq!(header(&head, "content-type"), "text/html; charset=utf-8");
        assert!(
            body.contains(&format!(
                "Öffnen Sie die Vorschau unter <a href=\"http://localhost:{port}/\">"
            )),
            "{body}"
        );
        assert!(
            !body.contains("evil.example"),
            "nothing of the request is echoed"
        );
    }
    for head in [
        // No Host at all (HTTP/1.0).
        "GET /kontakt/ HTTP/1.0\r\n".to_string(),
        format!(
            "GET http://evil.example/kontakt/ HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n"
        ),
        format!(
            "GET /kontakt/ HTTP/1.1\r\nHost: localhost:{port}\r\nHost: evil.example\r\nConnection: close\r\n"
        ),
        format!("GET /kontakt/ HTTP/1.1\r\nHost: 127.0.0.1.nip.io:{port}\r\nConnection: close\r\n"),
    ] {
        assert_eq!(send(&server.addr, &head).0, 421, "{head}");
    }
    for host in [
        format!("localhost:{port}"),
        "localhost".to_string(),
        format!("vorschau.localhost:{port}"),
        format!("[::1]:{port}"),
        // Through a port forward the browser names the forwarded port.
        "127.0.0.1:8080".to_string(),
    ] {
        let (status, _, body) = send(
            &server.addr,
            &format!("GET /kontakt/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"),
        );
        assert_eq!(status, 200, "{host}");
        assert!(
            body.contains("/__ozg/live.js"),
            "{host}: the page with its live-reload script:\n{body}"
        );
    }
}

#[test]
fn a_folder_redirect_never_leaves_the_site() {
    let site = Site::fixture("basic");
    let server = start(&site, &["--now", NOW]);
    for (path, location) in [
        ("/aktuelles", "/aktuelles/"),
        ("//aktuelles", "/aktuelles/"),
        ("///aktuelles", "/aktuelles/"),
        ("//aktuelles?seite=2", "/aktuelles/?seite=2"),
        ("/%2Faktuelles", "/aktuelles/"),
        ("/aktuelles??a", "/aktuelles/??a"),
    ] {
        let (status, head, _) = send(
            &server.addr,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
                server.addr
            ),
        );
        assert_eq!(status, 308, "{path}");
        assert_eq!(header(&head, "location"), location, "{path}");
    }
}

#[test]
fn head_requests_get_the_headers_without_a_body() {
    let site = Site::fixture("basic");
    let server = start(&site, &["--now", NOW]);
    for path in [
        "/kontakt/",
        "/sprechstunden/69-2-gdst-forum/folien.pdf",
        "/__ozg/events",
    ] {
        let (status, head, body) = send(
            &server.addr,
            &format!(
                "HEAD {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
                server.addr
            ),
        );
        assert_eq!(status, 200, "{path}");
        assert!(!header(&head, "content-type").is_empty(), "{path}");
        assert_eq!(body, "", "{path}");
    }
}

#[test]
fn a_request_that_never_finishes_is_cut_off_and_others_are_answered() {
    let site = Site::fixture("basic");
    let server = start(&site, &["--now", NOW]);
    let mut slow = TcpStream::connect(&server.addr).unwrap();
    // The request line and one header, then nothing: the head never ends.
    write!(slow, "GET / HTTP/1.1\r\nHost: {}\r\n", server.addr).unwrap();
    let started = Instant::now();
    assert_eq!(
        get(&server.addr, "/kontakt/").0,
        200,
        "others are answered meanwhile"
    );
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut rest = Vec::new();
    // The server closes the connection (a reset is as good as an end).
    let _ = slow.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(25),
        "closed after {waited:?}, not held open"
    );
    let rest = String::from_utf8_lossy(&rest);
    assert!(
        !rest.contains("200 OK"),
        "the unfinished request was answered: {rest}"
    );
}

#[test]
fn ctrl_c_stops_the_preview_while_pages_are_open() {
    let site = Site::fixture("basic");
    let mut server = start(&site, &["--now", NOW]);
    // An open page (greeted already): its live-reload stream never ends by itself.
    let _events = subscribe(&server.addr);
    // A client that sent half a request.
    let mut half = TcpStream::connect(&server.addr).unwrap();
    write!(half, "GET / HTTP/1.1\r\n").unwrap();
    let interrupted = Command::new("kill")
        .args(["-INT", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success(), "kill -INT failed: {interrupted}");
    // The preview's stdout closes when it exits.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match server
            .output
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("still running 10 s after Ctrl-C"),
        }
    }
    assert_eq!(server.child.wait().unwrap().code(), Some(0));
}

#[test]
fn check_external_with_an_infinite_timeout_is_a_usage_error() {
    let site = Site::fixture("basic");
    for timeout in ["inf", "NaN", "-1", "0", "1e400", "301"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ozg-site"))
            .args([
                "check",
                "--external",
                &format!("--timeout={timeout}"),
                "--root",
            ])
            .arg(site.root())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{timeout}: {stderr}");
        assert!(
            stderr.contains("a number above 0 and at most 300"),
            "{timeout}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{timeout}: {stderr}");
    }
}
