//! The service's pages, rendered by the site's theme (`templates/subscriptions/*.html`) so they
//! look like the site, with its header, navigation and footer. Rust decides which page and
//! which codes; every word readers see is in the templates. The pages of the feedback form
//! (`feedback-*.html`) are needed only when `site.yaml` has `feedback:`.

use std::sync::Arc;

use axum::http::StatusCode;
use tera::{Context, Value};

use super::feedback::ReportErrors;
use super::guard::{FieldError, FormErrors};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::render::context::obj;
use crate::render::templates::Templates;
use crate::site::Site;
use crate::theme::Theme;

/// One page of the service.
#[derive(Debug, Clone)]
pub enum Page<'a> {
    /// The sign-up form, empty or with what was typed and what is wrong with it.
    Form {
        email: &'a str,
        name: &'a str,
        /// The ids of the lists ticked.
        lists: Vec<String>,
        errors: FormErrors,
    },
    /// After a sign-up, whatever the address's state: "check your mailbox".
    Sent,
    /// The confirmation link's page, with its button: opening the link confirms nothing.
    /// `consent` is the statement of the link's request, the one the button records.
    Confirm {
        email: &'a str,
        token: &'a str,
        consent: &'a str,
    },
    Confirmed {
        email: &'a str,
    },
    /// The unsubscribe link's page, with its buttons: the list of the mail (`list`, from the
    /// link) and all lists (`lists`: the ones received, as id and title).
    Unsubscribe {
        email: &'a str,
        token: &'a str,
        list: Option<&'a str>,
        lists: &'a [(String, String)],
    },
    Unsubscribed {
        email: &'a str,
        already: bool,
    },
    Problem(Problem),
    /// "Barriere melden": the form, empty, with the page of a link's `?seite=`, or with what was
    /// typed and what is wrong with it.
    FeedbackForm {
        description: &'a str,
        page: &'a str,
        email: &'a str,
        name: &'a str,
        errors: ReportErrors,
    },
    /// After a report: thanks, and whether an answer can come (`email` empty: no address given).
    FeedbackSent {
        page: &'a str,
        email: &'a str,
    },
    /// What went wrong with a report, in the feedback form's words.
    FeedbackProblem(Problem),
}

/// Everything that can go wrong, each with its status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    TokenMissing,
    TokenMalformed,
    ConfirmUnknown,
    ConfirmUsed,
    ConfirmExpired,
    UnsubscribeUnknown,
    /// Too many sign-ups (or reports) from this client; try again in this many minutes.
    TooMany {
        retry_minutes: u64,
    },
    /// Too many reports from everybody together; try again in this many minutes.
    Busy {
        retry_minutes: u64,
    },
    CrossSite,
    UnsupportedType,
    BadForm,
    TooLarge,
    /// The form's body did not arrive in time.
    TooSlow,
    NotFound,
    /// The database or the templates failed: our fault, try later.
    Unavailable,
}

impl Problem {
    pub fn code(self) -> &'static str {
        match self {
            Problem::TokenMissing => "token_missing",
            Problem::TokenMalformed => "token_malformed",
            Problem::ConfirmUnknown => "confirm_unknown",
            Problem::ConfirmUsed => "confirm_used",
            Problem::ConfirmExpired => "confirm_expired",
            Problem::UnsubscribeUnknown => "unsubscribe_unknown",
            Problem::TooMany { .. } => "too_many",
            Problem::Busy { .. } => "busy",
            Problem::CrossSite => "cross_site",
            Problem::UnsupportedType => "unsupported_type",
            Problem::BadForm => "bad_form",
            Problem::TooLarge => "too_large",
            Problem::TooSlow => "too_slow",
            Problem::NotFound => "not_found",
            Problem::Unavailable => "unavailable",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Problem::TokenMissing | Problem::TokenMalformed | Problem::BadForm => {
                StatusCode::BAD_REQUEST
            }
            Problem::ConfirmUnknown | Problem::UnsubscribeUnknown | Problem::NotFound => {
                StatusCode::NOT_FOUND
            }
            // The link existed and will not work again.
            Problem::ConfirmUsed | Problem::ConfirmExpired => StatusCode::GONE,
            Problem::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            Problem::CrossSite => StatusCode::FORBIDDEN,
            Problem::UnsupportedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Problem::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Problem::TooSlow => StatusCode::REQUEST_TIMEOUT,
            Problem::Unavailable | Problem::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The minutes for `Retry-After`, for the problems that pass.
    pub fn retry_minutes(self) -> Option<u64> {
        match self {
            Problem::TooMany { retry_minutes } | Problem::Busy { retry_minutes } => {
                Some(retry_minutes)
            }
            _ => None,
        }
    }
}

impl Page<'_> {
    pub fn status(&self) -> StatusCode {
        match self {
            Page::Form { errors, .. } if *errors != FormErrors::default() => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Page::FeedbackForm { errors, .. } if errors.any() => StatusCode::UNPROCESSABLE_ENTITY,
            Page::Problem(p) | Page::FeedbackProblem(p) => p.status(),
            _ => StatusCode::OK,
        }
    }

