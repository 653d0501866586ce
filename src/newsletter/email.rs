//! One edition → the HTML and the plain text of its e-mail, with per-recipient placeholders.
//!
//! The theme's `email/edition.mjml` is a Tera template that writes MJML; `mrml` turns that into
//! the table layout Outlook's Word engine needs, `css-inline` moves every style into `style`
//! attributes (mail clients drop `<style>`), a pass makes every link absolute — a mail has no
//! page address to resolve a relative one against — and [`sanitize`] lets only the e-mail subset
//! through. `email/edition.txt` writes the text part from the same values.

mod sanitize;

use std::path::Path;
use std::sync::Arc;

use tera::{Context, Value};

use super::text::{References, markdown_to_text};
use super::{SALUTATION, UNSUBSCRIBE_URL};
use crate::diagnostics::{Diagnostic, Diagnostics, Location};
use crate::parse::kinds::{KindFields, NewsletterFields};
use crate::parse::link::LinkTarget;
use crate::parse::markdown::facts::Facts;
use crate::parse::markdown::{self, BodySource, MarkdownOptions, RawElement, Resolved, raw_html};
use crate::render::context::obj;
use crate::render::templates::Templates;
use crate::site::{Page, PageId, Site};

pub const HTML_TEMPLATE: &str = "edition.mjml";
pub const TEXT_TEMPLATE: &str = "edition.txt";
/// Plain-text mail is read in fixed-width windows; 72 columns leave room for quoting.
pub const TEXT_WIDTH: usize = 72;
/// How deeply an edition's content may nest: MJML's parser recurses per level and runs out of
/// stack a few hundred levels down (on the preview server's 2 MB threads first).
const MAX_NESTING: usize = 100;

/// An edition rendered for mail, still with the placeholders of [`super::Personal`].
#[derive(Debug, Clone)]
pub struct Edition {
    pub number: u32,
    pub page: PageId,
    pub subject: String,
    pub html: String,
    pub text: String,
    /// The web version, linked as "Im Browser ansehen".
    pub web_url: String,
    /// The greeting's own salutation ("Liebe Leserinnen, liebe Leser,"), empty without one: a
    /// recipient without a name gets it where a named one gets the personal salutation, so
    /// every mail opens with exactly one.
    pub opening: String,
    /// For a Sprechstunde's invitation (then `number` is the Sprechstunde's): its version and
    /// calendar. `None` for an edition.
    pub invitation: Option<Arc<super::campaign::Invitation>>,
}

/// One `##` section of the body.
struct Article {
    id: String,
    title: String,
    html: String,
    text: String,
}

/// Renders edition `id` of `site` with the theme's e-mail templates.
pub fn render(site: &Arc<Site>, templates: &Templates, id: PageId) -> Result<Edition, Diagnostics> {
    let (page, fields) = edition_page(site, id)?;
    let mut errors = Diagnostics::new();
    errors.extend(check_fields(page, fields));
    errors.extend(check_body(
        &page.body.facts,
        &page.file.shown,
        &page.file.text,
    ));
    errors.extend(check_raw_elements(&page.body.raw_elements));
    let addresses = Addresses::of(site, page);
    let parts = render_articles(site, page, &addresses, &mut errors);
    if errors.has_errors() {
        return Err(errors);
    }
    let greeting = fields
        .greeting
        .as_ref()
        .map(|g| Greeting::of(&g.text))
        .unwrap_or_default();
    let ctx = context(site, id, page, fields, &addresses, &parts, &greeting);
    let html = finish_html(templates, HTML_TEMPLATE, &ctx, &page.file.shown, &addresses)?;
    let text = finish_text(templates, TEXT_TEMPLATE, &ctx, &page.file.shown)?;
    Ok(Edition {
        number: fields.number,
        page: id,
        subject: fields.subject.clone(),
        html,
        text,
        web_url: addresses.web_url,
        opening: greeting.opening,
        invitation: None,
    })
}

