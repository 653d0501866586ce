//! The preview server's HTTP side: files from memory, live-reload events, the error overlay.
//!
//! Only the preview gets the live-reload script: it is injected into HTML responses here, never
//! written into build output.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::BroadcastStream;

use super::{Change, Shared};
use crate::config::{CONFIRM_PATH, SIGNUP_PATH, UNSUBSCRIBE_PATH};
use crate::write::MemoryFile;

pub const LIVE_SCRIPT_PATH: &str = "/__ozg/live.js";
const EVENTS_PATH: &str = "/__ozg/events";
const STATUS_PATH: &str = "/__ozg/status";
const LIVE_SCRIPT: &str = include_str!("live.js");

pub fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .route(EVENTS_PATH, get(events))
        .route(STATUS_PATH, get(status))
        .route(LIVE_SCRIPT_PATH, get(live_script))
        .route(SIGNUP_PATH, any(service_notice))
        .route(CONFIRM_PATH, any(service_notice))
        .route(UNSUBSCRIBE_PATH, any(service_notice))
        .fallback(get(file))
        .with_state(shared)
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

async fn live_script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        LIVE_SCRIPT,
    )
}

/// The current error (diagnostics as text) or none, for pages opened while the site is broken.
async fn status(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let error = shared.error();
    let body = serde_json::json!({ "error": error }).to_string();
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
}

async fn events(
    State(shared): State<Arc<Shared>>,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    // Subscribe first, then greet with the current generation: no rebuild can fall in between.
    let updates = BroadcastStream::new(shared.events.subscribe());
    let hello = Event::default()
        .event("hello")
        .data(shared.generation().to_string());
    let stream = tokio_stream::once(Ok(hello)).chain(updates.filter_map(|change| {
        let event = match change.ok()? {
            Change::Reload => Event::default().event("reload").data("reload"),
            Change::Css(paths) => Event::default().event("css").data(paths.join("\n")),
            Change::Error(text) => Event::default().event("builderror").data(text),
        };
        Some(Ok(event))
    }));
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// What a request path means, after decoding; traversal attempts are refused, not normalised.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A key of the in-memory output (`aktuelles/index.html`).
    Key(String),
    Refused,
}

/// Decodes the path and refuses `..`, `.`, backslashes and NUL in any encoding.
pub fn resolve_path(raw: &str) -> Lookup {
    let Ok(decoded) = percent_encoding::percent_decode_str(raw).decode_utf8() else {
        return Lookup::Refused;
    };
    if decoded.contains(['\\', '\0']) {
        return Lookup::Refused;
    }
    let mut parts = Vec::new();
    for part in decoded.split('/') {
        match part {
            "" => {}
            "." | ".." => return Lookup::Refused,
            // A second round of decoding must not hide a traversal either (`%252e%252e`).
            p if p.contains('%') && resolve_path(p) == Lookup::Refused => return Lookup::Refused,
            p if percent_encoding::percent_decode_str(p)
                .decode_utf8()
                .is_ok_and(|d| d == ".." || d == ".") =>
            {
                return Lookup::Refused;
            }
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

async fn file(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let key = match resolve_path(uri.path()) {
        Lookup::Key(k) => k,
        Lookup::Refused => {
            return (StatusCode::FORBIDDEN, "Pfad nicht erlaubt\n").into_response();
        }
    };
    let files = shared.files();
    if let Some(found) = files.get(&key) {
        return respond(&key, found, StatusCode::OK, shared.generation()).await;
    }
    // `/aktuelles` → `/aktuelles/`, as static web servers do.
    let dir_index = format!("{key}/index.html");
    if !key.ends_with("index.html") && files.contains_key(&dir_index) {
        let location = format!("{}/", uri.path().trim_end_matches('/'));
        return (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, location)],
        )
            .into_response();
    }
    match files.get("404.html") {
        Some(page) => respond("404.html", page, StatusCode::NOT_FOUND, shared.generation()).await,
        None => (StatusCode::NOT_FOUND, "Nicht gefunden\n").into_response(),
    }
}

async fn respond(key: &str, file: &MemoryFile, status: StatusCode, generation: u64) -> Response {
    let bytes: Vec<u8> = match file {
        MemoryFile::Bytes(b) => b.as_ref().clone(),
        MemoryFile::Disk { path, .. } => match tokio::fs::read(path).await {
            Ok(b) => b,
            Err(_) => return (StatusCode::NOT_FOUND, "Nicht gefunden\n").into_response(),
        },
    };
    let mime = mime_type(key);
    let body = if mime.starts_with("text/html") {
        inject_live_script(bytes, generation)
    } else {
        bytes
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    // The preview must always show the latest build.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Adds the live-reload script before `</body>` (or at the end), with the build generation.
pub fn inject_live_script(html: Vec<u8>, generation: u64) -> Vec<u8> {
    let tag =
        format!("<script src=\"{LIVE_SCRIPT_PATH}\" data-generation=\"{generation}\"></script>");
    let text = String::from_utf8_lossy(&html);
    match text.rfind("</body>") {
        Some(i) => format!("{}{tag}\n{}", &text[..i], &text[i..]).into_bytes(),
        None => format!("{text}{tag}\n").into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_keys() {
        assert_eq!(resolve_path("/"), Lookup::Key("index.html".into()));
        assert_eq!(
            resolve_path("/aktuelles/"),
            Lookup::Key("aktuelles/index.html".into())
        );
        assert_eq!(
            resolve_path("/css/site.css"),
            Lookup::Key("css/site.css".into())
        );
        assert_eq!(
            resolve_path("/a%20b/"),
            Lookup::Key("a b/index.html".into())
        );
    }

    #[test]
    fn traversal_is_refused_in_every_spelling() {
        for p in [
            "/../etc/passwd",
            "/a/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc%2Fpasswd",
            "/..%2fetc",
            "/%252e%252e/etc",
            "/a/..\\..\\etc",
            "/a/%5c..%5c",
            "/./x",
            "/a%00b",
        ] {
            assert_eq!(resolve_path(p), Lookup::Refused, "{p}");
        }
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
                "<html><body>x<script src=\"{LIVE_SCRIPT_PATH}\" data-generation=\"7\"></script>\n</body></html>"
            )
        );
    }
}
