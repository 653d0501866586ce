//! The floor for the speed benchmark: a bare loop that reads each Markdown file, renders it with
//! pulldown-cmark (same options as ozg-site) and writes the HTML — no front matter types, no
//! templates, no lists, feeds or link checks. ozg-site's full build is measured against this.
//!
//! ```text
//! cargo run --release --example floor -- SITE_DIR OUT_DIR
//! ```

use std::path::Path;

use pulldown_cmark::{Options, Parser, html};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [site, out] = args.as_slice() else {
        eprintln!("usage: floor SITE_DIR OUT_DIR");
        std::process::exit(2);
    };
    let content = Path::new(site).join("content");
    let out = Path::new(out);
    let _ = std::fs::remove_dir_all(out);
    let opts = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES;
    let mut n = 0;
    for entry in walkdir::WalkDir::new(&content)
        .into_iter()
        .filter_map(Result::ok)
    {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(path).expect("readable file");
        // Skip the front matter without parsing it.
        let body = text.splitn(3, "---\n").nth(2).unwrap_or(&text);
        let mut html_out = String::with_capacity(body.len() * 3 / 2);
        html::push_html(&mut html_out, Parser::new_ext(body, opts));
        let rel = path
            .strip_prefix(&content)
            .expect("below content")
            .with_extension("");
        let dest = out.join(rel).join("index.html");
        std::fs::create_dir_all(dest.parent().expect("has parent")).expect("create folder");
        std::fs::write(dest, html_out).expect("write file");
        n += 1;
    }
    println!("floor: {n} files");
}
