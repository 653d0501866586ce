//! Links outside the Markdown body: front matter fields and navigation in `site.yaml`; and the
//! `#anchor` check, which can only run once every page's headings are known.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::{Page, Section, Target};
use crate::config::{CONFIG_FILE, Config};
use crate::diagnostics::{Diagnostic, Location};
use crate::parse::link::{LinkTarget, Resolved, missing_page};
use crate::parse::markdown::{AnchorRef, Heading};
use crate::yaml::YamlSource;

/// Every `@/` key and what links to it become: the one resolver of links to content. Plain data,
/// so resolution can run while pages are mutably borrowed.
#[derive(Debug)]
pub struct KeyIndex {
    pub urls: HashMap<String, String>,
    pub unpublished: HashSet<String>,
}

impl KeyIndex {
    /// What a link to `key` (`aktuelles/beitrag.md`, also `./aktuelles/beitrag.md`) becomes,
    /// with the closest published key when there is none.
    pub fn resolve(&self, key: &str) -> Resolved {
        let key = key.trim_start_matches("./");
        if let Some(url) = self.urls.get(key) {
            return Resolved::Url(url.clone());
        }
        if self.unpublished.contains(key) {
            return Resolved::Unpublished;
        }
        let suggestion = self
            .urls
            .keys()
            .map(|k| (strsim::normalized_levenshtein(k, key), k))
            .filter(|(s, _)| *s > 0.7)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| k.clone());
        Resolved::Missing { suggestion }
    }
}

/// What a link written by an editor means.
enum Checked {
    /// Use this URL.
    Url(String),
    /// Points at content not published yet: leave the link out.
    Unpublished,
    /// `@/target#anchor`: the anchor must be checked after rendering.
    Internal(Internal),
}

/// A resolved `@/target#anchor`.
struct Internal {
    url: String,
    target: String,
    anchor: String,
}

impl Internal {
    /// The address to write in place of the link, its anchor (written at `location`) kept in
    /// `anchors` for the check after rendering.
    fn keep(self, location: Location, anchors: &mut Vec<AnchorRef>) -> String {
        anchors.push(AnchorRef {
            target: self.target,
            anchor: self.anchor,
            location,
        });
        self.url
    }
}

/// The address an editor wrote outside a body, resolved; an error (without its place) if it
/// is none this site can use.
fn check_url(raw: &str, index: &KeyIndex, config: &Config) -> Result<Checked, Diagnostic> {
    let url = raw.trim();
    if let Some(target) = LinkTarget::parse(url) {
        return match index.resolve(target.key) {
            Resolved::Url(u) => Ok(match target.anchor {
                Some(a) => Checked::Internal(Internal {
                    url: target.with_anchor(&u),
                    target: target.key.to_string(),
                    anchor: a.to_string(),
                }),
                None => Checked::Url(u),
            }),
            Resolved::Unpublished => Ok(Checked::Unpublished),
            Resolved::Missing { suggestion } => Err(missing_page(url, suggestion.as_deref())),
        };
    }
    if url.starts_with('/') && !url.starts_with("//") {
        return Ok(Checked::Url(config.url(url)));
    }
    if ["https://", "http://", "mailto:", "tel:", "#"]
        .iter()
        .any(|p| url.starts_with(p))
    {
        return Ok(Checked::Url(url.to_string()));
    }
    Err(Diagnostic::error(format!("`{url}` is not a link this site can use"))
        .hint("write `@/path/file.md` for a page of this site, `/path/` for another file of it, or a full address starting with https://"))
}

/// Resolves `@/` links in a page's front matter fields in place.
pub(super) fn resolve_link_fields(
    page: &mut Page,
    index: &KeyIndex,
    config: &Config,
) -> (Vec<Diagnostic>, Vec<AnchorRef>) {
    let yaml = page.split.yaml_source(&page.file);
    let mut errors = Vec::new();
    let mut anchors = Vec::new();
    for (key, url) in page.fields.links_mut() {
        match check_url(url, index, config) {
            Ok(Checked::Url(u)) => *url = u,
            Ok(Checked::Unpublished) => url.clear(),
            Ok(Checked::Internal(link)) => {
                *url = link.keep(yaml.value_location(url, key), &mut anchors)
            }
            Err(error) => errors.push(error.at(yaml.value_location(url, key))),
        }
    }
    // A file's accessible alternative: an alternative that is not published (yet) is none, so
    // the accessibility statement lists the file until it is.
    let files = page
        .downloads
        .iter_mut()
        .map(|d| ("downloads", d))
        .chain(page.slides.iter_mut().map(|d| ("slides", d)));
    for (key, file) in files {
        let Some(url) = file.alternative.take() else {
            continue;
        };
        match check_url(&url, index, config) {
            Ok(Checked::Url(u)) => file.alternative = Some(u),
            Ok(Checked::Unpublished) => {}
            Ok(Checked::Internal(link)) => {
                file.alternative = Some(link.keep(yaml.value_location(&url, key), &mut anchors));
            }
            Err(error) => errors.push(error.at(yaml.value_location(&url, key))),
        }
    }
    (errors, anchors)
}

