//! `check`: everything `build` validates, and more, with nothing written. It sits above every
//! other layer because it runs them all: the pipeline, the accessibility audit of the rendered
//! pages, every newsletter edition as an e-mail and the sign-up service's pages and mails.

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::theme::Theme;
use crate::write::{Memory, MemoryFile};
use crate::{Options, audit, load_site, newsletter, render, subscriptions};

/// What `check` found besides errors.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub warnings: Vec<Diagnostic>,
    /// Accessibility findings ([`audit`]): `check` fails on them.
    pub findings: Vec<Diagnostic>,
    /// Facts marked `offen`, as warnings (`check --strict` fails on them).
    pub open_facts: Vec<Diagnostic>,
    /// How many facts are open (more than `open_facts` has lines when a body has very many).
    pub open_fact_count: usize,
}

/// Everything `build` validates, including rendering every template, every newsletter edition
/// as an e-mail, the subscription service's pages and mails, and the accessibility checks of
/// [`audit`] (with `external`, a timeout, also whether links to other sites answer), without
/// touching the output.
pub fn check(
    opts: &Options,
    external: Option<std::time::Duration>,
) -> Result<CheckReport, Diagnostics> {
    let mut site = load_site(opts)?;
    let mut warnings = std::mem::take(&mut site.warnings);
    let open_fact_count = site.open_fact_count();
    let open_facts = std::mem::take(&mut site.open_facts);
    let site = std::sync::Arc::new(site);
    audit::check_ignores(&site)?;
    let theme = Theme::load(&opts.root, &site.config.site.theme)?;
    // Rendered into memory: check writes nothing.
    let output = Memory::default();
    render::render_site(&site, &theme, &output)?;
    let output = output.into_files();
    let mut findings = audit::audit(&site);
    findings.extend(audit::audit_output(&site, &|rel| match output.get(rel) {
        Some(MemoryFile::Bytes(bytes)) => String::from_utf8(bytes.to_vec()).ok(),
        _ => None,
    }));
    if let Some(timeout) = external {
        findings.extend(audit::external::check_external(&site, timeout));
    }
    // Newsletter editions must also make good e-mails (absolute links, images with alt text).
    let editions = newsletter::render_editions(&site, &theme, newsletter::Which::All)?;
    warnings.extend(
        editions
            .iter()
            .filter_map(|e| newsletter::prepared::clipping_warning(e, &site)),
    );
    // And the Sprechstunden invitations: their lists, and their mails while they are to come.
    newsletter::invitation::check(&site, &theme)?;
    // So do the pages and mails of the subscription service, if the site has one.
    subscriptions::check_theme(&site, &theme)?;
    let mut findings = Diagnostics::from(findings);
    findings.sort();
    Ok(CheckReport {
        warnings,
        findings: findings.into_vec(),
        open_facts,
        open_fact_count,
    })
}
