//! Old and printed addresses that keep working: `aliases:` in the front matter of every kind of
//! page and of sections, and `redirects:` in `site.yaml` for addresses that belong to no page.
//!
//! Every address is checked and normalised once, here, into an [`Address`]: a path of the site
//! below the base path of `base_url`, like the `/…` links editors write. A missing leading `/` is
//! added; `/a` and `/a/` are the same address, a folder (a static server answers `/a` with the
//! folder `/a/`), while a last part ending in `.html` or `.htm` is a file. Percent-escapes are
//! decoded once and must give UTF-8 text. What remains may hold letters and digits of any script,
//! `/` between non-empty parts and `- . _ ~ + , =`, nothing else: no `.` or `..` part, no `//`, no
//! query, no fragment, no control character, no backslash, no space, no quote, `;`, `{` or `$`. So
//! nothing an editor writes can turn into a directive of the server rules
//! ([`crate::render::redirects`] refuses unsafe values once more before writing) or into a path
//! outside the output folder.
//!
//! Collisions are errors that name both sides: an address that is already a page's or section's
//! URL (or one of its list pages), another alias (in the same file or another), a `site.yaml`
//! redirect, a file the build writes (feeds, calendars, `sitemap.xml`, `suchindex.json`, the server
//! rules, files from `content/`), an address of the preview server or of the newsletter service.
//! A redirect in `site.yaml` whose target is redirected itself (a chain, or a loop) is an error
//! too: readers should be sent on once. Files from `static/` and the theme are known only with the
//! theme; [`check_files`] checks them when the site is rendered.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::links::KeyIndex;
use super::links::check_refs;
use super::{Asset, Page, Section, Site, Target};
use crate::config::{
    CONFIG_FILE, CONFIRM_PATH, Config, FEEDBACK_PATH, SIGNUP_PATH, UNSUBSCRIBE_PATH,
};
use crate::diagnostics::{Diagnostic, Diagnostics, Location};
use crate::parse::kinds::Kind;
use crate::parse::link::LinkTarget;
use crate::parse::markdown::{AnchorRef, Resolved};
use crate::yaml::{YamlSource, find_top_level_key};

/// The nginx rules the build writes beside the pages (see [`crate::render::redirects`]).
pub const NGINX_FILE: &str = "redirects.nginx.conf";
/// The same rules for Netlify and Cloudflare Pages.
pub const NETLIFY_FILE: &str = "_redirects";

/// Files every build may write whatever the content (the search index and the site-wide feed
/// only with a search page or a feed, but an address should not depend on that).
const ENGINE_FILES: [(&str, &str); 7] = [
    (
        "404.html",
        "the page for addresses that do not exist (404.html)",
    ),
    ("sitemap.xml", "the sitemap (sitemap.xml)"),
    ("robots.txt", "the file for search engines (robots.txt)"),
    ("atom.xml", "the site's Atom feed (atom.xml)"),
    ("suchindex.json", "the search index (suchindex.json)"),
    (NGINX_FILE, "the nginx redirect rules ozg-site writes"),
    (
        NETLIFY_FILE,
        "the redirect rules for Netlify and Cloudflare Pages ozg-site writes",
    ),
];

/// The preview's own addresses (`src/serve/http.rs`): an alias there would never be answered.
const PREVIEW_PATHS: [&str; 3] = ["__ozg/live.js", "__ozg/events", "__ozg/status"];

/// At most this many bytes as written: more than any address a person prints or types.
const MAX_LEN: usize = 1000;
/// The longest name a file system takes (ext4, NTFS).
const MAX_SEGMENT: usize = 255;
/// What an address may hold besides letters, digits and `/`.
const MARKS: &str = "-._~+,=";
const ALLOWED: &str = "an address may hold letters, digits, `/` between its parts and `- . _ ~ + , =`; percent-escapes (`%C3%BC`) are decoded first";

/// A checked address of the site, below the base path, percent-escapes decoded: `/alte/adresse/`
/// (a folder) or `/alt/seite.html` (a file).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address(String);

/// Why an address or target was refused: what is wrong, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub hint: String,
}

fn refusal<T>(message: impl Into<String>, hint: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        message: message.into(),
        hint: hint.into(),
    })
}

