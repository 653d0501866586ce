//! The preview server's HTTP side: files from memory, live-reload events, the error overlay.
//!
//! Only the preview gets the live-reload script: it is injected into HTML responses here, never
//! written into build output.
//!
//! The preview holds drafts, so it answers only requests that name it (see [`Hosts`]), and no
//! request can crash it, hold a connection forever or keep it from stopping (see [`run`]).

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::{BroadcastStream, WatchStream};

use super::{Change, Shared};
use crate::config::{CONFIRM_PATH, FEEDBACK_PATH, SIGNUP_PATH, UNSUBSCRIBE_PATH};
use crate::site::aliases::NETLIFY_FILE;
use crate::write::MemoryFile;

pub const LIVE_SCRIPT_PATH: &str = "/__ozg/live.js";
const EVENTS_PATH: &str = "/__ozg/events";
const STATUS_PATH: &str = "/__ozg/status";
const LIVE_SCRIPT: &str = include_str!("live.js");

/// How long a client may take to send a request's headers, and how long a kept-alive
/// connection may sit idle before the next request. Browsers send their headers at once; a
/// client that trickles them (or never finishes) only holds a connection this long.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long Ctrl-C waits for open connections to finish their responses before the preview
/// stops anyway (a client that stopped reading would otherwise keep it running).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What the handlers share: the served site, and the signal that the preview stops, which
/// ends the open live-reload streams.
#[derive(Clone)]
struct App {
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
}

/// Serves the preview on `listener` (bound to `local`) until `shutdown` completes.
///
/// hyper's connection loop instead of `axum::serve`, for what `axum::serve` cannot set: a
/// header-read timeout, so a request that never finishes does not hold its connection forever,
/// and a bounded shutdown, so open pages (whose live-reload stream never ends by itself) or a
/// client that stopped reading cannot keep Ctrl-C from stopping the preview.
pub async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    local: SocketAddr,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop) = watch::channel(false);
    let app = router(App { shared, stop }, Hosts::new(local));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, app.clone(), stop_tx.subscribe()));
                }
                Err(e) => accept_failed(e).await,
            },
            // Finished connections are collected, so the set holds only open ones.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    // Dropping the set aborts the connections that did not finish in time.
}

/// One HTTP/1.1 connection, closed gracefully (after the response in flight) when `stop` says so.
async fn connection(stream: TcpStream, app: axum::Router, mut stop: watch::Receiver<bool>) {
    let service = TowerToHyperService::new(app);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop.wait_for(|stopped| *stopped) => conn.as_mut().graceful_shutdown(),
    }
    let _ = conn.await;
}

/// A failed `accept`: a client that gave up before it was accepted is nothing; anything else
/// (out of file descriptors) is said and waited out for a second, instead of spinning on it.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    eprintln!("the preview cannot accept a connection: {e}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

fn router(app: App, hosts: Hosts) -> axum::Router {
    axum::Router::new()
        .route(EVENTS_PATH, get(events))
        .route(STATUS_PATH, get(status))
        .route(LIVE_SCRIPT_PATH, get(live_script))
        .route(SIGNUP_PATH, any(service_notice))
        .route(CONFIRM_PATH, any(service_notice))
        .route(UNSUBSCRIBE_PATH, any(service_notice))
        .route(FEEDBACK_PATH, any(feedback_notice))
        .fallback(get(file))
        .with_state(app)
        // Outermost, so it guards every route, the fallback and the 405s alike.
        .layer(middleware::from_fn_with_state(
            Arc::new(hosts),
            only_own_host,
        ))
}

/// The names under which a request reaches this preview; any other gets 421.
///
/// DNS rebinding points a name the attacker owns at 127.0.0.1: the browser then counts the
/// preview as part of the attacker's site and lets its scripts read the drafts. But the browser
/// still sends the attacker's name in `Host`, so the preview answers only names nobody can
/// rebind:
/// - `localhost` and `*.localhost` (RFC 6761: resolved on this machine, and no one can register
///   a domain under `.localhost`);
/// - IP literals of loopback and of the bound address; when bound to every interface
///   (`--bind 0.0.0.0` or `::`) any IP literal, since rebinding needs a name, not an address.
///
/// Any port is accepted: the name carries the attack, not the port, and a port forward
/// (`ssh -L 8080:localhost:1111`, a container's `-p 8080:1111`) makes the browser send the
/// forwarded port.
#[derive(Debug, Clone)]
pub struct Hosts {
    bound: SocketAddr,
}

