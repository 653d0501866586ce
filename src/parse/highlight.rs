//! Code blocks highlighted with CSS classes by syntect, each block once.
//!
//! Highlighting costs about half a millisecond a block — more than everything else a page costs
//! together — so highlighted blocks are kept by a hash of (language, code, the versions that
//! shape the output): in a map the whole process shares, which the preview's rebuilds find on
//! every save, and, for `build` and `serve`, in `.ozg-site/highlight-cache` between runs
//! ([`DiskCache`]). This module is the file's one owner. `check` never opens it, so it writes
//! nothing.
//!
//! The file is not trusted: it has a header with the format and versions and a checksum per
//! entry, and even an entry that passes both is used only after [`is_highlight_of`] confirmed that
//! it is exactly the block's code, escaped, inside `<span class="…">` tags — so a file someone
//! else wrote cannot put HTML into a page.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use syntect::html::{ClassStyle, ClassedHTMLGenerator};
use syntect::parsing::SyntaxSet;
use syntect::util::LinesWithEndings;

use super::markdown::escape;
use crate::sync;

/// Class prefix of highlighted code spans; the theme's `syntax.css` styles `hl-*` classes.
pub const HIGHLIGHT_PREFIX: &str = "hl-";

/// The cache file inside the site folder (beside the image cache).
pub const CACHE_FILE: &str = ".ozg-site/highlight-cache";

/// The syntect release the highlighted HTML comes from (a test holds it equal to `Cargo.lock`):
/// another release may split or name scopes differently. A macro, so [`SALT`] can `concat!` it.
macro_rules! syntect_version {
    () => {
        "5.3.0"
    };
}

/// Everything besides the language and the code that decides the highlighted HTML. Part of
/// every key and the cache file's header, so a new release of either never reuses old HTML.
/// Bump `format 1` when [`highlight_body`] changes what it writes.
const SALT: &str = concat!(
    "ozg-site ",
    env!("CARGO_PKG_VERSION"),
    " syntect ",
    syntect_version!(),
    " format 1 prefix hl-"
);

/// The cache file's first line; what follows is `entry*` (see [`DiskCache::persist`]).
const MAGIC: &[u8] = b"ozg-site highlight cache\n";

fn syntax_set() -> &'static SyntaxSet {
    // Loading syntect's definitions takes milliseconds: only pay for it when a page has code.
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

/// Highlights code with CSS classes (no inline styles, so the theme controls colours and
/// contrast), from the process's cache when this block was highlighted before.
pub fn highlight(lang: Option<&str>, code: &str) -> String {
    highlight_with(Cache::global(), lang, code)
}

fn highlight_with(cache: &Cache, lang: Option<&str>, code: &str) -> String {
    let lang_attr = lang
        .map(|l| format!(" data-lang=\"{}\"", escape(l)))
        .unwrap_or_default();
    let highlighted = lang.and_then(|l| cache.get_or_highlight(l, code));
    let escaped;
    let body: &str = match &highlighted {
        Some(html) => html.as_str(),
        None => {
            escaped = escape(code);
            &escaped
        }
    };
    format!("<pre class=\"code\"{lang_attr}><code>{body}</code></pre>\n")
}

/// The classed HTML of `code` in the language `lang`, or `None` if syntect does not know the
/// language (or fails on a line), in which case the caller shows the code escaped.
fn highlight_body(lang: &str, code: &str) -> Option<String> {
    let ss = syntax_set();
    let syntax = ss.find_syntax_by_token(lang)?;
    let mut generator = ClassedHTMLGenerator::new_with_class_style(
        syntax,
        ss,
        ClassStyle::SpacedPrefixed {
            prefix: HIGHLIGHT_PREFIX,
        },
    );
    for line in LinesWithEndings::from(code) {
        generator
            .parse_html_for_line_which_includes_newline(line)
            .ok()?;
    }
    Some(generator.finalize())
}

/// The key of a block: a 128-bit hash of the salt, the language and the code.
type Key = u128;

