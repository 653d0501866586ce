//! What the service checks before it trusts a request: where a form was sent from, who the
//! client is, what the form holds, and how often the client and the address came before.
//! Pure functions and small types, so each rule has its table of cases.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::header::{CONTENT_TYPE, ORIGIN};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Longest address mail servers accept (RFC 5321: 254 characters in a path).
pub const MAX_EMAIL: usize = 254;
/// Longest name we keep.
pub const MAX_NAME: usize = 100;
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

/// The client a request comes from: the peer, or — when the peer is a proxy we trust (one on
/// this machine, or listed) — the last address the proxy added to `X-Forwarded-For`.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !(peer.is_loopback() || trusted.contains(&peer)) {
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

/// A sign-up as typed, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignupForm {
    pub email: String,
    pub name: Option<String>,
}

/// The errors of a sign-up form, by field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormErrors {
    pub email: Option<FieldError>,
    pub name: Option<FieldError>,
}

/// Checks the sign-up fields: an address mail servers take, a name without control characters.
pub fn check_signup(email: &str, name: &str) -> Result<SignupForm, FormErrors> {
    let email = email.trim();
    let name = name.trim();
    let mut errors = FormErrors::default();
    if email.is_empty() {
        errors.email = Some(FieldError::Missing);
    } else if email.chars().count() > MAX_EMAIL {
        errors.email = Some(FieldError::TooLong);
    } else if email.chars().any(char::is_control)
        || crate::newsletter::subscribers::check_address(email).is_err()
    {
        errors.email = Some(FieldError::Invalid);
    }
    if name.chars().count() > MAX_NAME {
        errors.name = Some(FieldError::TooLong);
    } else if name.chars().any(|c| c.is_control() || c == '\u{fffd}') {
        errors.name = Some(FieldError::Invalid);
    }
    if errors != FormErrors::default() {
        return Err(errors);
    }
    Ok(SignupForm {
        email: email.to_string(),
        name: (!name.is_empty()).then(|| name.to_string()),
    })
}

/// How often sign-ups may come, per client and per address (GCRA: the allowance refills evenly
/// over the hour, so a burst uses it up and a steady trickle is never blocked).
pub struct Limits {
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    per_address: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl Limits {
    pub fn new(per_client_per_hour: u32, per_address_per_hour: u32) -> Limits {
        let quota = |n: u32| Quota::per_hour(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        Limits {
            per_client: RateLimiter::keyed(quota(per_client_per_hour)),
            per_address: RateLimiter::keyed(quota(per_address_per_hour)),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(wait)` if the client has used up its sign-ups for now.
    pub fn client(&self, ip: IpAddr) -> Result<(), Duration> {
        self.per_client
            .check_key(&client_key(ip))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Whether another mail may go to this address (keyed by its hash) now.
    pub fn address(&self, address_hash: &str) -> bool {
        self.per_address
            .check_key(&address_hash.to_string())
            .is_ok()
    }

    /// Forgets clients and addresses whose allowance is full again: the maps stay small.
    pub fn forget_idle(&self) {
        self.per_client.retain_recent();
        self.per_client.shrink_to_fit();
        self.per_address.retain_recent();
        self.per_address.shrink_to_fit();
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
        let cases: [(&str, &str, Option<FieldError>, Option<FieldError>); 8] = [
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
        ];
        for (email, name, e, n) in cases {
            match check_signup(email, name) {
                Ok(f) => {
                    assert_eq!((e, n), (None, None), "{email:?} {name:?} passed");
                    assert_eq!(f.email, "erika@example.org");
                    assert_eq!(f.name.as_deref(), Some("Erika"));
                }
                Err(errors) => assert_eq!((errors.email, errors.name), (e, n), "{email:?}"),
            }
        }
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
    fn limits_per_client_and_per_address() {
        let limits = Limits::new(2, 1);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(limits.client(ip).is_ok());
        assert!(limits.client(ip).is_ok());
        let wait = limits.client(ip).unwrap_err();
        assert!(
            wait > Duration::from_secs(60) && wait <= Duration::from_secs(1800),
            "{wait:?}"
        );
        assert!(limits.client("192.0.2.2".parse().unwrap()).is_ok());
        assert!(limits.address("abc"));
        assert!(!limits.address("abc"));
        assert!(limits.address("def"));
        limits.forget_idle();
    }
}