/// The host part of an authority (`Host` header value), its port dropped.
#[derive(Debug, PartialEq, Eq)]
enum HostName {
    Ip(IpAddr),
    /// A DNS name, lower-cased.
    Name(String),
}

impl Hosts {
    pub fn new(bound: SocketAddr) -> Hosts {
        Hosts { bound }
    }

    /// Whether an authority (`localhost:1111`, `[::1]`, `127.0.0.1:8080`) names this preview.
    pub fn allows(&self, authority: &str) -> bool {
        let bound = self.bound.ip().to_canonical();
        match host_name(authority) {
            Some(HostName::Ip(ip)) => {
                let ip = ip.to_canonical();
                ip.is_loopback() || ip == bound || bound.is_unspecified()
            }
            Some(HostName::Name(name)) => name == "localhost" || name.ends_with(".localhost"),
            None => false,
        }
    }

    /// The address an editor should open instead.
    fn own_url(&self) -> String {
        let ip = self.bound.ip();
        if ip.is_loopback() || ip.is_unspecified() {
            format!("http://localhost:{}/", self.bound.port())
        } else {
            format!("http://{}/", self.bound)
        }
    }

    /// The 421 page: German, for the editor who typed a wrong address; it repeats nothing the
    /// request sent.
    fn refusal(&self) -> Response {
        let url = self.own_url();
        let other_machines = if self.bound.ip().is_unspecified() {
            format!(
                " Von einem anderen Rechner aus öffnen Sie sie mit der IP-Adresse dieses Rechners und Port {}, z.&nbsp;B. <code>http://192.0.2.10:{}/</code>.",
                self.bound.port(),
                self.bound.port()
            )
        } else {
            String::new()
        };
        let body = format!(
            "<!DOCTYPE html>\n<html lang=\"de\">\n<head><meta charset=\"utf-8\"><title>Falsche Adresse – Vorschau</title></head>\n<body>\n<main>\n<h1>Die Vorschau antwortet nur unter ihrer eigenen Adresse</h1>\n<p>Diese Anfrage nannte einen anderen Namen. Damit keine fremde Website Entwürfe aus der Vorschau lesen kann, antwortet sie nur unter <code>localhost</code> und ihrer IP-Adresse.</p>\n<p>Öffnen Sie die Vorschau unter <a href=\"{url}\">{url}</a>.{other_machines}</p>\n</main>\n</body>\n</html>\n"
        );
        (
            StatusCode::MISDIRECTED_REQUEST,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response()
    }

    /// Whether a request names this preview: exactly one `Host` header, and an absolute request
    /// target (`GET http://…/`, or HTTP/2's `:authority`) only if it names the preview as well.
    fn admit(&self, uri: &Uri, headers: &HeaderMap) -> bool {
        let mut hosts = headers.get_all(header::HOST).iter();
        let header = match (hosts.next(), hosts.next()) {
            (Some(value), None) => match value.to_str() {
                Ok(text) => Some(text),
                Err(_) => return false,
            },
            (None, _) => None,
            (Some(_), Some(_)) => return false,
        };
        let target = uri.authority().map(|a| a.as_str());
        if header.is_none() && target.is_none() {
            return false;
        }
        header.into_iter().chain(target).all(|a| self.allows(a))
    }
}

/// Splits `host[:port]` or `[v6]:port`; `None` for anything else (user info, a zone id, an
/// empty or non-numeric port, characters no host name has).
fn host_name(authority: &str) -> Option<HostName> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = inside.parse().ok()?;
        return port_ok(after).then_some(HostName::Ip(IpAddr::V6(ip)));
    }
    let (host, after) = match authority.find(':') {
        Some(colon) => authority.split_at(colon),
        None => (authority, ""),
    };
    if !port_ok(after) {
        return None;
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Some(HostName::Ip(IpAddr::V4(ip)));
    }
    let name = host.to_ascii_lowercase();
    let is_name = name.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    is_name.then_some(HostName::Name(name))
}

/// What follows the host: nothing, or `:` and a port number.
fn port_ok(after: &str) -> bool {
    match after.strip_prefix(':') {
        None => after.is_empty(),
        Some(port) => port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok(),
    }
}

/// Refuses, with 421, every request that does not name this preview (see [`Hosts`]).
async fn only_own_host(State(hosts): State<Arc<Hosts>>, request: Request, next: Next) -> Response {
    if hosts.admit(request.uri(), request.headers()) {
        next.run(request).await
    } else {
        hosts.refusal()
    }
}

