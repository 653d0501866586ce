//! Code blocks highlighted with CSS classes by syntect, each block once.
//!
//! Highlighting costs about half a millisecond a block — more than everything else a page costs
//! together — so highlighted blocks are kept by a hash of (language, code, the versions that
//! shape the output): in a map the whole process shares, which the preview's rebuilds find on
//! every save, and, for `build` and `serve`, in `.ozg-site/highlight-cache` between runs
//! ([`DiskCache`]). This module is the file's one owner. `check` never opens it, so it writes
//! nothing. While a build has the file open, the map holds only where each block lies in the old
//! or the new file, not the HTML, so the cache adds nothing to a build's peak memory.
//!
//! The file is not trusted: it has a header with the format and versions and a checksum per
//! entry, and even an entry that passes both is used only after [`is_highlight_of`] confirmed that
//! it is exactly the block's code, escaped, inside `<span class="…">` tags — so a file someone
//! else wrote cannot put HTML into a page.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use syntect::html::{ClassStyle, ClassedHTMLGenerator};
use syntect::parsing::SyntaxSet;
use syntect::util::LinesWithEndings;

use super::escape::escape;
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
    let body = lang
        .and_then(|l| cache.get_or_highlight(l, code))
        .unwrap_or_else(|| escape(code));
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

/// Length of an entry's head (key and length) and tail (checksum) in the cache file.
const HEAD: u64 = 16 + 4;
const TAIL: u64 = 8;

/// A highlighted body the cache holds: in memory (made by a process without a cache file, such
/// as `check`, or by the preview after its first build), or in a file, read back when needed.
#[derive(Clone)]
enum Html {
    Made(Arc<str>),
    /// The range of the HTML in the file; its checksum follows it.
    Stored(Arc<std::fs::File>, Range<u64>),
}

/// Reads `range` of `file` (and, with `tail`, the checksum after it).
fn read_at(file: &std::fs::File, range: &Range<u64>, tail: bool) -> Option<Vec<u8>> {
    let len = usize::try_from(range.end - range.start + if tail { TAIL } else { 0 }).ok()?;
    let mut buf = vec![0; len];
    positioned::read_exact_at(file, &mut buf, range.start).ok()?;
    Some(buf)
}

/// Reads and writes at an offset, so the threads of a build share one handle without seeking.
/// Only Unix has them in `std` without a loop of its own; elsewhere the disk cache is off (every
/// read fails, so blocks are highlighted and kept in memory, and persisting reports why).
mod positioned {
    use std::fs::File;
    use std::io::Result;

    #[cfg(unix)]
    pub fn read_exact_at(file: &File, buf: &mut [u8], at: u64) -> Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
    }

    #[cfg(unix)]
    pub fn write_all_at(file: &File, buf: &[u8], at: u64) -> Result<()> {
        std::os::unix::fs::FileExt::write_all_at(file, buf, at)
    }

    #[cfg(not(unix))]
    pub fn read_exact_at(_: &File, _: &mut [u8], _: u64) -> Result<()> {
        Err(std::io::Error::other("the highlight cache needs Unix"))
    }

    #[cfg(not(unix))]
    pub fn write_all_at(_: &File, _: &[u8], _: u64) -> Result<()> {
        Err(std::io::Error::other("the highlight cache needs Unix"))
    }
}

impl Html {
    /// The HTML; `None` only if a file read fails, and then the caller highlights anew.
    fn text(&self) -> Option<String> {
        match self {
            Html::Made(html) => Some(html.to_string()),
            Html::Stored(file, range) => String::from_utf8(read_at(file, range, false)?).ok(),
        }
    }
}

/// The cache file of an earlier run: an open handle and where each entry lies in it. Nothing of
/// it is trusted until [`OldFile::confirmed`] checked the entry against the code.
struct OldFile {
    file: Arc<std::fs::File>,
    /// Key → the range of the entry's HTML; its checksum follows it.
    entries: HashMap<Key, Range<u64>>,
}