impl Address {
    /// Checks and normalises an address as an editor wrote it.
    pub fn parse(raw: &str) -> Result<Address, Refusal> {
        let path = checked_path(raw)?;
        let last = path.rsplit('/').next().unwrap_or_default();
        if path.ends_with('/') || is_html_file(last) {
            Ok(Address(path))
        } else {
            Ok(Address(format!("{path}/")))
        }
    }

    /// `/alte/adresse/` or `/alt/seite.html`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it names a file (`/alt/seite.html`) rather than a folder.
    pub fn is_file(&self) -> bool {
        !self.0.ends_with('/')
    }

    /// Where its redirect page goes in the output: `alte/adresse/index.html`, `alt/seite.html`.
    pub fn output(&self) -> String {
        let rel = self.0.trim_start_matches('/');
        if self.is_file() {
            rel.to_string()
        } else {
            format!("{rel}index.html")
        }
    }

    /// The request paths that mean it: `/a` and `/a/` for a folder, its own path for a file.
    pub fn request_paths(&self) -> Vec<&str> {
        match self.0.strip_suffix('/') {
            Some(bare) if !bare.is_empty() => vec![bare, self.0.as_str()],
            _ => vec![self.0.as_str()],
        }
    }
}

fn is_html_file(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    lower.ends_with(".html") || lower.ends_with(".htm")
}

/// The value for messages: control characters written as escapes (a terminal must not run an
/// editor's escape sequence), at most 80 characters.
pub fn shown(raw: &str) -> String {
    let mut out: String = raw.chars().take(80).flat_map(char::escape_debug).collect();
    if raw.chars().nth(80).is_some() {
        out.push('…');
    }
    out
}

/// The checked, decoded path with a leading `/` (not normalised to a folder).
fn checked_path(raw: &str) -> Result<String, Refusal> {
    if raw.len() > MAX_LEN {
        return refusal(
            format!(
                "the address is {} bytes long; at most {MAX_LEN} are allowed",
                raw.len()
            ),
            "write the old address as it was printed or linked",
        );
    }
    if raw.is_empty() {
        return refusal(
            "the address is empty",
            "write the old path, e.g. `/alte/adresse/`",
        );
    }
    let scheme = raw.split_once("://").map(|(s, _)| s);
    if scheme.is_some_and(|s| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    }) {
        return refusal(
            format!(
                "`{}` is a full address, not a path of this site",
                shown(raw)
            ),
            "write only the path after the domain, e.g. `/grundlagen/zsa-machbarkeitsstudie`",
        );
    }
    let decoded = decode(raw)?;
    for c in decoded.chars() {
        if let Some((what, hint)) = forbidden(c) {
            return refusal(
                format!("the address `{}` contains {what}", shown(raw)),
                hint,
            );
        }
    }
    let path = if decoded.starts_with('/') {
        decoded
    } else {
        format!("/{decoded}")
    };
    let parts: Vec<&str> = path.split('/').skip(1).collect();
    let last = parts.len().saturating_sub(1);
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() && i != last {
            return refusal(
                format!("the address `{}` contains `//`", shown(raw)),
                "write one `/` between the parts of an address",
            );
        }
        if *part == "." || *part == ".." {
            return refusal(
                format!("the address `{}` contains a `{part}` part", shown(raw)),
                "write the address without `.` and `..` parts, as a reader's browser shows it",
            );
        }
        if part.starts_with('.') {
            return refusal(
                format!("a part of the address `{}` starts with `.`", shown(raw)),
                "names starting with `.` are hidden files that web servers refuse to serve, and `/.well-known/` belongs to the server; choose another address",
            );
        }
        if part.len() > MAX_SEGMENT {
            return refusal(
                format!(
                    "a part of the address `{}` is {} bytes long; file systems take at most {MAX_SEGMENT}",
                    shown(raw),
                    part.len()
                ),
                "shorten that part of the address",
            );
        }
    }
    Ok(path)
}

