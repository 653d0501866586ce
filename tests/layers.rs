//! The layers of `src/` point one way: a module uses only modules of a lower layer, never one of its
//! own layer (a sibling) or above. This test reads every `crate::…` path in the library's code
//! (comments and `#[cfg(test)]` modules aside: a doc link or a test may look anywhere) and fails
//! with the file and line of each path that breaks the order, so the rule holds after us.
//!
//! The order, lowest first, is the table in [`LAYERS`]; `docs/architecture.md` explains it.

use std::collections::BTreeSet;
use std::path::Path;

/// Each row is one layer; the modules of a row may use the rows above it in this list (lower
/// layers), never their own row or a row below. `lib` stands for the crate root (`lib.rs`: the
/// pipeline `build`, `check`, `schedule` and its `Options`).
const LAYERS: &[&[&str]] = &[
    &["sync", "wrap", "slug"],
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

/// The top-level modules a piece of code names after `crate::`, with the line each is on. A
/// `use crate::{a::x, b}` group names `a` and `b`; a name that is not a module of the crate is an
/// item of the crate root (`lib`).
fn named_modules(text: &str, modules: &BTreeSet<String>) -> Vec<(usize, String)> {
    let lines = code_lines(text);
    let code: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
    // The file's line number of a byte offset into `code`.
    let line_at = |offset: usize| {
        let index = code.get(..offset).map_or(0, |b| b.matches('\n').count());
        lines.get(index).map_or(0, |(number, _)| *number)
    };
    let mut found = Vec::new();
    for (start, _) in code.match_indices("crate::") {
        // `ozg_site_crate::` or `some_crate::` are not our crate.
        let before = code.get(..start).and_then(|b| b.chars().last());
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let after = start + "crate::".len();
        let rest = code.get(after..).unwrap_or_default();
        let named: Vec<(usize, String)> = if let Some(group) = rest.strip_prefix('{') {
            // Top-level names only: the first segment of each comma-separated path.
            split_top_level(up_to_matching_brace(group))
                .into_iter()
                .filter_map(|(offset, path)| {
                    let lead = path.len() - path.trim_start().len();
                    first_segment(&path).map(|name| (after + 1 + offset + lead, name))
                })
                .collect()
        } else {
            first_segment(rest)
                .map(|name| (after, name))
                .into_iter()
                .collect()
        };
        for (offset, name) in named {
            let module = if modules.contains(&name) {
                name
            } else {
                "lib".to_string()
            };
            found.push((line_at(offset), module));
        }
    }
    found
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