/// The newsletter box posts to the subscription service, which the preview is not: an editor
/// who tries the form learns why nothing happens, instead of meeting a bare error.
async fn service_notice() -> impl IntoResponse {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        "<!DOCTYPE html>\n<html lang=\"de\">\n<head><meta charset=\"utf-8\"><title>Anmeldedienst – Vorschau</title></head>\n<body>\n<main>\n<h1>In der Vorschau gibt es keinen Anmeldedienst</h1>\n<p>Auf der veröffentlichten Website nimmt hier der Anmeldedienst (<code>ozg-site subscriptions serve</code>) Anmeldungen, Bestätigungen und Abmeldungen für den Newsletter an. Die Vorschau nimmt keine an und verschickt keine E-Mails.</p>\n<p><a href=\"/\">Zurück zur Vorschau</a></p>\n</main>\n</body>\n</html>\n",
    )
}

/// The same for the form "Barriere melden": the preview sends no report anywhere.
async fn feedback_notice() -> impl IntoResponse {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        "<!DOCTYPE html>\n<html lang=\"de\">\n<head><meta charset=\"utf-8\"><title>Barriere melden – Vorschau</title></head>\n<body>\n<main>\n<h1>In der Vorschau werden keine Meldungen verschickt</h1>\n<p>Auf der veröffentlichten Website nimmt hier der Dienst (<code>ozg-site subscriptions serve</code>) Meldungen zu Barrieren an und schickt sie per E-Mail an die Adresse aus <code>feedback.to</code>. Die Vorschau verschickt nichts.</p>\n<p><a href=\"/\">Zurück zur Vorschau</a></p>\n</main>\n</body>\n</html>\n",
    )
}

async fn live_script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        LIVE_SCRIPT,
    )
}

/// The current error (diagnostics as text) or none, for pages opened while the site is broken.
async fn status(State(app): State<App>) -> impl IntoResponse {
    let error = app.shared.error();
    let body = serde_json::json!({ "error": error }).to_string();
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
}

/// The live-reload stream: a greeting with the current generation, then one event per rebuild,
/// until the preview stops (the stream ends then, so Ctrl-C need not wait for open pages).
async fn events(
    State(app): State<App>,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    // Subscribe first, then greet with the current generation: no rebuild can fall in between.
    let updates = BroadcastStream::new(app.shared.events.subscribe());
    let hello = Event::default()
        .event("hello")
        .data(app.shared.generation().to_string());
    // A receiver that lags behind (the page stopped reading) skips what it missed: the channel
    // holds a bounded number of changes, whatever the client does.
    let changes = updates.filter_map(|change| {
        let event = match change.ok()? {
            Change::Reload => Event::default().event("reload").data("reload"),
            Change::Css(paths) => Event::default().event("css").data(paths.join("\n")),
            Change::Error(text) => Event::default().event("builderror").data(text),
        };
        Some(Some(event))
    });
    let stopped = WatchStream::from_changes(app.stop.clone()).map(|_| None);
    let stream = tokio_stream::once(Some(hello))
        .chain(changes)
        .merge(stopped)
        .take_while(Option::is_some)
        .filter_map(|event| event.map(Ok));
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// What a request path means, after decoding it once, as a web server does.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A key of the in-memory output (`aktuelles/index.html`).
    Key(String),
    /// Traversal (`..`, `.`), a backslash or NUL, in any encoding: refused, not normalised (403).
    Refused,
    /// Not a path at all: a `%` without two hex digits after it, or bytes that are not UTF-8
    /// once decoded (400).
    Malformed,
}

/// Decodes the path exactly once and maps it to an output key.
///
/// A decoded `/` separates segments like a literal one, and empty segments (`//`) vanish, so
/// `/a%2Fb` and `//a///b` both mean `a/b`. A name may contain `%` after the decoding:
/// `/100%25.pdf` is the file `100%.pdf`, and nothing decodes it again.
///
/// As defence in depth a segment that a *second* decoding would turn into `.`, `..`, a
/// backslash or NUL is refused all the same (`/%252e%252e/` is the literal name `%2e%2e` here):
/// a proxy or a tool in front of the preview that decodes once more would otherwise see a
/// traversal. No build output has such a name; slugs and theme files never contain `%2e`.
pub fn resolve_path(raw: &str) -> Lookup {
    let Some(bytes) = percent_decode_once(raw) else {
        return Lookup::Malformed;
    };
    let Ok(decoded) = String::from_utf8(bytes) else {
        return Lookup::Malformed;
    };
    if decoded.contains(['\\', '\0']) {
        return Lookup::Refused;
    }
    let mut parts = Vec::new();
    for part in decoded.split('/') {
        match part {
            "" => {}
            "." | ".." => return Lookup::Refused,
            p if p.contains('%') && !survives_second_decoding(p) => return Lookup::Refused,
            p => parts.push(p),
        }
    }
    let mut key = parts.join("/");
    if decoded.ends_with('/') || key.is_empty() {
        if !key.is_empty() {
            key.push('/');
        }
        key.push_str("index.html");
    }
    Lookup::Key(key)
}