/// Why `c` cannot be in an address, or `None` if it can.
fn forbidden(c: char) -> Option<(String, &'static str)> {
    if c.is_alphanumeric() || c == '/' || MARKS.contains(c) {
        return None;
    }
    Some(match c {
        '?' => (
            "a query (`?…`)".to_string(),
            "web servers match an address without its query; write the path only",
        ),
        '#' => (
            "a fragment (`#…`)".to_string(),
            "browsers never send the part after `#` to the server; write the path only",
        ),
        '\\' => (
            "a backslash".to_string(),
            "write `/` between the parts of an address",
        ),
        c if c.is_control() => (
            format!("the control character U+{:04X}", u32::from(c)),
            "remove it: addresses hold visible characters only",
        ),
        '\u{300}'..='\u{36f}' => (
            format!("the combining accent U+{:04X}", u32::from(c)),
            "write the accented letter as one character (`ü`, not `u` followed by `¨`); text copied from some Mac programs splits them",
        ),
        c if c.is_whitespace() => (
            "a space".to_string(),
            "addresses hold no spaces; write `-` instead",
        ),
        c => (format!("the character `{}`", c.escape_debug()), ALLOWED),
    })
}

/// `%XX` escapes decoded once, strictly: a `%` must be followed by two hex digits, and the
/// result must be UTF-8 text.
fn decode(raw: &str) -> Result<String, Refusal> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let digits = [bytes.next(), bytes.next()];
        match digits {
            [Some(h), Some(l)] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                let value = (hex(h) << 4) | hex(l);
                out.push(value);
            }
            _ => {
                return refusal(
                    format!(
                        "the address `{}` has a `%` that is not followed by two hexadecimal digits",
                        shown(raw)
                    ),
                    "write a percent sign's escape as `%25`, or copy the address exactly as it was printed",
                );
            }
        }
    }
    String::from_utf8(out).or_else(|_| {
        refusal(
            format!(
                "the percent-escapes of the address `{}` do not decode to UTF-8 text",
                shown(raw)
            ),
            "write the address with its letters (`/über-uns/`) or their UTF-8 escapes (`/%C3%BCber-uns/`)",
        )
    })
}

fn hex(digit: u8) -> u8 {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
        .unwrap_or(0)
}

/// Where a redirect leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A published page or section, optionally at one of its headings (the id, without `#`).
    Content {
        target: Target,
        anchor: Option<String>,
    },
    /// A path of the site that is no page or section (a file from `static/`), checked like an
    /// address but not made a folder; the anchor without `#`.
    Path {
        path: String,
        anchor: Option<String>,
    },
    /// An `https://` address elsewhere, holding plain URL characters only.
    External(String),
}

/// One old address and where it leads.
#[derive(Debug, Clone)]
pub struct Redirect {
    pub from: Address,
    pub to: Destination,
    /// Where the old address is written: the alias in front matter, or `from:` in `site.yaml`.
    pub location: Location,
}

/// Non-ASCII characters of a checked path, percent-encoded (everything else in it is plain).
fn encode(path: &str) -> String {
    percent_encoding::utf8_percent_encode(path, percent_encoding::CONTROLS).to_string()
}

impl Redirect {
    /// The target as a link: the site's path (with the base path, percent-encoded) and anchor,
    /// or the external address as it is.
    pub fn url(&self, site: &Site) -> String {
        let (path, anchor) = match &self.to {
            Destination::Content { target, anchor } => (content_path(site, *target), anchor),
            Destination::Path { path, anchor } => (path.as_str(), anchor),
            Destination::External(url) => return url.clone(),
        };
        let mut url = site.config.url(&encode(path));
        if let Some(a) = anchor {
            url.push('#');
            url.push_str(a);
        }
        url
    }

    /// The target as an absolute address, for `<link rel="canonical">`.
    pub fn permalink(&self, site: &Site) -> String {
        match &self.to {
            Destination::External(url) => url.clone(),
            _ => {
                let url = self.url(site);
                let path = url.strip_prefix(&site.config.base_path).unwrap_or(&url);
                site.config.permalink(path)
            }
        }
    }

    /// The title of the target, for the link on the redirect page (none for other addresses).
    pub fn title<'s>(&self, site: &'s Site) -> Option<&'s str> {
        match &self.to {
            Destination::Content {
                target: Target::Page(id),
                ..
            } => site.pages.get(*id).map(|p| p.common.title.as_str()),
            Destination::Content {
                target: Target::Section(id),
                ..
            } => site.sections.get(*id).map(|s| s.front.title.as_str()),
            _ => None,
        }
    }

    /// Whether it leads to page `id` (whose title its redirect page shows).
    pub fn leads_to_page(&self, id: super::PageId) -> bool {
        matches!(self.to, Destination::Content { target: Target::Page(p), .. } if p == id)
    }
}

