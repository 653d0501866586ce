//! What the service checks before it trusts a request: where a form was sent from, who the
//! client is, what the form holds, and how often the client, the mailbox and everybody together
//! came before. Pure functions and small types, so each rule has its table of cases.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::{CONTENT_TYPE, ORIGIN};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::newsletter::address::{AddressError, Email, NameError, clean_name};
use crate::sync::lock;

pub use crate::newsletter::address::{MAX_EMAIL, MAX_NAME};
/// Largest form body: two short fields need far less.
pub const MAX_BODY: usize = 4096;
/// Longest query string: a token needs 38 characters.
pub const MAX_QUERY: usize = 512;

/// Whether a browser sent the form from a page we trust (our site or the service itself).
///
/// CSRF protection without cookies or hidden tokens, which a static page cannot carry: browsers
/// say where a request comes from in `Sec-Fetch-Site` (all current ones) and `Origin` (all since
/// about 2020). A cross-site request must come from an allowed origin; a request with neither
/// header is not from a browser's form (or from one too old to be lured into it).
pub fn from_trusted_page(headers: &HeaderMap, allowed: &[String]) -> bool {
    let origin = headers.get(ORIGIN).and_then(|v| v.to_str().ok());
    let origin_allowed =
        || origin.is_some_and(|o| allowed.iter().any(|a| a.eq_ignore_ascii_case(o)));
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some("same-origin") | Some("none") => true,
        Some(_) => origin_allowed(),
        None => origin.is_none() || origin_allowed(),
    }
}

/// Whether the body is an HTML form (`application/x-www-form-urlencoded`, any parameters).
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Whether `peer` is a proxy we trust: one on this machine, or listed in `trusted_proxies`. Its
/// `X-Forwarded-For` names the client, and its connections are not counted as one client's.
/// An IPv4 peer of a dual-stack socket (`::ffff:127.0.0.1`) counts as the IPv4 address.
pub fn is_proxy(peer: IpAddr, trusted: &[IpAddr]) -> bool {
    let peer = peer.to_canonical();
    peer.is_loopback() || trusted.iter().any(|t| t.to_canonical() == peer)
}

/// The client a request comes from: the peer, or — when the peer is a proxy we trust
/// ([`is_proxy`]) — the last address the proxy added to `X-Forwarded-For`. Always one of the two.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !is_proxy(peer, trusted) {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()
        .and_then(|last| last.trim().parse().ok())
        .unwrap_or(peer)
}

/// The part of a client address that stands for one client: IPv6 users get a whole /64 each, so
/// counting single addresses would let one of them through unlimited.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Why a form body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadForm {
    /// A field appeared twice: no browser sends that for our forms.
    Repeated(String),
}

/// The fields of a form body (`a=1&b=2`), each at most once. Unknown fields are kept and
/// ignored by the caller; bytes that are not UTF-8 become U+FFFD and fail validation later.
pub fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, BadForm> {
    let mut fields = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        if fields.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(BadForm::Repeated(k.into_owned()));
        }
    }
    Ok(fields)
}

/// What is wrong with an input field; the theme turns the code into a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldError {
    Missing,
    Invalid,
    TooLong,
}

impl FieldError {
    pub fn code(self) -> &'static str {
        match self {
            FieldError::Missing => "missing",
            FieldError::Invalid => "invalid",
            FieldError::TooLong => "too_long",
        }
    }
}

/// A sign-up as typed, checked: the address in its one stored form, the name cleaned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignupForm {
    pub email: Email,
    pub name: Option<String>,
}

/// The errors of a sign-up form, by field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormErrors {
    pub email: Option<FieldError>,
    pub name: Option<FieldError>,
    /// With several lists: none ticked ([`FieldError::Missing`]).
    pub lists: Option<FieldError>,
}

/// Checks the sign-up fields with the rules every way into the store uses
/// ([`Email::parse`], [`clean_name`]): only an address the mail library can send to is taken, so
/// a sign-up never ends in a mail that cannot be built.
pub fn check_signup(email: &str, name: &str) -> Result<SignupForm, FormErrors> {
    let email = Email::parse(email).map_err(|e| match e {
        AddressError::Empty => FieldError::Missing,
        AddressError::TooLong => FieldError::TooLong,
        AddressError::ControlCharacter
        | AddressError::Malformed
        | AddressError::Quoted
        | AddressError::Domain => FieldError::Invalid,
    });
    let name = clean_name(name).map_err(|e| match e {
        NameError::TooLong => FieldError::TooLong,
        NameError::ControlCharacter => FieldError::Invalid,
    });
    match (email, name) {
        (Ok(email), Ok(name)) => Ok(SignupForm { email, name }),
        (email, name) => Err(FormErrors {
            email: email.err(),
            name: name.err(),
            lists: None,
        }),
    }
}