impl Edition {
    /// `personal` as this edition addresses it: without a name, the greeting's own salutation.
    pub fn addressing(&self, personal: &super::Personal) -> super::Personal {
        let mut personal = personal.clone();
        if personal.salutation.is_empty() {
            personal.salutation.clone_from(&self.opening);
        }
        personal
    }
}

impl Edition {
    /// Where the journal records this mail's sending.
    pub fn campaign(&self) -> super::store::CampaignKey {
        match &self.invitation {
            None => super::store::CampaignKey::Edition(self.number),
            Some(i) => super::store::CampaignKey::Invitation {
                uid: i.uid.clone(),
                sequence: i.sequence,
            },
        }
    }

    /// Who a new campaign of this mail goes to: a cancellation only to those invited before.
    pub fn audience(&self) -> super::store::Audience {
        match &self.invitation {
            Some(i) if i.kind == super::campaign::Kind::Cancel => {
                super::store::Audience::EarlierRecipients
            }
            _ => super::store::Audience::List,
        }
    }

    /// The folder of the outbox (and of `newsletter build`) for this mail.
    pub fn folder_name(&self) -> String {
        match &self.invitation {
            None => self.number.to_string(),
            Some(i) => format!("einladung-{}-{}", self.number, i.sequence),
        }
    }

    /// "edition 2" or "invitation to the 70. Sprechstunde (version 1)", for messages.
    pub fn describe(&self) -> String {
        match &self.invitation {
            None => format!("edition {}", self.number),
            Some(i) => format!(
                "the {} to the {}. Sprechstunde (version {})",
                match i.kind {
                    super::campaign::Kind::First => "invitation",
                    super::campaign::Kind::Update => "update",
                    super::campaign::Kind::Cancel => "cancellation",
                },
                self.number,
                i.sequence
            ),
        }
    }
}

/// The greeting's text cut into its salutation and the paragraphs after it.
#[derive(Debug, Default, PartialEq)]
struct Greeting {
    /// The first paragraph when it is a salutation: one short line ending in a comma.
    opening: String,
    paragraphs: Vec<String>,
}

impl Greeting {
    fn of(text: &str) -> Greeting {
        let mut paragraphs: Vec<String> = text
            .trim()
            .split("\n\n")
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        let salutation = paragraphs
            .first()
            .is_some_and(|p| !p.contains('\n') && p.ends_with(',') && p.chars().count() <= 80);
        let opening = if salutation && paragraphs.len() > 1 {
            paragraphs.remove(0)
        } else {
            String::new()
        };
        Greeting {
            opening,
            paragraphs,
        }
    }
}

/// The page of edition `id` and its newsletter fields.
fn edition_page(site: &Site, id: PageId) -> Result<(&Page, &NewsletterFields), Diagnostics> {
    let Some(page) = site.pages.get(id) else {
        return Err(
            Diagnostic::error(format!("there is no page {id} to render as an edition")).into(),
        );
    };
    let KindFields::Newsletter(fields) = &page.fields else {
        return Err(Diagnostic::error("not a newsletter edition")
            .in_file(&page.file.shown)
            .into());
    };
    Ok((page, fields))
}

/// Subject and preheader are what the inbox shows: neither may be empty.
fn check_fields(page: &Page, fields: &NewsletterFields) -> Vec<Diagnostic> {
    let yaml = page.split.yaml_source(&page.file);
    let mut errors = Vec::new();
    for (key, value) in [
        ("subject", &fields.subject),
        ("preheader", &fields.preheader),
    ] {
        if value.trim().is_empty() {
            errors.push(
                Diagnostic::error(format!("the edition's `{key}` is empty"))
                    .at(yaml.key_location(key))
                    .hint(match key {
                        "subject" => "write the subject line readers see in their inbox",
                        _ => "write one sentence that mail clients show after the subject",
                    }),
            );
        }
    }
    errors
}

