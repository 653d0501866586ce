//! The build as an editor runs it: outputs, scheduled publication, drafts, the CLI contract.

mod common;

use common::{NOW, Site, ozg};

#[test]
fn build_writes_pretty_urls_feeds_sitemap_and_extras() {
    let site = Site::fixture("basic");
    let run = site.build();
    run.ok();
    assert!(run.stdout.contains("Built "), "{}", run.stdout);
    for file in [
        "index.html",
        "aktuelles/index.html",
        "aktuelles/seite/2/index.html",
        "aktuelles/erster-beitrag-ueber-groesse/index.html",
        "aktuelles/atom.xml",
        "atom.xml",
        "newsletter/2/index.html",
        "newsletter/atom.xml",
        "sprechstunden/69-2-gdst-forum/index.html",
        "sprechstunden/69-2-gdst-forum/folien.pdf",
        "sprechstunden/70-jahresrueckblick-2025/index.html",
        "projekte/gdst/index.html",
        "kontakt/index.html",
        "advent/1/index.html",
        "sitemap.xml",
        "robots.txt",
        "404.html",
        "css/site.css",
        "css/site-extra.css",
    ] {
        assert!(site.public().join(file).is_file(), "missing {file}");
    }
    let sitemap = site.read("public/sitemap.xml");
    assert!(
        sitemap.contains("<loc>https://test.example.org/aktuelles/zweiter-beitrag/</loc><lastmod>2025-11-20</lastmod>"),
        "the sitemap lists the page with its date:\n{sitemap}"
    );
    let robots = site.read("public/robots.txt");
    assert!(
        robots.contains("Sitemap: https://test.example.org/sitemap.xml"),
        "robots.txt names the sitemap:\n{robots}"
    );
    let feed = site.read("public/aktuelles/atom.xml");
    assert!(
        feed.contains("Dritter Beitrag") && feed.contains("Zweiter Beitrag"),
        "the section's feed has both published posts:\n{feed}"
    );
}

#[test]
fn markdown_features_and_internal_links_render() {
    let site = Site::fixture("basic");
    site.build().ok();
    let zweiter = site.read("public/aktuelles/zweiter-beitrag/index.html");
    assert!(
        zweiter.contains("href=\"/aktuelles/erster-beitrag-ueber-groesse/#details\""),
        "{zweiter}"
    );
    let erster = site.read("public/aktuelles/erster-beitrag-ueber-groesse/index.html");
    assert!(erster.contains("<h2 id=\"details\">"), "heading id");
    assert!(
        erster.contains("<pre class=\"code\" data-lang=\"rust\">")
            && erster.contains("class=\"hl-"),
        "the Rust block is highlighted:\n{erster}"
    );
    let home = site.read("public/index.html");
    assert!(
        home.contains("href=\"/projekte/gdst/#arbeitsgruppen\""),
        "the link with an anchor resolves:\n{home}"
    );
    let gdst = site.read("public/projekte/gdst/index.html");
    assert!(
        gdst.contains("<table>") && gdst.contains("<th>AG</th>"),
        "the table renders with its header:\n{gdst}"
    );
    assert!(
        gdst.contains("/sprechstunden/69-2-gdst-forum/"),
        "front matter link resolved"
    );
}

#[test]
fn downloads_are_labelled_with_type_and_size() {
    let site = Site::fixture("basic");
    site.build().ok();
    let page = site.read("public/sprechstunden/69-2-gdst-forum/index.html");
    assert!(
        page.contains("href=\"/sprechstunden/69-2-gdst-forum/folien.pdf\""),
        "{page}"
    );
    assert!(page.contains("PDF") && page.contains("2 KB"), "{page}");
}