/// Points each menu item marked `newest: true` at the newest published sub-section of the
/// section it names (see [`crate::config::NavItem::newest`]), before the links are resolved.
pub(super) fn point_at_newest(
    config: &mut Config,
    sections: &[Section],
    index: &KeyIndex,
) -> Vec<Diagnostic> {
    let yaml = YamlSource::whole_file(Path::new(CONFIG_FILE), &config.text);
    let mut errors = Vec::new();
    let mut lists = [
        ("navigation", &mut config.site.navigation),
        ("footer_navigation", &mut config.site.footer_navigation),
    ];
    for (key, items) in &mut lists {
        for item in items.iter_mut().filter(|i| i.newest) {
            let section = LinkTarget::parse(item.url.trim())
                .and_then(|t| sections.iter().find(|s| s.file.key == t.key));
            let Some(section) = section else {
                errors.push(
                    Diagnostic::error(format!(
                        "`newest: true` needs a section, but `{}` is not the `_index.md` of one",
                        item.url
                    ))
                    .at(yaml.value_location(&item.url, key))
                    .hint("link the section whose sub-sections the item should choose from, e.g. `@/adventskalender/_index.md`, or drop `newest`"),
                );
                continue;
            };
            let newest = section
                .subsections
                .iter()
                .filter_map(|&id| sections.get(id))
                .filter(|s| index.urls.contains_key(&s.file.key))
                .max_by_key(|s| (s.front.advent.as_ref().map(|a| a.year), s.file.key.as_str()));
            match newest {
                Some(sub) => item.url = format!("@/{}", sub.file.key),
                None => errors.push(
                    Diagnostic::error(format!(
                        "`newest: true`: the section `{}` has no published sub-section to lead to",
                        item.url
                    ))
                    .at(yaml.value_location(&item.url, key))
                    .hint("publish a sub-section (a folder with its own `_index.md`) or drop `newest` so the item leads to the section itself"),
                ),
            }
        }
    }
    errors
}

/// Resolves the links of `navigation`, `footer_navigation`, `service_navigation`, `social` and the newsletter's
/// `privacy_page` in `site.yaml`; returns the problems and the `#anchor`s to check once every
/// page's headings are known.
pub(super) fn resolve_navigation(
    config: &mut Config,
    index: &KeyIndex,
) -> (Vec<Diagnostic>, Vec<AnchorRef>) {
    let text = std::mem::take(&mut config.text);
    let shown = Path::new(CONFIG_FILE);
    let yaml = YamlSource::whole_file(shown, &text);
    let mut errors = Vec::new();
    let mut lists = std::mem::take(&mut config.site.navigation);
    let mut footer = std::mem::take(&mut config.site.footer_navigation);
    let mut social = std::mem::take(&mut config.site.social);
    let mut service = std::mem::take(&mut config.site.service_navigation);
    let mut privacy = config
        .site
        .newsletter
        .as_mut()
        .and_then(|n| n.subscriptions.as_mut())
        .and_then(|s| s.privacy_page.take());
    let mut anchors = Vec::new();
    let mut resolve = |url: &mut String, key: &str| match check_url(url, index, config) {
        Ok(Checked::Url(u)) => *url = u,
        Ok(Checked::Internal(link)) => {
            *url = link.keep(yaml.value_location(url, key), &mut anchors)
        }
        Ok(Checked::Unpublished) => errors.push(
            Diagnostic::error(format!("`{key}` links to `{url}`, which is not published"))
                .at(yaml.value_location(url, key))
                .hint("publish the page or take the link out until it is"),
        ),
        Err(error) => errors.push(error.at(yaml.value_location(url, key))),
    };
    for (key, items) in [
        ("navigation", &mut lists),
        ("footer_navigation", &mut footer),
        ("social", &mut social),
    ] {
        for item in items.iter_mut() {
            resolve(&mut item.url, key);
        }
    }
    for item in service.iter_mut() {
        resolve(&mut item.url, "service_navigation");
    }
    if let Some(url) = &mut privacy {
        resolve(url, "privacy_page");
    }
    config.site.navigation = lists;
    config.site.service_navigation = service;
    config.site.footer_navigation = footer;
    config.site.social = social;
    if let Some(subs) = config
        .site
        .newsletter
        .as_mut()
        .and_then(|n| n.subscriptions.as_mut())
    {
        subs.privacy_page = privacy;
    }
    config.text = text;
    (errors, anchors)
}

/// Checks every `@/page.md#anchor` against the target's heading ids.
pub(super) fn check_anchors(
    sections: &[Section],
    pages: &[Page],
    by_key: &HashMap<String, Target>,
    extra: &[AnchorRef],
) -> Vec<Diagnostic> {
    let refs = pages
        .iter()
        .flat_map(|p| &p.body.anchors_to_check)
        .chain(sections.iter().flat_map(|s| &s.body.anchors_to_check))
        .chain(extra);
    check_refs(refs, |key| match by_key.get(key) {
        Some(Target::Page(p)) => Some(&pages[*p].body.toc),
        Some(Target::Section(s)) => Some(&sections[*s].body.toc),
        None => None,
    })
}

/// Checks each `#anchor` against the headings of its target (`toc_of` a key; `None` when the
/// target is missing, which is reported elsewhere).
pub(super) fn check_refs<'a, 't>(
    refs: impl Iterator<Item = &'a AnchorRef>,
    toc_of: impl Fn(&str) -> Option<&'t Vec<Heading>>,
) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    for r in refs {
        let Some(toc) = toc_of(r.target.trim_start_matches("./")) else {
            continue; // already reported as a missing page
        };
        if toc.iter().any(|h| h.id == r.anchor) {
            continue;
        }
        let closest = toc
            .iter()
            .map(|h| (strsim::normalized_levenshtein(&h.id, &r.anchor), &h.id))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let hint = match closest {
            Some((score, id)) if score > 0.5 => format!("did you mean `#{id}`?"),
            Some(_) => format!(
                "the headings there have the ids: {}",
                toc.iter()
                    .map(|h| format!("#{}", h.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => "that page has no headings; link to the page without `#…`".to_string(),
        };
        errors.push(
            Diagnostic::error(format!(
                "`@/{}` has no heading with the id `{}`",
                r.target, r.anchor
            ))
            .at(r.location.clone())
            .hint(hint),
        );
    }
    errors
}