    fn template(&self) -> &'static str {
        match self {
            Page::Form { .. } => "subscriptions/form.html",
            Page::Sent => "subscriptions/sent.html",
            Page::Confirm { .. } => "subscriptions/confirm.html",
            Page::Confirmed { .. } => "subscriptions/confirmed.html",
            Page::Unsubscribe { .. } => "subscriptions/unsubscribe.html",
            Page::Unsubscribed { .. } => "subscriptions/unsubscribed.html",
            Page::Problem(_) => "subscriptions/problem.html",
            Page::FeedbackForm { .. } => FEEDBACK_FORM,
            Page::FeedbackSent { .. } => "subscriptions/feedback-sent.html",
            Page::FeedbackProblem(_) => "subscriptions/feedback-problem.html",
        }
    }
}

const TEMPLATES: [&str; 7] = [
    "subscriptions/form.html",
    "subscriptions/sent.html",
    "subscriptions/confirm.html",
    "subscriptions/confirmed.html",
    "subscriptions/unsubscribe.html",
    "subscriptions/unsubscribed.html",
    "subscriptions/problem.html",
];

const FEEDBACK_FORM: &str = "subscriptions/feedback-form.html";
const FEEDBACK_TEMPLATES: [&str; 3] = [
    FEEDBACK_FORM,
    "subscriptions/feedback-sent.html",
    "subscriptions/feedback-problem.html",
];

/// The theme's service pages, ready to render.
pub struct Pages {
    templates: Templates,
    /// `service` in every page: addresses and settings.
    service: Value,
}

/// What every page knows about the service.
pub struct ServiceFacts<'a> {
    pub signup_url: &'a str,
    pub confirm_url: &'a str,
    pub unsubscribe_url: &'a str,
    pub archive_url: &'a str,
    pub privacy_url: &'a str,
    pub consent: &'a str,
    /// The site's lists, each with its consent statement filled in.
    pub lists: &'a [crate::config::ListConfig],
    pub confirm_hours: u32,
    /// The feedback form's address and where reports go; `None` without `feedback:`.
    pub feedback: Option<FeedbackFacts<'a>>,
}

/// What the pages of the feedback form know.
pub struct FeedbackFacts<'a> {
    pub url: &'a str,
    pub to: &'a str,
}