#[test]
fn scheduled_content_is_absent_from_every_output_until_its_moment() {
    let site = Site::fixture("basic");
    site.build().ok();
    let all = site.all_output_text();
    for secret in [
        "Zukunftstext-XYZZY",
        "Geheimer Zukunftsplan",
        "geheimer-zukunftsplan",
    ] {
        assert!(
            !all.contains(secret),
            "{secret} leaked before its publish time"
        );
    }
    site.run(&["build", "--now", "2025-12-10T12:00:00+01:00"])
        .ok();
    for (file, text) in [
        (
            "public/aktuelles/geheimer-zukunftsplan/index.html",
            "Zukunftstext-XYZZY",
        ),
        ("public/sitemap.xml", "geheimer-zukunftsplan"),
        ("public/atom.xml", "Geheimer Zukunftsplan"),
    ] {
        let output = site.read(file);
        assert!(
            output.contains(text),
            "published once its time has come: {text:?} in {file}:\n{output}"
        );
    }
}

#[test]
fn closed_advent_doors_leave_no_trace() {
    let site = Site::fixture("basic");
    site.build().ok();
    let all = site.all_output_text();
    for day in [1, 2, 5] {
        assert!(
            all.contains(&format!("Inhalt-Tuer{day}")),
            "door {day} should be open"
        );
    }
    for day in [6, 24] {
        assert!(
            !all.contains(&format!("Inhalt-Tuer{day}")),
            "door {day} text leaked"
        );
        assert!(
            !all.contains(&format!("Titel-Tuer{day}")),
            "door {day} title leaked"
        );
    }
    assert!(
        !site.public().join("advent/6").exists(),
        "door 6 is not written before it opens"
    );
}

#[test]
fn drafts_only_with_the_flag_and_never_future_content() {
    let site = Site::fixture("basic");
    site.build().ok();
    assert!(
        !site.all_output_text().contains("Entwurfstext-QUUX"),
        "a draft is published without --drafts"
    );
    site.run(&["build", "--now", NOW, "--drafts"]).ok();
    let all = site.all_output_text();
    assert!(
        all.contains("Entwurfstext-QUUX"),
        "--drafts publishes the draft"
    );
    assert!(
        !all.contains("Zukunftstext-XYZZY"),
        "--drafts must not publish future content"
    );
}

#[test]
fn schedule_lists_upcoming_moments_machine_readably() {
    let site = Site::fixture("basic");
    let run = site.run(&["schedule", "--now", NOW]);
    run.ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "2025-12-06T12:00:00+01:00\tcontent/advent/6.md\tpublish",
            "2025-12-10T12:00:00+01:00\tcontent/aktuelles/geplant.md\tpublish",
            "2025-12-17T14:00:00+01:00\tcontent/sprechstunden/70.md\tends",
            "2025-12-24T12:00:00+01:00\tcontent/advent/24.md\tpublish",
            "2026-01-01T00:00:00+01:00\tcontent/advent/_index.md\tends",
        ]
    );
    let build = site.build();
    assert!(
        build
            .stdout
            .contains("Next change: 2025-12-06T12:00:00+01:00"),
        "{}",
        build.stdout
    );
}

#[test]
fn now_can_come_from_the_environment() {
    let site = Site::fixture("basic");
    let root = site.root().to_string_lossy().into_owned();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ozg-site"))
        .args(["schedule", "--root", &root])
        .env("OZG_SITE_NOW", "2025-12-20T00:00:00+01:00")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().next(),
        Some("2025-12-24T12:00:00+01:00\tcontent/advent/24.md\tpublish")
    );
}

#[test]
fn usage_errors_exit_2() {
    ozg(&["build", "--now", "morgen"])
        .failed_with(2)
        .stderr_has("RFC 3339");
    ozg(&["build", "--gibtsnicht"]).failed_with(2);
    ozg(&["zaubern"]).failed_with(2);
}

#[test]
fn help_explains_every_flag_and_version_works() {
    let build = ozg(&["build", "--help"]);
    build.ok();
    for flag in ["--root", "--output", "--base-url", "--now", "--drafts"] {
        assert!(build.stdout.contains(flag), "build --help lacks {flag}");
    }
    for cmd in ["check", "schedule", "init"] {
        ozg(&[cmd, "--help"]).ok();
    }
    let v = ozg(&["--version"]);
    v.ok();
    assert!(
        v.stdout.starts_with("ozg-site "),
        "--version names the program: {:?}",
        v.stdout
    );
}

