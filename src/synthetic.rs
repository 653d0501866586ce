//! Synthetic sites in ozg-site's content model (and the same pages for Hugo), for the speed
//! benchmark (`bench/compare.sh`) and scale tests. Used by `examples/gen_site.rs`.
//!
//! In the [`Shape::Mixed`] shape, pages have ~600 words with headings, a list, a table, `@/` links
//! to other pages, a fenced code block (with `highlight`: tagged `rust`, so it is highlighted) and
//! front matter with title, date and a few fields. They are spread over sections — news
//! (paginated, with a feed), Sprechstunden, projects and plain pages — so lists, pagination, feeds
//! and the sitemap do real work. The other shapes stress what that one spreads thin: one list of
//! every page, code in every page, long pages, many tiny pages. The output is deterministic: the
//! same arguments give the same files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub pages: usize,
    /// The ozg-site site folder (replaced if it exists).
    pub out: PathBuf,
    /// Also write the same pages as a Hugo site here.
    pub hugo: Option<PathBuf>,
    /// Tag every code block with a language so it is highlighted.
    pub highlight: bool,
    /// How pages are spread over sections and how long they are.
    pub shape: Shape,
}

/// The shapes of site the benchmark measures, each realistic for some site and each stressing
/// another part of a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shape {
    /// ~600 words a page over news (paginated, with a feed), Sprechstunden, projects and pages.
    #[default]
    Mixed,
    /// The mixed pages, all in one section listed on one page without pagination (a list page
    /// with every page of the site on it).
    OneSection,
    /// One unpaginated section as [`Shape::OneSection`], with a 15-line code block in every page.
    Code,
    /// ~5,000 words a page (forty headed parts) over the mixed sections.
    Long,
    /// Tiny pages (a sentence and a link) over the mixed sections.
    Small,
}

impl Shape {
    /// Every shape with the name `--shape` takes.
    pub const ALL: [(&'static str, Shape); 5] = [
        ("mixed", Shape::Mixed),
        ("one-section", Shape::OneSection),
        ("code", Shape::Code),
        ("long", Shape::Long),
        ("small", Shape::Small),
    ];

    /// The shape called `name` (as in [`Shape::ALL`]).
    pub fn named(name: &str) -> Option<Shape> {
        Shape::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, shape)| *shape)
    }

    fn one_section(self) -> bool {
        matches!(self, Shape::OneSection | Shape::Code)
    }

    fn section_of(self, i: usize) -> Section {
        if self.one_section() {
            Section::Pages
        } else {
            Section::of(i)
        }
    }

    fn size(self) -> Size {
        let mixed = Size {
            lead: 40,
            parts: 3,
            words: 110,
            links: 3,
            code_lines: 4,
        };
        match self {
            Shape::Mixed | Shape::OneSection => mixed,
            Shape::Code => Size {
                code_lines: 15,
                ..mixed
            },
            Shape::Long => Size { parts: 40, ..mixed },
            Shape::Small => Size {
                lead: 25,
                parts: 0,
                words: 0,
                links: 1,
                code_lines: 0,
            },
        }
    }
}

/// How much a page body holds: a lead paragraph of `lead` words, `parts` headed parts of `words`
/// words each, `links` links to other pages and a code block of `code_lines` lines (none if 0).
#[derive(Clone, Copy)]
struct Size {
    lead: usize,
    parts: usize,
    words: usize,
    links: usize,
    code_lines: usize,
}

const WORDS: &[&str] = &[
    "Verwaltung",
    "digital",
    "Kommune",
    "Land",
    "Antrag",
    "Online-Dienst",
    "Bürgerinnen",
    "Bürger",
    "Register",
    "Modernisierung",
    "Plattform",
    "Basisdienst",
    "Zusammenarbeit",
    "Projekt",
    "Ergebnis",
    "Umsetzung",
    "Gesetz",
    "Leistung",
    "Portal",
    "Nachnutzung",
    "Schnittstelle",
    "Standard",
    "Arbeitsgruppe",
    "Sprechstunde",
    "Fachverfahren",
    "Prozess",
    "Daten",
    "Sicherheit",
    "Beratung",
    "Förderung",
    "Landkreis",
    "Gemeinde",
    "Stadt",
    "Zukunft",
    "gemeinsam",
    "schnell",
    "einfach",
    "sicher",
    "für",
    "und",
    "mit",
    "die",
    "der",
    "das",
    "ein",
    "eine",
    "wird",
    "werden",
    "haben",
    "ist",
    "sind",
    "über",
    "nach",
    "zur",
    "zum",
    "im",
    "am",
    "auf",
    "auch",
    "noch",
    "Größe",
    "Änderung",
];