impl Pages {
    /// Compiles the theme and checks that it has every page, so a missing one stops the start,
    /// not a reader's request.
    pub fn new(
        site: &Arc<Site>,
        theme: &Theme,
        facts: &ServiceFacts<'_>,
    ) -> Result<Pages, Diagnostics> {
        let templates = crate::render::page_templates(site, theme)?;
        let lacks = |names: &[&str], what: &str, hint: &str| -> Result<(), Diagnostic> {
            let missing: Vec<String> = names
                .iter()
                .filter(|t| !templates.has(t))
                .map(|t| format!("templates/{t}"))
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            Err(Diagnostic::error(format!(
                "the theme `{}` has no page for {what}: {}",
                theme.name,
                missing.join(", ")
            ))
            .hint(hint.to_string()))
        };
        lacks(
            &TEMPLATES,
            "the subscription service",
            "copy `templates/subscriptions/` from the default theme into your theme and adapt it",
        )?;
        if facts.feedback.is_some() {
            lacks(
                &FEEDBACK_TEMPLATES,
                "the feedback form (`feedback:` in site.yaml)",
                "copy `templates/subscriptions/feedback-*.html` and `templates/partials/feedback-form.html` from the default theme into your theme and adapt them",
            )?;
        }
        let service = obj(vec![
            ("signup_url", Value::from(facts.signup_url)),
            ("confirm_url", Value::from(facts.confirm_url)),
            ("unsubscribe_url", Value::from(facts.unsubscribe_url)),
            ("archive_url", Value::from(facts.archive_url)),
            ("privacy_url", Value::from(facts.privacy_url)),
            ("consent", Value::from(facts.consent)),
            ("lists", crate::render::list_values(facts.lists)),
            ("confirm_hours", Value::from(facts.confirm_hours)),
            (
                "feedback_url",
                Value::from(facts.feedback.as_ref().map_or("", |f| f.url)),
            ),
            (
                "feedback_to",
                Value::from(facts.feedback.as_ref().map_or("", |f| f.to)),
            ),
        ]);
        let pages = Pages { templates, service };
        // Every page once at start: a template error shows now, with its line, not later as a 503.
        let mut samples = sample_pages();
        if facts.feedback.is_some() {
            samples.extend(sample_feedback_pages());
        }
        for page in samples {
            pages.render(&page).map_err(Diagnostics::from)?;
        }
        Ok(pages)
    }

    pub fn render(&self, page: &Page<'_>) -> Result<String, Diagnostic> {
        let mut context = Context::new();
        context.insert_value("service", self.service.clone());
        match page {
            Page::Form {
                email,
                name,
                lists,
                errors,
            } => {
                context.insert_value(
                    "form",
                    obj(vec![
                        ("email", Value::from(*email)),
                        ("name", Value::from(*name)),
                        ("lists", Value::from(lists.clone())),
                        (
                            "errors",
                            obj(vec![
                                ("email", code(errors.email)),
                                ("name", code(errors.name)),
                                ("lists", code(errors.lists)),
                            ]),
                        ),
                    ]),
                );
            }
            Page::Sent => {}
            Page::Confirmed { email } => context.insert("email", email),
            Page::Confirm {
                email,
                token,
                consent,
            } => {
                context.insert("email", email);
                context.insert("token", token);
                context.insert("consent", consent);
            }
            Page::Unsubscribe {
                email,
                token,
                list,
                lists,
            } => {
                context.insert("email", email);
                context.insert("token", token);
                context.insert("list", list.unwrap_or_default());
                let lists: Vec<Value> = lists
                    .iter()
                    .map(|(id, title)| {
                        obj(vec![
                            ("id", Value::from(id.as_str())),
                            ("title", Value::from(title.as_str())),
                        ])
                    })
                    .collect();
                context.insert("lists", &lists);
            }
            Page::Unsubscribed { email, already } => {
                context.insert("email", email);
                context.insert("already", already);
            }
            Page::Problem(problem) | Page::FeedbackProblem(problem) => {
                context.insert("problem", problem.code());
                context.insert("status", &problem.status().as_u16());
                if let Some(retry_minutes) = problem.retry_minutes() {
                    context.insert("retry_minutes", &retry_minutes);
                }
            }
            Page::FeedbackForm {
                description,
                page,
                email,
                name,
                errors,
            } => {
                context.insert_value(
                    "form",
                    obj(vec![
                        ("description", Value::from(*description)),
                        ("page", Value::from(*page)),
                        ("email", Value::from(*email)),
                        ("name", Value::from(*name)),
                        (
                            "errors",
                            obj(vec![
                                ("description", code(errors.description)),
                                ("page", code(errors.page)),
                                ("email", code(errors.email)),
                                ("name", code(errors.name)),
                            ]),
                        ),
                    ]),
                );
            }
            Page::FeedbackSent { page, email } => {
                // Not `page`: base.html takes a `page` for the content page being shown.
                context.insert("page_url", page);
                context.insert("email", email);
            }
        }
        self.templates.render(page.template(), &context, None)
    }
}

