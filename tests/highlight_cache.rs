//! The highlight cache in `.ozg-site/` as a user meets it: `build` writes it, a second build
//! reads it and writes the same pages, `check` never writes it, and a damaged or forged file
//! changes nothing in the output.

mod common;

use common::{NOW, Site};

const CACHE: &str = ".ozg-site/highlight-cache";

#[test]
fn a_second_build_from_the_cache_writes_the_same_output() {
    let site = Site::fixture("basic");
    site.build().ok();
    let cold = site.snapshot();
    let cache = std::fs::read(site.path(CACHE)).expect("build writes the highlight cache");
    assert!(
        String::from_utf8_lossy(&cache).contains("hl-"),
        "the cache holds the highlighted block"
    );
    let page = &cold[std::path::Path::new("aktuelles/erster-beitrag-ueber-groesse/index.html")];
    assert!(
        String::from_utf8_lossy(page).contains("class=\"hl-"),
        "the fixture's code block is highlighted"
    );

    site.build().ok();
    assert!(
        site.snapshot() == cold,
        "a warm build writes the same bytes"
    );
    assert_eq!(
        std::fs::read(site.path(CACHE)).expect("still there"),
        cache,
        "a warm build that highlights nothing new leaves the file as it was"
    );
}

#[test]
fn a_damaged_cache_is_ignored_and_replaced() {
    let site = Site::fixture("basic");
    site.build().ok();
    let cold = site.snapshot();
    let good = std::fs::read(site.path(CACHE)).expect("build writes the highlight cache");
    // A forged entry would need a valid checksum too; a damaged one only needs a flipped byte.
    let mut damaged = good.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 0xff;
    site.write(CACHE, &damaged);
    site.build().ok();
    assert!(
        site.snapshot() == cold,
        "the same bytes as from a cold build"
    );
    assert_eq!(
        std::fs::read(site.path(CACHE)).expect("written again"),
        good,
        "the build replaces the damaged file"
    );
}

#[test]
fn check_does_not_write_the_highlight_cache() {
    let site = Site::fixture("basic");
    site.run(&["check", "--now", NOW]).ok();
    assert!(
        !site.path(CACHE).exists(),
        "check must not write the highlight cache"
    );
}