fn content_path(site: &Site, target: Target) -> &str {
    match target {
        Target::Page(id) => site.pages.get(id).map_or("/", |p| p.path.as_str()),
        Target::Section(id) => site.sections.get(id).map_or("/", |s| s.path.as_str()),
    }
}

/// What already answers at an output path.
#[derive(Debug, Clone)]
enum Owner {
    /// A page or section (or one of its list pages).
    Content(PathBuf),
    Alias(Location),
    Redirect(Location),
    /// A file the build writes: what it is.
    Output(String),
    /// A file copied into the output.
    File(PathBuf),
    Service(&'static str),
    Preview,
}

fn place(l: &Location) -> String {
    let path = l.path.to_string_lossy().replace('\\', "/");
    if l.line > 0 {
        format!("{path}:{}:{}", l.line, l.column)
    } else {
        path
    }
}

impl Owner {
    fn describe(&self) -> String {
        match self {
            Owner::Content(f) => format!("the address of {}", f.display()),
            Owner::Alias(l) => format!("an alias in {}", place(l)),
            Owner::Redirect(l) => format!("a redirect in {}", place(l)),
            Owner::Output(what) => what.clone(),
            Owner::File(f) => format!("the file {}", f.display()),
            Owner::Service(p) if *p == FEEDBACK_PATH => {
                format!("the service's feedback form {p}")
            }
            Owner::Service(p) => format!("the newsletter service's address {p}"),
            Owner::Preview => "an address of the preview server (/__ozg/…)".to_string(),
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Owner::Content(_) => {
                "remove it: that address already shows other content (or give that content another URL)"
            }
            Owner::Alias(_) | Owner::Redirect(_) => {
                "an old address can lead to one place only: remove one of the two"
            }
            Owner::Output(_) | Owner::File(_) => {
                "choose another address: a file of the site is there"
            }
            Owner::Service(_) | Owner::Preview => {
                "choose another address: this one belongs to a service of ozg-site"
            }
        }
    }
}

/// The output paths taken so far, and the folders they are in.
#[derive(Default)]
struct Occupied {
    files: HashMap<String, Owner>,
    dirs: HashMap<String, Owner>,
}

impl Occupied {
    fn insert(&mut self, key: String, owner: Owner) {
        let mut end = 0;
        while let Some(i) = key.get(end..).and_then(|rest| rest.find('/')) {
            end += i;
            if let Some(dir) = key.get(..end) {
                self.dirs
                    .entry(dir.to_string())
                    .or_insert_with(|| owner.clone());
            }
            end += 1;
        }
        self.files.entry(key).or_insert(owner);
    }

