//! The layers of `src/` point one way: a module uses only modules of a lower layer, never one of its
//! own layer (a sibling) or above. This test reads every `crate::…` path in the library's code
//! (comments and `#[cfg(test)]` modules aside: a doc link or a test may look anywhere) and fails
//! with the file and line of each path that breaks the order, so the rule holds after us.
//!
//! The order, lowest first, is the table in [`LAYERS`]; `docs/architecture.md` explains it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each row is one layer; the modules of a row may use the rows above it in this list (lower
/// layers), never their own row or a row below. `lib` stands for the crate root (`lib.rs`: the
/// pipeline `build`, `check`, `schedule` and its `Options`).
const LAYERS: &[&[&str]] = &[
    &["sync", "wrap", "slug", "hyphenate"],
    &["diagnostics"],
    &["error"],
    &["time", "net", "load"],
    &["yaml"],
    &["config"],
    &["theme"],
    &["parse"],
    &["site"],
    &["audit"],
    &["render"],
    &["write"],
    &["lib"],
    &["newsletter", "scaffold", "synthetic"],
    &["serve", "subscriptions"],
    &["check"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|row| row.contains(&module))
}

/// One `crate::` path that breaks the order.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Breach {
    file: String,
    line: usize,
    from: String,
    to: String,
}

/// The library code of `text` without `//` comments and without a trailing `#[cfg(test)] mod …`
/// block (our test modules sit at the end of their file).
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut previous_was_cfg_test = false;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if previous_was_cfg_test && trimmed.starts_with("mod ") {
            break;
        }
        previous_was_cfg_test = trimmed.starts_with("#[cfg(test)]");
        let code = match line.find("//") {
            Some(at) => line.get(..at).unwrap_or(line),
            None => line,
        };
        lines.push((index + 1, code.to_string()));
    }
    lines
}

/// The first segments of every path that starts with `prefix` in the code of `text` (comments and
/// the test module aside), with the line each is on: `crate::a::x` and `use crate::{a::x, b}` give
/// `a` and `b` for the prefix `crate::`.
fn segments_after(text: &str, prefix: &str) -> Vec<(usize, String)> {
    let lines = code_lines(text);
    let code: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
    // The file's line number of a byte offset into `code`.
    let line_at = |offset: usize| {
        let index = code.get(..offset).map_or(0, |b| b.matches('\n').count());
        lines.get(index).map_or(0, |(number, _)| *number)
    };
    let mut found = Vec::new();
    for (start, _) in code.match_indices(prefix) {
        // `ozg_site_crate::`, `some_crate::` or the inner `super::` of `super::super::` are not
        // where the path starts.
        let before = code.get(..start).and_then(|b| b.chars().last());
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let after = start + prefix.len();
        let rest = code.get(after..).unwrap_or_default();
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names only: the first segment of each comma-separated path.
            for (offset, path) in split_top_level(up_to_matching_brace(group)) {
                let lead = path.len() - path.trim_start().len();
                if let Some(name) = first_segment(&path) {
                    found.push((line_at(after + 1 + offset + lead), name));
                }
            }
        } else if let Some(name) = first_segment(rest) {
            found.push((line_at(after), name));
        }
    }
    found
}

/// The top-level modules a piece of code names after `crate::`; a name that is not a module of
/// the crate is an item of the crate root (`lib`).
fn named_modules(text: &str, modules: &BTreeSet<String>) -> Vec<(usize, String)> {
    segments_after(text, "crate::")
        .into_iter()
        .map(|(line, name)| {
            let module = if modules.contains(&name) {
                name
            } else {
                "lib".to_string()
            };
            (line, module)
        })
        .collect()
}

/// `text` up to the `}` that closes the group it is the inside of.
fn up_to_matching_brace(text: &str) -> &str {
    let mut depth = 0usize;
    for (at, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return &text[..at],
            '}' => depth -= 1,
            _ => {}
        }
    }
    text
}

/// The comma-separated paths of a `use` group with their byte offsets, nested groups kept whole.
fn split_top_level(group: &str) -> Vec<(usize, String)> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut begin = 0;
    for (at, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push((begin, group[begin..at].to_string()));
                begin = at + 1;
            }
            _ => {}
        }
    }
    parts.push((begin, group[begin..].to_string()));
    parts
}

fn first_segment(path: &str) -> Option<String> {
    let name: String = path
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && name != "self").then_some(name)
}

