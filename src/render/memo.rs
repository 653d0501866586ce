//! Skipping templates whose inputs did not change, for the preview server's rebuilds.
//!
//! Each rendered page is stored with a fingerprint of everything its template could see: the
//! globals (settings, `now`, the theme's templates), its own context values, and every value it
//! looked up through `get_page`, `get_section` or `url` while rendering (recorded per thread).
//! A job is skipped only if all of these fingerprints are unchanged, so the output is exactly what
//! rendering would give; `tests/incremental.rs` checks that against full builds.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tera::Value;
use xxhash_rust::xxh3::Xxh3;

use crate::sync::lock;

/// A value a template looked up by `@/` key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dep {
    Page(String),
    Section(String),
    /// Which sections exist (`get_sections`).
    Sections,
    Url(String),
}

struct Entry {
    fingerprint: u128,
    bytes: Arc<Vec<u8>>,
    deps: Vec<(Dep, u128)>,
}

/// Rendered pages of the previous build with their fingerprints.
#[derive(Default)]
pub struct RenderMemo {
    entries: Mutex<HashMap<String, Entry>>,
    globals: Mutex<u128>,
}

impl RenderMemo {
    /// Forgets everything when the globals changed (settings, `now`, templates).
    pub(super) fn start(&self, globals: u128) {
        // Skipping this on a poisoned lock would serve pages rendered with the old globals.
        let (mut g, mut e) = (lock(&self.globals), lock(&self.entries));
        if *g != globals {
            *g = globals;
            e.clear();
        }
    }

    /// The stored output of `rel`, if its fingerprint and every looked-up value are unchanged.
    pub(super) fn get(
        &self,
        rel: &str,
        fingerprint: u128,
        current: impl Fn(&Dep) -> u128,
    ) -> Option<Arc<Vec<u8>>> {
        let entries = lock(&self.entries);
        let entry = entries.get(rel)?;
        (entry.fingerprint == fingerprint && entry.deps.iter().all(|(d, fp)| current(d) == *fp))
            .then(|| entry.bytes.clone())
    }

    pub(super) fn put(
        &self,
        rel: String,
        fingerprint: u128,
        bytes: Arc<Vec<u8>>,
        deps: Vec<(Dep, u128)>,
    ) {
        lock(&self.entries).insert(
            rel,
            Entry {
                fingerprint,
                bytes,
                deps,
            },
        );
    }

    /// The outputs that looked up any of `deps` while rendering.
    pub(super) fn dependents(&self, deps: &std::collections::HashSet<Dep>) -> Vec<String> {
        if deps.is_empty() {
            return Vec::new();
        }
        // An empty answer on a poisoned lock would keep outputs whose inputs changed.
        lock(&self.entries)
            .iter()
            .filter(|(_, e)| e.deps.iter().any(|(d, _)| deps.contains(d)))
            .map(|(rel, _)| rel.clone())
            .collect()
    }

    /// Drops outputs that no longer exist.
    pub(super) fn retain(&self, keep: &std::collections::HashSet<String>) {
        lock(&self.entries).retain(|k, _| keep.contains(k));
    }
}

thread_local! {
    static RECORDING: RefCell<Option<Vec<Dep>>> = const { RefCell::new(None) };
}

/// Notes a lookup made by the template being rendered on this thread (if one is being recorded).
pub(super) fn record(dep: Dep) {
    RECORDING.with(|r| {
        if let Some(deps) = r.borrow_mut().as_mut() {
            deps.push(dep);
        }
    });
}

/// Runs `f`, returning what it returned and the lookups it made.
pub(super) fn recording<T>(f: impl FnOnce() -> T) -> (T, Vec<Dep>) {
    RECORDING.with(|r| *r.borrow_mut() = Some(Vec::new()));
    let out = f();
    let deps = RECORDING
        .with(|r| r.borrow_mut().take())
        .unwrap_or_default();
    (out, deps)
}

/// A 128-bit fingerprint builder.
pub(super) struct Fingerprint(Xxh3);

impl Fingerprint {
    pub fn new() -> Self {
        Fingerprint(Xxh3::new())
    }

    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.update(&(b.len() as u64).to_le_bytes());
        self.0.update(b);
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    pub fn u128(&mut self, v: u128) -> &mut Self {
        self.0.update(&v.to_le_bytes());
        self
    }

    /// A tera value, with map keys in sorted order (tera's maps have no stable order).
    pub fn value(&mut self, v: &Value) -> &mut Self {
        use tera::value::ValueKind as K;
        let kind = v.kind();
        self.str(v.name());
        match kind {
            K::Undefined | K::None => {}
            K::Bool => {
                self.str(if v.as_bool().unwrap_or(false) {
                    "1"
                } else {
                    "0"
                });
            }
            K::String => {
                self.str(v.as_str().unwrap_or_default());
                self.str(if v.is_safe() { "safe" } else { "" });
            }
            K::Array => {
                let items = v.as_array().unwrap_or_default();
                self.u128(items.len() as u128);
                for item in items {
                    self.value(item);
                }
            }
            K::Map => {
                if let Some(map) = v.as_map() {
                    // Keys are strings in practice; only other keys need formatting.
                    let mut entries: Vec<(std::borrow::Cow<'_, str>, &Value)> = map
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.as_str().map_or_else(|| k.to_string().into(), Into::into),
                                v,
                            )
                        })
                        .collect();
                    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                    self.u128(entries.len() as u128);
                    for (k, item) in entries {
                        self.str(&k);
                        self.value(item);
                    }
                }
            }
            K::Bytes => {
                self.bytes(v.as_bytes().unwrap_or_default());
            }
            _ => {
                // Numbers: their text form is exact for integers and floats alike.
                self.str(&v.to_string());
            }
        }
        self
    }

    pub fn finish(&self) -> u128 {
        self.0.digest128()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_globals_forget_every_output_also_after_a_panic_while_locked() {
        let memo = RenderMemo::default();
        memo.start(1);
        memo.put(
            "a/index.html".into(),
            7,
            Arc::new(b"alt".to_vec()),
            Vec::new(),
        );
        crate::sync::poison(&memo.globals);
        memo.start(2);
        assert_eq!(memo.get("a/index.html", 7, |_| 0), None);
    }

    #[test]
    fn outputs_depending_on_a_change_are_found_also_after_a_panic_while_locked() {
        let memo = RenderMemo::default();
        let dep = Dep::Page("aktuelles/a.md".into());
        memo.put(
            "a/index.html".into(),
            7,
            Arc::new(b"alt".to_vec()),
            vec![(dep.clone(), 1)],
        );
        crate::sync::poison(&memo.entries);
        let changed = std::collections::HashSet::from([dep]);
        assert_eq!(memo.dependents(&changed), vec!["a/index.html".to_string()]);
    }
}