/// Where the edition is on the web: a mail has no page address to resolve a relative link
/// against, so every address in it is made absolute.
pub(super) struct Addresses {
    /// The web version, linked as "Im Browser ansehen".
    pub(super) web_url: String,
    /// `https://host` of the site.
    origin: String,
}

impl Addresses {
    pub(super) fn of(site: &Site, page: &Page) -> Addresses {
        let config = &site.config;
        Addresses {
            web_url: config.permalink(&page.path),
            origin: config
                .base_url
                .strip_suffix(&config.base_path)
                .unwrap_or(&config.base_url)
                .to_string(),
        }
    }

    pub(super) fn absolute(&self, url: &str) -> String {
        absolutize(url, &self.origin, &self.web_url)
    }
}

/// The intro and the articles, each as HTML and as plain text, and the text part's references.
struct Parts {
    intro: Article,
    articles: Vec<Article>,
    references: String,
}

/// Renders the intro and each `##` article with the e-mail's settings: no heading anchors
/// (a mail has no page to jump in), ids unique per article. This renders parts of the body
/// for a different output, it does not read it again for facts: those come from the web
/// version's pass (`page.body.facts`). Problems are added to `errors`.
fn render_articles(
    site: &Site,
    page: &Page,
    addresses: &Addresses,
    errors: &mut Diagnostics,
) -> Parts {
    let body = page.split.body(&page.file.text);
    let resolve = |target: &str| site.index.resolve(target);
    let text_link = |dest: &str| -> Option<String> {
        match LinkTarget::parse(dest) {
            Some(target) => match resolve(target.key) {
                Resolved::Url(u) => Some(addresses.absolute(&target.with_anchor(&u))),
                _ => None,
            },
            None => Some(addresses.absolute(dest)),
        }
    };
    let md = &site.config.site.markdown;
    let opts = MarkdownOptions {
        heading_anchors: false,
        task_done_label: &md.task_done_label,
        task_open_label: &md.task_open_label,
        trusted_embeds: &md.trusted_embeds,
        open_fact_text: md.open_fact_text.as_deref(),
        search_text: false,
        check_facts: true,
        hyphenate_min_length: md.hyphenate_min_length,
    };
    let mut refs = References::new();
    let mut render_part = |id: String, title: String, range: std::ops::Range<usize>| {
        // The ranges are the Markdown parser's offsets into `body`: always inside it.
        let part = body.get(range.clone()).unwrap_or_default();
        let source = BodySource {
            path: &page.file.shown,
            file_text: &page.file.text,
            offset: page.split.body + range.start,
        };
        let rendered = markdown::render(part, &source, &resolve, &opts);
        errors.extend(rendered.diagnostics.iter().cloned());
        let depth = raw_html::nesting_depth(&rendered.html);
        if depth > MAX_NESTING {
            let start = part.len() - part.trim_start().len();
            errors.push(
                Diagnostic::error(format!(
                    "this part of the edition nests {depth} elements deep; an e-mail takes at most {MAX_NESTING}"
                ))
                .at(Location::at_offset(
                    &page.file.shown,
                    &page.file.text,
                    source.offset + start,
                    1,
                ))
                .hint("Verschachteln Sie Listen, Zitate und HTML-Elemente weniger tief."),
            );
        }
        let text = markdown_to_text(part, &text_link, &mut refs, TEXT_WIDTH);
        Article {
            id,
            title,
            html: rendered.html,
            text,
        }
    };
    // The articles are the `##` sections; their ids are the web version's, so the contents can
    // link to the article on the web.
    let ids: Vec<&str> = page
        .body
        .toc
        .iter()
        .filter(|h| h.level == 2)
        .map(|h| h.id.as_str())
        .collect();
    let sections = split_articles(body, &page.body.facts);
    let intro = render_part(String::new(), String::new(), sections.intro.clone());
    let articles = sections
        .articles
        .into_iter()
        .enumerate()
        .map(|(i, (title, range))| {
            let id = ids.get(i).map_or_else(String::new, |s| s.to_string());
            render_part(id, title, range)
        })
        .collect();
    Parts {
        intro,
        articles,
        references: refs.render(),
    }
}

