//! Tera set-up: the theme's templates, our filters and functions, and template errors as diagnostics.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::tz::TimeZone;
use tera::{Kwargs, State, Tera, Value};

use crate::diagnostics::{Diagnostic, Location};
use crate::parse::link::LinkTarget;
use crate::theme::Theme;
use crate::time::{GermanFormat, format_german, parse_template_value};

/// `text` without the characters XML 1.0 allows nowhere: the C0 controls but TAB, LF and CR
/// (an ESC or U+0001 in a title), U+FFFE and U+FFFF. One of them makes a feed or sitemap
/// unreadable for every XML parser, and not even a reference (`&#1;`) may stand for it, so they
/// are dropped.
pub fn xml_chars(text: String) -> String {
    let not_xml = |c: char| matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}');
    if text.contains(not_xml) {
        text.chars().filter(|c| !not_xml(*c)).collect()
    } else {
        text
    }
}

/// What templates can look up by `@/` key through `get_page`, `get_section` and `url`.
/// Values are made on demand, so a site of ten thousand pages keeps no second copy of its HTML.
pub trait Lookup: Send + Sync + 'static {
    fn page(&self, key: &str) -> Option<Value>;
    fn section(&self, key: &str) -> Option<Value>;
    /// Every section, parents before children (for a sitemap page).
    fn sections(&self) -> Vec<Value>;
    /// The URL (with base path) of published content.
    fn url(&self, key: &str) -> Option<String>;
    /// `base_url` without trailing slash, and its path part (`""` or `/ozg`).
    fn base(&self) -> (&str, &str);
}

/// The compiled templates, plus where each came from for error messages.
pub struct Templates {
    pub tera: Tera,
    sources: HashMap<String, (PathBuf, String)>,
}

impl Templates {
    pub fn new(
        theme: &Theme,
        tz: TimeZone,
        lookup: Arc<dyn Lookup>,
    ) -> Result<Templates, Diagnostic> {
        let sources: HashMap<String, (PathBuf, String)> = theme
            .templates
            .iter()
            .map(|t| (t.name.clone(), (t.shown.clone(), t.text.clone())))
            .collect();
        let mut tera = Tera::new();
        // `.xml` feeds and `.html` pages are escaped; plain-text templates are not.
        tera.autoescape_on(vec![".html", ".xml", ".mjml"]);
        register_filters(&mut tera, tz);
        register_functions(&mut tera, lookup);
        let result = tera.add_raw_templates(
            theme
                .templates
                .iter()
                .map(|t| (t.name.as_str(), t.text.as_str())),
        );
        let templates = Templates { tera, sources };
        match result {
            Ok(()) => Ok(templates),
            Err(e) => Err(templates.diagnostic(&e, None)),
        }
    }

