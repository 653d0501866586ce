//! Responsive images: every JPEG or PNG a page shows is resized at build time into a few widths,
//! offered with `srcset`/`sizes` (and as WebP — lossless for PNG, lossy for JPEG — where that
//! is smaller), with `width`/`height` so the
//! page does not jump while loading, and lazy loading for all but a page's first image.
//!
//! Two steps. `plan`, part of `assemble` (so `check` runs it too), takes the `<img>` the
//! Markdown pass found ([`crate::parse::markdown::Rendered::images`], Markdown and raw HTML
//! alike, with their places in the HTML), finds each local JPEG or PNG inside the site and reads
//! its size; it writes nothing. [`make_images`], which only `build` and the preview call, makes
//! the variants and writes the responsive tags into the bodies.
//!
//! Resized files are kept in `.ozg-site/images/`, named by the source's content hash: an unchanged
//! image costs a hash and a look at the folder on the next build, never a decode. [`make_images`]
//! is the one owner of that folder.

use std::borrow::Cow;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Asset, Site};
use crate::config::Config;
use crate::diagnostics::{Diagnostic, Diagnostics, Location};
use crate::load::{STATIC_DIR, SourceFile};
use crate::parse::markdown::{ImageTag, Rendered};

pub const CACHE_DIR: &str = ".ozg-site/images";
/// Widths for phones, tablets and wide screens; the original is the largest offered.
const WIDTHS: [u32; 3] = [480, 960, 1600];
/// The text column is at most 44rem wide (the theme's measure); below that the image is full width.
const SIZES: &str = "(min-width: 48rem) 44rem, 100vw";

/// One resized file.
struct Variant {
    width: u32,
    file: PathBuf,
}

/// A local JPEG or PNG a body shows, read and measured by `plan`; [`make_images`] makes its
/// variants.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Where its `<img>` is in the body's HTML.
    html: Range<usize>,
    /// The `src`, `alt` and `title` attributes as written in the tag (still escaped).
    src: String,
    alt: String,
    title: Option<String>,
    /// The first image of its page loads at once; the others lazily.
    first: bool,
    source: PathBuf,
    hash: u64,
    width: u32,
    height: u32,
    format: image::ImageFormat,
    /// The URL folder its variants go to.
    url_dir: String,
    location: Location,
}

impl Planned {
    fn ext(&self) -> &'static str {
        match self.format {
            image::ImageFormat::Png => "png",
            _ => "jpg",
        }
    }

    /// The widths it is resized to: the standard ones below its own.
    fn widths(&self) -> Vec<u32> {
        WIDTHS.into_iter().filter(|w| *w < self.width).collect()
    }

    fn stem(&self) -> String {
        Path::new(&self.src)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The extension of `src` in lower case, for the variants' names.
    fn written_ext(&self) -> &str {
        let lower = self.src.to_lowercase();
        [".jpeg", ".jpg", ".png"]
            .into_iter()
            .find(|e| lower.ends_with(e))
            .unwrap_or(".jpg")
    }

    fn cache_file(&self, root: &Path, width: u32, ext: &str) -> PathBuf {
        root.join(CACHE_DIR)
            .join(format!("{:016x}-{width}.{ext}", self.hash))
    }

    fn marker(&self, root: &Path) -> PathBuf {
        root.join(CACHE_DIR)
            .join(format!("{:016x}.webp-smaller", self.hash))
    }

    /// The output files it may get (WebP ones only if they turn out smaller), for the check
    /// that no other address takes their paths.
    pub(super) fn outputs(&self, config: &Config) -> Vec<Asset> {
        let url_dir = self.url_dir.trim_end_matches('/');
        let stem = self.stem();
        let mut assets = Vec::new();
        for w in self.widths() {
            let name = format!("{stem}-{w}w{}", self.written_ext());
            assets.push(asset(
                &self.cache_file(&config.root, w, self.ext()),
                url_dir,
                &name,
                config,
            ));
            let name = format!("{stem}-{w}w.webp");
            assets.push(asset(
                &self.cache_file(&config.root, w, "webp"),
                url_dir,
                &name,
                config,
            ));
        }
        assets
    }
}