fn key(lang: &str, code: &str) -> Key {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    // Lengths first, so ("a", "bc") and ("ab", "c") are different inputs.
    for part in [SALT, lang, code] {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.digest128()
}

/// A highlighted body the cache holds: made in this process, or an entry of the cache file that
/// was confirmed against its code (kept where it lies in the file's bytes, not copied).
#[derive(Clone)]
enum Html {
    Made(Arc<str>),
    InFile(Arc<CacheFile>, Range<usize>),
}

impl Html {
    fn as_str(&self) -> &str {
        match self {
            Html::Made(html) => html,
            // Confirmed UTF-8 when it was taken in; a failure here cannot happen and would only
            // show an empty block.
            Html::InFile(file, range) => file
                .bytes
                .get(range.clone())
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default(),
        }
    }
}

/// A cache file as read: its bytes and where each entry's HTML and checksum lie in them. Nothing
/// of it is trusted until [`CacheFile::confirmed`] checked the entry against the code.
#[derive(Default)]
struct CacheFile {
    bytes: Vec<u8>,
    /// Key → the range of the entry's HTML; its checksum follows it.
    entries: HashMap<Key, Range<usize>>,
}

impl CacheFile {
    /// The entries of `bytes`, or `None` unless the file has this version's header and its
    /// entries follow each other to the last byte (checksums are checked on use, see
    /// [`CacheFile::confirmed`], so opening a big file costs no time).
    fn parse(bytes: Vec<u8>) -> Option<CacheFile> {
        let header = MAGIC.len() + SALT.len() + 1;
        let rest = bytes.strip_prefix(MAGIC)?;
        let rest = rest.strip_prefix(SALT.as_bytes())?;
        let mut rest = rest.strip_prefix(b"\n")?;
        let mut at = header;
        let mut entries = HashMap::new();
        while !rest.is_empty() {
            let (key, after) = rest.split_first_chunk::<16>()?;
            let (len, after) = after.split_first_chunk::<4>()?;
            let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
            let (_html, after) = after.split_at_checked(len)?;
            let (_sum, after) = after.split_first_chunk::<8>()?;
            let start = at + 20;
            entries.insert(u128::from_le_bytes(*key), start..start + len);
            at = start + len + 8;
            rest = after;
        }
        Some(CacheFile { bytes, entries })
    }

    /// The entry of `key` if its checksum holds, it is UTF-8 and it is exactly the
    /// highlighting of `code` ([`is_highlight_of`]).
    fn confirmed(&self, key: Key, code: &str) -> Option<Range<usize>> {
        let range = self.entries.get(&key)?.clone();
        let html = self.bytes.get(range.clone())?;
        let sum = self.bytes.get(range.end..range.end + 8)?;
        if sum != checksum(&key.to_le_bytes(), html).to_le_bytes() {
            return None;
        }
        let html = std::str::from_utf8(html).ok()?;
        is_highlight_of(html, code).then_some(range)
    }
}

/// Highlighted blocks by [`key`]: those made or confirmed in this process, and those of the
/// cache file, which are used only once confirmed against the code.
#[derive(Default)]
pub struct Cache {
    ready: RwLock<HashMap<Key, Html>>,
    file: RwLock<Arc<CacheFile>>,
    /// Whether `ready` holds anything the cache file does not (so persisting would change it).
    changed: AtomicBool,
    hits: AtomicUsize,
    highlighted: AtomicUsize,
}

impl Cache {
    /// The cache every build, check and preview rebuild of this process shares.
    pub fn global() -> &'static Cache {
        static CACHE: OnceLock<Cache> = OnceLock::new();
        CACHE.get_or_init(Cache::default)
    }

    /// The highlighted body of `code`, from the cache if possible.
    fn get_or_highlight(&self, lang: &str, code: &str) -> Option<Html> {
        let key = key(lang, code);
        if let Some(html) = sync::read(&self.ready).get(&key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Some(html.clone());
        }
        let file = sync::read(&self.file).clone();
        let html = match file.confirmed(key, code) {
            Some(range) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Html::InFile(file, range)
            }
            // Not in the file, or an entry that is damaged or not this code's highlighting (a
            // file written by someone else): highlight anew; the next persist replaces it.
            None => {
                let html = highlight_body(lang, code)?;
                self.highlighted.fetch_add(1, Ordering::Relaxed);
                self.changed.store(true, Ordering::Relaxed);
                Html::Made(html.into())
            }
        };
        sync::write(&self.ready).insert(key, html.clone());
        Some(html)
    }

    /// How many blocks came from the cache and how many syntect highlighted, so far.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.hits.load(Ordering::Relaxed),
            self.highlighted.load(Ordering::Relaxed),
        )
    }

    /// Takes the entries of a cache file (see [`Cache::write_file`]) as unconfirmed; returns how
    /// many, or `None` if the file is not a cache of this version or its entries do not fit
    /// together, in which case nothing of it is used.
    fn load(&self, bytes: Vec<u8>) -> Option<usize> {
        let file = CacheFile::parse(bytes)?;
        let count = file.entries.len();
        *sync::write(&self.file) = Arc::new(file);
        Some(count)
    }

    /// Writes the cache file for the blocks this process made or confirmed: the header, then
    /// per block its key (16 bytes), the length of its HTML (4), the HTML and a checksum of key
    /// and HTML (8), all little-endian. Entries of the old file no page used are left out, so
    /// the file follows the site instead of growing forever.
    fn write_file(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let ready = sync::read(&self.ready);
        let mut keys: Vec<&Key> = ready.keys().collect();
        // Sorted, so the same blocks always give the same file.
        keys.sort_unstable();
        out.write_all(MAGIC)?;
        out.write_all(SALT.as_bytes())?;
        out.write_all(b"\n")?;
        for key in keys {
            let Some(html) = ready.get(key) else { continue };
            let html = html.as_str().as_bytes();
            // A block of 4 GiB is not worth keeping; the next build highlights it again.
            let Ok(len) = u32::try_from(html.len()) else {
                continue;
            };
            let key = key.to_le_bytes();
            out.write_all(&key)?;
            out.write_all(&len.to_le_bytes())?;
            out.write_all(html)?;
            out.write_all(&checksum(&key, html).to_le_bytes())?;
        }
        Ok(())
    }

    #[cfg(test)]
    fn file_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = self.write_file(&mut out);
        out
    }
}