/// The values the e-mail templates see: `edition` (as pages see it), `email` and `recipient`.
fn context(
    site: &Arc<Site>,
    id: PageId,
    page: &Page,
    fields: &NewsletterFields,
    addresses: &Addresses,
    parts: &Parts,
    greeting: &Greeting,
) -> Context {
    let web_url = &addresses.web_url;
    let summary = crate::render::context::page_summary(site, page);
    let edition = crate::render::context::page_full(site, id, &summary);
    let photo = fields
        .greeting
        .as_ref()
        .and_then(|g| g.photo.as_deref())
        .map(|p| addresses.absolute(p));
    let opt = |s: Option<String>| s.map_or_else(Value::none, Value::from);
    let article_values: Vec<Value> = parts
        .articles
        .iter()
        .map(|a| {
            let url = if a.id.is_empty() {
                web_url.clone()
            } else {
                format!("{web_url}#{}", a.id)
            };
            obj(vec![
                ("id", Value::from(a.id.as_str())),
                ("title", Value::from(a.title.as_str())),
                ("url", Value::from(url)),
                // Rendered Markdown: the template may output it as it is.
                ("html", Value::safe_string(&a.html)),
                ("text", Value::from(a.text.trim_end())),
            ])
        })
        .collect();
    let email = obj(vec![
        ("web_url", Value::from(web_url.as_str())),
        ("subject", Value::from(fields.subject.as_str())),
        ("preheader", Value::from(fields.preheader.as_str())),
        ("intro_html", Value::safe_string(&parts.intro.html)),
        ("intro_text", Value::from(parts.intro.text.trim_end())),
        ("greeting_photo_url", opt(photo)),
        ("footer_navigation", footer_navigation(site, addresses)),
        (
            "greeting_paragraphs",
            Value::from(
                greeting
                    .paragraphs
                    .iter()
                    .map(|p| Value::from(p.as_str()))
                    .collect::<Vec<_>>(),
            ),
        ),
        ("articles", Value::from(article_values)),
        ("references", Value::from(parts.references.as_str())),
    ]);
    let mut ctx = Context::new();
    ctx.insert_value("edition", edition);
    ctx.insert_value("email", email);
    ctx.insert_value("recipient", recipient_placeholders());
    ctx
}

/// The footer's links with full addresses: the HTML part's are made absolute after rendering,
/// the text part has no such pass.
pub(super) fn footer_navigation(site: &Site, addresses: &Addresses) -> Value {
    Value::from(
        site.config
            .site
            .footer_navigation
            .iter()
            .map(|item| {
                obj(vec![
                    ("title", Value::from(item.title.as_str())),
                    ("url", Value::from(addresses.absolute(&item.url))),
                ])
            })
            .collect::<Vec<_>>(),
    )
}

/// `recipient` of a mail's templates: filled per recipient at send time, so one rendering
/// serves every subscriber.
pub(super) fn recipient_placeholders() -> Value {
    obj(vec![
        ("salutation", Value::from(SALUTATION)),
        ("unsubscribe_url", Value::from(UNSUBSCRIBE_URL)),
    ])
}

/// The HTML part from the theme's MJML template `name`: table layout, links absolute, only the
/// e-mail subset.
pub(super) fn finish_html(
    templates: &Templates,
    name: &str,
    ctx: &Context,
    shown: &Path,
    addresses: &Addresses,
) -> Result<String, Diagnostics> {
    let mjml = templates
        .render(name, ctx, Some(shown))
        .map_err(Diagnostics::from)?;
    let html = mjml_to_html(&mjml, &templates.shown(name))?;
    let html = make_links_absolute(&html, &addresses.origin, &addresses.web_url)
        .map_err(|bad| theme_error(templates, name, bad))?;
    let html = sanitize::sanitize(&html, &addresses.origin);
    sanitize::check(&html).map_err(|e| theme_error(templates, name, e))?;
    Ok(html)
}