/// The local JPEG and PNG images of `body`, read and measured, and the problems with the others
/// that claim to be one. `file` is the page's source (`bild.jpg` is next to it), `page_path` its
/// URL path. An image is read only from inside the site (see
/// [`crate::load::SiteRoot::written_file`]): `../../../x.png` or a link out is an error. Nothing
/// is written: `check` plans too.
pub(super) fn plan(
    body: &Rendered,
    file: &SourceFile,
    page_path: &str,
    config: &Config,
) -> (Vec<Planned>, Vec<Diagnostic>) {
    let mut planned = Vec::new();
    let mut errors = Vec::new();
    for (i, image) in body.images.iter().enumerate() {
        let Some(tag) = body.html.get(image.html.clone()) else {
            continue;
        };
        match plan_one(image, tag, file, page_path, config, i == 0) {
            Some(Ok(p)) => planned.push(p),
            Some(Err(e)) => errors.push(
                Diagnostic::error(format!("the image `{}` cannot be used: {e}", image.src))
                    .at(image.location.clone())
                    .hint("put the file next to the page's index.md (write `bild.jpg`) or into static/ (write `/bilder/bild.jpg`), as JPEG or PNG"),
            ),
            None => {}
        }
    }
    (planned, errors)
}

/// `None`: not a local raster image (left as it is).
fn plan_one(
    image: &ImageTag,
    tag: &str,
    file: &SourceFile,
    page_path: &str,
    config: &Config,
    first: bool,
) -> Option<Result<Planned, String>> {
    let src = image.src.as_str();
    let lower = src.to_lowercase();
    if ![".jpg", ".jpeg", ".png"].iter().any(|e| lower.ends_with(e)) {
        return None;
    }
    if src.contains("://") || src.starts_with("//") || src.starts_with("data:") {
        return None;
    }
    // Where the file is, and the URL folder its variants go to.
    let (source, url_dir) = if let Some(abs) = src
        .strip_prefix(&config.base_path)
        .and_then(|s| s.strip_prefix('/'))
    {
        (
            config.site_root.written_file(STATIC_DIR, "", abs),
            format!("{}/{}", config.base_path, parent(abs)),
        )
    } else if !src.starts_with('/') {
        let (within, from) = file.folder();
        (
            config.site_root.written_file(within, from, src),
            format!("{}{}", config.url(page_path), parent(src)),
        )
    } else {
        return None;
    };
    let source = match source {
        Ok(path) => path,
        Err(e) => return Some(Err(e.to_string())),
    };
    Some(
        measure(&source, &config.root).map(|(hash, width, height, format)| Planned {
            html: image.html.clone(),
            src: attribute(tag, "src").map_or_else(|| src.to_string(), Cow::into_owned),
            alt: attribute(tag, "alt")
                .map(Cow::into_owned)
                .unwrap_or_default(),
            title: attribute(tag, "title").map(Cow::into_owned),
            first,
            source,
            hash,
            width,
            height,
            format,
            url_dir,
            location: image.location.clone(),
        }),
    )
}

/// An attribute's value as written in the start tag `tag`, names in any case, values in any
/// quoting; a value that was not in double quotes has its `"` escaped, so it can be written
/// between them.
fn attribute<'t>(tag: &'t str, name: &str) -> Option<Cow<'t, str>> {
    let inner = tag.strip_prefix('<')?;
    // After the element's name.
    let mut rest = inner.trim_start_matches(|c: char| !c.is_ascii_whitespace() && c != '>');
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if rest.is_empty() || rest.starts_with('>') {
            return None;
        }
        let end = rest
            .find(|c: char| c.is_ascii_whitespace() || matches!(c, '=' | '>' | '/'))
            .unwrap_or(rest.len());
        let (key, after) = rest.split_at_checked(end)?;
        let after = after.trim_start();
        let Some(value) = after.strip_prefix('=') else {
            rest = after;
            continue;
        };
        let value = value.trim_start();
        let (raw, quoted, next) = match value.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = value.get(1..)?;
                let close = body.find(q).unwrap_or(body.len());
                let (raw, tail) = body.split_at_checked(close)?;
                (raw, q == '"', tail.get(1..).unwrap_or_default())
            }
            _ => {
                let close = value
                    .find(|c: char| c.is_ascii_whitespace() || c == '>')
                    .unwrap_or(value.len());
                let (raw, tail) = value.split_at_checked(close)?;
                (raw, false, tail)
            }
        };
        if key.eq_ignore_ascii_case(name) {
            return Some(if quoted {
                Cow::Borrowed(raw)
            } else {
                Cow::Owned(raw.replace('"', "&quot;"))
            });
        }
        rest = next;
    }
}