/// A field's error as the templates see it: its code, or none.
fn code(e: Option<FieldError>) -> Value {
    e.map_or_else(Value::none, |e| Value::from(e.code()))
}

/// One of each page of the feedback form, with every field wrong once and every problem.
fn sample_feedback_pages() -> Vec<Page<'static>> {
    let mut pages = vec![
        Page::FeedbackForm {
            description: "",
            page: "https://example.org/",
            email: "",
            name: "",
            errors: ReportErrors::default(),
        },
        Page::FeedbackForm {
            description: "",
            page: "x",
            email: "y",
            name: "z",
            errors: ReportErrors {
                description: Some(FieldError::Missing),
                page: Some(FieldError::Invalid),
                email: Some(FieldError::Invalid),
                name: Some(FieldError::TooLong),
            },
        },
        Page::FeedbackForm {
            description: "…",
            page: "",
            email: "",
            name: "",
            errors: ReportErrors {
                description: Some(FieldError::TooLong),
                page: Some(FieldError::TooLong),
                email: Some(FieldError::TooLong),
                name: Some(FieldError::Invalid),
            },
        },
        Page::FeedbackSent {
            page: "https://example.org/",
            email: "vorschau@example.org",
        },
        Page::FeedbackSent {
            page: "",
            email: "",
        },
    ];
    pages.extend(
        [
            Problem::TooMany { retry_minutes: 12 },
            Problem::Busy { retry_minutes: 3 },
            Problem::CrossSite,
            Problem::UnsupportedType,
            Problem::BadForm,
            Problem::TooLarge,
            Problem::TooSlow,
            Problem::Unavailable,
        ]
        .map(Page::FeedbackProblem),
    );
    pages
}

/// One of each page, with every problem.
/// The lists of the sample unsubscribe page (only its shape matters: templates are tried out).
static SAMPLE_LISTS: std::sync::LazyLock<[(String, String); 2]> = std::sync::LazyLock::new(|| {
    [
        ("newsletter".into(), "Newsletter".into()),
        ("sprechstunden".into(), "Sprechstunden".into()),
    ]
});

fn sample_pages() -> Vec<Page<'static>> {
    let mut pages = vec![
        Page::Form {
            email: "",
            name: "",
            lists: Vec::new(),
            errors: FormErrors::default(),
        },
        Page::Form {
            email: "x",
            name: "y",
            lists: vec!["newsletter".into()],
            errors: FormErrors {
                email: Some(super::guard::FieldError::Invalid),
                name: Some(super::guard::FieldError::TooLong),
                lists: Some(super::guard::FieldError::Missing),
            },
        },
        Page::Sent,
        Page::Confirm {
            email: "vorschau@example.org",
            token: "0123456789abcdef0123456789abcdef",
            consent: "Einwilligung",
        },
        Page::Confirmed {
            email: "vorschau@example.org",
        },
        Page::Unsubscribe {
            email: "vorschau@example.org",
            token: "0123456789abcdef0123456789abcdef",
            list: Some("newsletter"),
            lists: &*SAMPLE_LISTS,
        },
        Page::Unsubscribed {
            email: "vorschau@example.org",
            already: true,
        },
    ];
    pages.extend(
        [
            Problem::TokenMissing,
            Problem::TokenMalformed,
            Problem::ConfirmUnknown,
            Problem::ConfirmUsed,
            Problem::ConfirmExpired,
            Problem::UnsubscribeUnknown,
            Problem::TooMany { retry_minutes: 12 },
            Problem::CrossSite,
            Problem::UnsupportedType,
            Problem::BadForm,
            Problem::TooLarge,
            Problem::TooSlow,
            Problem::NotFound,
            Problem::Unavailable,
        ]
        .map(Page::Problem),
    );
    pages
}