#[test]
fn check_validates_but_writes_nothing() {
    let site = Site::fixture("basic");
    site.run(&["check", "--now", NOW]).ok();
    assert!(!site.public().exists(), "check wrote public/");
    // A template error only shows when rendering: check must render too.
    site.write(
        "site.yaml",
        site.read("site.yaml")
            .replace("theme: default", "theme: mini"),
    );
    site.write("themes/mini/templates/page.html", "{{ page.nichts.da }}");
    site.run(&["check", "--now", NOW])
        .failed_with(1)
        .stderr_has("themes/mini/templates/page.html:1:");
    assert!(!site.public().exists(), "a failed check wrote public/");
}

#[test]
fn output_and_base_url_flags() {
    let site = Site::fixture("basic");
    let out = site.path("ausgabe");
    let out_s = out.to_string_lossy().into_owned();
    site.run(&[
        "build",
        "--now",
        NOW,
        "--output",
        &out_s,
        "--base-url",
        "http://127.0.0.1:1111/vorschau/",
    ])
    .ok();
    let sitemap = std::fs::read_to_string(out.join("sitemap.xml")).unwrap();
    assert!(
        sitemap.contains("<loc>http://127.0.0.1:1111/vorschau/kontakt/</loc>"),
        "{sitemap}"
    );
    let home = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        home.contains("href=\"/vorschau/kontakt/\""),
        "links follow the base URL's path:\n{home}"
    );
    assert!(
        !site.public().exists(),
        "--output writes elsewhere, not public/"
    );
}

#[test]
fn refuses_to_replace_the_site_folder_itself() {
    let site = Site::fixture("basic");
    let root = site.root().to_string_lossy().into_owned();
    site.run(&["build", "--now", NOW, "--output", &root])
        .failed_with(1)
        .stderr_has("refusing");
    assert!(
        site.path("content/kontakt.md").exists(),
        "the site folder was replaced"
    );
}

#[test]
fn builds_are_deterministic() {
    let site = Site::fixture("basic");
    site.build().ok();
    let first = site.snapshot();
    site.build().ok();
    assert_eq!(first, site.snapshot());
}

#[test]
fn init_scaffolds_a_site_that_builds_with_the_built_in_theme() {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("neue-seite");
    let new_s = new.to_string_lossy().into_owned();
    ozg(&["init", &new_s]).ok();
    assert!(
        !new.join("themes").exists(),
        "the scaffold relies on the embedded theme"
    );
    ozg(&["build", "--root", &new_s, "--now", NOW]).ok();
    assert!(
        new.join("public/aktuelles/die-neue-informationsseite-ist-online/index.html")
            .is_file(),
        "the new site's sample post is built"
    );
    assert!(
        new.join("public/css/site.css").is_file(),
        "embedded theme assets copied"
    );
    ozg(&["init", &new_s])
        .failed_with(1)
        .stderr_has("already contains a site");
}

#[test]
fn site_static_overrides_theme_files() {
    let site = Site::fixture("basic");
    site.write("static/css/site.css", "/* eigene Farben */");
    site.build().ok();
    assert_eq!(site.read("public/css/site.css"), "/* eigene Farben */");
}

