//! The preview's incremental rebuilds give exactly what a fresh full build gives, through a
//! random sequence of edits, additions, renames and deletions.

mod common;

use common::{NOW, Site};
use std::path::PathBuf;

use ozg_site::serve::{Rebuilt, SiteBuilder};
use ozg_site::synthetic::Rng;

fn builder(site: &Site) -> SiteBuilder {
    SiteBuilder::new(
        site.root().to_path_buf(),
        "http://127.0.0.1:1111".into(),
        false,
        Some(NOW.parse().unwrap()),
    )
}

type Outcome = Result<Vec<(String, ozg_site::write::MemoryFile)>, String>;

/// A build, as comparable text: the files, or the diagnostics.
fn outcome(
    result: Result<ozg_site::serve::Built, ozg_site::diagnostics::Diagnostics>,
) -> (Outcome, Option<Rebuilt>) {
    match result {
        Ok(built) => (
            Ok(built
                .files
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()),
            Some(built.how),
        ),
        Err(d) => (Err(d.iter().map(|d| d.render()).collect()), None),
    }
}

fn news_files(site: &Site) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(site.path("content/aktuelles"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md") && n != "_index.md")
        .collect();
    v.sort();
    v
}

/// Rewrites `rel` the way many editors save: a temporary file renamed over it. Returns the
/// paths a watcher would report.
fn save(site: &Site, rel: &str, text: String) -> Vec<PathBuf> {
    let tmp = format!("{rel}.tmp-save");
    site.write(&tmp, text);
    std::fs::rename(site.path(&tmp), site.path(rel)).unwrap();
    vec![site.path(&tmp), site.path(rel)]
}

#[test]
fn incremental_rebuilds_equal_full_builds_through_random_edits() {
    for seed in [1u64, 7, 42] {
        let site = Site::fixture("basic");
        // A search page (its index lists every page) and a page overview (it looks up every
        // section): both must follow every edit too.
        site.write(
            "content/suche.md",
            "---\ntitle: Suche\ntemplate: search.html\n---\nSiehe die [Übersicht](@/uebersicht.md).\n",
        );
        site.write(
            "content/uebersicht.md",
            "---\ntitle: Seitenübersicht\ntemplate: sitemap.html\n---\nAlles.\n",
        );
        // Topics: their lists and feeds follow retitled, redated and edited news.
        site.write(
            "site.yaml",
            site.read("site.yaml")
                + "themen:\n  - { slug: gdst, title: GDST, description: Das Projekt. }\n  - { slug: leer, title: Leer, description: Noch nichts. }\n",
        );
        for p in [
            "content/aktuelles/erster.md",
            "content/aktuelles/zweiter.md",
        ] {
            let text = site
                .read(p)
                .replacen("\n---\n", "\nthemen: [gdst]\n---\n", 1);
            site.write(p, text);
        }
        let incremental = builder(&site);
        assert_eq!(
            outcome(incremental.build()).0,
            outcome(builder(&site).build()).0,
            "seed {seed}: first build"
        );
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut ok_steps = 0;
        let mut patched = 0;
        for step in 0..30 {
            let news = news_files(&site);
            let pick = |rng: &mut Rng| format!("content/aktuelles/{}", news[rng.below(news.len())]);
            // Mostly published pages: those edits are the ones the preview patches.
            let published: Vec<&String> = news
                .iter()
                .filter(|n| !["entwurf.md", "geplant.md"].contains(&n.as_str()))
                .collect();
            let pick_published = |rng: &mut Rng| {
                format!(
                    "content/aktuelles/{}",
                    published[rng.below(published.len())]
                )
            };
            let (what, changed): (String, Vec<PathBuf>) = match rng.below(19) {
                0 | 13 => {
                    let p = pick_published(&mut rng);
                    let text = site.read(&p) + &format!("\nNoch ein Satz {step}.\n");
                    (format!("append to {p}"), save(&site, &p, text))
                }
                1 | 14 => {
                    // A new title moves the page: every page linking to it must change too.
                    let p = pick_published(&mut rng);
                    let text = site.read(&p);
                    let text = text.replacen("title: ", &format!("title: Neu {step} "), 1);
                    (format!("retitle {p}"), save(&site, &p, text))
                }
                2 => {
                    let originals = [
                        "erster.md",
                        "zweiter.md",
                        "dritter.md",
                        "entwurf.md",
                        "geplant.md",
                    ];
                    let target = originals[rng.below(originals.len())];
                    let p = format!("content/aktuelles/neu-{step}.md");
                    site.write(
                        &p,
                        format!("---\ntitle: Neu {step}\ndate: 2025-11-{:02}\n---\nSiehe [dort](@/aktuelles/{target}).\n", 1 + rng.below(28)),
                    );
                    (format!("add {p} -> {target}"), vec![site.path(&p)])
                }
                3 if news.iter().any(|n| n.starts_with("neu-")) => {
                    // Pages nobody links to, so the site stays buildable and the comparison meaningful.
                    let added: Vec<&String> =
                        news.iter().filter(|n| n.starts_with("neu-")).collect();
                    let p = format!("content/aktuelles/{}", added[rng.below(added.len())]);
                    std::fs::remove_file(site.path(&p)).unwrap();
                    (format!("delete {p}"), vec![site.path(&p)])
                }
                4 => {
                    let p = pick_published(&mut rng);
                    let text = site.read(&p);
                    let text = match text.find("date: ") {
                        Some(i) => format!(
                            "{}date: 2025-10-{:02}{}",
                            &text[..i],
                            1 + rng.below(28),
                            &text[i + 16..]
                        ),
                        None => text,
                    };
                    (format!("redate {p}"), save(&site, &p, text))
                }
                5 => {
                    let p = pick(&mut rng);
                    let text = site.read(&p);
                    let text = if text.contains("draft: true") {
                        text.replace("draft: true\n", "")
                    } else {
                        text.replacen("---\n", "---\ndraft: true\n", 1)
                    };
                    (format!("toggle draft {p}"), save(&site, &p, text))
                }
                6 => {
                    let p = "content/projekte/gdst.md";
                    let text = site.read(p).replace(
                        "Gemeinsam digital.",
                        &format!("Gemeinsam digital, Schritt {step}."),
                    );
                    (
                        "edit a page the home page links to".to_string(),
                        save(&site, p, text),
                    )
                }
                7 if news.iter().any(|n| n.starts_with("neu-")) => {
                    let added: Vec<&String> =
                        news.iter().filter(|n| n.starts_with("neu-")).collect();
                    let p = format!("content/aktuelles/{}", added[rng.below(added.len())]);
                    let to = format!("content/aktuelles/neu-umbenannt-{step}.md");
                    std::fs::rename(site.path(&p), site.path(&to)).unwrap();
                    (
                        format!("rename {p} -> {to}"),
                        vec![site.path(&p), site.path(&to)],
                    )
                }
                8 => {
                    // A session with a calendar: its page, the section list and the .ics files.
                    let p = "content/sprechstunden/70.md";
                    let text = site.read(p) + &format!("\nErgänzung {step}.\n");
                    ("edit a Sprechstunde".to_string(), save(&site, p, text))
                }
                9 => {
                    // An open advent door: the calendar's section value holds it.
                    let p = "content/advent/5.md";
                    let text = site
                        .read(p)
                        .replacen("title: ", &format!("title: {step} "), 1);
                    ("retitle an advent door".to_string(), save(&site, p, text))
                }
                10 => {
                    // Broken front matter: both builds fail alike; the next such step repairs it
                    // and the preview recovers.
                    let broken = news
                        .iter()
                        .map(|n| format!("content/aktuelles/{n}"))
                        .find(|p| site.read(p).contains("\nunbekannt: 1\n"));
                    let p = broken.clone().unwrap_or_else(|| pick(&mut rng));
                    let text = site.read(&p);
                    let text = if broken.is_some() {
                        text.replace("\nunbekannt: 1\n", "\n")
                    } else {
                        text.replacen("---\n", "---\nunbekannt: 1\n", 1)
                    };
                    (format!("toggle a bad key in {p}"), save(&site, &p, text))
                }
                11 => {
                    // A new heading: its id is a new anchor other pages could link to.
                    let p = pick(&mut rng);
                    let text = site.read(&p) + &format!("\n## Abschnitt {step}\n\nText.\n");
                    (format!("add a heading to {p}"), save(&site, &p, text))
                }
                12 | 15 | 16
                    if news.iter().any(|n| {
                        site.read(&format!("content/aktuelles/{n}"))
                            .contains("\nunbekannt: 1\n")
                    }) =>
                {
                    let p = news
                        .iter()
                        .map(|n| format!("content/aktuelles/{n}"))
                        .find(|p| site.read(p).contains("\nunbekannt: 1\n"))
                        .unwrap();
                    let text = site.read(&p).replace("\nunbekannt: 1\n", "\n");
                    (format!("repair {p}"), save(&site, &p, text))
                }
                17 => {
                    // A stylesheet: served as it is, only its own entry changes.
                    let p = "static/css/site-extra.css";
                    let text = site.read(p) + &format!("\n.schritt-{step} {{ color: #000; }}\n");
                    ("edit a stylesheet".to_string(), save(&site, p, text))
                }
                18 => {
                    let p = "themes/mini/templates/page.html";
                    let text = site.read(p) + &format!("\n<!-- {step} -->\n");
                    ("edit a template".to_string(), save(&site, p, text))
                }
                15 => {
                    let text =
                        site.read("site.yaml")
                            .replacen("title: ", &format!("title: V{step} "), 1);
                    ("edit site.yaml".to_string(), save(&site, "site.yaml", text))
                }
                12 => {
                    let p = pick_published(&mut rng);
                    let text = site.read(&p);
                    ("save without change".to_string(), save(&site, &p, text))
                }
                _ => {
                    let p = pick_published(&mut rng);
                    let text = site.read(&p) + &format!("\nNoch ein Absatz {step}.\n");
                    (format!("append to {p}"), save(&site, &p, text))
                }
            };
            let (inc, how) = outcome(incremental.update(&changed));
            let (full, _) = outcome(builder(&site).build());
            assert!(
                inc == full,
                "seed {seed}, step {step} ({what}): incremental differs from a full build"
            );
            ok_steps += usize::from(full.is_ok());
            patched += usize::from(how == Some(Rebuilt::Patched));
        }
        assert!(
            ok_steps >= 18,
            "seed {seed}: only {ok_steps} of 30 steps built; the test compares too few sites"
        );
        assert!(
            patched >= 8,
            "seed {seed}: only {patched} of 30 steps were patched; the test checks the patch path too little"
        );
    }
}

#[test]
fn a_save_that_falls_back_to_a_full_build_says_why_and_a_patched_one_says_nothing() {
    let site = Site::fixture("basic");
    let preview = builder(&site);
    preview.build().unwrap();

    let page = "content/aktuelles/dritter.md";
    let text = site.read(page) + "\nNoch ein Satz.\n";
    let patched = preview.update(&save(&site, page, text)).unwrap();
    assert_eq!(patched.how, Rebuilt::Patched, "a new sentence is patched");
    assert_eq!(
        patched.full_build, None,
        "a patched save gives no reason for a full build"
    );

    let config = site.read("site.yaml") + "\n# Ein Kommentar.\n";
    let full = preview.update(&save(&site, "site.yaml", config)).unwrap();
    assert_eq!(
        full.how,
        Rebuilt::Full,
        "a change to site.yaml is built in full"
    );
    assert_eq!(
        full.full_build
            .map(|reason| format!("full build: {reason}")),
        Some("full build: site.yaml changed".to_string()),
        "the reason the preview prints with OZG_SITE_TIMINGS=1"
    );

    let heading = site.read(page) + "\n## Neue Überschrift\n\nText.\n";
    let full = preview.update(&save(&site, page, heading)).unwrap();
    assert_eq!(
        full.full_build.map(|reason| reason.to_string()),
        Some(format!(
            "the heading ids of {page} change (other pages may link to them)"
        )),
        "a new heading may be a link target elsewhere"
    );
}
