//! The old addresses [`crate::site::aliases`] checked, written out: at each one a small page from
//! the theme's `redirect.html` that sends readers on (any static server serves it), and the same
//! table as server rules for a real `301 Moved Permanently`:
//!
//! - `redirects.nginx.conf`: one `location = "…" { return 301 "…"; }` per request path, to be
//!   included inside the site's `server { }` block. Exact-match locations rather than a `map`:
//!   one `include` in one place (a `map` needs the `http` block as well), no variables, no
//!   regular expressions, and nginx picks them before the prefix location that serves the files.
//!   nginx compares them with the decoded path, so a non-ASCII address is written as UTF-8;
//!   targets are percent-encoded.
//! - `_redirects` (Netlify, Cloudflare Pages): `from to 301` per line, percent-encoded as those
//!   hosts expect.
//!
//! Both files are always written (only a comment when there is nothing to redirect), so an
//! `include` never names a missing file. Every value is checked once more before it is written:
//! anything that could end a value or start a directive (a space, `;`, `{`, a quote, `$`, a line
//! break) is refused. The checks of [`crate::site::aliases`] never let such a character through;
//! this keeps the files safe should those checks ever change.
//!
//! No Apache file: `RedirectMatch` needs regular-expression escaping, reads `&` in the target as
//! the matched text and escapes the target once more. Without an Apache to test each of those
//! against, the redirect pages, which work there as everywhere, are the safer answer.

use std::fmt::Write as _;
use std::path::PathBuf;

use rayon::prelude::*;
use tera::{Context, Value};

use super::Sink;
use super::context::obj;
use super::outputs::EXTRA_FILES_DIR;
use super::templates::Templates;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::site::Site;
use crate::site::aliases::{NETLIFY_FILE, NGINX_FILE, Redirect, check_files};
use crate::theme::{StaticSource, Theme};

/// The theme's template for the page at an old address.
pub const TEMPLATE: &str = crate::theme::REDIRECT_TEMPLATE;

/// Writes the redirect pages and both rule files; returns how many files were written.
pub fn write(
    site: &Site,
    theme: &Theme,
    templates: &Templates,
    sink: &dyn Sink,
) -> Result<usize, Diagnostics> {
    let mut errors = Diagnostics::from(check_theme_files(site, theme, templates));
    if let Some(first) = site.redirects.first()
        && !templates.has(TEMPLATE)
    {
        errors.push(
            Diagnostic::error(format!("the theme has no `{TEMPLATE}` template"))
                .at(first.location.clone())
                .hint("copy `templates/redirect.html` from the default theme into the theme: old addresses need a page that sends readers on"),
        );
    }
    if errors.has_errors() {
        return Err(errors);
    }
    let pages: Vec<Result<(), Diagnostic>> = site
        .redirects
        .par_iter()
        .map(|r| {
            let html = templates.render(TEMPLATE, &context(site, r), Some(&r.location.path))?;
            sink.write(&r.from.output(), html.as_bytes())
        })
        .collect();
    let mut written = 0;
    for result in pages {
        match result {
            Ok(()) => written += 1,
            Err(d) => errors.push(d),
        }
    }
    let rules = nginx_rules(site)
        .and_then(|text| sink.write(NGINX_FILE, text.as_bytes()))
        .and_then(|()| netlify_rules(site))
        .and_then(|text| sink.write(NETLIFY_FILE, text.as_bytes()));
    match rules {
        Ok(()) => written += 2,
        Err(d) => errors.push(d),
    }
    if errors.has_errors() {
        Err(errors)
    } else {
        Ok(written)
    }
}

/// What `redirect.html` gets besides the globals.
fn context(site: &Site, r: &Redirect) -> Context {
    let mut ctx = Context::new();
    ctx.insert_value(
        "redirect",
        obj(vec![
            ("from", Value::from(site.config.url(r.from.as_str()))),
            ("url", Value::from(r.url(site))),
            ("permalink", Value::from(r.permalink(site))),
            ("title", r.title(site).map_or_else(Value::none, Value::from)),
        ]),
    );
    ctx
}

/// Files of `static/`, of the theme and of its `templates/files/`: known only now, and none may
/// take a redirect's address or the rule files' place.
fn check_theme_files(site: &Site, theme: &Theme, templates: &Templates) -> Vec<Diagnostic> {
    let root = &site.config.root;
    let site_static = crate::theme::list_static(&site.config.site_root);
    let mut files: Vec<(String, PathBuf)> = theme
        .static_files
        .iter()
        .chain(&site_static)
        .map(|f| {
            let shown = match &f.source {
                StaticSource::Disk(path) => path.strip_prefix(root).unwrap_or(path).to_path_buf(),
                StaticSource::Embedded(_) => {
                    PathBuf::from(format!("<built-in theme>/static/{}", f.output))
                }
            };
            (f.output.clone(), shown)
        })
        .collect();
    for name in templates.names_under(EXTRA_FILES_DIR) {
        let output = name.get(EXTRA_FILES_DIR.len()..).unwrap_or_default();
        files.push((output.to_string(), templates.shown(&name)));
    }
    check_files(
        site,
        files
            .iter()
            .map(|(out, shown)| (out.as_str(), shown.as_path())),
    )
}