/// The text part from the theme's template `name`, which must offer the way out as the HTML
/// part does.
pub(super) fn finish_text(
    templates: &Templates,
    name: &str,
    ctx: &Context,
    shown: &Path,
) -> Result<String, Diagnostics> {
    let text = templates
        .render(name, ctx, Some(shown))
        .map_err(Diagnostics::from)?;
    if !text.contains(UNSUBSCRIBE_URL) {
        return Err(theme_error(
            templates,
            name,
            "the text part has no unsubscribe link: add `{{ recipient.unsubscribe_url }}`".into(),
        ));
    }
    Ok(tidy_text(&text))
}

fn theme_error(templates: &Templates, name: &str, message: String) -> Diagnostics {
    Diagnostic::error(message)
        .in_file(templates.shown(name))
        .hint("fix the e-mail template of the theme")
        .into()
}

/// The body cut at its `##` headings: the part before the first, and each article's title with
/// the range of its text.
struct Split {
    intro: std::ops::Range<usize>,
    articles: Vec<(String, std::ops::Range<usize>)>,
}

fn split_articles(body: &str, facts: &Facts) -> Split {
    let headings: Vec<(String, std::ops::Range<usize>)> = facts
        .headings
        .iter()
        .filter(|h| h.level == 2)
        .map(|h| (h.title.trim().to_string(), h.range.clone()))
        .collect();
    let intro_end = headings.first().map_or(body.len(), |(_, r)| r.start);
    let articles = headings
        .iter()
        .enumerate()
        .map(|(i, (title, r))| {
            let end = headings.get(i + 1).map_or(body.len(), |(_, n)| n.start);
            (title.clone(), r.end..end)
        })
        .collect();
    Split {
        intro: 0..intro_end,
        articles,
    }
}

/// Links and images a mail client could not follow, and images without a text alternative.
fn check_body(facts: &Facts, shown: &Path, file_text: &str) -> Vec<Diagnostic> {
    // With where each starts, to give them in the order they are written.
    let mut errors: Vec<(usize, Diagnostic)> = Vec::new();
    let locate = |r: &std::ops::Range<usize>| facts.locate(shown, file_text, r, usize::MAX);
    for link in &facts.links {
        // `javascript:` and its kin are refused by the Markdown pass, with their own advice.
        if raw_html::dangerous_scheme(&link.dest).is_some() || reachable(&link.dest) {
            continue;
        }
        errors.push((link.range.start,
            Diagnostic::error(format!(
                "the link `{}` cannot work in an e-mail: it is relative",
                link.dest
            ))
            .at(locate(&link.range))
            .hint("write `@/path/page.md` for a page of this site, `/file.pdf` for a file in `static/`, or a full https:// address"),
        ));
    }
    for image in &facts.images {
        if raw_html::dangerous_scheme(&image.src).is_some() {
            continue;
        }
        if let Some(problem) = image_address_problem(&image.src) {
            errors.push((
                image.range.start,
                Diagnostic::error(format!(
                    "the image `{}` cannot be shown in an e-mail: {problem}",
                    image.src
                ))
                .at(locate(&image.range))
                .hint(IMAGE_ADDRESS_HINT),
            ));
        }
        if image.alt.trim().is_empty() {
            errors.push((image.range.start,
                Diagnostic::error("this image has no alternative text")
                    .at(locate(&image.range))
                    .hint("describe the image between the brackets: ![Das Team beim Workshop](/bilder/workshop.jpg); readers with screen readers and mail clients that block images see only that text"),
            ));
        }
    }
    errors.sort_by_key(|(start, _)| *start);
    errors.into_iter().map(|(_, d)| d).collect()
}

