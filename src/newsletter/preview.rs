//! The preview server's view of each edition's e-mail: `/newsletter/<nr>/email/` shows the HTML
//! part as a mail client would (in a frame of the mail's width) beside the text part. Only
//! `serve` writes these pages; built sites never contain them.

use std::sync::Arc;

use super::{Personal, Which, message, render_editions, settings};
use crate::diagnostics::Diagnostics;
use crate::parse::markdown::escape;
use crate::site::Site;
use crate::theme::Theme;

/// `(output path, page)` for every edition.
pub fn pages(site: &Arc<Site>, theme: &Theme) -> Result<Vec<(String, Vec<u8>)>, Diagnostics> {
    let editions = render_editions(site, theme, Which::All)?;
    if editions.is_empty() {
        return Ok(Vec::new());
    }
    let (to, personal) = match settings(site) {
        Ok(config) => {
            let sample = message::sample(config)?;
            (sample.mailbox.to_string(), sample.personal)
        }
        // Without mail settings the preview still shows the edition, with a made-up recipient.
        Err(_) => (
            "vorschau@example.org".to_string(),
            Personal {
                unsubscribe_url: format!("{}/abmelden-vorschau", site.config.base_url),
                salutation: String::new(),
            },
        ),
    };
    Ok(editions
        .iter()
        // Every edition was rendered from a page of `site`, so each finds its page.
        .filter_map(|e| {
            let path = format!(
                "{}email/index.html",
                site.pages.get(e.page)?.path.trim_start_matches('/')
            );
            let page = format!(
                r#"<!DOCTYPE html>
<html lang="de">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>E-Mail-Vorschau: {subject}</title>
<style>
body {{ margin: 0; font-family: system-ui, sans-serif; background: #e5e8ec; color: #1b1f24; }}
header {{ padding: 1rem 1.5rem; background: #fff; border-bottom: 1px solid #c9ced6; }}
h1 {{ font-size: 1.25rem; margin: 0 0 .25rem; }}
header p {{ margin: 0; color: #4b5561; }}
main {{ display: flex; flex-wrap: wrap; gap: 1.5rem; padding: 1.5rem; align-items: flex-start; }}
section {{ flex: 1 1 22rem; min-width: 0; }}
h2 {{ font-size: 1rem; margin: 0 0 .5rem; }}
iframe {{ width: 100%; max-width: 640px; height: 80vh; border: 1px solid #c9ced6; background: #fff; }}
pre {{ background: #fff; border: 1px solid #c9ced6; padding: 1rem; margin: 0; height: calc(80vh - 2rem); overflow: auto; font-size: .875rem; }}
</style>
</head>
<body>
<header>
<h1>E-Mail-Vorschau: {subject}</h1>
<p>So erhält <strong>{to}</strong> die Ausgabe {number}. <a href="{web}">Webversion</a></p>
</header>
<main>
<section aria-labelledby="html-teil"><h2 id="html-teil">HTML-Teil</h2>
<iframe title="HTML-Teil der E-Mail" srcdoc="{html}"></iframe></section>
<section aria-labelledby="text-teil"><h2 id="text-teil">Textteil</h2>
<pre tabindex="0">{text}</pre></section>
</main>
</body>
</html>
"#,
                subject = escape(&e.subject),
                to = escape(&to),
                number = e.number,
                web = escape(&e.web_url),
                html = escape(&e.addressing(&personal).html(&e.html)),
                text = escape(&e.addressing(&personal).text(&e.text)),
            );
            Some((path, page.into_bytes()))
        })
        .collect())
}
