//! The service's HTTP side: four addresses, each answered with a page of the theme and the right
//! status code.
//!
//! - `GET  /newsletter/anmelden`: the sign-up form; `POST`: a sign-up (from the site's box or this
//!   form), answered with the same page whether or not the address is known.
//! - `GET  /newsletter/bestaetigen?token=…`: the confirmation link's page, with its button; the
//!   link is looked up, not used: mail gateways that open every link confirm nobody. `POST` with
//!   the token as a form field confirms (once, before the link expires).
//! - `GET  /newsletter/abmelden?token=…`: a page with a button; `POST` with the token as a form
//!   field unsubscribes, as does `POST …?token=…` with `List-Unsubscribe=One-Click` (RFC 8058).
//! - `GET  /barrierefreiheit/melden[?seite=…]`: the form "Barriere melden" (only with `feedback:`
//!   in `site.yaml`), its page field filled from a link's `seite`; `POST`: a report, queued as a
//!   mail to the team ([`super::feedback`]).
//! - `GET  /healthz`: `ok` while the database answers, for monitoring.
//!
//! Query strings carry tokens, so the log shows paths only, and addresses only as keyed hashes;
//! of a report it shows neither content nor address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{CACHE_CONTROL, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};

use super::feedback::{self, Allowance, Feedback};
use super::guard::{self, Limits, MailAllowance};
use super::log;
use super::mail::Mailer;
use super::pages::{Page, Pages, Problem};
use super::pool::Pool;
use super::worker::Wake;
use crate::config::{CONFIRM_PATH, FEEDBACK_PATH, ListConfig, SIGNUP_PATH, UNSUBSCRIBE_PATH};
use crate::error::OpError;
use crate::newsletter::store::Via;
use crate::newsletter::store::optin::{Confirmed, Link, Requested, SignupRequest, Unsubscribed};
use crate::newsletter::store::{AddressHasher, SubscriberStatus, is_token};

/// What the handlers share.
pub struct App {
    pub pool: Pool,
    pub pages: Pages,
    pub mailer: Mailer,
    pub limits: Limits,
    /// `confirmation_mails_per_hour`, for the log line when it is reached.
    pub mails_per_hour: u32,
    /// Origins whose pages may send the forms: the site and the service.
    pub origins: Vec<String>,
    pub trusted_proxies: Vec<IpAddr>,
    /// The site's lists, each with its consent statement ([`NewsletterConfig::lists`]).
    ///
    /// [`NewsletterConfig::lists`]: crate::config::NewsletterConfig::lists
    pub lists: Vec<ListConfig>,
    pub valid_for: SignedDuration,
    pub wake: Arc<Wake>,
    pub hasher: AddressHasher,
    /// `Content-Security-Policy` of every page: the site's styles and scripts, nothing else.
    pub csp: HeaderValue,
    /// Writing requests answered so far: the upkeep checkpoints the WAL after a burst of them.
    pub writes: AtomicU64,
    /// The form "Barriere melden", when `site.yaml` has `feedback:`.
    pub feedback: Option<Feedback>,
}

/// How long a form body (at most [`guard::MAX_BODY`] bytes) may take to arrive once its headers
/// are in: a browser sends it at once, a client that trickles it holds a connection for nothing.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(5);

pub fn router(app: Arc<App>) -> Router {
    let mut router = Router::new()
        .route(SIGNUP_PATH, get(signup_form).post(signup))
        .route(CONFIRM_PATH, get(confirm_page).post(confirm))
        .route(UNSUBSCRIBE_PATH, get(unsubscribe_page).post(unsubscribe))
        .route("/healthz", get(health));
    if app.feedback.is_some() {
        router = router.route(FEEDBACK_PATH, get(feedback_form).post(send_report));
    }
    router
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), frame))
        .with_state(app)
}

/// A line for the log, attached to a response by its handler.
#[derive(Clone)]
struct Note(String);