/// What the limits say about one more mail from a sign-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailAllowance {
    /// Send it. `refused_meanwhile` is set on the first mail after the ceiling had been reached:
    /// how many sign-ups got no mail meanwhile, for the one log line that says it is over.
    Send { refused_meanwhile: Option<u64> },
    /// This mailbox had its mails for now.
    MailboxLimited,
    /// All mailboxes together had theirs; `first` for the sign-up that reached the ceiling, so
    /// the log says it once, not once per request.
    Ceiling { first: bool },
}

/// How often sign-ups may come, per client, per mailbox, and for everybody together (GCRA and a
/// token bucket: the allowance refills evenly over the hour, so a burst uses it up and a steady
/// trickle is never blocked).
pub struct Limits {
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    per_mailbox: DefaultKeyedRateLimiter<String>,
    ceiling: Ceiling,
    clock: DefaultClock,
}

impl Limits {
    pub fn new(per_client_per_hour: u32, per_mailbox_per_hour: u32, mails_per_hour: u32) -> Limits {
        let quota = |n: u32| Quota::per_hour(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        Limits {
            per_client: RateLimiter::keyed(quota(per_client_per_hour)),
            per_mailbox: RateLimiter::keyed(quota(per_mailbox_per_hour)),
            ceiling: Ceiling::per_hour(mails_per_hour),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(wait)` if the client has used up its sign-ups for now.
    pub fn client(&self, ip: IpAddr) -> Result<(), Duration> {
        self.per_client
            .check_key(&client_key(ip))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Whether a sign-up for the mailbox `mailbox_key` (a keyed hash of [`Email::mailbox`], so
    /// `+tags` and letter case count as one mailbox, and the limiter keeps no address) may send
    /// its mail now.
    ///
    /// The order matters. The ceiling is looked at first without taking from it: while it is
    /// reached, the mailbox limiter learns no new keys, so a flood of made-up addresses cannot
    /// grow it. The mailbox is counted before the ceiling is taken from: a flood against one
    /// mailbox is stopped by its own limit and does not use up everybody's mails.
    pub fn mail(&self, mailbox_key: &str) -> MailAllowance {
        if !self.ceiling.has_room(Instant::now()) {
            return MailAllowance::Ceiling {
                first: self.ceiling.refused(),
            };
        }
        if self
            .per_mailbox
            .check_key(&mailbox_key.to_string())
            .is_err()
        {
            return MailAllowance::MailboxLimited;
        }
        match self.ceiling.take(Instant::now()) {
            Some(refused_meanwhile) => MailAllowance::Send { refused_meanwhile },
            None => MailAllowance::Ceiling {
                first: self.ceiling.refused(),
            },
        }
    }

    /// Forgets clients and mailboxes whose allowance is full again: the maps stay small.
    pub fn forget_idle(&self) {
        self.per_client.retain_recent();
        self.per_client.shrink_to_fit();
        self.per_mailbox.retain_recent();
        self.per_mailbox.shrink_to_fit();
    }
}

/// The global ceiling of the service's mails: a token bucket of `capacity` mails that refills
/// `capacity` per hour, evenly. Past it sign-ups look the same to the reader but send nothing and
/// store nothing, so neither the mail server's reputation nor the database pays for a flood.
struct Ceiling {
    capacity: f64,
    per_second: f64,
    state: Mutex<Bucket>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
    /// Sign-ups refused since the ceiling was reached; `None` while it is not.
    refused: Option<u64>,
}

impl Ceiling {
    fn per_hour(n: u32) -> Ceiling {
        let capacity = f64::from(n.max(1));
        Ceiling {
            capacity,
            per_second: capacity / 3600.0,
            state: Mutex::new(Bucket {
                tokens: capacity,
                at: Instant::now(),
                refused: None,
            }),
        }
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.capacity);
        bucket.at = now.max(bucket.at);
    }

    fn has_room(&self, now: Instant) -> bool {
        // Deliberately not `sync::lock`: a poisoned lock means a panic while counting; then no
        // mail rather than a limit that may be wrong (fails closed). `refused` still counts, so
        // the log says that the ceiling is reached.
        let Ok(mut bucket) = self.state.lock() else {
            return false;
        };
        self.refill(&mut bucket, now);
        bucket.tokens >= 1.0
    }

    /// Takes one mail; `Some(refused meanwhile)` on success, `None` when there is no room.
    ///
    /// A time of refusals ends (`Some(Some(n))`) only once a tenth of the ceiling has come back:
    /// under a steady flood the bucket refills a mail at a time and is emptied at once, which
    /// would otherwise log two lines per mail.
    fn take(&self, now: Instant) -> Option<Option<u64>> {
        // Deliberately not `sync::lock`: no mail on a poisoned lock, as in `has_room`.
        let Ok(mut bucket) = self.state.lock() else {
            return None;
        };
        self.refill(&mut bucket, now);
        if bucket.tokens < 1.0 {
            return None;
        }
        let recovered = bucket.tokens >= (self.capacity / 10.0).max(1.0);
        bucket.tokens -= 1.0;
        Some(if recovered {
            bucket.refused.take()
        } else {
            None
        })
    }

    /// Counts a refused sign-up; true for the first one since the ceiling was reached.
    fn refused(&self) -> bool {
        // Also on a poisoned lock: the first refusal of a ceiling that fails closed is logged.
        let mut bucket = lock(&self.state);
        match &mut bucket.refused {
            Some(n) => {
                *n += 1;
                false
            }
            None => {
                bucket.refused = Some(1);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn forms_from_other_sites_are_refused() {
        let allowed = vec!["https://ozg.example.org".to_string()];
        let cases: [(&[(&'static str, &'static str)], bool); 8] = [
            (&[("sec-fetch-site", "same-origin")], true),
            (&[("sec-fetch-site", "none")], true),
            (
                &[
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "https://ozg.example.org"),
                ],
                true,
            ),
            (
                &[
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "https://evil.example"),
                ],
                false,
            ),
            (&[("sec-fetch-site", "same-site")], false),
            (&[("origin", "https://evil.example")], false),
            (&[("origin", "null")], false),
            // curl, a mail provider's one-click POST, a browser from 2015
            (&[], true),
        ];
        for (h, expected) in cases {
            assert_eq!(from_trusted_page(&headers(h), &allowed), expected, "{h:?}");
        }
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let h = headers(&[("x-forwarded-for", "203.0.113.9, 198.51.100.7")]);
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            client_address(local, &h, &[]),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_address(proxy, &h, &[]), proxy);
        assert_eq!(
            client_address(proxy, &h, &[proxy]),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        let junk = headers(&[("x-forwarded-for", "unknown")]);
        assert_eq!(client_address(local, &junk, &[]), local);
        assert_eq!(
            client_key("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_key("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn sign_up_fields() {
        let long = format!("{}@example.org", "a".repeat(250));
        let cases: [(&str, &str, Option<FieldError>, Option<FieldError>); 11] = [
            ("  erika@example.org ", " Erika ", None, None),
            ("", "", Some(FieldError::Missing), None),
            ("erika", "", Some(FieldError::Invalid), None),
            ("erika@localhost", "", Some(FieldError::Invalid), None),
            (
                "erika@example.org\r\nBcc: x@y.z",
                "",
                Some(FieldError::Invalid),
                None,
            ),
            (&long, "", Some(FieldError::TooLong), None),
            (
                "erika@example.org",
                "Erika\nMustermann",
                None,
                Some(FieldError::Invalid),
            ),
            (
                "erika@example.org",
                &"x".repeat(101),
                None,
                Some(FieldError::TooLong),
            ),
            (
                "erika@example.org",
                "\u{202e}akirE",
                None,
                Some(FieldError::Invalid),
            ),
            (
                "erika@example.org",
                "\u{1b}[31mErika",
                None,
                Some(FieldError::Invalid),
            ),
            (
                "erika@example.org",
                "Erika\u{0}",
                None,
                Some(FieldError::Invalid),
            ),
        ];
        for (email, name, e, n) in cases {
            match check_signup(email, name) {
                Ok(f) => {
                    assert_eq!((e, n), (None, None), "{email:?} {name:?} passed");
                    assert_eq!(f.email.as_str(), "erika@example.org");
                    assert_eq!(f.name.as_deref(), Some("Erika"));
                }
                Err(errors) => assert_eq!((errors.email, errors.name), (e, n), "{email:?}"),
            }
        }
    }

    #[test]
    fn an_address_the_mail_library_cannot_send_to_is_an_invalid_field() {
        // It used to pass the form and fail when the mail was built: a 503 and the address in
        // the log.
        let errors = check_signup("\"erika mustermann\"@example.org", "").unwrap_err();
        assert_eq!(errors.email, Some(FieldError::Invalid));
        assert_eq!(
            check_signup("", "").unwrap_err().email,
            Some(FieldError::Missing)
        );
        let form = check_signup("Jo\u{308}rg@B\u{fc}cher.de", "").unwrap();
        assert_eq!(form.email.as_str(), "J\u{f6}rg@xn--bcher-kva.de");
        assert_eq!(form.name, None, "an empty name is no name");
    }

    #[test]
    fn form_bodies() {
        let f = parse_form(b"email=erika%40example.org&name=J%C3%BCrgen+M").unwrap();
        assert_eq!(f["email"], "erika@example.org");
        assert_eq!(f["name"], "Jürgen M");
        assert_eq!(
            parse_form(b"email=a&email=b"),
            Err(BadForm::Repeated("email".into()))
        );
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"),
        );
        assert!(is_form(&h));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(!is_form(&h));
    }

    #[test]
    fn limits_per_client_and_per_mailbox() {
        let limits = Limits::new(2, 1, 100);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(limits.client(ip).is_ok());
        assert!(limits.client(ip).is_ok());
        let wait = limits.client(ip).unwrap_err();
        assert!(
            wait > Duration::from_secs(60) && wait <= Duration::from_secs(1800),
            "{wait:?}"
        );
        assert!(limits.client("192.0.2.2".parse().unwrap()).is_ok());
        let send = MailAllowance::Send {
            refused_meanwhile: None,
        };
        assert_eq!(limits.mail("abc"), send);
        assert_eq!(limits.mail("abc"), MailAllowance::MailboxLimited);
        assert_eq!(limits.mail("def"), send);
        limits.forget_idle();
    }

    #[test]
    fn tags_and_letter_case_do_not_make_another_mailbox() {
        let limits = Limits::new(100, 1, 100);
        let key = |raw: &str| Email::parse(raw).unwrap().mailbox();
        assert!(matches!(
            limits.mail(&key("anna@example.org")),
            MailAllowance::Send { .. }
        ));
        for other in [
            "anna+1@example.org",
            "Anna+news@Example.org",
            "ANNA@example.org",
        ] {
            assert_eq!(
                limits.mail(&key(other)),
                MailAllowance::MailboxLimited,
                "{other}"
            );
        }
    }

    #[test]
    fn past_the_ceiling_no_mailbox_gets_mail_and_the_log_hears_it_once() {
        let limits = Limits::new(1000, 3, 2);
        assert!(matches!(limits.mail("a"), MailAllowance::Send { .. }));
        assert!(matches!(limits.mail("b"), MailAllowance::Send { .. }));
        assert_eq!(limits.mail("c"), MailAllowance::Ceiling { first: true });
        assert_eq!(limits.mail("d"), MailAllowance::Ceiling { first: false });
        assert_eq!(limits.mail("a"), MailAllowance::Ceiling { first: false });
        // The mailbox limiter learned nothing while the ceiling was reached.
        assert_eq!(limits.per_mailbox.len(), 2);
    }

    #[test]
    fn a_ceiling_with_a_poisoned_lock_sends_nothing_and_logs_its_first_refusal() {
        let ceiling = Ceiling::per_hour(3600);
        crate::sync::poison(&ceiling.state);
        let now = Instant::now();
        assert!(!ceiling.has_room(now));
        assert_eq!(ceiling.take(now), None);
        assert!(ceiling.refused());
        assert!(!ceiling.refused());
    }

    #[test]
    fn the_ceiling_refills_evenly_and_reports_what_it_refused() {
        let ceiling = Ceiling::per_hour(3600);
        let t0 = Instant::now();
        for _ in 0..3600 {
            assert_eq!(ceiling.take(t0), Some(None));
        }
        assert_eq!(ceiling.take(t0), None);
        assert!(ceiling.refused());
        assert!(!ceiling.refused());
        // One mail a second comes back; the refusals go on being counted as one time of them.
        assert!(!ceiling.has_room(t0 + Duration::from_millis(500)));
        assert!(ceiling.has_room(t0 + Duration::from_secs(1)));
        assert_eq!(ceiling.take(t0 + Duration::from_secs(1)), Some(None));
        assert_eq!(ceiling.take(t0 + Duration::from_secs(1)), None);
        assert!(!ceiling.refused());
        // A clock that goes back takes nothing away.
        assert!(!ceiling.has_room(t0));
        // Once a tenth is back, the first mail says how many got none.
        let later = t0 + Duration::from_secs(1 + 360);
        assert_eq!(ceiling.take(later), Some(Some(3)));
        assert_eq!(ceiling.take(later), Some(None));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Values of `X-Forwarded-For` as proxies, clients and attackers write them.
        fn forwarded() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..200),
                "[0-9a-fA-F:., \\[\\]%a-z]{0,120}".prop_map(String::into_bytes),
                proptest::collection::vec(any::<std::net::IpAddr>(), 0..6).prop_map(|ips| ips
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
                    .into_bytes()),
            ]
        }

        proptest! {
            #[test]
            fn form_bodies_never_panic_and_hold_no_more_than_was_sent(
                body in proptest::collection::vec(any::<u8>(), 0..600)
            ) {
                if let Ok(fields) = parse_form(&body) {
                    let chars: usize = fields.iter().map(|(k, v)| k.chars().count() + v.chars().count()).sum();
                    prop_assert!(chars <= body.len());
                }
            }

            #[test]
            fn encoded_forms_come_back_as_sent(email in any::<String>(), name in any::<String>()) {
                let body: String = form_urlencoded::Serializer::new(String::new())
                    .append_pair("email", &email)
                    .append_pair("name", &name)
                    .finish();
                let fields = parse_form(body.as_bytes()).unwrap();
                prop_assert_eq!(&fields["email"], &email);
                prop_assert_eq!(&fields["name"], &name);
            }

            #[test]
            fn checked_sign_ups_are_within_their_bounds(
                email in prop_oneof![any::<String>(), "[a-zA-Z0-9.+_\"\\x00-\\x1f\u{e4}-]{0,70}@[a-z0-9.\u{fc}-]{0,40}"],
                name in any::<String>(),
            ) {
                match check_signup(&email, &name) {
                    Ok(form) => {
                        let stored = form.email.as_str();
                        prop_assert!(stored.chars().count() <= MAX_EMAIL);
                        prop_assert!(!stored.chars().any(char::is_control));
                        prop_assert!(!stored.starts_with('"'));
                        prop_assert!(stored.parse::<lettre::Address>().is_ok());
                        prop_assert_eq!(&Email::parse(stored).unwrap(), &form.email);
                        if let Some(n) = &form.name {
                            prop_assert!(!n.is_empty() && n.chars().count() <= MAX_NAME);
                            let forbidden = |c: char| c.is_control() || c == char::REPLACEMENT_CHARACTER;
                            prop_assert!(!n.chars().any(forbidden));
                        }
                    }
                    Err(errors) => prop_assert!(errors != FormErrors::default()),
                }
            }

            #[test]
            fn the_client_is_the_peer_or_an_address_the_proxy_named(
                peer in any::<std::net::IpAddr>(),
                loopback in any::<bool>(),
                values in proptest::collection::vec(forwarded(), 0..4),
            ) {
                let peer = if loopback { "127.0.0.1".parse().unwrap() } else { peer };
                let mut headers = HeaderMap::new();
                for v in &values {
                    if let Ok(v) = axum::http::HeaderValue::from_bytes(v) {
                        headers.append("x-forwarded-for", v);
                    }
                }
                let client = client_address(peer, &headers, &[]);
                if !is_proxy(peer, &[]) {
                    prop_assert_eq!(client, peer);
                } else if client != peer {
                    let named = headers
                        .get_all("x-forwarded-for")
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .flat_map(|v| v.split(','))
                        .any(|entry| entry.trim().parse() == Ok(client));
                    prop_assert!(named, "{client} is in the header");
                }
                // The key of a client is its /64 (or its IPv4 address), and stable.
                let key = client_key(client);
                prop_assert_eq!(client_key(key), key);
                if let IpAddr::V6(v6) = key {
                    prop_assert_eq!(&v6.segments()[4..], &[0u16, 0, 0, 0][..]);
                }
            }
        }
    }
}