/// `%XX` escapes decoded once, strictly: `None` for a `%` not followed by two hex digits
/// (`%zz`, `%2`, a `%` at the end), which a lenient decoder would pass through unchanged.
fn percent_decode_once(raw: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let high = bytes.next().and_then(hex_digit)?;
            let low = bytes.next().and_then(hex_digit)?;
            out.push(high << 4 | low);
        } else {
            out.push(b);
        }
    }
    Some(out)
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Whether one more (lenient) decoding of a segment still names a plain file: no `.` or `..`
/// component, no backslash, no NUL. One round only, so the work stays linear in the path.
fn survives_second_decoding(segment: &str) -> bool {
    let again: Vec<u8> = percent_encoding::percent_decode_str(segment).collect();
    !again.contains(&b'\\')
        && !again.contains(&0)
        && again.split(|&b| b == b'/').all(|c| c != b"." && c != b"..")
}

/// What may stand unescaped in a path segment of a `Location`: unreserved characters and a few
/// sub-delimiters; everything else, `%`, `/` and the backslash included, is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// What is escaped again in a query copied into a `Location`: anything that is not visible
/// ASCII, and the characters a URL never carries raw. Existing escapes (`%`) stay as they are.
const QUERY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'^');

/// The `Location` for `/dir` → `/dir/`, built from the resolved key rather than from the raw
/// path: one leading slash, every segment encoded again, so it can never read as `//host`, a
/// scheme or a backslash path, whatever the request looked like. The query is kept.
fn directory_location(key: &str, query: Option<&str>) -> String {
    let mut location = String::with_capacity(key.len() + 2);
    for segment in key.split('/').filter(|s| !s.is_empty()) {
        location.push('/');
        location.extend(utf8_percent_encode(segment, SEGMENT));
    }
    location.push('/');
    if let Some(q) = query {
        location.push('?');
        location.extend(utf8_percent_encode(q, QUERY));
    }
    location
}

pub fn mime_type(key: &str) -> &'static str {
    let ext = key.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml; charset=utf-8",
        "ics" => "text/calendar; charset=utf-8",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "vtt" => "text/vtt; charset=utf-8",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

