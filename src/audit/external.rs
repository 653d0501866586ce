//! `check --external`: do the site's links to other sites still answer?
//!
//! Off by default — it needs the network and other people's servers. Links are checked at most
//! once per run, several at a time, each with a timeout; answers are cached for a day in
//! `.ozg-site/link-cache.json` so repeated checks do not hammer anybody.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::diagnostics::{Diagnostic, Location};
use crate::site::Site;
use crate::sync::lock;

pub const CACHE_FILE: &str = ".ozg-site/link-cache.json";
const CACHE_SECONDS: i64 = 24 * 3600;
const PARALLEL: usize = 8;

/// The longest wait for one external site that `--timeout` accepts: a link check that waits
/// longer per link is stuck, not careful.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// The shortest: below it no server can answer, and every link would look dead.
const MIN_TIMEOUT: Duration = Duration::from_millis(100);

/// The wait per external site for `--timeout`, in seconds (`10`, `2.5`): a finite number above
/// zero and at most [`MAX_TIMEOUT`]. `inf`, `NaN`, negative or huge values are an error
/// here, where the flag is read, instead of a panic when the number becomes a [`Duration`].
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let wrong = || {
        format!(
            "expected the seconds to wait for each external site: a number above 0 and at most {}, e.g. --timeout 10",
            MAX_TIMEOUT.as_secs()
        )
    };
    let seconds: f64 = text.trim().parse().map_err(|_| wrong())?;
    if !seconds.is_finite() || seconds <= 0.0 || seconds > MAX_TIMEOUT.as_secs_f64() {
        return Err(wrong());
    }
    let timeout = Duration::try_from_secs_f64(seconds).map_err(|_| wrong())?;
    Ok(timeout.max(MIN_TIMEOUT))
}

/// What a server said about a link.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Answer {
    alive: bool,
    detail: String,
    /// Unix seconds.
    checked: i64,
}

/// Findings for external links that do not answer, with the timeout per request.
pub fn check_external(site: &Site, timeout: Duration) -> Vec<Diagnostic> {
    // A library caller may pass any `Duration`: zero would fail every link at once, a huge
    // one would hang the check on a server that never answers.
    let timeout = timeout.clamp(MIN_TIMEOUT, MAX_TIMEOUT);
    let links = collect(site);
    let cache_path = site.config.root.join(CACHE_FILE);
    let mut cache: HashMap<String, Answer> = std::fs::read_to_string(&cache_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let now = jiff::Timestamp::now().as_second();
    // Dead links are asked again every time: the editor may just have fixed the other side.
    let todo: Vec<String> = links
        .keys()
        .filter(|u| {
            cache
                .get(*u)
                .is_none_or(|a| !a.alive || now - a.checked > CACHE_SECONDS)
        })
        .cloned()
        .collect();
    let answers = ask_all(&todo, timeout, now);
    cache.extend(answers);
    save(&cache_path, &cache);

    let mut findings = Vec::new();
    for (url, places) in &links {
        let Some(answer) = cache.get(url).filter(|a| !a.alive) else {
            continue;
        };
        for at in places {
            findings.push(
                Diagnostic::warning(format!("the link `{url}` does not answer: {}", answer.detail))
                    .code("dead-link")
                    .at(at.clone())
                    .hint("Öffnen Sie den Link im Browser. Ist die Seite umgezogen, tragen Sie die neue Adresse ein; gibt es sie nicht mehr, entfernen Sie den Link oder verweisen Sie auf eine archivierte Fassung."),
            );
        }
    }
    findings
}

/// Every http(s) link of every body, with where it is written.
fn collect(site: &Site) -> BTreeMap<String, Vec<Location>> {
    let mut links: BTreeMap<String, Vec<Location>> = BTreeMap::new();
    let bodies = site
        .pages
        .iter()
        .filter(|p| {
            !p.common
                .ignore_checks
                .iter()
                .any(|i| i.check == "dead-link")
        })
        .map(|p| (&p.file, &p.body))
        .chain(site.sections.iter().map(|s| (&s.file, &s.body)));
    for (file, body) in bodies {
        let facts = &body.facts;
        let written = facts
            .links
            .iter()
            .map(|l| (&l.dest, &l.range))
            .chain(facts.images.iter().map(|i| (&i.src, &i.range)));
        // In the order they are written, as the parser gave them.
        let mut written: Vec<_> = written.collect();
        written.sort_by_key(|(_, range)| range.start);
        for (dest, range) in written {
            if dest.starts_with("https://") || dest.starts_with("http://") {
                links.entry(dest.clone()).or_default().push(facts.locate(
                    &file.shown,
                    &file.text,
                    range,
                    80,
                ));
            }
        }
    }
    links
}

fn ask_all(urls: &[String], timeout: Duration, now: i64) -> HashMap<String, Answer> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .user_agent("ozg-site link check")
        .build()
        .into();
    let queue = Mutex::new(urls.iter());
    let answers = Mutex::new(HashMap::new());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(urls.len()) {
            scope.spawn(|| {
                // A `let`, not `while let`: the queue's guard ends with the statement, so the
                // queue is not locked while asking.
                loop {
                    let Some(url) = lock(&queue).next() else {
                        break;
                    };
                    let answer = ask(&agent, url, now);
                    lock(&answers).insert(url.clone(), answer);
                }
            });
        }
    });
    crate::sync::into_inner(answers)
}

/// HEAD first (cheap); servers that refuse HEAD get a GET.
fn ask(agent: &ureq::Agent, url: &str, now: i64) -> Answer {
    let status = match agent.head(url).call() {
        Ok(r) if matches!(r.status().as_u16(), 405 | 501) => {
            agent.get(url).call().map(|r| r.status().as_u16())
        }
        Ok(r) => Ok(r.status().as_u16()),
        Err(e) => Err(e),
    };
    let (alive, detail) = match status {
        // 401/403/429: the page exists but wants a login or fewer requests; not dead.
        Ok(code) if code < 400 || matches!(code, 401 | 403 | 429) => (true, format!("HTTP {code}")),
        Ok(code) => (false, format!("HTTP {code}")),
        Err(ureq::Error::Timeout(_)) => (false, "no answer in time".to_string()),
        Err(e) => (false, e.to_string()),
    };
    Answer {
        alive,
        detail,
        checked: now,
    }
}

fn save(path: &Path, cache: &HashMap<String, Answer>) {
    let Ok(text) = serde_json::to_string_pretty(cache) else {
        return;
    };
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // Written beside and renamed: an interrupted check never leaves a broken cache.
    let tmp: PathBuf = path.with_extension("json.tmp");
    if std::fs::write(&tmp, text).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_that_is_no_finite_positive_number_is_refused_not_a_panic() {
        for text in [
            "inf", "-inf", "infinity", "NaN", "nan", "-1", "-0.5", "0", "0.0", "-0", "1e400",
            "301", "300.0001", "1e9", "", " ", "zehn", "10s", "1,5", "0x10",
        ] {
            let error = parse_timeout(text).expect_err(text);
            assert!(error.contains("at most 300"), "{text}: {error}");
        }
    }

    #[test]
    fn a_timeout_in_seconds_becomes_a_duration() {
        for (text, millis) in [
            ("10", 10_000),
            ("2.5", 2_500),
            (" 1 ", 1_000),
            ("300", 300_000),
            ("1e-300", 100),
            ("0.01", 100),
        ] {
            assert_eq!(
                parse_timeout(text),
                Ok(Duration::from_millis(millis)),
                "{text}"
            );
        }
    }
}