impl OldFile {
    /// The index of the cache file `file`, or `None` unless it has this version's header and its
    /// entries follow each other to the last byte. Only the heads are read: the HTML is read and
    /// its checksum checked when a page uses it ([`OldFile::confirmed`]).
    fn index(file: std::fs::File) -> Option<OldFile> {
        use std::io::{BufRead as _, Read as _};
        let size = file.metadata().ok()?.len();
        let mut reader = std::io::BufReader::new(&file);
        let mut header = vec![0; MAGIC.len() + SALT.len() + 1];
        reader.read_exact(&mut header).ok()?;
        let rest = header.strip_prefix(MAGIC)?.strip_prefix(SALT.as_bytes())?;
        if rest != b"\n" {
            return None;
        }
        let mut at = header.len() as u64;
        let mut entries = HashMap::new();
        while at < size {
            let mut head = [0u8; HEAD as usize];
            reader.read_exact(&mut head).ok()?;
            let (key, len) = head.split_first_chunk::<16>()?;
            let len = u64::from(u32::from_le_bytes(len.try_into().ok()?));
            let start = at + HEAD;
            let end = start + len;
            if end + TAIL > size {
                return None;
            }
            reader.seek_relative(i64::try_from(len + TAIL).ok()?).ok()?;
            entries.insert(u128::from_le_bytes(*key), start..end);
            at = end + TAIL;
        }
        // Nothing may follow the last entry (a file that grew while we read it is not one).
        if !reader.fill_buf().ok()?.is_empty() {
            return None;
        }
        Some(OldFile {
            file: Arc::new(file),
            entries,
        })
    }

    /// The HTML of `key`'s entry if its checksum holds, it is UTF-8 and it is exactly the
    /// highlighting of `code` ([`is_highlight_of`]).
    fn confirmed(&self, key: Key, code: &str) -> Option<(String, Range<u64>)> {
        let range = self.entries.get(&key)?.clone();
        let mut bytes = read_at(&self.file, &range, true)?;
        let sum_at = bytes.len().checked_sub(TAIL as usize)?;
        let sum = bytes.split_off(sum_at);
        if sum != checksum(&key.to_le_bytes(), &bytes).to_le_bytes() {
            return None;
        }
        let html = String::from_utf8(bytes).ok()?;
        is_highlight_of(&html, code).then_some((html, range))
    }
}

/// The next cache file while a build writes it: blocks highlighted anew go straight into it,
/// so a build does not hold them in memory; [`Cache::persist`] adds the confirmed blocks of
/// the old file and renames it over that.
struct NewFile {
    tmp: PathBuf,
    file: Arc<std::fs::File>,
    /// Where the next entry goes.
    end: u64,
}

impl NewFile {
    fn create(path: &Path) -> std::io::Result<NewFile> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // The process id keeps two builds of the same site from writing into one file.
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        let mut new = NewFile {
            tmp,
            file: Arc::new(file),
            end: 0,
        };
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(SALT.as_bytes());
        header.push(b'\n');
        new.append_raw(&header)?;
        Ok(new)
    }

    fn append_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        positioned::write_all_at(&self.file, bytes, self.end)?;
        self.end += bytes.len() as u64;
        Ok(())
    }

    /// Appends the entry of `key`; returns where its HTML lies.
    fn append(&mut self, key: Key, html: &str) -> std::io::Result<Range<u64>> {
        let len = u32::try_from(html.len())
            .map_err(|_| std::io::Error::other("a highlighted block of 4 GiB"))?;
        let key = key.to_le_bytes();
        let mut entry = Vec::with_capacity(html.len() + (HEAD + TAIL) as usize);
        entry.extend_from_slice(&key);
        entry.extend_from_slice(&len.to_le_bytes());
        entry.extend_from_slice(html.as_bytes());
        entry.extend_from_slice(&checksum(&key, html.as_bytes()).to_le_bytes());
        let start = self.end + HEAD;
        self.append_raw(&entry)?;
        Ok(start..start + html.len() as u64)
    }
}

/// Highlighted blocks by [`key`]: those made or confirmed in this process, and those of the
/// old cache file, which are used only once confirmed against the code.
#[derive(Default)]
pub struct Cache {
    ready: RwLock<HashMap<Key, Html>>,
    /// The old cache file: indexed on a thread of its own while the build reads the site.
    old: Mutex<OldState>,
    /// The new cache file, between [`DiskCache::open`] and [`DiskCache::persist`].
    new: Mutex<NewState>,
    /// Whether `ready` holds anything the old file does not (so persisting would change it).
    changed: AtomicBool,
    hits: AtomicUsize,
    highlighted: AtomicUsize,
}