    /// What stands in the way of a file at `key`: a file there, a file where one of its folders
    /// would be, or a folder of files where it would be.
    fn clash(&self, key: &str) -> Option<&Owner> {
        if let Some(o) = self.files.get(key) {
            return Some(o);
        }
        let mut end = 0;
        while let Some(i) = key.get(end..).and_then(|rest| rest.find('/')) {
            end += i;
            if let Some(o) = key.get(..end).and_then(|dir| self.files.get(dir)) {
                return Some(o);
            }
            end += 1;
        }
        self.dirs.get(key)
    }
}

/// The error for an address `what` (e.g. "the alias `/a/`") that `other` already takes.
fn collision(what: &str, other: &Owner, own_file: &Path, location: &Location) -> Diagnostic {
    if let Owner::Content(f) = other
        && f == own_file
    {
        return Diagnostic::error(format!("{what} is the own address of this file"))
            .at(location.clone())
            .hint("remove it: the content already answers at this address");
    }
    Diagnostic::error(format!("{what} is already {}", other.describe()))
        .at(location.clone())
        .hint(other.hint())
}

/// Checks every alias and `site.yaml` redirect against the site and one another, and returns
/// the redirects to write; each problem is pushed to `errors`.
pub(super) fn collect(
    sections: &[Section],
    pages: &[Page],
    assets: &[Asset],
    by_key: &HashMap<String, Target>,
    index: &KeyIndex,
    config: &Config,
    errors: &mut Diagnostics,
) -> Vec<Redirect> {
    let any_alias = sections.iter().any(|s| !s.front.aliases.is_empty())
        || pages.iter().any(|p| !p.common.aliases.is_empty());
    if !any_alias && config.site.redirects.is_empty() {
        return Vec::new();
    }
    let (mut taken, content) = occupied(sections, pages, assets, config);
    let mut redirects = Vec::new();

    let owners = sections
        .iter()
        .enumerate()
        .map(|(i, s)| (Target::Section(i), &s.file, &s.split, &s.front.aliases))
        .chain(
            pages
                .iter()
                .enumerate()
                .map(|(i, p)| (Target::Page(i), &p.file, &p.split, &p.common.aliases)),
        );
    for (target, file, split, aliases) in owners {
        if aliases.is_empty() {
            continue;
        }
        let yaml = split.yaml_source(file);
        let values: Vec<&str> = aliases.iter().map(String::as_str).collect();
        for (raw, location) in values
            .iter()
            .zip(list_locations(&yaml, "aliases", None, &values))
        {
            let from = match Address::parse(raw) {
                Ok(a) => a,
                Err(r) => {
                    errors.push(Diagnostic::error(r.message).at(location).hint(r.hint));
                    continue;
                }
            };
            let what = format!("the alias `{}`", shown(from.as_str()));
            if let Some(other) = taken.clash(&from.output()) {
                errors.push(collision(&what, other, &file.shown, &location));
                continue;
            }
            taken.insert(from.output(), Owner::Alias(location.clone()));
            redirects.push(Redirect {
                from,
                to: Destination::Content {
                    target,
                    anchor: None,
                },
                location,
            });
        }
    }

    let (rules, anchors) = site_redirects(config, &mut taken, &content, by_key, index, errors);
    redirects.extend(rules);
    errors.extend(check_refs(anchors.iter(), |key| match by_key.get(key)? {
        Target::Page(p) => pages.get(*p).map(|p| &p.body.toc),
        Target::Section(s) => sections.get(*s).map(|s| &s.body.toc),
    }));
    redirects
}

/// The output paths of everything but redirects, and the pages' and sections' own pages by
/// output path (with their `@/` keys).
fn occupied(
    sections: &[Section],
    pages: &[Page],
    assets: &[Asset],
    config: &Config,
) -> (Occupied, HashMap<String, (Target, String)>) {
    let mut taken = Occupied::default();
    let mut content = HashMap::new();
    for (name, what) in ENGINE_FILES {
        taken.insert(name.to_string(), Owner::Output(what.to_string()));
    }
    for path in PREVIEW_PATHS {
        taken.insert(path.to_string(), Owner::Preview);
    }
    for path in [SIGNUP_PATH, CONFIRM_PATH, UNSUBSCRIBE_PATH, FEEDBACK_PATH] {
        if let Ok(a) = Address::parse(path) {
            taken.insert(a.output(), Owner::Service(path));
        }
    }
    let rel = |path: &str| path.trim_start_matches('/').to_string();
    for (i, s) in sections.iter().enumerate() {
        let owner = Owner::Content(s.file.shown.clone());
        let own = format!("{}index.html", rel(&s.path));
        content.insert(own.clone(), (Target::Section(i), s.file.key.clone()));
        taken.insert(own, owner.clone());
        if let Some(per_page) = s.front.paginate_by {
            let lists = s.pages.len().div_ceil(per_page.max(1));
            for n in 2..=lists {
                taken.insert(
                    format!("{}seite/{n}/index.html", rel(&s.path)),
                    owner.clone(),
                );
            }
        }
        if s.front.feed {
            taken.insert(
                format!("{}atom.xml", rel(&s.path)),
                Owner::Output(format!("the Atom feed of {}", s.file.shown.display())),
            );
        }
        if let Some(c) = &s.front.calendar {
            taken.insert(
                format!("{}{}", rel(&s.path), c.file),
                Owner::Output(format!("the calendar of {}", s.file.shown.display())),
            );
            for p in s.pages.iter().filter_map(|p| pages.get(*p)) {
                taken.insert(
                    format!("{}{}", rel(&p.path), c.event_file),
                    Owner::Output(format!("the calendar file of {}", p.file.shown.display())),
                );
            }
        }
    }
    for (i, p) in pages.iter().enumerate() {
        let own = format!("{}index.html", rel(&p.path));
        content.insert(own.clone(), (Target::Page(i), p.file.key.clone()));
        taken.insert(own, Owner::Content(p.file.shown.clone()));
        if p.kind() == Kind::Newsletter {
            taken.insert(
                format!("{}email/index.html", rel(&p.path)),
                Owner::Output(format!(
                    "the preview's e-mail view of {}",
                    p.file.shown.display()
                )),
            );
        }
    }
    for file in super::topics::outputs(&super::topics::collect(&config.site.themen, pages)) {
        taken.insert(
            file,
            Owner::Output("the topic pages (`themen:` in site.yaml)".into()),
        );
    }
    for a in assets {
        let shown = a.source.strip_prefix(&config.root).unwrap_or(&a.source);
        taken.insert(a.output.clone(), Owner::File(shown.to_path_buf()));
    }
    (taken, content)
}

/// The `redirects:` of `site.yaml`: addresses first (so every one is known), then targets.
fn site_redirects(
    config: &Config,
    taken: &mut Occupied,
    content: &HashMap<String, (Target, String)>,
    by_key: &HashMap<String, Target>,
    index: &KeyIndex,
    errors: &mut Diagnostics,
) -> (Vec<Redirect>, Vec<AnchorRef>) {
    let rules = &config.site.redirects;
    if rules.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let yaml = YamlSource::whole_file(Path::new(CONFIG_FILE), &config.text);
    let froms: Vec<&str> = rules.iter().map(|r| r.from.as_str()).collect();
    let tos: Vec<&str> = rules.iter().map(|r| r.to.as_str()).collect();
    let from_at = list_locations(&yaml, "redirects", Some("from"), &froms);
    let to_at = list_locations(&yaml, "redirects", Some("to"), &tos);

    let mut placed = Vec::new();
    for ((rule, from_location), to_location) in rules.iter().zip(from_at).zip(to_at) {
        let from = match Address::parse(&rule.from) {
            Ok(a) => a,
            Err(r) => {
                errors.push(Diagnostic::error(r.message).at(from_location).hint(r.hint));
                continue;
            }
        };
        let what = format!("the redirect from `{}`", shown(from.as_str()));
        if let Some(other) = taken.clash(&from.output()) {
            errors.push(collision(
                &what,
                other,
                Path::new(CONFIG_FILE),
                &from_location,
            ));
            continue;
        }
        taken.insert(from.output(), Owner::Redirect(from_location.clone()));
        placed.push((from, from_location, &rule.to, to_location));
    }

    let mut redirects = Vec::new();
    let mut anchors = Vec::new();
    for (from, from_location, to, to_location) in placed {
        match destination(to, &from, taken, content, by_key, index) {
            Ok((to, anchor)) => {
                if let Some((target, anchor)) = anchor {
                    anchors.push(AnchorRef {
                        target,
                        anchor,
                        location: to_location,
                    });
                }
                redirects.push(Redirect {
                    from,
                    to,
                    location: from_location,
                });
            }
            Err(r) => errors.push(Diagnostic::error(r.message).at(to_location).hint(r.hint)),
        }
    }
    (redirects, anchors)
}

/// A redirect's `to`, resolved; with the `@/` key and anchor to check once headings are known.
type Resolution = (Destination, Option<(String, String)>);

fn destination(
    raw: &str,
    from: &Address,
    taken: &Occupied,
    content: &HashMap<String, (Target, String)>,
    by_key: &HashMap<String, Target>,
    index: &KeyIndex,
) -> Result<Resolution, Refusal> {
    if let Some(link) = LinkTarget::parse(raw) {
        let rest = raw.strip_prefix("@/").unwrap_or(raw);
        let anchor = link.anchor.map(|a| checked_anchor(rest, a)).transpose()?;
        let key = link.key.trim_start_matches("./");
        if let Some(target) = by_key.get(key) {
            let check = anchor.clone().map(|a| (key.to_string(), a));
            return Ok((
                Destination::Content {
                    target: *target,
                    anchor,
                },
                check,
            ));
        }
        return match index.resolve(key) {
            Resolved::Unpublished => refusal(
                format!("`to` leads to `{}`, which is not published", shown(raw)),
                "publish the page first, or take the redirect out until it is",
            ),
            Resolved::Missing {
                suggestion: Some(s),
            } => refusal(
                format!("`to` leads to a missing page `{}`", shown(raw)),
                format!("did you mean `@/{s}`?"),
            ),
            _ => refusal(
                format!("`to` leads to a missing page `{}`", shown(raw)),
                "write the path of an existing file relative to `content/`, e.g. `@/projekte/zsa.md`",
            ),
        };
    }
    if raw.starts_with("https://") {
        return external(raw).map(|url| (Destination::External(url), None));
    }
    if raw.starts_with("http://") {
        return refusal(
            format!("`to` is the unencrypted address `{}`", shown(raw)),
            "write the https:// address of the target",
        );
    }
    if raw.starts_with('/') && !raw.starts_with("//") {
        let (path, anchor) = split_anchor(raw)?;
        let path = checked_path(path)?;
        let target = Address::parse(&path)?;
        if target == *from {
            return refusal(
                format!(
                    "the redirect from `{}` leads to itself",
                    shown(from.as_str())
                ),
                "let `to` name the address readers should reach",
            );
        }
        match taken.files.get(&target.output()) {
            Some(Owner::Alias(l) | Owner::Redirect(l)) => {
                return refusal(
                    format!(
                        "`to` leads to `{}`, which is redirected itself (by {})",
                        shown(&path),
                        place(l)
                    ),
                    "let `to` name where that redirect leads, so readers are sent on once (a chain of redirects, or a loop, is refused)",
                );
            }
            Some(Owner::Content(_)) => {
                if let Some((target, key)) = content.get(&target.output()) {
                    let check = anchor.clone().map(|a| (key.clone(), a));
                    return Ok((
                        Destination::Content {
                            target: *target,
                            anchor,
                        },
                        check,
                    ));
                }
            }
            _ => {}
        }
        return Ok((Destination::Path { path, anchor }, None));
    }
    refusal(
        format!("`{}` is not a target a redirect can have", shown(raw)),
        "write `@/path/file.md` for content of this site, `/path/` for another path of it, or a full address starting with https://",
    )
}

/// `x#id` → (`x`, `id`); the id may hold ASCII letters, digits and `- _ . ~` (heading ids do).
fn split_anchor(raw: &str) -> Result<(&str, Option<String>), Refusal> {
    let Some((before, anchor)) = raw.split_once('#') else {
        return Ok((raw, None));
    };
    Ok((before, Some(checked_anchor(raw, anchor)?)))
}

/// The anchor of `raw` if it can be a heading id (a redirect's target is written out as it is).
fn checked_anchor(raw: &str, anchor: &str) -> Result<String, Refusal> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.~".contains(c);
    if anchor.is_empty() || !anchor.chars().all(plain) {
        return refusal(
            format!("the anchor of `{}` is not a heading id", shown(raw)),
            "write the id of a heading of the target, e.g. `#arbeitsgruppen`",
        );
    }
    Ok(anchor.to_string())
}