#[test]
fn a_video_renders_with_captions_download_size_and_duration() {
    let site = Site::fixture("basic");
    site.write("static/videos/dgs.mp4", vec![0u8; 1_500_000]);
    site.write("static/videos/dgs.vtt", "WEBVTT\n");
    site.write(
        "content/kontakt.md",
        "---\ntitle: Kontakt\nvideo:\n  file: /videos/dgs.mp4\n  title: Kontakt in Gebärdensprache\n  duration: \"2:15\"\n  captions: /videos/dgs.vtt\n---\nText.\n",
    );
    site.build().ok();
    let html = site.read("public/kontakt/index.html");
    assert!(
        html.contains("<source src=\"/videos/dgs.mp4\" type=\"video/mp4\">"),
        "{html}"
    );
    assert!(
        html.contains("<track kind=\"captions\" src=\"/videos/dgs.vtt\""),
        "the video has its captions:\n{html}"
    );
    assert!(html.contains("(MP4, 1,5 MB, 2:15 Minuten)"), "{html}");

    site.write(
        "content/kontakt.md",
        site.read("content/kontakt.md")
            .replace("\"2:15\"", "\"zwei Minuten\""),
    );
    site.build()
        .failed_with(1)
        .stderr_has("content/kontakt.md:6:")
        .stderr_has("not a playing time");
}

#[test]
fn a_synthetic_site_of_1000_pages_builds_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    ozg_site::synthetic::generate(&ozg_site::synthetic::Spec {
        pages: 1000,
        out: site.clone(),
        hugo: Some(dir.path().join("hugo")),
        highlight: true,
        shape: ozg_site::synthetic::Shape::Mixed,
    })
    .unwrap();
    let root = site.to_string_lossy().into_owned();
    // Every generated date lies before 2026, so all 1000 pages are published.
    let run = ozg(&[
        "build",
        "--root",
        &root,
        "--now",
        "2026-01-01T00:00:00+01:00",
    ]);
    run.ok();
    // 1000 pages, 5 sections, 49 further list pages of the 500 news items (10 per page).
    assert!(run.stdout.contains("Built 1054 pages"), "{}", run.stdout);
    let page = std::fs::read_to_string(site.join("public/aktuelles/seite-0/index.html")).unwrap();
    assert!(
        page.contains("class=\"hl-") && page.contains("href=\"/"),
        "highlighted, linked"
    );
    assert!(
        dir.path()
            .join("hugo/content/aktuelles/seite-0.md")
            .is_file(),
        "the Hugo copy of the synthetic site is written"
    );
}

#[test]
fn the_search_index_holds_published_pages_only() {
    let site = Site::fixture("basic");
    // Without a search page there is no index.
    site.build().ok();
    assert!(
        !site.public().join("suchindex.json").exists(),
        "a search index without a search page"
    );
    site.write(
        "content/suche.md",
        "---\ntitle: Suche\ntemplate: search.html\n---\nSuchen Sie hier.\n",
    );
    site.write(
        "site.yaml",
        site.read("site.yaml").replace(
            "theme: default",
            "theme: default\nextra: { search_page: \"@/suche.md\" }",
        ),
    );
    site.build().ok();
    let index = std::fs::read_to_string(site.public().join("suchindex.json")).unwrap();
    let docs: serde_json::Value = serde_json::from_str(&index).unwrap();
    let titles: Vec<&str> = docs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["title"].as_str().unwrap())
        .collect();
    assert!(titles.contains(&"Türchen 5 Titel-Tuer5"), "{titles:?}");
    assert!(
        !titles.contains(&"Suche"),
        "the search page does not find itself"
    );
    for secret in [
        "Zukunftstext-XYZZY",
        "Entwurfstext-QUUX",
        "Inhalt-Tuer6",
        "Geheimer Zukunftsplan",
    ] {
        assert!(!index.contains(secret), "{secret} is not published yet");
    }
    let home = std::fs::read_to_string(site.public().join("index.html")).unwrap();
    assert!(
        home.contains("role=\"search\""),
        "the header has the search field"
    );
}