fn checksum(key: &[u8], html: &[u8]) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(key);
    hasher.update(html);
    hasher.digest()
}

/// Whether `html` is `code` as [`highlight_body`] writes it: the code's text with `<`, `>`, `&`,
/// `'` and `"` escaped as syntect escapes them, inside balanced `<span class="…">` tags whose
/// class holds no character that could end the attribute or start markup. Anything else —
/// another tag, an attribute, a comment, a raw `<` — fails, so HTML that passes is as harmless
/// as the escaped code.
pub fn is_highlight_of(html: &str, code: &str) -> bool {
    const OPEN: &str = "<span class=\"";
    let mut html = html;
    let mut code = code;
    let mut depth = 0usize;
    loop {
        // The text up to the next tag or entity must be the code's next characters.
        let text_end = html.find(['<', '&']).unwrap_or(html.len());
        let Some((text, after)) = html.split_at_checked(text_end) else {
            return false;
        };
        if text.contains(['>', '"', '\'']) {
            return false;
        }
        let Some(code_after) = code.strip_prefix(text) else {
            return false;
        };
        code = code_after;
        html = after;
        if html.is_empty() {
            return code.is_empty() && depth == 0;
        }
        if let Some(after) = html.strip_prefix(OPEN) {
            let Some((class, after)) = after.split_once("\">") else {
                return false;
            };
            if class.contains(['<', '>', '&', '"', '\'', '=']) {
                return false;
            }
            depth += 1;
            html = after;
        } else if let Some(after) = html.strip_prefix("</span>") {
            let Some(d) = depth.checked_sub(1) else {
                return false;
            };
            depth = d;
            html = after;
        } else {
            let entity = [
                ("&lt;", '<'),
                ("&gt;", '>'),
                ("&amp;", '&'),
                ("&#39;", '\''),
                ("&quot;", '"'),
            ]
            .into_iter()
            .find_map(|(entity, c)| Some((html.strip_prefix(entity)?, c)));
            let Some((after, c)) = entity else {
                return false;
            };
            let Some(code_after) = code.strip_prefix(c) else {
                return false;
            };
            code = code_after;
            html = after;
        }
    }
}

/// The cache file of a site: [`DiskCache::open`] before a build reads it into the process's
/// cache, [`DiskCache::persist`] after the build writes what the build used. Only `build` and
/// `serve` open one; `check` does not, so it writes nothing.
#[derive(Debug)]
pub struct DiskCache {
    path: PathBuf,
}