/// Characters an external address may hold after its host: what URLs need, without quotes,
/// `;`, `$`, parentheses, `:` or `*` (a placeholder or splat in `_redirects`).
const URL_MARKS: &str = "-._~/?#[]@!&+,=%";

/// Checks an `https://` address: a plain host name (and port), then plain URL characters.
fn external(raw: &str) -> Result<String, Refusal> {
    let bad = |why: &str| {
        refusal(
            format!("`to` is not an address a redirect can lead to: {why}"),
            "write a plain https:// address; percent-encode spaces, umlauts and other special characters (`%20`, `%C3%BC`)",
        )
    };
    if raw.len() > 2 * MAX_LEN {
        return bad("it is too long");
    }
    let rest = raw.strip_prefix("https://").unwrap_or(raw);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !host_ok {
        return bad(&format!("the host `{}` is not a plain name", shown(host)));
    }
    if let Some(p) = port
        && p.parse::<u16>().is_err()
    {
        return bad(&format!("the port `{}` is not a number", shown(p)));
    }
    if let Some(c) = tail
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !URL_MARKS.contains(*c))
    {
        return bad(&format!("it contains `{}`", c.escape_debug()));
    }
    let mut escapes = tail.split('%').skip(1);
    if escapes.any(|e| {
        !e.get(..2)
            .is_some_and(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
    }) {
        return bad("a `%` is not followed by two hexadecimal digits");
    }
    Ok(raw.to_string())
}