/// Makes the variants of every planned image (from the cache where it has them) and writes
/// the responsive `<img>` into the bodies; the variants become assets of the site. The one
/// owner of `.ozg-site/images/`: only `build` and the preview call it, after `assemble`.
pub fn make_images(site: &mut Site) -> Result<(), Diagnostics> {
    let mut errors = Diagnostics::new();
    let mut assets = Vec::new();
    let config = &site.config;
    let bodies = site
        .pages
        .iter_mut()
        .map(|p| (&mut p.body, &p.images))
        .chain(site.sections.iter_mut().map(|s| (&mut s.body, &s.images)));
    for (body, images) in bodies {
        if images.is_empty() {
            continue;
        }
        let mut html = String::with_capacity(body.html.len() + 512);
        let mut done = 0;
        for image in images {
            match make(image, config) {
                Ok((tag, files)) => {
                    html.push_str(body.html.get(done..image.html.start).unwrap_or_default());
                    html.push_str(&tag);
                    done = image.html.end;
                    assets.extend(files);
                }
                Err(e) => errors.push(
                    Diagnostic::error(format!("the image `{}` cannot be used: {e}", image.src))
                        .at(image.location.clone())
                        .hint("put the file next to the page's index.md (write `bild.jpg`) or into static/ (write `/bilder/bild.jpg`), as JPEG or PNG"),
                ),
            }
        }
        html.push_str(body.html.get(done..).unwrap_or_default());
        let mut rendered = (**body).clone();
        rendered.html = html;
        *body = Arc::new(rendered);
    }
    if errors.has_errors() {
        return Err(errors);
    }
    site.assets.extend(assets);
    Ok(())
}

/// The responsive HTML for one image and the files it offers.
fn make(image: &Planned, config: &Config) -> Result<(String, Vec<Asset>), String> {
    let (variants, webp) = process(image, &config.root)?;
    let src = &image.src;
    let url_dir = image.url_dir.trim_end_matches('/');
    let stem = image.stem();
    let ext = image.written_ext();
    let mut assets = Vec::new();
    let mut srcset = Vec::new();
    let mut webp_set = Vec::new();
    for v in &variants {
        let name = format!("{stem}-{}w{}", v.width, ext);
        srcset.push(format!("{url_dir}/{name} {}w", v.width));
        assets.push(asset(&v.file, url_dir, &name, config));
    }
    for v in &webp {
        let name = format!("{stem}-{}w.webp", v.width);
        webp_set.push(format!("{url_dir}/{name} {}w", v.width));
        assets.push(asset(&v.file, url_dir, &name, config));
    }
    srcset.push(format!("{src} {}w", image.width));
    let title = image
        .title
        .as_ref()
        .map(|t| format!(" title=\"{t}\""))
        .unwrap_or_default();
    let loading = if image.first { "" } else { " loading=\"lazy\"" };
    let img = format!(
        "<img src=\"{src}\" srcset=\"{}\" sizes=\"{SIZES}\" width=\"{}\" height=\"{}\" alt=\"{}\"{title}{loading} decoding=\"async\">",
        srcset.join(", "),
        image.width,
        image.height,
        image.alt,
    );
    let html = if webp_set.is_empty() {
        img
    } else {
        format!(
            "<picture><source type=\"image/webp\" srcset=\"{}\" sizes=\"{SIZES}\">{img}</picture>",
            webp_set.join(", ")
        )
    };
    Ok((html, assets))
}

/// `static/bilder/x.jpg` rather than the absolute path, as editors see it.
fn shown_path(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn parent(path: &str) -> &str {
    path.rfind('/')
        .and_then(|i| path.get(..=i))
        .unwrap_or_default()
}

fn asset(file: &Path, url_dir: &str, name: &str, config: &Config) -> Asset {
    let dir = url_dir
        .strip_prefix(&config.base_path)
        .unwrap_or(url_dir)
        .trim_matches('/');
    Asset {
        source: file.to_path_buf(),
        output: if dir.is_empty() {
            name.to_string()
        } else {
            format!("{dir}/{name}")
        },
    }
}

/// The image's content hash, size and format; the file is read, not decoded.
fn measure(source: &Path, root: &Path) -> Result<(u64, u32, u32, image::ImageFormat), String> {
    let bytes = read(source, root)?;
    let hash = xxhash_rust::xxh3::xxh3_64(&bytes);
    let (width, height) = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?
        .into_dimensions()
        .map_err(|e| format!("{}: {e}", source.display()))?;
    let format = image::ImageFormat::from_path(source).map_err(|e| e.to_string())?;
    Ok((hash, width, height, format))
}

fn read(source: &Path, root: &Path) -> Result<Vec<u8>, String> {
    crate::load::read_bytes(source).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{} does not exist", shown_path(source, root)),
        _ => format!("{}: {e}", shown_path(source, root)),
    })
}