impl DiskCache {
    /// Reads the cache file of the site at `root` into [`Cache::global`], if there is one and it
    /// is whole and of this version; a missing, damaged or foreign file is ignored (it costs a
    /// highlight per block, nothing else) and replaced by the next [`DiskCache::persist`].
    pub fn open(root: &Path) -> DiskCache {
        let cache = DiskCache {
            path: root.join(CACHE_FILE),
        };
        if let Ok(bytes) = std::fs::read(&cache.path)
            && Cache::global().load(bytes).is_none()
        {
            // The file must be replaced even if this build highlights nothing new.
            Cache::global().changed.store(true, Ordering::Relaxed);
        }
        cache
    }

    /// Writes the blocks of [`Cache::global`] to the cache file if they differ from what it
    /// holds: into a file beside it, then renamed over it, so an interrupted build never leaves
    /// half a file (a reader would ignore one anyway).
    pub fn persist(&self) -> std::io::Result<()> {
        let cache = Cache::global();
        if !cache.changed.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        let result = write_atomically(&self.path, |out| cache.write_file(out));
        if result.is_err() {
            // Try again after the next build.
            cache.changed.store(true, Ordering::Relaxed);
        }
        result
    }

    /// Where the cache file is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // The process id keeps two builds of the same site from writing into one temporary file.
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let written = std::fs::File::create(&tmp).and_then(|f| {
        let mut out = std::io::BufWriter::new(f);
        write(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "fn main() {\n    let s = \"<b>&'\";\n}\n";

    #[test]
    fn a_block_is_highlighted_once_and_then_found() {
        let cache = Cache::default();
        let first = highlight_with(&cache, Some("rust"), CODE);
        assert_eq!(cache.counts(), (0, 1), "the first time syntect highlights");
        let second = highlight_with(&cache, Some("rust"), CODE);
        assert_eq!(cache.counts(), (1, 1), "the second time the cache answers");
        assert_eq!(first, second);
        assert!(first.contains("class=\"hl-"), "{first}");
        highlight_with(&cache, Some("python"), CODE);
        highlight_with(&cache, Some("rust"), "fn other() {}\n");
        assert_eq!(
            cache.counts(),
            (1, 3),
            "another language or other code is a miss"
        );
    }

    #[test]
    fn unknown_languages_are_escaped_and_not_cached() {
        let cache = Cache::default();
        let html = highlight_with(&cache, Some("keine-sprache"), "<x>");
        assert_eq!(
            html,
            "<pre class=\"code\" data-lang=\"keine-sprache\"><code>&lt;x&gt;</code></pre>\n"
        );
        assert_eq!(cache.counts(), (0, 0));
        assert!(sync::read(&cache.ready).is_empty());
    }

    #[test]
    fn a_cache_file_round_trips_and_saves_highlighting() {
        let cold = Cache::default();
        let expected = highlight_with(&cold, Some("rust"), CODE);
        let warm = Cache::default();
        assert_eq!(warm.load(cold.file_bytes()), Some(1));
        assert_eq!(highlight_with(&warm, Some("rust"), CODE), expected);
        assert_eq!(warm.counts(), (1, 0), "found in the file, not highlighted");
        assert!(
            !warm.changed.load(Ordering::Relaxed),
            "nothing new to persist"
        );
    }

    #[test]
    fn a_damaged_file_or_entry_is_not_used() {
        let cold = Cache::default();
        highlight_with(&cold, Some("rust"), CODE);
        highlight_with(&cold, Some("rust"), "let x = 1;\n");
        let good = cold.file_bytes();
        let truncated = good[..good.len() - 3].to_vec();
        for bad in [truncated, b"garbage".to_vec(), Vec::new()] {
            assert_eq!(Cache::default().load(bad.clone()), None, "{bad:?}");
        }
        // A flipped byte in the HTML or in a checksum fails that entry's checksum.
        let html_at = good.windows(4).position(|w| w == b"hl-s").unwrap();
        for at in [html_at, good.len() - 1] {
            let mut flipped = good.clone();
            flipped[at] ^= 1;
            let warm = Cache::default();
            assert_eq!(
                warm.load(flipped),
                Some(2),
                "the entries still fit together"
            );
            highlight_with(&warm, Some("rust"), CODE);
            highlight_with(&warm, Some("rust"), "let x = 1;\n");
            assert_eq!(
                warm.counts(),
                (1, 1),
                "the damaged entry is highlighted anew"
            );
            assert!(warm.changed.load(Ordering::Relaxed), "and persisted again");
            assert_eq!(warm.file_bytes(), good, "which repairs the file");
        }
    }

    #[test]
    fn a_file_of_another_version_is_ignored() {
        let cold = Cache::default();
        highlight_with(&cold, Some("rust"), CODE);
        let bytes = cold.file_bytes();
        let header = format!("{}{SALT}\n", String::from_utf8_lossy(MAGIC));
        let entries = bytes.strip_prefix(header.as_bytes()).unwrap();
        assert_eq!(
            Cache::default().load(bytes.clone()),
            Some(1),
            "this version"
        );
        for (ours, theirs) in [("format 1", "format 0"), ("syntect 5.3.0", "syntect 5.2.0")] {
            let mut other = header.replacen(ours, theirs, 1).into_bytes();
            assert_ne!(other, header.as_bytes());
            other.extend_from_slice(entries);
            assert_eq!(Cache::default().load(other), None, "{theirs}");
        }
    }

    #[test]
    fn a_forged_entry_with_a_valid_checksum_is_not_trusted() {
        // Someone who can write the file can compute checksums; the entry must still be the
        // code's own highlighting to be used.
        let forged = "<span class=\"hl-source\">fn main() {}</span><script>alert(1)</script>";
        let mut bytes = Vec::new();
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(SALT.as_bytes());
        bytes.push(b'\n');
        let k = key("rust", "fn main() {}").to_le_bytes();
        bytes.extend_from_slice(&k);
        bytes.extend_from_slice(&(forged.len() as u32).to_le_bytes());
        bytes.extend_from_slice(forged.as_bytes());
        bytes.extend_from_slice(&checksum(&k, forged.as_bytes()).to_le_bytes());
        let cache = Cache::default();
        assert_eq!(cache.load(bytes), Some(1), "the file itself is whole");
        let html = highlight_with(&cache, Some("rust"), "fn main() {}");
        assert!(!html.contains("<script>"), "{html}");
        assert_eq!(cache.counts(), (0, 1), "highlighted anew");
        assert!(
            cache.changed.load(Ordering::Relaxed),
            "the next persist replaces it"
        );
    }

    #[test]
    fn only_escaped_code_in_class_spans_passes_validation() {
        let code = "a < b && c > 'd' \"e\"\n";
        let real = highlight_body("rust", code).unwrap_or_default();
        assert!(is_highlight_of(&real, code), "{real}");
        let cases = [
            ("a", "a", true),
            ("<span class=\"hl-x y\">a</span>", "a", true),
            ("&lt;&gt;&amp;&#39;&quot;", "<>&'\"", true),
            ("a", "ab", false),
            ("ab", "a", false),
            ("<b>a</b>", "a", false),
            ("<span class=\"x\" onclick=\"y\">a</span>", "a", false),
            ("<span class=\"x\">a", "a", false),
            ("a</span>", "a", false),
            ("<span class=\"x><script>\">a</span>", "a", false),
            ("&#60;", "<", false),
            ("<", "<", false),
            (">", ">", false),
            ("<!-- -->a", "a", false),
        ];
        for (html, code, ok) in cases {
            assert_eq!(is_highlight_of(html, code), ok, "{html:?} for {code:?}");
        }
    }

    #[test]
    fn persist_writes_atomically_and_a_second_open_finds_the_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CACHE_FILE);
        let cold = Cache::default();
        let expected = highlight_with(&cold, Some("rust"), CODE);
        write_atomically(&path, |out| cold.write_file(out)).unwrap();
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["highlight-cache"], "no temporary file left");
        let warm = Cache::default();
        assert_eq!(warm.load(std::fs::read(&path).unwrap()), Some(1));
        assert_eq!(highlight_with(&warm, Some("rust"), CODE), expected);
        assert_eq!(warm.counts(), (1, 0));
    }

    #[test]
    fn the_salt_names_the_syntect_release_in_the_lock_file() {
        let lock = include_str!("../../Cargo.lock");
        let pinned = concat!("name = \"syntect\"\nversion = \"", syntect_version!(), "\"");
        assert!(
            lock.contains(pinned),
            "Cargo.lock has another syntect: update syntect_version!"
        );
    }
}