/// Locates each of `values` in the YAML below top-level `key` (after the next `field`, if
/// given), in order; the key itself where a value cannot be found as written.
fn list_locations(
    yaml: &YamlSource<'_>,
    key: &str,
    field: Option<&str>,
    values: &[&str],
) -> Vec<Location> {
    let start = find_top_level_key(yaml.yaml, key);
    let mut cursor = start.map_or(0, |s| s + key.len());
    let lines = Lines::new(yaml.file_text);
    values
        .iter()
        .map(|value| {
            let found =
                start.and(field.map_or(Some(cursor), |f| after_field(yaml.yaml, cursor, f)));
            // With a field, the value is looked for before the field's next appearance.
            let window_end = |from: usize| {
                field
                    .and_then(|f| after_field(yaml.yaml, from, f))
                    .map_or(yaml.yaml.len(), |next| {
                        next.saturating_sub(field.map_or(0, str::len))
                    })
            };
            // A value with escapes in it is not in the text as it reads; do not look for it
            // (a search through the whole text for each would be slow for long lists).
            let searchable = !value.is_empty()
                && !value.contains(|c: char| c.is_control() || "\\\"'".contains(c));
            let at = found.filter(|_| searchable).and_then(|from| {
                let i = yaml.yaml.get(from..window_end(from))?.find(value)?;
                Some(from + i)
            });
            match (at, found, field) {
                (Some(at), _, _) => {
                    cursor = at + value.len();
                    lines.at(yaml.path, yaml.offset + at, value.len())
                }
                // Written with escapes: at least its field.
                (None, Some(end), Some(f)) => {
                    cursor = end;
                    let at = end.saturating_sub(f.len());
                    lines.at(yaml.path, yaml.offset + at, f.len())
                }
                _ => yaml.key_location(key),
            }
        })
        .collect()
}