/// A small deterministic generator (xorshift) so every run writes the same site; tests use it for
/// reproducible random edits too.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    fn words(&mut self, n: usize) -> String {
        (0..n)
            .filter_map(|_| WORDS.get(self.below(WORDS.len())).copied())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    News,
    Sessions,
    Projects,
    Pages,
}

impl Section {
    fn dir(self) -> &'static str {
        match self {
            Section::News => "aktuelles",
            Section::Sessions => "sprechstunden",
            Section::Projects => "projekte",
            Section::Pages => "seiten",
        }
    }
    /// Half news, a tenth each Sprechstunden and projects, the rest plain pages.
    fn of(i: usize) -> Section {
        match i % 10 {
            0..=4 => Section::News,
            5 => Section::Sessions,
            6 => Section::Projects,
            _ => Section::Pages,
        }
    }
}

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    std::fs::write(path, text)
}

fn slug(i: usize) -> String {
    format!("seite-{i}")
}

fn date(i: usize) -> String {
    // Spread over 2020–2025, all in the past relative to the benchmark's --now.
    let day = i % 28 + 1;
    let month = i / 28 % 12 + 1;
    let year = 2020 + i / 336 % 6;
    format!("{year}-{month:02}-{day:02}")
}

/// Writes the site(s) described by `args`.
pub fn generate(args: &Spec) -> std::io::Result<()> {
    for dir in [Some(&args.out), args.hugo.as_ref()].into_iter().flatten() {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
    }
    let out = &args.out;
    write(
        &out.join("site.yaml"),
        "title: Synthetische Seite\ndescription: Benchmark\nbase_url: https://bench.example.org\nlanguage: de\ntimezone: Europe/Berlin\ntheme: bench\n",
    )?;
    write(
        &out.join("content/_index.md"),
        "---\ntitle: Start\n---\nWillkommen.\n",
    )?;
    write(
        &out.join("content/aktuelles/_index.md"),
        "---\ntitle: Aktuelles\nkind: news\nsort_by: date\npaginate_by: 10\nfeed: true\n---\n",
    )?;
    write(
        &out.join("content/sprechstunden/_index.md"),
        "---\ntitle: Sprechstunden\nkind: sprechstunde\nsort_by: number\n---\n",
    )?;
    write(
        &out.join("content/projekte/_index.md"),
        "---\ntitle: Projekte\nkind: project\n---\n",
    )?;
    write(
        &out.join("content/seiten/_index.md"),
        "---\ntitle: Seiten\n---\n",
    )?;
    write_bench_theme(out)?;
    if let Some(h) = &args.hugo {
        write_hugo_skeleton(h, args.shape)?;
    }

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..args.pages {
        let section = args.shape.section_of(i);
        let title = format!("Seite {i}: {}", rng.words(4));
        let body = body(&mut rng, i, args, args.shape.size());
        let (front, hugo_front) = front_matter(section, i, &title);
        write(
            &out.join(format!("content/{}/{}.md", section.dir(), slug(i))),
            &format!("---\n{front}---\n{}", body.replace("@@LINK@@", "@/")),
        )?;
        if let Some(h) = &args.hugo {
            // Hugo gets plain URLs: it does not check them, which only makes its job lighter.
            let hugo_body = link_to_url(&body);
            write(
                &h.join(format!("content/{}/{}.md", section.dir(), slug(i))),
                &format!("---\n{hugo_front}---\n{hugo_body}"),
            )?;
        }
    }
    Ok(())
}

fn front_matter(section: Section, i: usize, title: &str) -> (String, String) {
    let mut f = format!("title: \"{title}\"\nslug: {}\n", slug(i));
    let d = date(i);
    match section {
        Section::News => {
            let _ = write!(
                f,
                "date: {d}\nauthor: Redaktion\ndescription: Meldung {i}\n"
            );
        }
        Section::Sessions => {
            let _ = write!(
                f,
                "number: {i}\ndate: {d}\nstart: \"13:00\"\nend: \"14:00\"\nagenda:\n  - Begrüßung\n  - Bericht\n"
            );
        }
        Section::Projects => {
            let _ = write!(
                f,
                "status: laufend\nfigures:\n  - {{ value: \"{i}\", label: Kommunen }}\nweight: {i}\n"
            );
        }
        Section::Pages => {
            let _ = write!(f, "description: Seite {i}\nweight: {i}\n");
        }
    }
    let hugo = format!("title: \"{title}\"\nslug: {}\ndate: {d}\n", slug(i));
    (f, hugo)
}