#[test]
fn images_are_resized_once_and_offered_responsively() {
    let site = Site::fixture("basic");
    std::fs::create_dir_all(site.path("content/projekte/bilder-test")).unwrap();
    std::fs::create_dir_all(site.path("static/bilder")).unwrap();
    // A diagram (flat colours: PNG and lossless WebP shine) and a photo-like gradient (JPEG).
    let diagram = image::RgbImage::from_fn(2000, 1000, |x, y| {
        if (x / 100 + y / 100) % 2 == 0 {
            image::Rgb([11, 63, 115])
        } else {
            image::Rgb([255, 255, 255])
        }
    });
    diagram
        .save(site.path("content/projekte/bilder-test/diagramm.png"))
        .unwrap();
    let photo = image::RgbImage::from_fn(1200, 800, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 256) as u8])
    });
    photo.save(site.path("static/bilder/foto.jpg")).unwrap();
    site.write(
        "content/projekte/bilder-test/index.md",
        "---\ntitle: Bilder\n---\n![Ein Diagramm der Zusammenarbeit](diagramm.png)\n\nText.\n\n![Foto vom Workshop](/bilder/foto.jpg)\n",
    );
    site.build().ok();
    let html = std::fs::read_to_string(site.public().join("projekte/bilder/index.html")).unwrap();
    assert!(html.contains("srcset=\"/projekte/bilder/diagramm-480w.png 480w, /projekte/bilder/diagramm-960w.png 960w, /projekte/bilder/diagramm-1600w.png 1600w, diagramm.png 2000w\""), "{html}");
    assert!(html.contains("width=\"2000\" height=\"1000\" alt=\"Ein Diagramm der Zusammenarbeit\" decoding=\"async\""), "the first image loads at once, with its size");
    assert!(
        html.contains(
            "<source type=\"image/webp\" srcset=\"/projekte/bilder/diagramm-480w.webp 480w"
        ),
        "smaller WebP offered"
    );
    assert!(
        html.contains("width=\"1200\" height=\"800\" alt=\"Foto vom Workshop\" loading=\"lazy\""),
        "{html}"
    );
    for (file, w, h) in [
        ("projekte/bilder/diagramm-480w.png", 480, 240),
        ("projekte/bilder/diagramm-960w.png", 960, 480),
        ("projekte/bilder/diagramm-1600w.png", 1600, 800),
        ("projekte/bilder/diagramm-960w.webp", 960, 480),
        ("bilder/foto-480w.jpg", 480, 320),
        ("bilder/foto-960w.jpg", 960, 640),
        ("bilder/foto-960w.webp", 960, 640),
    ] {
        assert_eq!(
            image::image_dimensions(site.public().join(file)).unwrap(),
            (w, h),
            "{file}"
        );
    }
    assert!(
        !site.public().join("bilder/foto-1600w.jpg").exists(),
        "no upscaling"
    );

    // A second build decodes nothing: the cached files stay as they were.
    let cache: Vec<_> = walkdir::WalkDir::new(site.path(".ozg-site/images"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().to_path_buf(),
                e.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect();
    assert!(cache.len() >= 9, "{cache:?}");
    site.build().ok();
    for (path, modified) in &cache {
        assert_eq!(
            &std::fs::metadata(path).unwrap().modified().unwrap(),
            modified,
            "{path:?} made again"
        );
    }
}

/// `newest: true` on a menu item leads to the latest calendar of a hub section, not to the hub.
#[test]
fn a_menu_item_marked_newest_leads_to_the_latest_sub_section() {
    let site = Site::fixture("basic");
    site.write(
        "content/kalender/_index.md",
        "---\ntitle: Kalender\nkind: page\n---\nAlle Kalender.\n",
    );
    for year in ["2024", "2025"] {
        site.write(
            &format!("content/kalender/{year}/_index.md"),
            format!(
                "---\ntitle: Kalender {year}\nkind: advent_door\nadvent: {{ year: {year} }}\n---\n"
            ),
        );
    }
    site.write(
        "site.yaml",
        site.read("site.yaml").replace(
            "navigation:\n",
            "navigation:\n  - { title: Kalender, url: \"@/kalender/_index.md\", newest: true }\n",
        ),
    );
    site.build().ok();
    let home = std::fs::read_to_string(site.public().join("index.html")).unwrap();
    assert!(
        home.contains("<a href=\"/kalender/2025/\">Kalender</a>"),
        "the menu should lead to the 2025 calendar:\n{home}"
    );
}