/// Every breach of the order in one file of module `from`.
fn breaches(file: &str, from: &str, text: &str, modules: &BTreeSet<String>) -> Vec<Breach> {
    let Some(own) = layer_of(from) else {
        return vec![Breach {
            file: file.to_string(),
            line: 1,
            from: from.to_string(),
            to: "(no layer: add the module to LAYERS in tests/layers.rs)".to_string(),
        }];
    };
    named_modules(text, modules)
        .into_iter()
        .filter(|(_, to)| to != from)
        .filter(|(_, to)| layer_of(to).is_none_or(|theirs| theirs >= own))
        .map(|(line, to)| Breach {
            file: file.to_string(),
            line,
            from: from.to_string(),
            to,
        })
        .collect()
}

/// The uses of `lib.rs` itself against the order: it names its modules without `crate::`
/// (`site::assemble`), and only its `pub use` re-exports (a façade for the binary and the tests,
/// not a dependency of the pipeline) may name a module above it.
fn root_breaches(text: &str, modules: &BTreeSet<String>) -> Vec<Breach> {
    let own = layer_of("lib").unwrap_or(0);
    let mut found = Vec::new();
    for (line, code) in code_lines(text) {
        let code = code.trim_start();
        if code.starts_with("pub use ") || code.starts_with("pub mod ") || code.starts_with("mod ")
        {
            continue;
        }
        for module in modules {
            let breaks = layer_of(module).is_none_or(|theirs| theirs >= own);
            let named = code.match_indices(&format!("{module}::")).any(|(at, _)| {
                let before = code.get(..at).and_then(|b| b.chars().last());
                !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            });
            if breaks && named {
                found.push(Breach {
                    file: "src/lib.rs".to_string(),
                    line,
                    from: "lib".to_string(),
                    to: module.clone(),
                });
            }
        }
    }
    found
}

/// The crate's top-level modules, as `lib.rs` declares them.
fn modules(lib: &str) -> BTreeSet<String> {
    lib.lines()
        .filter_map(|line| line.trim().strip_prefix("pub mod "))
        .filter_map(|rest| rest.strip_suffix(';'))
        .map(str::to_string)
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_uses_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let modules = modules(&lib);
    for module in &modules {
        assert!(
            layer_of(module).is_some(),
            "src/{module} has no layer: add it to LAYERS in tests/layers.rs"
        );
    }
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for path in files {
        let rel = path
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let top = rel
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        // The binary (main.rs, cmd/) sits above everything; tests.rs files are test modules.
        if top == "main" || top == "cmd" || rel.ends_with("/tests.rs") {
            continue;
        }
        let from = if top == "lib" { "lib".to_string() } else { top };
        let text = std::fs::read_to_string(&path).unwrap();
        if from == "lib" {
            // The crate root names its modules without `crate::`.
            found.extend(root_breaches(&text, &modules));
        }
        found.extend(breaches(&format!("src/{rel}"), &from, &text, &modules));
    }
    found.sort();
    let report: Vec<String> = found
        .iter()
        .map(|b| format!("{}:{}: `{}` uses `crate::{}`", b.file, b.line, b.from, b.to))
        .collect();
    assert!(
        report.is_empty(),
        "{} use(s) against the layer order (tests/layers.rs, docs/architecture.md):\n{}",
        report.len(),
        report.join("\n")
    );
}

fn fixture_modules() -> BTreeSet<String> {
    [
        "diagnostics",
        "parse",
        "site",
        "render",
        "audit",
        "wrap",
        "newsletter",
    ]
    .map(String::from)
    .into()
}

#[test]
fn a_wrong_import_is_found_with_its_line() {
    let text = "//! A model.\nuse crate::diagnostics::Diagnostic;\n\nuse crate::render::Sink;\n";
    let found = breaches("src/site/x.rs", "site", text, &fixture_modules());
    assert_eq!(
        found,
        vec![Breach {
            file: "src/site/x.rs".into(),
            line: 4,
            from: "site".into(),
            to: "render".into()
        }],
        "site may use diagnostics, not render"
    );
}

#[test]
fn groups_inline_paths_and_siblings_are_seen_but_comments_and_tests_are_not() {
    let text = "use crate::{\n    diagnostics::Diagnostic,\n    audit::{self, X},\n};\n\
                // crate::newsletter is only named here\n\
                /// See [`crate::newsletter::send`].\n\
                fn f() { let _ = crate::newsletter::text::wrap(\"\", 1, \"\", \"\"); }\n\
                #[cfg(test)]\nmod tests {\n    use crate::newsletter::Store;\n}\n";
    let found: Vec<(usize, String)> = breaches("src/parse/y.rs", "parse", text, &fixture_modules())
        .into_iter()
        .map(|b| (b.line, b.to))
        .collect();
    assert_eq!(
        found,
        vec![(3, "audit".to_string()), (7, "newsletter".to_string())],
        "the group member `audit` and the inline path count; comments and the test module do not"
    );
}