/// Where each line of a file starts, so that locating thousands of values in one file does not
/// count its lines again for each (as [`Location::at_offset`] does).
struct Lines<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Lines<'t> {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { text, starts }
    }

    /// Like [`Location::at_offset`] for an `offset` at a character boundary (a match's start).
    fn at(&self, path: &Path, offset: usize, len: usize) -> Location {
        let index = self
            .starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        let start = self.starts.get(index).copied().unwrap_or(0);
        let end = self
            .starts
            .get(index + 1)
            .map_or(self.text.len(), |next| next.saturating_sub(1));
        match (self.text.get(start..offset), self.text.get(start..end)) {
            (Some(before), Some(line)) => {
                let mut stop = (offset + len).min(end);
                while !self.text.is_char_boundary(stop) {
                    stop -= 1;
                }
                let width = self.text.get(offset..stop).map_or(0, |t| t.chars().count());
                Location {
                    path: path.to_path_buf(),
                    line: index + 1,
                    column: before.chars().count() + 1,
                    width: width.max(1),
                    source_line: Some(line.trim_end_matches('\r').to_string()),
                }
            }
            _ => Location::at_offset(path, self.text, offset, len),
        }
    }
}

/// The offset after the next `field:` (also `"field":`) from `from` on.
fn after_field(text: &str, from: usize, field: &str) -> Option<usize> {
    let mut at = from;
    loop {
        let i = at + text.get(at..)?.find(field)?;
        let end = i + field.len();
        let word_start = text
            .get(..i)
            .and_then(|b| b.chars().next_back())
            .is_none_or(|c| !c.is_alphanumeric() && c != '_');
        let rest = text.get(end..)?;
        let rest = rest.strip_prefix(['"', '\'']).unwrap_or(rest);
        if word_start && rest.trim_start_matches([' ', '\t']).starts_with(':') {
            return Some(end);
        }
        at = end;
    }
}

/// Files copied from `static/` and the theme, and files the theme renders (`templates/files/`),
/// as (output path, where it comes from): none may take an address of a redirect, nor the place
/// of the server rules the build writes.
pub fn check_files<'a>(
    site: &Site,
    files: impl IntoIterator<Item = (&'a str, &'a Path)>,
) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    let mut taken = Occupied::default();
    for (output, source) in files {
        if output == NGINX_FILE || output == NETLIFY_FILE {
            errors.push(
                Diagnostic::error(format!(
                    "`{}` would replace the redirect rules ozg-site writes to `{output}`",
                    source.display()
                ))
                .in_file(source)
                .hint("remove the file and write its redirects into `redirects:` in site.yaml"),
            );
        }
        taken.insert(output.to_string(), Owner::File(source.to_path_buf()));
    }
    if site.redirects.is_empty() {
        return errors;
    }
    for r in &site.redirects {
        if let Some(other) = taken.clash(&r.from.output()) {
            let what = format!("the address `{}`", shown(r.from.as_str()));
            errors.push(collision(&what, other, Path::new(""), &r.location));
        }
    }
    errors
}

#[cfg(test)]
mod tests;
