//! Responsive images: every JPEG or PNG a page shows is resized at build time into a few widths,
//! offered with `srcset`/`sizes` (and as WebP — lossless for PNG, lossy for JPEG — where that
//! is smaller), with `width`/`height` so the
//! page does not jump while loading, and lazy loading for all but a page's first image.
//!
//! Resized files are kept in `.ozg-site/images/`, named by the source's content hash: an unchanged
//! image costs a hash and a look at the folder on the next build, never a decode.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Asset;
use crate::config::Config;
use crate::diagnostics::{Diagnostic, Location};
use crate::load::{STATIC_DIR, SourceFile};
use crate::parse::markdown::Rendered;

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

/// Rewrites the `<img>` elements of `body` for local JPEG/PNG images into responsive ones and
/// returns the files to publish. `file` is the page's source (`bild.jpg` is next to it, and an
/// error points into it), `page_path` its URL path. An image is read only from inside the site
/// (see [`crate::load::SiteRoot::written_file`]): `../../../x.png` or a link out is an error.
pub fn rewrite(
    body: &Arc<Rendered>,
    file: &SourceFile,
    page_path: &str,
    config: &Config,
) -> Result<(Arc<Rendered>, Vec<Asset>), Diagnostic> {
    if !body.html.contains("<img ") {
        return Ok((body.clone(), Vec::new()));
    }
    let mut html = String::with_capacity(body.html.len() + 512);
    let mut assets = Vec::new();
    let mut rest = body.html.as_str();
    let mut first = true;
    while let Some(start) = rest.find("<img ") {
        let (before, from_img) = rest.split_at_checked(start).unwrap_or((rest, ""));
        let Some(end) = from_img.find('>').map(|len| len + 1) else {
            break;
        };
        let (tag, after) = from_img.split_at_checked(end).unwrap_or((from_img, ""));
        html.push_str(before);
        match responsive(tag, file, page_path, config, first) {
            Some(Ok((new, files))) => {
                html.push_str(&new);
                assets.extend(files);
            }
            Some(Err(e)) => {
                let src = attribute(tag, "src").unwrap_or_default();
                return Err(Diagnostic::error(format!("the image `{src}` cannot be used: {e}"))
                    .at(source_location(file, src))
                    .hint("put the file next to the page's index.md (write `bild.jpg`) or into static/ (write `/bilder/bild.jpg`), as JPEG or PNG"));
            }
            None => html.push_str(tag),
        }
        first = false;
        rest = after;
    }
    html.push_str(rest);
    if assets.is_empty() {
        return Ok((body.clone(), assets));
    }
    let mut rendered = (**body).clone();
    rendered.html = html;
    Ok((Arc::new(rendered), assets))
}

/// Where the image `src` is written in the page's file: the Markdown `(src` or an HTML `"src`,
/// else the file as a whole (the HTML may spell it differently, e.g. with `&amp;`).
fn source_location(file: &SourceFile, src: &str) -> Location {
    ["(", "\"", "'"]
        .iter()
        .find_map(|open| file.text.find(&format!("{open}{src}")).map(|i| i + 1))
        .filter(|_| !src.is_empty())
        .map_or_else(
            || Location::file(&file.shown),
            |offset| Location::at_offset(&file.shown, &file.text, offset, src.len()),
        )
}

fn attribute<'t>(tag: &'t str, name: &str) -> Option<&'t str> {
    let key = format!(" {name}=\"");
    let (_, from_value) = tag.split_once(&key)?;
    from_value.split_once('"').map(|(value, _)| value)
}

/// `None`: not a local raster image (left as it is).
fn responsive(
    tag: &str,
    file: &SourceFile,
    page_path: &str,
    config: &Config,
    first: bool,
) -> Option<Result<(String, Vec<Asset>), String>> {
    let src = attribute(tag, "src")?;
    let lower = src.to_lowercase();
    let ext = [".jpg", ".jpeg", ".png"]
        .into_iter()
        .find(|e| lower.ends_with(e))?;
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
    Some(process(&source, &config.root).map(|(width, height, variants, webp)| {
        let stem = Path::new(src)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let url_dir = url_dir.trim_end_matches('/');
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
        srcset.push(format!("{src} {width}w"));
        let alt = attribute(tag, "alt").unwrap_or_default();
        let title = attribute(tag, "title")
            .map(|t| format!(" title=\"{t}\""))
            .unwrap_or_default();
        let loading = if first { "" } else { " loading=\"lazy\"" };
        let img = format!(
            "<img src=\"{src}\" srcset=\"{}\" sizes=\"{SIZES}\" width=\"{width}\" height=\"{height}\" alt=\"{alt}\"{title}{loading} decoding=\"async\">",
            srcset.join(", ")
        );
        let html = if webp_set.is_empty() {
            img
        } else {
            format!(
                "<picture><source type=\"image/webp\" srcset=\"{}\" sizes=\"{SIZES}\">{img}</picture>",
                webp_set.join(", ")
            )
        };
        (html, assets)
    }))
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

/// The image's size and its resized variants (same format, and WebP where smaller overall),
/// from the cache or made now.
fn process(source: &Path, root: &Path) -> Result<(u32, u32, Vec<Variant>, Vec<Variant>), String> {
    let bytes = std::fs::read(source).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{} does not exist", shown_path(source, root)),
        _ => format!("{}: {e}", shown_path(source, root)),
    })?;
    let hash = xxhash_rust::xxh3::xxh3_64(&bytes);
    let (width, height) = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?
        .into_dimensions()
        .map_err(|e| format!("{}: {e}", source.display()))?;
    let format = image::ImageFormat::from_path(source).map_err(|e| e.to_string())?;
    let ext = match format {
        image::ImageFormat::Png => "png",
        _ => "jpg",
    };
    let cache = root.join(CACHE_DIR);
    let widths: Vec<u32> = WIDTHS.into_iter().filter(|w| *w < width).collect();
    let file = |w: u32, e: &str| cache.join(format!("{hash:016x}-{w}.{e}"));
    let marker = cache.join(format!("{hash:016x}.webp-smaller"));
    // Only regular files count: `.ozg-site/` can be committed with `git add -f`, and a link
    // planted under the name looked for here would publish its target as an image.
    let complete = widths.iter().all(|w| is_plain_file(&file(*w, ext)));
    if !complete {
        std::fs::create_dir_all(&cache).map_err(|e| e.to_string())?;
        let decoded =
            image::load_from_memory(&bytes).map_err(|e| format!("{}: {e}", source.display()))?;
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
    Ok((width, height, variants, webp))
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
