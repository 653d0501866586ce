//! Whatever an editor's file contains, the engine answers with diagnostics, never a panic.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::{NOW, Site};

fn options(site: &Site) -> ozg_site::Options {
    ozg_site::Options {
        root: site.root().to_path_buf(),
        now: NOW.parse().unwrap(),
        drafts: false,
        base_url: None,
    }
}

/// Every truncation and a few corruptions of a content file: loading must return Ok or Err, not panic.
#[test]
fn truncated_and_corrupted_files_never_panic() {
    let site = Site::fixture("basic");
    let path = "content/sprechstunden/69-forum/index.md";
    let original = site.read(path).into_bytes();
    let mut variants: Vec<Vec<u8>> = (0..original.len())
        .map(|n| original[..n].to_vec())
        .collect();
    for (i, bad) in [
        (5usize, 0xFFu8),
        (20, b':'),
        (40, b'\t'),
        (60, b'['),
        (80, 0xC3),
    ] {
        let mut v = original.clone();
        if i < v.len() {
            v[i] = bad;
        }
        variants.push(v);
    }
    let opts = options(&site);
    for v in variants {
        site.write(path, &v);
        let result = catch_unwind(AssertUnwindSafe(|| ozg_site::load_site(&opts).map(|_| ())));
        let text = String::from_utf8_lossy(&v).into_owned();
        assert!(result.is_ok(), "panic on input:\n{text}");
        if let Ok(Err(diagnostics)) = result {
            for d in diagnostics.iter() {
                d.render();
            }
        }
    }
}

/// Odd but valid-looking values in site.yaml are errors with positions, not panics.
#[test]
fn odd_site_yaml_values_never_panic() {
    let site = Site::fixture("basic");
    let original = site.read("site.yaml");
    for (from, to) in [
        ("timezone: Europe/Berlin", "timezone: Mars/Olympus"),
        (
            "base_url: https://test.example.org",
            "base_url: test.example.org",
        ),
        ("language: de", "language: fr"),
        ("title: Testseite OZG", "title: \"\""),
        ("title: Testseite OZG", "title: [1, 2]"),
    ] {
        site.write("site.yaml", original.replace(from, to));
        let result = catch_unwind(AssertUnwindSafe(|| {
            ozg_site::load_site(&options(&site)).map(|_| ())
        }));
        let inner = result.unwrap_or_else(|_| panic!("panic with {to}"));
        let errors = inner.expect_err(&format!("{to} must be an error"));
        let first = errors.iter().next().unwrap();
        assert!(
            first
                .location
                .as_ref()
                .is_some_and(|l| l.path.ends_with("site.yaml")),
            "{}",
            first.render()
        );
    }
}