fn body(rng: &mut Rng, i: usize, args: &Spec, size: Size) -> String {
    let total = args.pages;
    let mut b = String::with_capacity(size.parts * size.words * 10 + 1000);
    let _ = writeln!(b, "{}.\n", rng.words(size.lead));
    for h in 0..size.parts {
        let _ = writeln!(b, "## Abschnitt {h} {} {{#abschnitt-{h}}}\n", rng.words(3));
        let _ = writeln!(b, "{}.\n", rng.words(size.words));
        if h == 0 {
            for _ in 0..4 {
                let _ = writeln!(b, "- {}", rng.words(8));
            }
            b.push('\n');
        }
        if h == 1 {
            b.push_str("| Merkmal | Wert | Hinweis |\n|---|---|---|\n");
            for r in 0..4 {
                let _ = writeln!(b, "| {} | {r} | {} |", rng.words(2), rng.words(3));
            }
            b.push('\n');
        }
    }
    // Links to two other pages (by source path) and one to an anchor of a third.
    for k in 1..=size.links {
        let j = (i + k * 7919) % total;
        let target = format!("{}/{}.md", args.shape.section_of(j).dir(), slug(j));
        let anchor = if k == 3 && size.parts > 0 {
            "#abschnitt-0"
        } else {
            ""
        };
        let _ = writeln!(
            b,
            "Siehe auch [{}](@@LINK@@{target}{anchor}).\n",
            rng.words(2)
        );
    }
    let lang = if args.highlight { "rust" } else { "" };
    match size.code_lines {
        0 => {}
        1..=4 => {
            let _ = writeln!(
                b,
                "```{lang}\nfn main() {{\n    let seiten = {i};\n    println!(\"{{}} Seiten\", seiten);\n}}\n```\n"
            );
        }
        _ => {
            let _ = writeln!(b, "```{lang}\n{}```\n", long_code(rng, i));
        }
    }
    b
}

/// Fifteen lines of Rust that differ from page to page (numbers and a comment), so no two pages
/// share a code block, as on a real site.
fn long_code(rng: &mut Rng, i: usize) -> String {
    let comment = rng.words(5);
    let step = i % 7 + 2;
    format!(
        "/// Zählt die Seiten von Abschnitt {i}.\n\
         fn zaehle(seiten: &[u32]) -> u64 {{\n\
         \x20   let mut summe: u64 = 0;\n\
         \x20   for (k, s) in seiten.iter().enumerate() {{\n\
         \x20       if k % {step} == 0 {{\n\
         \x20           summe += u64::from(*s) * {step}; // {comment}\n\
         \x20       }} else {{\n\
         \x20           summe = summe.saturating_sub(1);\n\
         \x20       }}\n\
         \x20   }}\n\
         \x20   summe\n\
         }}\n\
         \n\
         let text = format!(\"{{}} Seiten, Summe {{}}\", {i}, zaehle(&[{i}, {step}, 3]));\n\
         println!(\"{{text}}\");\n"
    )
}

/// `[x](@@LINK@@aktuelles/seite-3.md#a)` → `[x](/aktuelles/seite-3/#a)` for Hugo.
fn link_to_url(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some((before, after)) = rest.split_once("@@LINK@@") {
        out.push_str(before);
        let end = after.find(')').unwrap_or(after.len());
        let (target, after_target) = after.split_at_checked(end).unwrap_or((after, ""));
        let (path, anchor) = target.split_once('#').map_or((target, ""), |(p, a)| (p, a));
        let _ = write!(out, "/{}/", path.trim_end_matches(".md"));
        if !anchor.is_empty() {
            let _ = write!(out, "#{anchor}");
        }
        rest = after_target;
    }
    out.push_str(rest);
    out
}