const IMAGE_ADDRESS_HINT: &str =
    "put the image into `static/` and write `/bilder/name.jpg`, or give a full https:// address";

/// Why mail programs could not load an image from `src` as written, if they could not: the
/// sanitiser keeps only https images (mail programs block others).
fn image_address_problem(src: &str) -> Option<&'static str> {
    let on_this_site = src.starts_with('/') && !src.starts_with("//");
    if on_this_site || src.starts_with("https://") {
        None
    } else if !reachable(src) {
        Some("its address is relative")
    } else {
        Some("mail programs only load images over https")
    }
}

/// Images and frames written as raw HTML: a mail shows no frames, and its images need what
/// Markdown images need.
fn check_raw_elements(elements: &[RawElement]) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    for element in elements {
        let location = element.location.clone();
        if element.name == "iframe" {
            errors.push(
                Diagnostic::error("an e-mail cannot show an embedded frame (`<iframe>`)")
                    .at(location)
                    .hint("Verlinken Sie den Inhalt in der Ausgabe, z. B. [Video „Das OZG erklärt“ ansehen](https://…); E-Mail-Programme zeigen keine eingebetteten Inhalte."),
            );
            continue;
        }
        if let Some(problem) = element
            .src
            .as_deref()
            .map_or(Some("it has no `src`"), image_address_problem)
        {
            errors.push(
                Diagnostic::error(format!(
                    "this `<img>` cannot be shown in an e-mail: {problem}"
                ))
                .at(location.clone())
                .hint(IMAGE_ADDRESS_HINT),
            );
        }
        if element.alt.is_none() {
            errors.push(
                Diagnostic::error("this `<img>` has no alternative text")
                    .at(location)
                    .hint("give it an alt attribute that describes the image: <img src=\"/bilder/team.jpg\" alt=\"Das Team beim Workshop\">; write alt=\"\" only for pure decoration"),
            );
        }
    }
    errors
}

/// Whether a link as written can be turned into an absolute URL.
fn reachable(dest: &str) -> bool {
    ["https://", "http://", "mailto:", "tel:", "@/", "#"]
        .iter()
        .any(|p| dest.starts_with(p))
        || (dest.starts_with('/') && !dest.starts_with("//"))
}

fn absolutize(url: &str, origin: &str, web_url: &str) -> String {
    if url.starts_with('/') && !url.starts_with("//") {
        format!("{origin}{url}")
    } else if url.starts_with('#') {
        format!("{web_url}{url}")
    } else {
        url.to_string()
    }
}

/// MJML → HTML for mail clients: tables, every style inlined, no `<style>` left.
fn mjml_to_html(mjml: &str, template: &Path) -> Result<String, Diagnostics> {
    let invalid = |what: String| -> Diagnostics {
        Diagnostic::error(format!(
            "the e-mail template does not make valid MJML: {what}"
        ))
        .in_file(template)
        .hint("check the mj-… elements of the template against https://documentation.mjml.io")
        .into()
    };
    let parsed = mrml::parse(mjml).map_err(|e| invalid(e.to_string()))?;
    let options = mrml::prelude::render::RenderOptions {
        disable_comments: true,
        social_icon_origin: None,
        // No web fonts: mail clients block them, and nothing loads from third parties.
        fonts: Default::default(),
    };
    let html = parsed
        .element
        .render(&options)
        .map_err(|e| invalid(e.to_string()))?;
    let inlined = css_inline::CSSInliner::options()
        .keep_style_tags(false)
        .keep_link_tags(false)
        .load_remote_stylesheets(false)
        .build()
        .inline(&html)
        .map_err(|e| invalid(format!("inlining the styles failed: {e}")))?;
    Ok(drop_conditional_styles(&inlined))
}

