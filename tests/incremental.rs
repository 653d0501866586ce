//! The preview's incremental rebuilds give exactly what a fresh full build gives, through a
//! random sequence of edits, additions, renames and deletions.

mod common;

use common::{NOW, Site};
use ozg_site::serve::SiteBuilder;
use ozg_site::synthetic::Rng;

fn builder(site: &Site) -> SiteBuilder {
    SiteBuilder::new(
        site.root().to_path_buf(),
        "http://127.0.0.1:1111".into(),
        false,
        Some(NOW.parse().unwrap()),
    )
}

/// Both builds, as comparable text: the files, or the diagnostics.
fn outcome(b: &SiteBuilder) -> Result<Vec<(String, ozg_site::write::MemoryFile)>, String> {
    match b.build() {
        Ok(built) => Ok(built.files.into_iter().collect()),
        Err(d) => Err(d.iter().map(|d| d.render()).collect()),
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

#[test]
fn incremental_rebuilds_equal_full_builds_through_random_edits() {
    for seed in [1u64, 7, 42] {
        let site = Site::fixture("basic");
        let incremental = builder(&site);
        assert_eq!(
            outcome(&incremental),
            outcome(&builder(&site)),
            "seed {seed}: first build"
        );
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut ok_steps = 0;
        for step in 0..25 {
            let news = news_files(&site);
            let pick = |rng: &mut Rng| format!("content/aktuelles/{}", news[rng.below(news.len())]);
            let what = match rng.below(9) {
                0 => {
                    let p = pick(&mut rng);
                    let text = site.read(&p) + &format!("\nNoch ein Satz {step}.\n");
                    site.write(&p, text);
                    format!("append to {p}")
                }
                1 => {
                    // A new title moves the page: every page linking to it must change too.
                    let p = pick(&mut rng);
                    let text = site.read(&p);
                    let text = text.replacen("title: ", &format!("title: Neu {step} "), 1);
                    site.write(&p, text);
                    format!("retitle {p}")
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
                    format!("add {p} -> {target}")
                }
                3 if news.iter().any(|n| n.starts_with("neu-")) => {
                    // Pages nobody links to, so the site stays buildable and the comparison meaningful.
                    let added: Vec<&String> =
                        news.iter().filter(|n| n.starts_with("neu-")).collect();
                    let p = format!("content/aktuelles/{}", added[rng.below(added.len())]);
                    std::fs::remove_file(site.path(&p)).unwrap();
                    format!("delete {p}")
                }
                4 => {
                    let p = pick(&mut rng);
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
                    site.write(&p, text);
                    format!("redate {p}")
                }
                5 => {
                    let p = pick(&mut rng);
                    let text = site.read(&p);
                    let text = if text.contains("draft: true") {
                        text.replace("draft: true\n", "")
                    } else {
                        text.replacen("---\n", "---\ndraft: true\n", 1)
                    };
                    site.write(&p, text);
                    format!("toggle draft {p}")
                }
                6 => {
                    let p = "content/projekte/gdst.md";
                    let text = site.read(p).replace(
                        "Gemeinsam digital.",
                        &format!("Gemeinsam digital, Schritt {step}."),
                    );
                    site.write(p, text);
                    "edit a page the home page links to".to_string()
                }
                7 if news.iter().any(|n| n.starts_with("neu-")) => {
                    let added: Vec<&String> =
                        news.iter().filter(|n| n.starts_with("neu-")).collect();
                    let p = format!("content/aktuelles/{}", added[rng.below(added.len())]);
                    let to = format!("content/aktuelles/neu-umbenannt-{step}.md");
                    std::fs::rename(site.path(&p), site.path(&to)).unwrap();
                    format!("rename {p} -> {to}")
                }
                _ => {
                    let text =
                        site.read("site.yaml")
                            .replacen("title: ", &format!("title: V{step} "), 1);
                    site.write("site.yaml", text);
                    "edit site.yaml".to_string()
                }
            };
            let inc = outcome(&incremental);
            let full = outcome(&builder(&site));
            assert!(
                inc == full,
                "seed {seed}, step {step} ({what}): incremental differs from a full build"
            );
            ok_steps += usize::from(full.is_ok());
        }
        assert!(
            ok_steps >= 20,
            "seed {seed}: only {ok_steps} of 25 steps built; the test compares too few sites"
        );
    }
}