/// The image's resized variants (same format, and WebP where smaller overall), from the cache
/// or made now.
fn process(image: &Planned, root: &Path) -> Result<(Vec<Variant>, Vec<Variant>), String> {
    let ext = image.ext();
    let cache = root.join(CACHE_DIR);
    let widths = image.widths();
    let file = |w: u32, e: &str| image.cache_file(root, w, e);
    let marker = image.marker(root);
    // Only regular files count: `.ozg-site/` can be committed with `git add -f`, and a link
    // planted under the name looked for here would publish its target as an image.
    let complete = widths.iter().all(|w| is_plain_file(&file(*w, ext)));
    if !complete {
        let source = &image.source;
        let bytes = read(source, root)?;
        // The file changed since it was measured: its variants would be filed under the old hash.
        if xxhash_rust::xxh3::xxh3_64(&bytes) != image.hash {
            return Err(format!(
                "{} changed during the build",
                shown_path(source, root)
            ));
        }
        std::fs::create_dir_all(&cache).map_err(|e| e.to_string())?;
        let decoded =
            image::load_from_memory(&bytes).map_err(|e| format!("{}: {e}", source.display()))?;
        let (width, height, format) = (image.width, image.height, image.format);
        let (mut plain_total, mut webp_total) = (0u64, 0u64);
        for w in &widths {
            let h = (u64::from(height) * u64::from(*w) / u64::from(width)).max(1) as u32;
            let resized = decoded.resize_exact(*w, h, image::imageops::FilterType::Lanczos3);
            plain_total += write_atomically(&file(*w, ext), |out| match format {
                image::ImageFormat::Png => resized.write_to(out, image::ImageFormat::Png),
                _ => resized.to_rgb8().write_with_encoder(
                    image::codecs::jpeg::JpegEncoder::new_with_quality(out, 82),
                ),
            })?;
            webp_total += write_atomically(&file(*w, "webp"), |out| match format {
                // Diagrams and screenshots: lossless, like the PNG.
                image::ImageFormat::Png => resized
                    .to_rgba8()
                    .write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(out)),
                // Photos: lossy WebP (libwebp) at about the JPEG's quality.
                _ => {
                    let rgb = resized.to_rgb8();
                    let encoded = webp::Encoder::from_rgb(rgb.as_raw(), rgb.width(), rgb.height())
                        .encode(80.0);
                    std::io::Write::write_all(out, &encoded).map_err(image::ImageError::IoError)
                }
            })?;
        }
        // Offer WebP only when it saves bytes over the whole set.
        if webp_total < plain_total {
            create_fresh(&marker, b"")?;
        } else {
            let _ = std::fs::remove_file(&marker);
        }
    }
    let variants = widths
        .iter()
        .map(|w| Variant {
            width: *w,
            file: file(*w, ext),
        })
        .collect();
    let webp = if is_plain_file(&marker) {
        widths
            .iter()
            .map(|w| Variant {
                width: *w,
                file: file(*w, "webp"),
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok((variants, webp))
}

/// Encodes into `path` through a temporary file, so an interrupted build leaves no broken image.
fn write_atomically(
    path: &Path,
    encode: impl FnOnce(&mut std::io::Cursor<Vec<u8>>) -> image::ImageResult<()>,
) -> Result<u64, String> {
    let mut out = std::io::Cursor::new(Vec::new());
    encode(&mut out).map_err(|e| e.to_string())?;
    let bytes = out.into_inner();
    let tmp = path.with_extension("tmp");
    create_fresh(&tmp, &bytes)?;
    // A rename replaces a link at `path` itself, never the file it points to.
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())?;
    Ok(bytes.len() as u64)
}

/// A regular file, not a link to one.
fn is_plain_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

/// Writes `bytes` to a new file at `path`, removing whatever was there first: writing through a
/// planted link would overwrite the file it points to.
fn create_fresh(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", path.display())),
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| format!("{}: {e}", path.display()))
}
