//! Generates a synthetic site for benchmarks (see `ozg_site::synthetic`).
//!
//! ```text
//! cargo run --release --example gen_site -- --pages 10000 --out /dev/shm/site [--hugo DIR] [--highlight] [--shape SHAPE]
//! ```
//!
//! SHAPE is one of `mixed` (the default), `one-section`, `code`, `long`, `small` (see
//! `ozg_site::synthetic::Shape`).

use std::path::PathBuf;

use ozg_site::synthetic::{Shape, Spec, generate};

fn parse_args() -> Result<Spec, String> {
    let mut pages = 1000;
    let mut out = None;
    let mut hugo = None;
    let mut highlight = false;
    let mut shape = Shape::default();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--pages" => {
                pages = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--pages needs a number")?
            }
            "--out" => out = Some(PathBuf::from(it.next().ok_or("--out needs a folder")?)),
            "--hugo" => hugo = Some(PathBuf::from(it.next().ok_or("--hugo needs a folder")?)),
            "--highlight" => highlight = true,
            "--shape" => {
                let names: Vec<&str> = Shape::ALL.iter().map(|(n, _)| *n).collect();
                shape = it
                    .next()
                    .and_then(|v| Shape::named(&v))
                    .ok_or_else(|| format!("--shape needs one of {}", names.join(", ")))?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Spec {
        pages,
        out: out.ok_or("--out DIR is required")?,
        hugo,
        highlight,
        shape,
    })
}

fn main() {
    let spec = match parse_args() {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "gen_site: {e}\nusage: gen_site --pages N --out DIR [--hugo DIR] [--highlight] [--shape SHAPE]"
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = generate(&spec) {
        eprintln!("gen_site: {e}");
        std::process::exit(1);
    }
}