#[test]
fn the_crate_root_may_re_export_from_above_but_not_use_it() {
    let modules: BTreeSet<String> = ["site", "newsletter"].map(String::from).into();
    let text = "pub use newsletter::Edition;\nfn f() { site::x(); newsletter::render(); }\n";
    let found: Vec<(usize, String)> = root_breaches(text, &modules)
        .into_iter()
        .map(|b| (b.line, b.to))
        .collect();
    assert_eq!(
        found,
        vec![(2, "newsletter".to_string())],
        "the pipeline may call site, not newsletter; the re-export is no use"
    );
}

#[test]
fn the_crate_root_is_a_layer_of_its_own() {
    let text = "use crate::Options;\nuse crate::load_site;\n";
    let found = breaches("src/render/z.rs", "render", text, &fixture_modules());
    assert_eq!(
        found.len(),
        2,
        "render must not use the pipeline above it: {found:?}"
    );
    assert!(
        breaches(
            "src/newsletter/z.rs",
            "newsletter",
            text,
            &fixture_modules()
        )
        .is_empty(),
        "newsletter sits above the pipeline and may use it"
    );
}

/// The sub-modules of one top-level module (`src/<top>/<name>.rs` or `src/<top>/<name>/`) and,
/// for each, the sub-modules of the same top-level module it names (`crate::<top>::x`,
/// `super::x` from `src/<top>/<name>.rs`, `super::super::x` one level deeper), with the file and
/// line of the first use.
type Edges = BTreeMap<String, BTreeMap<String, String>>;

fn sibling_edges(top_dir: &Path, top: &str) -> Edges {
    let subs: BTreeSet<String> = std::fs::read_dir(top_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            if p.is_dir() {
                Some(name)
            } else {
                name.strip_suffix(".rs").map(str::to_string)
            }
        })
        .filter(|name| name != "mod" && name != "tests")
        .collect();
    let mut files = Vec::new();
    rust_files(top_dir, &mut files);
    let mut edges = Edges::new();
    for path in files {
        let rel = path.strip_prefix(top_dir).unwrap();
        let parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().to_string())
            .collect();
        let from = parts[0].trim_end_matches(".rs").to_string();
        if from == "mod" || parts.last().is_some_and(|l| l == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut named = segments_after(&text, &format!("crate::{top}::"));
        let up = match parts.len() {
            1 => Some("super::"),
            2 => Some("super::super::"),
            _ => None,
        };
        if let Some(up) = up {
            named.extend(segments_after(&text, up));
        }
        for (line, to) in named {
            if to != from && subs.contains(&to) {
                let at = format!("src/{}/{}:{line}", top.replace("::", "/"), rel.display());
                edges
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert(at);
            }
        }
    }
    edges
}

/// One cycle in `edges`, as the list of modules with the place of each step, if there is one.
fn find_cycle(edges: &Edges) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &Edges,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flat_map(|m| m.keys()) {
            if let Some(cycle) = visit(next, edges, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

/// Within a top-level module, the sub-modules use each other without a cycle: a cycle means a
/// type sits in the wrong file (a model type in the module that uses it, say), and each side then
/// reaches into the other's internals.
#[test]
fn sub_modules_use_each_other_without_a_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut dirs = vec![src.clone()];
    // Every folder below src/ is a module whose children must not form a cycle.
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path.clone());
                let module = path
                    .strip_prefix(&src)
                    .unwrap()
                    .to_string_lossy()
                    .replace('/', "::");
                let edges = sibling_edges(&path, &module);
                if let Some(cycle) = find_cycle(&edges) {
                    let steps: Vec<String> = cycle
                        .windows(2)
                        .map(|w| format!("{} → {} ({})", w[0], w[1], edges[&w[0]][&w[1]]))
                        .collect();
                    found.push(format!("{module}: {}", steps.join(", ")));
                }
            }
        }
    }
    found.sort();
    assert!(
        found.is_empty(),
        "sub-modules that use each other in a cycle (move the shared type down):\n{}",
        found.join("\n")
    );
}

#[test]
fn a_cycle_between_two_files_is_found() {
    let mut edges = Edges::new();
    edges
        .entry("optin".into())
        .or_default()
        .insert("subscribers".into(), "a:1".into());
    edges
        .entry("subscribers".into())
        .or_default()
        .insert("optin".into(), "b:2".into());
    edges
        .entry("journal".into())
        .or_default()
        .insert("optin".into(), "c:3".into());
    let cycle = find_cycle(&edges).expect("optin ↔ subscribers is a cycle");
    assert!(
        cycle.contains(&"optin".to_string()) && cycle.contains(&"subscribers".to_string()),
        "the cycle names both files: {cycle:?}"
    );
    edges.get_mut("subscribers").unwrap().clear();
    assert_eq!(
        find_cycle(&edges),
        None,
        "journal → optin → subscribers is no cycle"
    );
}