/// What a value in a server configuration file may hold: letters and digits (the decoded path
/// nginx compares may have umlauts) and the URL characters the checked values use. Nothing that
/// ends a value, starts a comment or a directive, or names a variable.
fn safe_for_config(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || "/-._~+,=?#[]@!&%:".contains(c))
}

/// `value`, or an error: an unchecked value never reaches a server's configuration.
fn config_value<'v>(value: &'v str, r: &Redirect) -> Result<&'v str, Diagnostic> {
    if safe_for_config(value) {
        Ok(value)
    } else {
        Err(Diagnostic::error(format!(
            "refusing to write `{}` into the server's redirect rules",
            crate::site::aliases::shown(value)
        ))
        .at(r.location.clone())
        .hint("write the address with letters, digits and `- . _ ~ + , =` only"))
    }
}

/// Lines `(from, to)`, one per request path of each redirect, sorted by the old address.
fn rule_lines(site: &Site, encode_from: bool) -> Result<Vec<(String, String)>, Diagnostic> {
    let mut lines = Vec::new();
    for r in &site.redirects {
        let to = r.url(site);
        let to = config_value(&to, r)?;
        for path in r.from.request_paths() {
            let from = site.config.url(path);
            let from = if encode_from {
                percent_encoding::utf8_percent_encode(&from, percent_encoding::CONTROLS).to_string()
            } else {
                from
            };
            lines.push((config_value(&from, r)?.to_string(), to.to_string()));
        }
    }
    lines.sort();
    Ok(lines)
}

/// `redirects.nginx.conf`: exact locations, each value in double quotes.
pub fn nginx_rules(site: &Site) -> Result<String, Diagnostic> {
    let mut out = String::from(
        "# Permanent redirects of old and printed addresses, written by `ozg-site build`.\n\
         # Include this file inside the site's `server { }` block (see the README).\n",
    );
    for (from, to) in rule_lines(site, false)? {
        let _ = writeln!(out, "location = \"{from}\" {{ return 301 \"{to}\"; }}");
    }
    Ok(out)
}

/// `_redirects`: `from to 301`, percent-encoded.
pub fn netlify_rules(site: &Site) -> Result<String, Diagnostic> {
    let mut out = String::from(
        "# Permanent redirects of old and printed addresses, written by `ozg-site build`\n\
         # (Netlify, Cloudflare Pages).\n",
    );
    for (from, to) in rule_lines(site, true)? {
        let _ = writeln!(out, "{from} {to} 301");
    }
    Ok(out)
}

/// For the preview (`serve`): where the build's `_redirects` table sends a request for output
/// key `key` (`alt/index.html` for `/alt/`, `alt` for `/alt`), so the preview answers an old
/// address with the same 301 the server will.
pub fn preview_target(table: &[u8], key: &str) -> Option<String> {
    let text = std::str::from_utf8(table).ok()?;
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            let (from, to) = (fields.next()?, fields.next()?);
            let from = percent_encoding::percent_decode_str(from)
                .decode_utf8()
                .ok()?;
            let rel = from.trim_start_matches('/');
            let rule_key = if rel.is_empty() || rel.ends_with('/') {
                format!("{rel}index.html")
            } else {
                rel.to_string()
            };
            (rule_key == key).then(|| to.to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_could_inject_a_directive_are_refused() {
        for bad in [
            "/a b", "/a;", "/a{", "/a}", "/a\"", "/a'", "/a\\", "/$host", "/a\n", "/a\r\nx",
            "/a\t", "/a\u{0}", "",
        ] {
            assert!(!safe_for_config(bad), "{bad:?}");
        }
        for good in [
            "/aktuelles/adventskalender-2025",
            "/über-uns/",
            "https://www.example.org:8443/a?b=1&c=2#d",
        ] {
            assert!(safe_for_config(good), "{good:?}");
        }
    }

    #[test]
    fn the_preview_finds_a_rule_by_output_key() {
        let table = b"# comment\n/alt /neu/ 301\n/alt/ /neu/ 301\n/%C3%BCber /neu/#x 301\n/a.html https://example.org/ 301\n";
        assert_eq!(preview_target(table, "alt").as_deref(), Some("/neu/"));
        assert_eq!(
            preview_target(table, "alt/index.html").as_deref(),
            Some("/neu/")
        );
        assert_eq!(preview_target(table, "über").as_deref(), Some("/neu/#x"));
        assert_eq!(
            preview_target(table, "a.html").as_deref(),
            Some("https://example.org/")
        );
        assert_eq!(preview_target(table, "neu/index.html"), None);
        assert_eq!(preview_target(b"\xff\xfe", "alt"), None);
    }
}