async fn file(State(app): State<App>, uri: Uri) -> Response {
    let key = match resolve_path(uri.path()) {
        Lookup::Key(k) => k,
        Lookup::Refused => {
            return (StatusCode::FORBIDDEN, "Pfad nicht erlaubt\n").into_response();
        }
        Lookup::Malformed => {
            return (
                StatusCode::BAD_REQUEST,
                "Ungültige Adresse: Der Pfad ist nicht richtig kodiert. Auf ein „%“ müssen zwei Hexadezimalziffern folgen, die zusammen Text in UTF-8 ergeben; ein Prozentzeichen selbst schreibt man „%25“.\n",
            )
                .into_response();
        }
    };
    let files = app.shared.files();
    // An old address answers with the 301 of the build's own table, as the server will; not
    // cached, since the preview's next build may take it back.
    if let Some(MemoryFile::Bytes(table)) = files.get(NETLIFY_FILE)
        && let Some(to) = crate::render::redirects::preview_target(table, &key)
        && let Ok(location) = HeaderValue::try_from(to)
    {
        return (
            StatusCode::MOVED_PERMANENTLY,
            [
                (header::LOCATION, location),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response();
    }
    if let Some(found) = files.get(&key) {
        return respond(&key, found, StatusCode::OK, &app.shared).await;
    }
    // `/aktuelles` → `/aktuelles/`, as static web servers do.
    let dir_index = format!("{key}/index.html");
    if !key.ends_with("index.html") && files.contains_key(&dir_index) {
        let location = directory_location(&key, uri.query());
        return match HeaderValue::try_from(location) {
            Ok(location) => (
                StatusCode::PERMANENT_REDIRECT,
                [(header::LOCATION, location)],
            )
                .into_response(),
            Err(_) => (StatusCode::NOT_FOUND, "Nicht gefunden\n").into_response(),
        };
    }
    match files.get("404.html") {
        Some(page) => respond("404.html", page, StatusCode::NOT_FOUND, &app.shared).await,
        None => (StatusCode::NOT_FOUND, "Nicht gefunden\n").into_response(),
    }
}

/// A file of the build as a response. HTML gets the live-reload script; everything else goes
/// out without a copy: rendered files share the build's bytes, files on disk are read in
/// chunks as the client takes them, so a slow client (or many) holds a chunk, not the file.
async fn respond(key: &str, file: &MemoryFile, status: StatusCode, shared: &Shared) -> Response {
    let generation = shared.generation();
    if let MemoryFile::Disk { path, .. } = file
        && !shared.readable(path)
    {
        return (StatusCode::NOT_FOUND, "Nicht gefunden\n").into_response();
    }
    let mime = mime_type(key);
    let html = mime.starts_with("text/html");
    // Known for a body that streams only; hyper counts the others itself.
    let mut length = None;
    let body = match file {
        MemoryFile::Bytes(b) if html => Body::from(inject_live_script(b.to_vec(), generation)),
        MemoryFile::Bytes(b) => Body::from(Bytes::from_owner(SharedBytes(b.clone()))),
        MemoryFile::Disk { path, .. } if html => match tokio::fs::read(path).await {
            Ok(b) => Body::from(inject_live_script(b, generation)),
            Err(_) => return (StatusCode::NOT_FOUND, "Nicht gefunden\n").into_response(),
        },
        MemoryFile::Disk { path, .. } => match tokio::fs::File::open(path).await {
            Ok(f) => {
                length = f.metadata().await.ok().map(|m| m.len());
                Body::from_stream(FileChunks::new(f))
            }
            Err(_) => return (StatusCode::NOT_FOUND, "Nicht gefunden\n").into_response(),
        },
    };
    let mut response = Response::new(body);
    if let Some(length) = length {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    // The preview must always show the latest build.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The build's bytes of one file, shared with a response body instead of copied.
struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// How much of a file on disk a response reads at a time.
const CHUNK: usize = 64 * 1024;

/// A file on disk as a stream of chunks; the next one is read only when the client took the
/// last (hyper polls the body as the connection can write).
struct FileChunks {
    file: tokio::fs::File,
    buffer: Vec<u8>,
    done: bool,
}

impl FileChunks {
    fn new(file: tokio::fs::File) -> FileChunks {
        FileChunks {
            file,
            buffer: vec![0; CHUNK],
            done: false,
        }
    }
}

impl tokio_stream::Stream for FileChunks {
    type Item = std::io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let mut read = ReadBuf::new(&mut this.buffer);
        match Pin::new(&mut this.file).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => {
                this.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(Ok(())) if read.filled().is_empty() => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Ok(())) => Poll::Ready(Some(Ok(Bytes::copy_from_slice(read.filled())))),
        }
    }
}

/// Outlines every open fact (`offen` in the content, "Uhrzeit folgt" on the page) so an editor
/// sees at a glance what is still missing. Preview only: `build` output never has it.
pub const PREVIEW_STYLE: &str = "<style id=\"ozg-preview-open-facts\">.open-fact{outline:2px dashed #b3261e;outline-offset:2px;background:#fff3c4;color:#1b1f24}.open-fact::after{content:\" (offen)\";font-style:normal;font-weight:700;color:#8c1d18}</style>";

/// Adds the preview's style for open facts and the live-reload script before `</body>` (or at
/// the end), with the build generation.
pub fn inject_live_script(html: Vec<u8>, generation: u64) -> Vec<u8> {
    let text = String::from_utf8_lossy(&html);
    // The style belongs into the head; a page without one gets it beside the script.
    let (text, style) = match text.find("</head>").and_then(|i| text.split_at_checked(i)) {
        Some((head, tail)) => (format!("{head}{PREVIEW_STYLE}{tail}"), ""),
        None => (text.into_owned(), PREVIEW_STYLE),
    };
    let tag = format!(
        "{style}<script src=\"{LIVE_SCRIPT_PATH}\" data-generation=\"{generation}\"></script>"
    );
    match text.rfind("</body>").and_then(|i| text.split_at_checked(i)) {
        Some((head, tail)) => format!("{head}{tag}\n{tail}").into_bytes(),
        None => format!("{text}{tag}\n").into_bytes(),
    }
}

#[cfg(test)]
mod tests;