/// The new file is made when the first block is highlighted anew, so a site without code (or a
/// warm build) gets no `.ozg-site/` folder or temporary file from it.
#[derive(Default)]
enum NewState {
    /// No cache file (`check`), or after a persist: new blocks stay in memory.
    #[default]
    None,
    /// To be made at this path.
    Pending(PathBuf),
    Open(NewFile),
}

#[derive(Default)]
enum OldState {
    #[default]
    None,
    Indexing(std::thread::JoinHandle<Option<OldFile>>),
    Ready(Arc<OldFile>),
}

impl Cache {
    /// The cache every build, check and preview rebuild of this process shares.
    pub fn global() -> &'static Cache {
        static CACHE: OnceLock<Cache> = OnceLock::new();
        CACHE.get_or_init(Cache::default)
    }

    /// The old file, once indexed.
    fn old(&self) -> Option<Arc<OldFile>> {
        let mut old = sync::lock(&self.old);
        if let OldState::Indexing(_) = &*old
            && let OldState::Indexing(handle) = std::mem::take(&mut *old)
        {
            match handle.join().ok().flatten() {
                Some(file) => *old = OldState::Ready(Arc::new(file)),
                // Not a cache file of this version: the next persist replaces it.
                None => self.changed.store(true, Ordering::Relaxed),
            }
        }
        match &*old {
            OldState::Ready(file) => Some(file.clone()),
            _ => None,
        }
    }

    /// The highlighted body of `code`, from the cache if possible.
    fn get_or_highlight(&self, lang: &str, code: &str) -> Option<String> {
        let key = key(lang, code);
        let known = sync::read(&self.ready).get(&key).cloned();
        if let Some(html) = known.and_then(|h| h.text()) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Some(html);
        }
        if let Some(old) = self.old()
            && let Some((html, range)) = old.confirmed(key, code)
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            sync::write(&self.ready).insert(key, Html::Stored(old.file.clone(), range));
            return Some(html);
        }
        // Not in the file, or an entry that is damaged or not this code's highlighting (a file
        // written by someone else): highlight anew; the next persist replaces it.
        let html = highlight_body(lang, code)?;
        self.highlighted.fetch_add(1, Ordering::Relaxed);
        self.changed.store(true, Ordering::Relaxed);
        let stored = {
            let mut new = sync::lock(&self.new);
            if let NewState::Pending(path) = &*new {
                // Cannot be made (a read-only site folder): blocks stay in memory, and
                // persisting reports why.
                *new = NewFile::create(path).map_or(NewState::None, NewState::Open);
            }
            match &mut *new {
                NewState::Open(new) => new
                    .append(key, &html)
                    .ok()
                    .map(|range| Html::Stored(new.file.clone(), range)),
                _ => None,
            }
        };
        let entry = stored.unwrap_or_else(|| Html::Made(html.as_str().into()));
        sync::write(&self.ready).insert(key, entry);
        Some(html)
    }

    /// How many blocks came from the cache and how many syntect highlighted, so far.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.hits.load(Ordering::Relaxed),
            self.highlighted.load(Ordering::Relaxed),
        )
    }

    /// Starts indexing the cache file at `path` (on a thread: the build reads the site
    /// meanwhile) and opens the new one beside it.
    fn open(&self, path: &Path) {
        let state = match std::fs::File::open(path) {
            Ok(file) => OldState::Indexing(std::thread::spawn(move || OldFile::index(file))),
            Err(_) => OldState::None,
        };
        *sync::lock(&self.old) = state;
        *sync::lock(&self.new) = NewState::Pending(path.to_path_buf());
    }

    /// Completes the new file with the confirmed blocks of the old one and renames it over
    /// `path`, if this run changed anything; else removes it. Blocks that no page used are left
    /// out, so the file follows the site instead of growing forever. Afterwards new blocks
    /// stay in memory (the preview's later rebuilds).
    fn persist(&self, path: &Path) -> std::io::Result<()> {
        let NewState::Open(mut new) = std::mem::take(&mut *sync::lock(&self.new)) else {
            if !self.changed.swap(false, Ordering::Relaxed) {
                return Ok(());
            }
            // Nothing highlighted anew, but the old file must go (damaged), or the new file
            // could not be made: write one from what is known.
            let mut replacement = NewFile::create(path)?;
            return self.finish(&mut replacement, path);
        };
        if !self.changed.swap(false, Ordering::Relaxed) {
            return std::fs::remove_file(&new.tmp);
        }
        self.finish(&mut new, path)
    }

    fn finish(&self, new: &mut NewFile, path: &Path) -> std::io::Result<()> {
        // No fsync before the rename: after a crash, a torn or empty file fails the checks of
        // the next build and is highlighted over, which costs less than syncing every build.
        let result = self
            .complete(new)
            .and_then(|()| std::fs::rename(&new.tmp, path));
        if result.is_err() {
            let _ = std::fs::remove_file(&new.tmp);
            // Try again after the next build.
            self.changed.store(true, Ordering::Relaxed);
        }
        result
    }

    /// Appends to `new` every block of `ready` that is not in it yet.
    fn complete(&self, new: &mut NewFile) -> std::io::Result<()> {
        let ready = sync::read(&self.ready);
        let mut missing: Vec<(&Key, &Html)> = ready
            .iter()
            .filter(|(_, html)| !matches!(html, Html::Stored(f, _) if Arc::ptr_eq(f, &new.file)))
            .collect();
        // Sorted, so the same blocks give the same file.
        missing.sort_unstable_by_key(|(key, _)| **key);
        for (key, html) in missing {
            if let Some(text) = html.text() {
                new.append(*key, &text)?;
            }
        }
        Ok(())
    }

    /// Removes the new file of a run that did not persist (a build that failed).
    fn discard(&self) {
        if let NewState::Open(new) = std::mem::take(&mut *sync::lock(&self.new)) {
            let _ = std::fs::remove_file(&new.tmp);
        }
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

/// The cache file of a site: [`DiskCache::open`] before a build lets [`Cache::global`] use it,
/// [`DiskCache::persist`] after the build writes what the build used. Only `build` and `serve`
/// open one; `check` does not, so it writes nothing. Dropped without persisting (a failed
/// build), it leaves the old file as it was.
#[derive(Debug)]
pub struct DiskCache {
    path: PathBuf,
}

impl DiskCache {
    /// Opens the cache file of the site at `root` for [`Cache::global`]. A missing, damaged or
    /// foreign file is ignored (it costs a highlight per block, nothing else) and replaced by
    /// the next [`DiskCache::persist`].
    pub fn open(root: &Path) -> DiskCache {
        let cache = DiskCache {
            path: root.join(CACHE_FILE),
        };
        Cache::global().open(&cache.path);
        cache
    }

    /// Writes the cache file if the build changed what it should hold: a file beside it,
    /// renamed over it, so an interrupted build never leaves half a file (a reader would ignore
    /// one anyway).
    pub fn persist(&self) -> std::io::Result<()> {
        Cache::global().persist(&self.path)
    }

    /// Where the cache file is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DiskCache {
    fn drop(&mut self) {
        Cache::global().discard();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "fn main() {\n    let s = \"<b>&'\";\n}\n";
    const OTHER: &str = "let x = 1;\n";

    /// A cache as a build uses it: opened on the file at `path`.
    fn opened(path: &Path) -> Cache {
        let cache = Cache::default();
        cache.open(path);
        cache
    }

    /// A site folder whose cache file holds CODE and OTHER; returns it and the file's bytes.
    fn written() -> (tempfile::TempDir, PathBuf, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CACHE_FILE);
        let cold = opened(&path);
        highlight_with(&cold, Some("rust"), CODE);
        highlight_with(&cold, Some("rust"), OTHER);
        cold.persist(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        (dir, path, bytes)
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

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
        highlight_with(&cache, Some("rust"), OTHER);
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
    fn a_second_run_finds_the_blocks_in_the_file() {
        let (_dir, path, bytes) = written();
        assert_eq!(
            files_in(path.parent().unwrap()),
            ["highlight-cache"],
            "renamed into place, no temporary file left"
        );
        let expected = highlight_with(&Cache::default(), Some("rust"), CODE);
        let warm = opened(&path);
        assert_eq!(highlight_with(&warm, Some("rust"), CODE), expected);
        assert_eq!(warm.counts(), (1, 0), "found in the file, not highlighted");
        warm.persist(&path).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "nothing new: the file stays as it was"
        );
        assert_eq!(files_in(path.parent().unwrap()), ["highlight-cache"]);
    }

    #[test]
    fn a_changed_site_rewrites_the_file_with_the_blocks_it_uses() {
        let (_dir, path, _) = written();
        let warm = opened(&path);
        highlight_with(&warm, Some("rust"), CODE);
        highlight_with(&warm, Some("rust"), "fn neu() {}\n");
        warm.persist(&path).unwrap();
        let again = opened(&path);
        highlight_with(&again, Some("rust"), CODE);
        highlight_with(&again, Some("rust"), "fn neu() {}\n");
        highlight_with(&again, Some("rust"), OTHER);
        assert_eq!(
            again.counts(),
            (2, 1),
            "the used blocks are kept, the unused one is dropped"
        );
    }

    #[test]
    fn a_damaged_file_or_entry_is_not_used() {
        let (_dir, path, good) = written();
        let truncated = good[..good.len() - 3].to_vec();
        let longer = [good.clone(), b"x".to_vec()].concat();
        let html_at = good.windows(4).position(|w| w == b"hl-s").unwrap();
        let mut in_html = good.clone();
        in_html[html_at] ^= 1;
        let mut in_checksum = good.clone();
        *in_checksum.last_mut().unwrap() ^= 1;
        for bad in [
            truncated,
            longer,
            b"garbage".to_vec(),
            Vec::new(),
            in_html,
            in_checksum,
        ] {
            std::fs::write(&path, &bad).unwrap();
            let warm = opened(&path);
            highlight_with(&warm, Some("rust"), CODE);
            highlight_with(&warm, Some("rust"), OTHER);
            let (hits, highlighted) = warm.counts();
            assert!(highlighted >= 1, "a damaged entry is highlighted anew");
            assert_eq!(hits + highlighted, 2);
            warm.persist(&path).unwrap();
            let repaired = opened(&path);
            highlight_with(&repaired, Some("rust"), CODE);
            highlight_with(&repaired, Some("rust"), OTHER);
            assert_eq!(
                repaired.counts(),
                (2, 0),
                "the next persist repairs the file"
            );
        }
    }

    #[test]
    fn a_file_of_another_version_is_ignored() {
        let (_dir, path, bytes) = written();
        let header = format!("{}{SALT}\n", String::from_utf8_lossy(MAGIC));
        let entries = bytes.strip_prefix(header.as_bytes()).unwrap();
        for (ours, theirs) in [("format 1", "format 0"), ("syntect 5.3.0", "syntect 5.2.0")] {
            let mut other = header.replacen(ours, theirs, 1).into_bytes();
            assert_ne!(other, header.as_bytes());
            other.extend_from_slice(entries);
            std::fs::write(&path, &other).unwrap();
            let warm = opened(&path);
            highlight_with(&warm, Some("rust"), CODE);
            assert_eq!(warm.counts(), (0, 1), "{theirs}: highlighted anew");
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
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CACHE_FILE);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        let cache = opened(&path);
        let old = cache.old().unwrap();
        assert_eq!(old.entries.len(), 1, "the file itself is whole");
        let html = highlight_with(&cache, Some("rust"), "fn main() {}");
        assert!(!html.contains("<script>"), "{html}");
        assert_eq!(cache.counts(), (0, 1), "highlighted anew");
        assert!(
            cache.changed.load(Ordering::Relaxed),
            "the next persist replaces it"
        );
    }

    #[test]
    fn a_run_that_does_not_persist_leaves_the_old_file() {
        let (_dir, path, bytes) = written();
        let failed = opened(&path);
        highlight_with(&failed, Some("rust"), "fn neu() {}\n");
        failed.discard();
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        assert_eq!(files_in(path.parent().unwrap()), ["highlight-cache"]);
    }

    #[test]
    fn a_run_without_new_blocks_makes_no_folder_or_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CACHE_FILE);
        let cache = opened(&path);
        highlight_with(&cache, Some("keine-sprache"), "x");
        cache.persist(&path).unwrap();
        assert!(
            files_in(dir.path()).is_empty(),
            "no .ozg-site/ for a site without code"
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
    fn the_salt_names_the_syntect_release_in_the_lock_file() {
        let lock = include_str!("../../Cargo.lock");
        let pinned = concat!("name = \"syntect\"\nversion = \"", syntect_version!(), "\"");
        assert!(
            lock.contains(pinned),
            "Cargo.lock has another syntect: update syntect_version!"
        );
    }
}