/// Minimal templates for ozg-site, equivalent to the Hugo layouts below.
fn write_bench_theme(out: &Path) -> std::io::Result<()> {
    let t = out.join("themes/bench/templates");
    write(
        &t.join("base.html"),
        "<!DOCTYPE html><html lang=\"de\"><head><meta charset=\"utf-8\"><title>{% block title %}{{ site.title }}{% endblock title %}</title></head><body>{% block main %}{% endblock main %}</body></html>\n",
    )?;
    write(
        &t.join("page.html"),
        "{% extends \"base.html\" %}{% block title %}{{ page.title }}{% endblock title %}{% block main %}<h1>{{ page.title }}</h1>{{ page.content }}{% endblock main %}\n",
    )?;
    write(
        &t.join("section.html"),
        "{% extends \"base.html\" %}{% block main %}<h1>{{ section.title }}</h1><ul>{% for p in (paginator.pages if paginator else section.pages) %}<li><a href=\"{{ p.url }}\">{{ p.title }}</a></li>{% endfor %}</ul>{% if paginator and paginator.next_url %}<a href=\"{{ paginator.next_url }}\">weiter</a>{% endif %}{% endblock main %}\n",
    )?;
    write(&t.join("index.html"), "{% extends \"section.html\" %}\n")?;
    write(
        &t.join("404.html"),
        "{% extends \"base.html\" %}{% block main %}<h1>Nicht gefunden</h1>{% endblock main %}\n",
    )?;
    write(
        &t.join("atom.xml"),
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>{{ feed.title }}</title><id>{{ feed.url }}</id><updated>{{ feed.updated }}</updated>{% for e in feed.entries %}<entry><title>{{ e.title }}</title><id>{{ e.permalink }}</id><updated>{{ e.date_rfc3339 }}</updated><summary type=\"html\">{{ e.summary }}</summary></entry>{% endfor %}</feed>\n",
    )?;
    Ok(())
}

fn write_hugo_skeleton(h: &Path, shape: Shape) -> std::io::Result<()> {
    // Hugo's highlighter is on for fenced blocks with a language; classes like ozg-site's. With
    // one section, ozg-site writes no feed, so Hugo writes none either (its feed of a section is
    // unlimited by default: ten thousand entries would be work ozg-site does not do).
    let outputs = if shape.one_section() {
        "  home: [HTML]\n  section: [HTML]\n"
    } else {
        "  home: [HTML, RSS]\n  section: [HTML, RSS]\n"
    };
    write(
        &h.join("hugo.yaml"),
        &format!(
            "baseURL: https://bench.example.org/\nlanguageCode: de\ntitle: Synthetische Seite\ndisableKinds: [taxonomy, term]\npagination:\n  pagerSize: 10\npaginate: 10\nmarkup:\n  highlight:\n    noClasses: false\n    guessSyntax: false\noutputs:\n{outputs}"
        ),
    )?;
    write(
        &h.join("content/_index.md"),
        "---\ntitle: Start\n---\nWillkommen.\n",
    )?;
    for (dir, title) in [
        ("aktuelles", "Aktuelles"),
        ("sprechstunden", "Sprechstunden"),
        ("projekte", "Projekte"),
        ("seiten", "Seiten"),
    ] {
        write(
            &h.join(format!("content/{dir}/_index.md")),
            &format!("---\ntitle: {title}\n---\n"),
        )?;
    }
    let l = h.join("layouts/_default");
    write(
        &l.join("baseof.html"),
        "<!DOCTYPE html><html lang=\"de\"><head><meta charset=\"utf-8\"><title>{{ block \"title\" . }}{{ .Site.Title }}{{ end }}</title></head><body>{{ block \"main\" . }}{{ end }}</body></html>\n",
    )?;
    write(
        &l.join("single.html"),
        "{{ define \"title\" }}{{ .Title }}{{ end }}{{ define \"main\" }}<h1>{{ .Title }}</h1>{{ .Content }}{{ end }}\n",
    )?;
    // ozg-site paginates only the news; with one section, Hugo lists every page on one page too.
    let list = if shape.one_section() {
        "{{ define \"main\" }}<h1>{{ .Title }}</h1><ul>{{ range .Pages }}<li><a href=\"{{ .RelPermalink }}\">{{ .Title }}</a></li>{{ end }}</ul>{{ end }}\n"
    } else {
        "{{ define \"main\" }}<h1>{{ .Title }}</h1><ul>{{ range .Paginator.Pages }}<li><a href=\"{{ .RelPermalink }}\">{{ .Title }}</a></li>{{ end }}</ul>{{ with .Paginator.Next }}<a href=\"{{ .URL }}\">weiter</a>{{ end }}{{ end }}\n"
    };
    write(&l.join("list.html"), list)?;
    write(
        &h.join("layouts/index.html"),
        "{{ define \"main\" }}<h1>{{ .Title }}</h1>{{ end }}\n",
    )?;
    write(
        &h.join("layouts/404.html"),
        "{{ define \"main\" }}<h1>Nicht gefunden</h1>{{ end }}\n",
    )?;
    Ok(())
}