/// MJML keeps a `<style>` for Outlook 2003 inside a conditional comment; nothing else needs it,
/// and a mail should carry no style sheet at all.
fn drop_conditional_styles(html: &str) -> String {
    const OPEN: &str = "<!--[if";
    const CLOSE: &str = "<![endif]-->";
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some((before, from)) = rest.split_once(OPEN) {
        let Some((inside, after)) = from.split_once(CLOSE) else {
            break;
        };
        out.push_str(before);
        if !inside.contains("<style") {
            out.extend([OPEN, inside, CLOSE]);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Every `href` and `src` made absolute; `Err` names one that cannot be.
fn make_links_absolute(html: &str, origin: &str, web_url: &str) -> Result<String, String> {
    let mut out = String::with_capacity(html.len() + 1024);
    let mut rest = html;
    loop {
        let next = ["href=\"", "src=\""]
            .iter()
            .filter_map(|a| rest.find(a).map(|i| (i, a.len())))
            .min();
        let Some((i, len)) = next else { break };
        let Some((head, from_value)) = rest.split_at_checked(i + len) else {
            break;
        };
        let Some((value, after)) = from_value.split_once('"') else {
            break;
        };
        out.push_str(head);
        let ok = ["https://", "http://", "mailto:", "tel:", "%%"]
            .iter()
            .any(|p| value.starts_with(p));
        if ok {
            out.push_str(value);
        } else if value.starts_with('/') && !value.starts_with("//") || value.starts_with('#') {
            out.push_str(&absolutize(value, origin, web_url));
        } else {
            return Err(format!(
                "the e-mail links to `{value}`, which no mail client can open: links in e-mails must be absolute"
            ));
        }
        out.push('"');
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

/// No trailing spaces, at most one blank line in a row, one newline at the end.
pub(super) fn tidy_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The facts the Markdown pass keeps of `body`, which starts at `offset` in `file`.
    fn facts_of(body: &str, file: &str, offset: usize) -> Facts {
        markdown::render(
            body,
            &BodySource {
                path: Path::new("newsletters/1-x.md"),
                file_text: file,
                offset,
            },
            &|_| Resolved::Url("/x/".into()),
            &MarkdownOptions {
                heading_anchors: true,
                task_done_label: "erledigt",
                task_open_label: "offen",
                trusted_embeds: &[],
                open_fact_text: Some("wird ergänzt"),
                search_text: false,
                check_facts: true,
                hyphenate_min_length: 10,
            },
        )
        .facts
    }

    #[test]
    fn a_greeting_gives_up_its_salutation_line_only_when_it_has_one() {
        let g = Greeting::of("Liebe Leserinnen, liebe Leser,\n\nich freue mich.\n\nMehr.");
        assert_eq!(g.opening, "Liebe Leserinnen, liebe Leser,");
        assert_eq!(g.paragraphs, ["ich freue mich.", "Mehr."]);
        for text in [
            "Heute kurz, aber herzlich,\nmit zwei Zeilen,\n\nText.",
            "Nur ein Absatz, der mit Komma endet,",
            "Ohne Anrede.\n\nText.",
        ] {
            let g = Greeting::of(text);
            assert_eq!(g.opening, "", "{text}");
            assert_eq!(g.paragraphs.join("\n\n"), text, "{text}");
        }
    }

    #[test]
    fn articles_are_the_level_two_sections() {
        let body = "Vorwort.\n\n## Erster Teil\n\nText eins.\n\n### Unterpunkt\n\nMehr.\n\n## Zweiter `Teil`\n\nText zwei.\n";
        let split = split_articles(body, &facts_of(body, body, 0));
        assert_eq!(&body[split.intro.clone()], "Vorwort.\n\n");
        let titles: Vec<&str> = split.articles.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(titles, ["Erster Teil", "Zweiter Teil"]);
        assert!(body[split.articles[0].1.clone()].contains("### Unterpunkt"));
        assert_eq!(body[split.articles[1].1.clone()].trim(), "Text zwei.");
    }

    #[test]
    fn relative_links_and_images_without_alt_are_errors_with_positions() {
        let text = "---\ntitle: x\n---\nSiehe [hier](seite.html) und ![](/bild.png).\n";
        let facts = facts_of(&text[17..], text, 17);
        let errors = check_body(&facts, Path::new("newsletters/1-x.md"), text);
        assert_eq!(errors.len(), 2, "{errors:?}");
        let loc = errors[0].location.as_ref().unwrap();
        assert_eq!((loc.line, loc.column), (4, 7));
        assert!(errors[1].message.contains("alternative text"));
    }

    #[test]
    fn images_over_http_and_script_links_are_judged_once() {
        let text =
            "---\ntitle: x\n---\n![Team](http://example.org/team.jpg) [x](javascript:alert(1))\n";
        let facts = facts_of(&text[17..], text, 17);
        let errors = check_body(&facts, Path::new("newsletters/1-x.md"), text);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.contains("only load images over https"));
    }

    #[test]
    fn raw_images_and_frames_in_an_edition_are_errors_where_they_are_written() {
        let body = "<img src=\"/bild.png\">\n\n<img src=\"bild.png\" alt=\"Bild\">\n\n<iframe src=\"https://www.youtube-nocookie.com/embed/x\" title=\"Video\"></iframe>\n";
        let file = format!("---\ntitle: x\n---\n{body}");
        let trusted = vec!["https://www.youtube-nocookie.com/embed/".to_string()];
        let rendered = markdown::render(
            body,
            &BodySource {
                path: Path::new("newsletters/1-x.md"),
                file_text: &file,
                offset: 17,
            },
            &|_| Resolved::Unpublished,
            &MarkdownOptions {
                heading_anchors: false,
                task_done_label: "erledigt",
                task_open_label: "offen",
                trusted_embeds: &trusted,
                open_fact_text: None,
                search_text: false,
                check_facts: true,
                hyphenate_min_length: 10,
            },
        );
        assert!(
            rendered.diagnostics.is_empty(),
            "{:?}",
            rendered.diagnostics
        );
        let errors = check_raw_elements(&rendered.raw_elements);
        let found: Vec<(usize, &str)> = errors
            .iter()
            .map(|d| (d.location.as_ref().unwrap().line, d.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (4, "this `<img>` has no alternative text"),
                (
                    6,
                    "this `<img>` cannot be shown in an e-mail: its address is relative"
                ),
                (8, "an e-mail cannot show an embedded frame (`<iframe>`)"),
            ]
        );
    }

    #[test]
    fn links_become_absolute_and_relative_ones_are_refused() {
        let html = r##"<a href="/ozg/aktuelles/">x</a><img src="/bild.png" alt="B"><a href="#teil">t</a><a href="%%UNSUBSCRIBE_URL%%">ab</a>"##;
        let out = make_links_absolute(
            html,
            "https://ozg.example",
            "https://ozg.example/newsletter/2/",
        )
        .unwrap();
        assert!(out.contains(r#"href="https://ozg.example/ozg/aktuelles/""#));
        assert!(out.contains(r#"src="https://ozg.example/bild.png""#));
        assert!(out.contains(r#"href="https://ozg.example/newsletter/2/#teil""#));
        assert!(out.contains(r#"href="%%UNSUBSCRIBE_URL%%""#));
        assert!(
            make_links_absolute(r#"<a href="seite.html">"#, "https://o", "https://o/").is_err()
        );
    }

    #[test]
    fn outlook_style_blocks_go_other_conditionals_stay() {
        let html = "<head><!--[if mso]><xml>x</xml><![endif]--><!--[if lte mso 11]><style>.a{}</style><![endif]--></head>";
        assert_eq!(
            drop_conditional_styles(html),
            "<head><!--[if mso]><xml>x</xml><![endif]--></head>"
        );
    }

    #[test]
    fn text_is_tidied() {
        assert_eq!(tidy_text("\n\na  \n\n\n\nb\n\n"), "a\n\nb\n");
    }
}