/// Security headers on every response, and one log line per request.
async fn frame(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client = peer
        .map(|ip| guard::client_address(ip, request.headers(), &app.trusted_proxies))
        .map(|ip| app.hasher.short(&guard::client_key(ip).to_string()))
        .unwrap_or_default();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert("content-security-policy", app.csp.clone());
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let note = response
        .extensions()
        .get::<Note>()
        .map(|n| format!(" {}", n.0))
        .unwrap_or_default();
    log(&format!(
        "{method} {} {} {}ms client={client}{note}",
        logged_path(&path),
        response.status().as_u16(),
        started.elapsed().as_millis()
    ));
    response
}

/// The path as the log shows it: ours as they are, any other as `(unknown-path)` — a mangled
/// link may carry an address or a token in its path, and the log keeps neither.
fn logged_path(path: &str) -> &str {
    match path {
        SIGNUP_PATH | CONFIRM_PATH | UNSUBSCRIBE_PATH | FEEDBACK_PATH | "/healthz" => path,
        _ => "(unknown-path)",
    }
}

fn page(app: &App, page: Page<'_>) -> Response {
    match app.pages.render(&page) {
        Ok(html) => (
            page.status(),
            [(CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(e) => {
            log(&format!("page cannot be rendered: {}", e.message));
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(CONTENT_TYPE, "text/plain; charset=utf-8")],
                "Der Dienst ist gestört. Bitte versuchen Sie es später noch einmal.",
            )
                .into_response()
        }
    }
}

fn problem(app: &App, problem: Problem) -> Response {
    with_problem_headers(page(app, Page::Problem(problem)), problem)
}

/// A problem of the feedback form, on its own page: its words are about reports, not sign-ups.
fn report_problem(app: &App, problem: Problem) -> Response {
    with_problem_headers(page(app, Page::FeedbackProblem(problem)), problem)
}

fn with_problem_headers(mut response: Response, problem: Problem) -> Response {
    if let Some(retry_minutes) = problem.retry_minutes()
        && let Ok(v) = HeaderValue::from_str(&(retry_minutes.saturating_mul(60)).to_string())
    {
        response.headers_mut().insert(RETRY_AFTER, v);
    }
    if problem == Problem::TooSlow {
        // The rest of the body may still come: this connection cannot take another request.
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

fn noted(mut response: Response, note: String) -> Response {
    response.extensions_mut().insert(Note(note));
    response
}

/// A database failure: our problem, logged, and the reader asked to try later. The messages
/// name the database file, never an address or a token.
fn unavailable(app: &App, e: &OpError) -> Response {
    log(&format!("database: {e}"));
    problem(app, Problem::Unavailable)
}

/// Counts a request that wrote to the database, for the upkeep's checkpoints.
fn wrote(app: &App) {
    app.writes.fetch_add(1, Ordering::Relaxed);
}

async fn signup_form(State(app): State<Arc<App>>) -> Response {
    page(
        &app,
        Page::Form {
            email: "",
            name: "",
            lists: Vec::new(),
            errors: guard::FormErrors::default(),
        },
    )
}

/// The lists a sign-up asks for: with one list that one (the form has no checkbox for it), with
/// several those ticked.
fn ticked_lists(lists: &[ListConfig], ticked: impl Fn(&str) -> bool) -> Vec<ListConfig> {
    if lists.len() == 1 {
        return lists.to_vec();
    }
    lists.iter().filter(|l| ticked(&l.id)).cloned().collect()
}

/// The `list` of a query or form, if it names one of the site's lists: what an unsubscribe
/// ends. Anything else (`alle`, nothing, a list since removed) means every list.
fn named_list(app: &App, fields: &HashMap<String, String>) -> Option<String> {
    let list = fields.get("list")?;
    app.lists
        .iter()
        .any(|l| l.id == *list)
        .then(|| list.clone())
}

/// [`named_list`] of the query.
fn list_in_query(app: &App, uri: &Uri) -> Option<String> {
    let query = uri.query().unwrap_or_default();
    if query.len() > guard::MAX_QUERY {
        return None;
    }
    let fields = guard::parse_form(query.as_bytes()).ok()?;
    named_list(app, &fields)
}

async fn signup(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !guard::from_trusted_page(&headers, &app.origins) {
        return problem(&app, Problem::CrossSite);
    }
    if !guard::is_form(&headers) {
        return problem(&app, Problem::UnsupportedType);
    }
    let client = guard::client_address(peer.ip(), &headers, &app.trusted_proxies);
    if let Err(wait) = app.limits.client(client) {
        let retry_minutes = wait.as_secs().div_ceil(60).max(1);
        return problem(&app, Problem::TooMany { retry_minutes });
    }
    let fields = match read_form(&headers, body, guard::MAX_BODY).await {
        Ok(f) => f,
        Err(p) => return problem(&app, p),
    };
    let field = |k: &str| fields.get(k).map_or("", String::as_str);
    let ticked = ticked_lists(&app.lists, |id| !field(&format!("list-{id}")).is_empty());
    let checked = match guard::check_signup(field("email"), field("name")) {
        Ok(form) if !ticked.is_empty() => Ok(form),
        Ok(_) => Err(guard::FormErrors::default()),
        Err(errors) => Err(errors),
    };
    let form = match checked {
        Ok(form) => form,
        Err(mut errors) => {
            if ticked.is_empty() {
                errors.lists = Some(guard::FieldError::Missing);
            }
            return page(
                &app,
                Page::Form {
                    email: field("email"),
                    name: field("name"),
                    lists: ticked.iter().map(|l| l.id.clone()).collect(),
                    errors,
                },
            );
        }
    };
    let who = app.hasher.short(form.email.as_str());
    // Past an allowance a sign-up gets the same page but no mail, and is not stored: nobody can
    // flood a mailbox (`+tags` and letter case are one mailbox) or, from many clients, the mail
    // server and the database; and the page tells nothing about the address.
    match app.limits.mail(&app.hasher.short(&form.email.mailbox())) {
        MailAllowance::Send { refused_meanwhile } => {
            if let Some(n) = refused_meanwhile {
                log(&format!(
                    "sign-ups send mail again: {n} got none while the ceiling of {} mails per hour was reached",
                    app.mails_per_hour
                ));
            }
        }
        MailAllowance::MailboxLimited => {
            return noted(page(&app, Page::Sent), format!("address={who} limited"));
        }
        MailAllowance::Ceiling { first } => {
            if first {
                log(&format!(
                    "the ceiling of {} service mails per hour is reached: sign-ups get the usual page, \
                     but no mail and no record, until it refills (`confirmation_mails_per_hour`)",
                    app.mails_per_hour
                ));
            }
            return noted(page(&app, Page::Sent), format!("address={who} ceiling"));
        }
    }
    let shared = app.clone();
    let stored = app
        .pool
        .run(move |store| {
            let now = Timestamp::now();
            let requested: Vec<Requested<'_>> = ticked
                .iter()
                .map(|l| Requested {
                    list: &l.id,
                    consent: l.consent.as_deref().unwrap_or_default(),
                })
                .collect();
            let request = SignupRequest {
                email: form.email.as_str(),
                name: form.name.as_deref(),
                lists: &requested,
                now,
                valid_for: shared.valid_for,
            };
            store.signup(&request, |outcome| {
                // The templates were rendered at start: a mail that cannot be built now is the
                // service's failure, not the reader's.
                shared
                    .mailer
                    .for_signup(outcome, form.email.as_str(), now)
                    .map_err(|d| OpError::mail(format!("the mail cannot be built: {}", d.message)))
            })
        })
        .await;
    match stored {
        Ok(_) => {
            wrote(&app);
            app.wake.ring();
            noted(page(&app, Page::Sent), format!("address={who}"))
        }
        Err(e) => unavailable(&app, &e),
    }
}

/// The confirmation link's page: what the link would do, and the button that does it.
async fn confirm_page(State(app): State<Arc<App>>, uri: Uri) -> Response {
    let token = match token_in_query(&uri) {
        Ok(Some(t)) => t,
        Ok(None) => return problem(&app, Problem::TokenMissing),
        Err(p) => return problem(&app, p),
    };
    let lookup = token.clone();
    let found = app
        .pool
        .run(move |store| store.confirmation_link(&lookup, Timestamp::now()))
        .await;
    match found {
        Ok(Link::Open { email, consent }) => page(
            &app,
            Page::Confirm {
                email: &email,
                token: &token,
                consent: &consent,
            },
        ),
        Ok(Link::Used) => problem(&app, Problem::ConfirmUsed),
        Ok(Link::Expired) => problem(&app, Problem::ConfirmExpired),
        Ok(Link::Unknown) => problem(&app, Problem::ConfirmUnknown),
        Err(e) => unavailable(&app, &e),
    }
}

/// The button of the confirmation page: a form from our pages, with the token as a field.
async fn confirm(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    if !guard::from_trusted_page(&headers, &app.origins) {
        return problem(&app, Problem::CrossSite);
    }
    if !guard::is_form(&headers) {
        return problem(&app, Problem::UnsupportedType);
    }
    let fields = match read_form(&headers, body, guard::MAX_BODY).await {
        Ok(f) => f,
        Err(p) => return problem(&app, p),
    };
    let token = match token_field(&fields) {
        Ok(t) => t,
        Err(p) => return problem(&app, p),
    };
    let confirmed = app
        .pool
        .run(move |store| store.confirm(&token, Timestamp::now()))
        .await;
    match confirmed {
        Ok(Confirmed::Now { email }) => {
            wrote(&app);
            let who = app.hasher.short(&email);
            noted(
                page(&app, Page::Confirmed { email: &email }),
                format!("address={who} confirmed"),
            )
        }
        Ok(Confirmed::Used) => problem(&app, Problem::ConfirmUsed),
        Ok(Confirmed::Expired) => problem(&app, Problem::ConfirmExpired),
        Ok(Confirmed::Unknown) => problem(&app, Problem::ConfirmUnknown),
        Err(e) => unavailable(&app, &e),
    }
}

async fn unsubscribe_page(State(app): State<Arc<App>>, uri: Uri) -> Response {
    let token = match token_in_query(&uri) {
        Ok(Some(t)) => t,
        Ok(None) => return problem(&app, Problem::TokenMissing),
        Err(p) => return problem(&app, p),
    };
    let lookup = token.clone();
    let list = list_in_query(&app, &uri);
    match app
        .pool
        .run(move |store| store.lists_by_unsubscribe_token(&lookup))
        .await
    {
        Ok(None) => problem(&app, Problem::UnsubscribeUnknown),
        Ok(Some(s)) if s.status == SubscriberStatus::Unsubscribed => page(
            &app,
            Page::Unsubscribed {
                email: &s.email,
                already: true,
            },
        ),
        Ok(Some(s)) => {
            // The lists they receive, in the order of site.yaml, with their titles.
            let active: Vec<(String, String)> = app
                .lists
                .iter()
                .filter(|l| s.receives(&l.id))
                .map(|l| (l.id.clone(), l.title.clone()))
                .collect();
            let list = list.filter(|l| s.receives(l));
            page(
                &app,
                Page::Unsubscribe {
                    email: &s.email,
                    token: &token,
                    list: list.as_deref(),
                    lists: &active,
                },
            )
        }
        Err(e) => unavailable(&app, &e),
    }
}

async fn unsubscribe(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    let (token, list, via) = match token_in_query(&uri) {
        // The link of the `List-Unsubscribe` header: mail providers POST to it from their own
        // servers (RFC 8058), with no browser and no origin; the token alone is the proof. The
        // body (`List-Unsubscribe=One-Click`, as a form or multipart) says nothing more, but is
        // read all the same: a connection with an unread body cannot take the next request.
        Ok(Some(token)) => {
            if let Err(p) = read_body(&headers, body, guard::MAX_BODY).await {
                return problem(&app, p);
            }
            // The list the mail was sent for; a link from before lists ends the newsletter.
            let list = list_in_query(&app, &uri)
                .unwrap_or_else(|| crate::config::DEFAULT_LIST.to_string());
            (token, Some(list), Via::OneClick)
        }
        Ok(None) => {
            if !guard::from_trusted_page(&headers, &app.origins) {
                return problem(&app, Problem::CrossSite);
            }
            if !guard::is_form(&headers) {
                return problem(&app, Problem::UnsupportedType);
            }
            let fields = match read_form(&headers, body, guard::MAX_BODY).await {
                Ok(f) => f,
                Err(p) => return problem(&app, p),
            };
            // The page's choice: `list` alone ends that list, `scope=alle` every list.
            let list = match fields.get("scope").map(String::as_str) {
                Some("alle") => None,
                _ => named_list(&app, &fields),
            };
            match token_field(&fields) {
                Ok(t) => (t, list, Via::Link),
                Err(p) => return problem(&app, p),
            }
        }
        Err(p) => return problem(&app, p),
    };
    let done = app
        .pool
        .run(move |store| store.unsubscribe(&token, list.as_deref(), via, Timestamp::now()))
        .await;
    match done {
        Ok(Unsubscribed::Now { email }) => {
            wrote(&app);
            let who = app.hasher.short(&email);
            noted(
                page(
                    &app,
                    Page::Unsubscribed {
                        email: &email,
                        already: false,
                    },
                ),
                format!("address={who} unsubscribed via {}", via.as_str()),
            )
        }
        Ok(Unsubscribed::Already { email }) => page(
            &app,
            Page::Unsubscribed {
                email: &email,
                already: true,
            },
        ),
        Ok(Unsubscribed::Unknown) => problem(&app, Problem::UnsubscribeUnknown),
        Err(e) => unavailable(&app, &e),
    }
}

/// The form "Barriere melden" as a page of its own; a link's `?seite=` fills in the page.
async fn feedback_form(State(app): State<Arc<App>>, uri: Uri) -> Response {
    let Some(fb) = &app.feedback else {
        return problem(&app, Problem::NotFound);
    };
    let page_url = feedback::page_in_query(&fb.site, uri.query());
    page(
        &app,
        Page::FeedbackForm {
            description: "",
            page: page_url.as_deref().unwrap_or_default(),
            email: "",
            name: "",
            errors: Default::default(),
        },
    )
}

/// A report: checked like a sign-up (origin, type, size, fields), limited per client and for
/// everybody, then queued as one mail to the team. The log line says that a report was queued,
/// nothing of what it says or who sent it.
async fn send_report(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(fb) = &app.feedback else {
        return problem(&app, Problem::NotFound);
    };
    if !guard::from_trusted_page(&headers, &app.origins) {
        return report_problem(&app, Problem::CrossSite);
    }
    if !guard::is_form(&headers) {
        return report_problem(&app, Problem::UnsupportedType);
    }
    let fields = match read_form(&headers, body, feedback::MAX_BODY).await {
        Ok(f) => f,
        Err(p) => return report_problem(&app, p),
    };
    let field = |k: &str| fields.get(k).map_or("", String::as_str);
    let checked = feedback::check_report(
        &fb.site,
        field("description"),
        field("page"),
        field("email"),
        field("name"),
    );
    let report = match checked {
        Ok(r) => r,
        Err(errors) => {
            return page(
                &app,
                Page::FeedbackForm {
                    description: field("description"),
                    page: field("page"),
                    email: field("email"),
                    name: field("name"),
                    errors,
                },
            );
        }
    };
    // Only a report that will be sent counts: a reader who needs three tries to fill the form
    // in is not one step nearer the limit.
    let client = guard::client_address(peer.ip(), &headers, &app.trusted_proxies);
    match fb.limits.take(client) {
        Allowance::Send { after_refusals } => {
            if after_refusals {
                log("reports are sent again: the hourly ceiling has room");
            }
        }
        Allowance::Client(wait) => {
            let retry_minutes = wait.as_secs().div_ceil(60).max(1);
            return noted(
                report_problem(&app, Problem::TooMany { retry_minutes }),
                "report limited".into(),
            );
        }
        Allowance::Busy { wait, first } => {
            if first {
                log(&format!(
                    "the ceiling of {} reports per hour is reached: the form asks readers to try later \
                     or to write to `feedback.to` until it refills (`reports_per_hour`)",
                    fb.per_hour
                ));
            }
            let retry_minutes = wait.as_secs().div_ceil(60).max(1);
            return noted(
                report_problem(&app, Problem::Busy { retry_minutes }),
                "report ceiling".into(),
            );
        }
    }
    let now = Timestamp::now();
    let mail = match fb.mailer.for_report(&report, now) {
        Ok(m) => m,
        Err(e) => {
            log(&format!("report cannot become a mail: {}", e.message));
            return report_problem(&app, Problem::Unavailable);
        }
    };
    let queued = app
        .pool
        .run(move |store| store.queue_mail(&mail, now))
        .await;
    match queued {
        Ok(()) => {
            wrote(&app);
            app.wake.ring();
            noted(
                page(
                    &app,
                    Page::FeedbackSent {
                        page: report.page.as_deref().unwrap_or_default(),
                        email: report.email.as_ref().map_or("", |e| e.as_str()),
                    },
                ),
                "report queued".into(),
            )
        }
        Err(e) => {
            log(&format!("database: {e}"));
            report_problem(&app, Problem::Unavailable)
        }
    }
}

async fn health(State(app): State<Arc<App>>) -> Response {
    match app.pool.run(|store| store.queued()).await {
        Ok(queued) => (
            StatusCode::OK,
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("ok\nmails queued: {queued}\n"),
        )
            .into_response(),
        Err(e) => {
            log(&format!("database: {e}"));
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(CONTENT_TYPE, "text/plain; charset=utf-8")],
                "database unavailable\n",
            )
                .into_response()
        }
    }
}

async fn not_found(State(app): State<Arc<App>>) -> Response {
    problem(&app, Problem::NotFound)
}

/// The `token` of the query string: `Ok(None)` without one; only what [`is_token`] accepts.
pub(crate) fn token_in_query(uri: &Uri) -> Result<Option<String>, Problem> {
    let query = uri.query().unwrap_or_default();
    if query.len() > guard::MAX_QUERY {
        return Err(Problem::TokenMalformed);
    }
    let fields = guard::parse_form(query.as_bytes()).map_err(|_| Problem::BadForm)?;
    match fields.get("token").map(String::as_str) {
        None | Some("") => Ok(None),
        Some(t) if is_token(t) => Ok(Some(t.to_string())),
        Some(_) => Err(Problem::TokenMalformed),
    }
}

/// The `token` field of a posted form: the buttons of the confirmation and unsubscribe pages.
pub(crate) fn token_field(fields: &HashMap<String, String>) -> Result<String, Problem> {
    match fields.get("token").map(String::as_str) {
        None | Some("") => Err(Problem::TokenMissing),
        Some(t) if is_token(t) => Ok(t.to_string()),
        Some(_) => Err(Problem::TokenMalformed),
    }
}

/// The fields of a form body of at most `limit` bytes.
async fn read_form(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<HashMap<String, String>, Problem> {
    let bytes = read_body(headers, body, limit).await?;
    guard::parse_form(&bytes).map_err(|_| Problem::BadForm)
}

/// How much of a body that is too large is still read, and thrown away, before the 413 goes out:
/// a browser still sending its form would otherwise meet a closed connection (and show a network
/// error, or a proxy a 502) instead of the page that says what is wrong. Beyond this the answer
/// goes out at once and the connection closes: nobody gets the service to read megabytes.
const DRAIN_LIMIT: usize = 1 << 20;
/// How long the rest of a too-large body may take to arrive.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// A body of at most `limit` bytes ([`guard::MAX_BODY`], [`feedback::MAX_BODY`]), read within
/// [`BODY_TIMEOUT`].
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, Problem> {
    use tokio_stream::StreamExt as _;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut stream = body.into_data_stream();
    if let Some(declared) = declared.filter(|&n| n > limit) {
        if declared <= DRAIN_LIMIT {
            drain(&mut stream, declared).await;
        }
        return Err(Problem::TooLarge);
    }
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(BODY_TIMEOUT, async {
        while let Some(chunk) = stream.next().await {
            // A body that broke off is as unusable as one too long.
            let chunk = chunk.map_err(|_| Problem::TooLarge)?;
            if bytes.len() + chunk.len() > limit {
                return Err(Problem::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(())
    })
    .await;
    match read {
        Ok(Ok(())) => Ok(bytes.into()),
        // Longer than allowed, sent without a length: read what remains (within bounds) so the
        // client gets the answer.
        Ok(Err(Problem::TooLarge)) => {
            drain(&mut stream, DRAIN_LIMIT).await;
            Err(Problem::TooLarge)
        }
        Ok(Err(problem)) => Err(problem),
        Err(_) => Err(Problem::TooSlow),
    }
}

/// Reads and discards up to `at_most` bytes of what remains of a body, within [`DRAIN_TIMEOUT`].
async fn drain(stream: &mut axum::body::BodyDataStream, at_most: usize) {
    use tokio_stream::StreamExt as _;
    let mut seen = 0usize;
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while seen <= at_most {
            match stream.next().await {
                Some(Ok(chunk)) => seen += chunk.len(),
                _ => break,
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(id: &str) -> ListConfig {
        ListConfig {
            id: id.into(),
            title: id.into(),
            description: None,
            consent: Some("Ja.".into()),
        }
    }

    /// A stranger's form names lists only by ticking the site's own: a field for a list the site
    /// does not declare (a made-up id, a path, a control character) is never looked at.
    #[test]
    fn only_declared_lists_can_be_ticked() {
        let lists = [list("newsletter"), list("sprechstunden")];
        let form: HashMap<String, String> = [
            ("list-sprechstunden", "ja"),
            ("list-../../etc", "ja"),
            ("list-admin\r\n", "ja"),
            ("list-", "ja"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let ticked = ticked_lists(&lists, |id| form.contains_key(&format!("list-{id}")));
        assert_eq!(
            ticked.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
            ["sprechstunden"],
            "only the declared list that was ticked"
        );
        assert!(
            ticked_lists(&lists, |_| false).is_empty(),
            "nothing ticked, nothing asked for"
        );
        assert_eq!(
            ticked_lists(&lists[..1], |_| false).len(),
            1,
            "a site with one list needs no box"
        );
    }

    #[test]
    fn the_log_shows_only_our_own_paths() {
        assert_eq!(logged_path("/newsletter/anmelden"), "/newsletter/anmelden");
        assert_eq!(logged_path("/healthz"), "/healthz");
        assert_eq!(
            logged_path("/newsletter/abmelden/erika@example.org"),
            "(unknown-path)"
        );
        assert_eq!(
            logged_path("/0123456789abcdef0123456789abcdef"),
            "(unknown-path)"
        );
    }

    #[test]
    fn tokens_in_queries_and_forms() {
        let t = "0123456789abcdef0123456789abcdef";
        let uri = |q: &str| format!("/x?{q}").parse::<Uri>().unwrap();
        assert_eq!(
            token_in_query(&uri(&format!("token={t}"))),
            Ok(Some(t.into()))
        );
        assert_eq!(token_in_query(&"/x".parse().unwrap()), Ok(None));
        assert_eq!(token_in_query(&uri("token=")), Ok(None));
        assert_eq!(
            token_in_query(&uri("token=abc")),
            Err(Problem::TokenMalformed)
        );
        assert_eq!(
            token_in_query(&uri(&format!("token={t}&token={t}"))),
            Err(Problem::BadForm)
        );
        let long = format!("token={t}&x={}", "a".repeat(600));
        assert_eq!(token_in_query(&uri(&long)), Err(Problem::TokenMalformed));
        let fields = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>()
        };
        assert_eq!(token_field(&fields(&[("token", t)])), Ok(t.into()));
        assert_eq!(token_field(&fields(&[])), Err(Problem::TokenMissing));
        assert_eq!(
            token_field(&fields(&[("token", &t.to_uppercase())])),
            Err(Problem::TokenMalformed)
        );
    }

    proptest! {
        #[test]
        fn any_query_gives_a_well_formed_token_or_a_problem(query in "[ -~]{0,700}") {
            if let Ok(uri) = format!("/newsletter/bestaetigen?{query}").parse::<Uri>() {
                match token_in_query(&uri) {
                    Ok(Some(t)) => prop_assert!(is_token(&t)),
                    Ok(None) => {}
                    Err(p) => prop_assert!(matches!(
                        p,
                        Problem::TokenMalformed | Problem::BadForm
                    )),
                }
            }
        }

        #[test]
        fn any_form_body_gives_a_well_formed_token_or_a_problem(
            body in proptest::collection::vec(any::<u8>(), 0..300)
        ) {
            if let Ok(fields) = guard::parse_form(&body) {
                match token_field(&fields) {
                    Ok(t) => prop_assert!(is_token(&t)),
                    Err(p) => prop_assert!(matches!(
                        p,
                        Problem::TokenMalformed | Problem::TokenMissing
                    )),
                }
            }
        }
    }
}
