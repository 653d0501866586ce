//! `ozg-site check` validates everything `build` does and leaves the site folder as it found it:
//! no output, no image cache, nothing below `.ozg-site/`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{NOW, Site};

/// Every entry below `root`, folders included, with a file's bytes.
fn tree(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| {
            let bytes = e
                .file_type()
                .is_file()
                .then(|| std::fs::read(e.path()).expect("read file"));
            (
                e.path()
                    .strip_prefix(root)
                    .expect("below root")
                    .to_path_buf(),
                bytes,
            )
        })
        .collect()
}

#[test]
fn check_of_a_site_with_images_leaves_the_folder_unchanged() {
    let site = Site::fixture("basic");
    let photo = image::RgbImage::from_fn(1200, 800, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    photo
        .save(site.path("content/sprechstunden/69-forum/bild.png"))
        .expect("save image");
    let page = "content/sprechstunden/69-forum/index.md";
    site.write(
        page,
        site.read(page)
            + "\n![Ein Bild vom Forum](bild.png)\n\n<IMG SRC='bild.png' ALT='Noch einmal'>\n",
    );
    let before = tree(site.root());

    site.run(&["check", "--now", NOW]).ok();

    assert!(
        !site.path(".ozg-site").exists(),
        "check created .ozg-site/: {:?}",
        tree(&site.path(".ozg-site")).keys().collect::<Vec<_>>()
    );
    let after = tree(site.root());
    let changed: Vec<_> = after
        .iter()
        .filter(|(path, bytes)| before.get(*path) != Some(*bytes))
        .map(|(path, _)| path)
        .chain(before.keys().filter(|path| !after.contains_key(*path)))
        .collect();
    assert!(
        changed.is_empty(),
        "check changed the site folder: {changed:?}"
    );

    // The same site builds, with both images (the raw HTML one too) made responsive.
    site.build().ok();
    let html = std::fs::read_to_string(
        site.public()
            .join("sprechstunden/69-2-gdst-forum/index.html"),
    )
    .expect("page built");
    assert_eq!(
        html.matches("srcset=\"/sprechstunden/69-2-gdst-forum/bild-480w.png 480w")
            .count(),
        2,
        "{html}"
    );
    assert!(
        html.contains("alt=\"Noch einmal\" loading=\"lazy\""),
        "the raw HTML image keeps its alternative text: {html}"
    );
}