    /// Template names starting with `prefix`, sorted.
    pub fn names_under(&self, prefix: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .sources
            .keys()
            .filter(|n| n.starts_with(prefix))
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// Where template `name` came from, for messages about it.
    pub fn shown(&self, name: &str) -> PathBuf {
        self.sources
            .get(name)
            .map_or_else(|| PathBuf::from(name), |(p, _)| p.clone())
    }

    pub fn has(&self, name: &str) -> bool {
        self.tera.contains_template(name)
    }

    pub fn render(
        &self,
        name: &str,
        context: &tera::Context,
        content_file: Option<&std::path::Path>,
    ) -> Result<String, Diagnostic> {
        let text = self
            .tera
            .render(name, context)
            .map_err(|e| self.diagnostic(&e, content_file))?;
        // Feeds and any other XML a theme renders: escaping cannot help there, see `xml_chars`.
        Ok(if name.ends_with(".xml") {
            xml_chars(text)
        } else {
            text
        })
    }

    /// Turns a tera error into a diagnostic pointing at the template line, naming the content file.
    fn diagnostic(&self, e: &tera::Error, content_file: Option<&std::path::Path>) -> Diagnostic {
        use tera::ErrorKind;
        let rendering = content_file
            .map(|f| format!(" while rendering {}", f.display()))
            .unwrap_or_default();
        let d = match e.kind() {
            ErrorKind::SyntaxError(r) | ErrorKind::RenderingError(r) => {
                let kind = if matches!(e.kind(), ErrorKind::SyntaxError(_)) {
                    "syntax error in template"
                } else {
                    "template error"
                };
                let mut d = Diagnostic::error(format!(
                    "{kind} `{}`{rendering}: {}",
                    r.filename(),
                    r.message()
                ));
                if let Some((shown, text)) = self.sources.get(r.filename()) {
                    let span = r.span();
                    let mut loc = Location::at_line_column(
                        shown.clone(),
                        text,
                        span.start_line,
                        span.start_col + 1,
                    );
                    if span.end_line == span.start_line && span.end_col > span.start_col {
                        loc.width = span.end_col - span.start_col;
                    }
                    d = d.at(loc);
                }
                d.hint(if kind.starts_with("syntax") {
                    "fix the template syntax at the marked place (Tera 2: {{ … }}, {% … %})"
                } else {
                    "check the variable or filter at the marked place; the template context is described in docs/content-model.md"
                })
            }
            ErrorKind::TemplateNotFound(name) => {
                Diagnostic::error(format!("template `{name}` not found{rendering}")).hint(format!(
                    "create `templates/{name}` in the theme, or fix the name in `extends`/`include`/`template:`"
                ))
            }
            ErrorKind::MissingParent { current, parent } => {
                let d = Diagnostic::error(format!(
                    "template `{current}` extends `{parent}`, which does not exist"
                ))
                .hint(format!("create `templates/{parent}` or fix the `extends` line"));
                match self.sources.get(current) {
                    Some((shown, text)) => {
                        let off = text.find(parent.as_str()).unwrap_or(0);
                        d.at(Location::at_offset(shown.clone(), text, off, parent.len()))
                    }
                    None => d,
                }
            }
            other => Diagnostic::error(format!("template error{rendering}: {other}")),
        };
        let mut source = std::error::Error::source(e);
        let mut d = d;
        while let Some(s) = source {
            d = d.note(s.to_string());
            source = s.source();
        }
        d
    }
}

fn register_filters(tera: &mut Tera, tz: TimeZone) {
    tera.register_filter(
        "date_de",
        move |value: &str, kwargs: Kwargs, _: &State| -> tera::TeraResult<String> {
            let format = kwargs.get::<&str>("format")?.unwrap_or("short");
            let format = GermanFormat::parse(format).ok_or_else(|| {
                tera::Error::message(format!(
                    "date_de: unknown format `{format}`; use one of {}",
                    GermanFormat::NAMES
                ))
            })?;
            let dt = parse_template_value(value, &tz)
                .ok_or_else(|| tera::Error::message(format!("date_de: `{value}` is not a date")))?;
            Ok(format_german(dt, format))
        },
    );
    // For plain-text templates (the newsletter's `email/edition.txt`): a paragraph wrapped at
    // `width` (72), with `first` before its first line and `indent` before the others.
    tera.register_filter(
        "wrap",
        |text: &str, kwargs: Kwargs, _: &State| -> tera::TeraResult<String> {
            let width = kwargs.get::<usize>("width")?.unwrap_or(72);
            let first = kwargs.get::<&str>("first")?.unwrap_or("");
            let indent = kwargs.get::<&str>("indent")?.unwrap_or("");
            Ok(crate::wrap::wrap(text, width, first, indent)
                .trim_end()
                .to_string())
        },
    );
    // A plain-text heading: the text (wrapped at `width`), and under it a line of `char` (`=`).
    tera.register_filter(
        "underline",
        |text: &str, kwargs: Kwargs, _: &State| -> tera::TeraResult<String> {
            let ch = kwargs.get::<&str>("char")?.unwrap_or("=");
            let width = kwargs.get::<usize>("width")?.unwrap_or(72);
            // A long heading is wrapped like any text; the line goes under its longest line.
            let wrapped = crate::wrap::wrap(text, width, "", "");
            let wrapped = wrapped.trim_end();
            let longest = wrapped
                .lines()
                .map(|l| l.chars().count())
                .max()
                .unwrap_or(0);
            Ok(format!("{wrapped}\n{}", ch.repeat(longest)))
        },
    );
    // pass-through until the hyphenation branch lands
    tera.register_filter("hyphenate", |text: &str, _: Kwargs, _: &State| {
        text.to_string()
    });
    tera.register_filter("filesize", |bytes: u64, _: Kwargs, _: &State| {
        crate::site::human_size(bytes)
    });
    // For JSON files such as the web app manifest: a value as a JSON literal, quotes and escapes included.
    tera.register_filter(
        "json",
        |value: &Value, _: Kwargs, _: &State| -> tera::TeraResult<Value> {
            serde_json::to_string(value)
                .map(|s| Value::safe_string(&s))
                .map_err(|e| tera::Error::message(format!("json: {e}")))
        },
    );
}

fn register_functions(tera: &mut Tera, lookup: Arc<dyn Lookup>) {
    let l = lookup.clone();
    tera.register_function(
        "url",
        move |kwargs: Kwargs, _: &State| -> tera::TeraResult<String> {
            let path: &str = kwargs.must_get("path")?;
            let absolute = kwargs.get::<bool>("absolute")?.unwrap_or(false);
            let url = if let Some(target) = LinkTarget::parse(path) {
                let url = l.url(target.key).ok_or_else(|| {
                    tera::Error::message(format!("url: no published page `@/{}`", target.key))
                })?;
                target.with_anchor(&url)
            } else if path.starts_with("http://") || path.starts_with("https://") {
                return Ok(path.to_string());
            } else {
                let p = if path.starts_with('/') {
                    path.to_string()
                } else {
                    format!("/{path}")
                };
                format!("{}{p}", l.base().1)
            };
            Ok(if absolute {
                let (base_url, base_path) = l.base();
                format!("{base_url}{}", url.strip_prefix(base_path).unwrap_or(&url))
            } else {
                url
            })
        },
    );
    let l = lookup.clone();
    tera.register_function("get_page", move |kwargs: Kwargs, _: &State| {
        lookup_value(|k| l.page(k), &kwargs, "get_page")
    });
    let l = lookup.clone();
    tera.register_function("get_section", move |kwargs: Kwargs, _: &State| {
        lookup_value(|k| l.section(k), &kwargs, "get_section")
    });
    let l = lookup;
    tera.register_function("get_sections", move |_: Kwargs, _: &State| {
        Value::from(l.sections())
    });
}

fn lookup_value(
    find: impl Fn(&str) -> Option<Value>,
    kwargs: &Kwargs,
    function: &str,
) -> tera::TeraResult<Value> {
    let path: &str = kwargs.must_get("path")?;
    let missing_ok = kwargs.get::<bool>("missing_ok")?.unwrap_or(false);
    let key = path.strip_prefix("@/").unwrap_or(path);
    match find(key) {
        Some(v) => Ok(v),
        None if missing_ok => Ok(Value::none()),
        None => Err(tera::Error::message(format!(
            "{function}: no published content at `@/{key}` (pass missing_ok=true to allow that)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_keeps_tabs_line_breaks_and_letters_and_loses_other_controls() {
        let text = "a\u{1}b\u{1b}[2J\tc\r\nd\u{b}\u{c}\u{0}\u{fffe}\u{ffff}é\u{85}".to_string();
        assert_eq!(xml_chars(text), "ab[2J\tc\r\ndé\u{85}");
    }
}
