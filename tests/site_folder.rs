//! Nothing outside the site folder is ever read into the output: links that leave the site (or
//! lead into `.ozg-site/`), paths that climb out of it, dot-files, absurd YAML and control
//! characters in calendar lines are refused by `build`, `check` and the preview alike.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{NOW, Run, Site};

/// Bytes that must never appear in any output: they stand for the subscriber database.
const DB_MARKER: &str = "SQLite format 3 -- Abonnentinnen und Abonnenten";
/// Bytes of a file outside the site.
const OUTSIDE_MARKER: &str = "streng geheim, außerhalb der Seite";

/// The fixture with a previous build, a fake subscriber database in `.ozg-site/`, and a folder
/// outside the site holding `geheim.txt` and `fremd.md`.
fn site_with_secrets() -> (Site, tempfile::TempDir) {
    let site = Site::fixture("basic");
    site.write(".ozg-site/newsletter.sqlite", DB_MARKER);
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("geheim.txt"), OUTSIDE_MARKER).unwrap();
    std::fs::write(
        outside.path().join("fremd.md"),
        format!("---\ntitle: Fremd\nnumber: 9\ndate: 2025-01-01\nsubject: {OUTSIDE_MARKER}\npreheader: x\n---\n{OUTSIDE_MARKER}\n"),
    )
    .unwrap();
    site.build().ok();
    (site, outside)
}

fn link(site: &Site, rel: &str, target: impl AsRef<Path>) {
    let path = site.path(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    symlink(target, path).unwrap();
}

/// `build` and `check` both refuse with the link and its target named; the previous output
/// stays as it was and no secret is anywhere in it.
fn assert_refused(site: &Site, mutate: impl FnOnce(&Site), expected: &[&str]) {
    let before = site.snapshot();
    mutate(site);
    let build = site.build();
    build.stderr_has("nothing was written (the previous output is unchanged)");
    for run in [build, site.run(&["check", "--now", NOW])] {
        run.failed_with(1);
        for needle in expected {
            run.stderr_has(needle);
        }
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert!(
            !run.stderr.contains(OUTSIDE_MARKER) && !run.stderr.contains(DB_MARKER),
            "a file outside the site reached the report:\n{}",
            run.stderr
        );
    }
    assert_eq!(before, site.snapshot(), "the previous output changed");
    let text = site.all_output_text();
    assert!(
        !text.contains(DB_MARKER) && !text.contains(OUTSIDE_MARKER),
        "a file outside the site reached the output"
    );
}

#[test]
fn symlink_to_the_database_is_refused() {
    let (site, _outside) = site_with_secrets();
    assert_refused(
        &site,
        |s| {
            link(
                s,
                "content/aktuelles/daten.bin",
                "../../.ozg-site/newsletter.sqlite",
            )
        },
        &[
            "error: cannot read `content/aktuelles/daten.bin`: it is a link to `../../.ozg-site/newsletter.sqlite`, into the hidden folder `.ozg-site/`",
            " --> content/aktuelles/daten.bin\n",
            "help: hidden files and folders",
        ],
    );
}

#[test]
fn symlink_to_a_folder_outside_is_refused() {
    let (site, outside) = site_with_secrets();
    let target = outside.path().to_string_lossy().into_owned();
    assert_refused(
        &site,
        |s| link(s, "content/aktuelles/anhang", outside.path()),
        &[
            &format!(
                "`content/aktuelles/anhang`: it is a link to `{target}`, outside the site folder"
            ),
            "help: copy the file or folder into the site instead of linking to it",
        ],
    );
}

#[test]
fn symlink_to_etc_passwd_is_refused() {
    let (site, _outside) = site_with_secrets();
    assert_refused(
        &site,
        |s| {
            link(
                s,
                "content/sprechstunden/69-forum/passwd.txt",
                "/etc/passwd",
            )
        },
        &[
            "`content/sprechstunden/69-forum/passwd.txt`: it is a link to `/etc/passwd`, outside the site folder",
        ],
    );
    assert!(
        !site.all_output_text().contains("root:"),
        "/etc/passwd reached the output"
    );
}

#[test]
fn dangling_link_is_refused() {
    let (site, _outside) = site_with_secrets();
    assert_refused(
        &site,
        |s| link(s, "content/aktuelles/plan.pdf", "plan-2024.pdf"),
        &["`content/aktuelles/plan.pdf`: it is a link to `plan-2024.pdf`, which does not exist"],
    );
}

#[test]
fn link_loops_are_refused() {
    let (site, _outside) = site_with_secrets();
    assert_refused(
        &site,
        |s| {
            link(s, "content/aktuelles/kreis.pdf", "kreis.pdf");
            link(s, "content/aktuelles/hoch", "..");
        },
        &[
            "`content/aktuelles/kreis.pdf`: it is a link to `kreis.pdf` that cannot be followed: too many levels of symbolic links",
            "`content/aktuelles/hoch`: it is a link to `..`, a folder the link itself lies in",
        ],
    );
}

#[test]
fn link_out_of_static_is_refused() {
    let (site, outside) = site_with_secrets();
    assert_refused(
        &site,
        |s| {
            link(
                s,
                "static/dateien/geheim.txt",
                outside.path().join("geheim.txt"),
            )
        },
        &[" --> static/dateien/geheim.txt", "outside the site folder"],
    );
}

#[test]
fn link_out_of_a_theme_is_refused() {
    let (site, outside) = site_with_secrets();
    site.write(
        "site.yaml",
        site.read("site.yaml")
            .replace("theme: default", "theme: mini"),
    );
    site.build().ok();
    assert_refused(
        &site,
        |s| {
            link(
                s,
                "themes/mini/templates/geheim.html",
                outside.path().join("geheim.txt"),
            );
            link(s, "themes/mini/static/passwd", "/etc/passwd");
        },
        &[
            " --> themes/mini/templates/geheim.html",
            "`themes/mini/static/passwd`: it is a link to `/etc/passwd`",
        ],
    );
    // A theme folder that is itself a link out, and a theme name that climbs out of `themes/`.
    site.write(
        "site.yaml",
        site.read("site.yaml")
            .replace("theme: mini", "theme: fremd"),
    );
    link(&site, "themes/fremd", outside.path());
    site.build()
        .failed_with(1)
        .stderr_has("`themes/fremd`: it is a link to");
    site.write(
        "site.yaml",
        site.read("site.yaml")
            .replace("theme: fremd", "theme: ../../etc"),
    );
    site.build()
        .failed_with(1)
        .stderr_has("theme `../../etc` is not the name of a folder in `themes/`")
        .stderr_has("site.yaml:6:8");
}

#[test]
fn link_out_of_newsletters_is_refused() {
    let (site, outside) = site_with_secrets();
    assert_refused(
        &site,
        |s| link(s, "newsletters/9-fremd.md", outside.path().join("fremd.md")),
        &[
            "`newsletters/9-fremd.md`: it is a link to `",
            "outside the site folder",
        ],
    );
}

#[test]
fn site_yaml_may_not_be_a_link_out() {
    let (site, outside) = site_with_secrets();
    std::fs::write(outside.path().join("site.yaml"), site.read("site.yaml")).unwrap();
    std::fs::remove_file(site.path("site.yaml")).unwrap();
    link(&site, "site.yaml", outside.path().join("site.yaml"));
    site.build()
        .failed_with(1)
        .stderr_has("`site.yaml`: it is a link to");
}

#[test]
fn links_inside_the_site_keep_working() {
    let site = Site::fixture("basic");
    site.write("static/dateien/plan.pdf", "%PDF-1.7 Plan");
    link(
        &site,
        "content/sprechstunden/69-forum/plan.pdf",
        "../../../static/dateien/plan.pdf",
    );
    link(&site, "static/gemeinsam", "dateien");
    site.build().ok();
    assert_eq!(
        site.read("public/sprechstunden/69-2-gdst-forum/plan.pdf"),
        "%PDF-1.7 Plan"
    );
    assert_eq!(site.read("public/gemeinsam/plan.pdf"), "%PDF-1.7 Plan");
}

#[test]
fn downloads_climbing_out_of_the_site_are_refused() {
    let (site, _outside) = site_with_secrets();
    let page = "content/sprechstunden/69-forum/index.md";
    let text = site.read(page);
    assert_refused(
        &site,
        |s| {
            s.write(
                page,
                text.replace(
                    "file: folien.pdf",
                    "file: ../../../.ozg-site/newsletter.sqlite",
                )
                .replace(
                    "---\nDas",
                    "downloads:\n  - { file: ../../../../../../../etc/passwd, title: Passwörter }\n  - { file: //etc/passwd, title: Auch }\n  - { file: /../site.yaml, title: Einstellungen }\n---\nDas",
                ),
            )
        },
        &[
            "content/sprechstunden/69-forum/index.md:11:",
            "the file `../../../.ozg-site/newsletter.sqlite` cannot be offered: `..` leads out of the `content/` folder",
            "the file `../../../../../../../etc/passwd` cannot be offered: `..` leads out of the `content/` folder",
            "the file `//etc/passwd` cannot be offered: the path has an empty folder name",
            "the file `/../site.yaml` cannot be offered: `..` leads out of the `static/` folder",
            "help: name a file in the page's folder",
        ],
    );
}

#[test]
fn images_and_downloads_out_of_the_site_are_refused() {
    let (site, outside) = site_with_secrets();
    std::fs::write(outside.path().join("bild.png"), OUTSIDE_MARKER).unwrap();
    assert_refused(
        &site,
        |s| {
            s.write(
                "content/kontakt.md",
                "---\ntitle: Kontakt\ndownloads:\n  - { file: /.ozg-site/newsletter.sqlite, title: DB }\n---\nText\n\n![Bild](../../../../../../usr/share/pixmaps/x.png)\n",
            );
            // The walk skips backup folders (`alt~`), so only the image's own check sees this link.
            link(s, "content/alt~", outside.path());
            s.write(
                "content/bilder.md",
                "---\ntitle: Bilder\n---\n![Foto](alt~/bild.png)\n",
            );
        },
        &[
            "content/kontakt.md:4:",
            "the file `/.ozg-site/newsletter.sqlite` cannot be offered: names starting with a dot are hidden",
            "content/kontakt.md:8:9",
            "the image `../../../../../../usr/share/pixmaps/x.png` cannot be used: `..` leads out of the `content/` folder",
            "content/bilder.md:4:9",
            "the image `alt~/bild.png` cannot be used: a link on the way leads outside the site",
        ],
    );
}

#[test]
fn a_link_planted_in_the_image_cache_is_not_published() {
    // `.ozg-site/images/` holds resized images by their source's hash; an editor can commit a
    // link there (`git add -f`) under the name the next build will look for.
    let site = Site::fixture("basic");
    let photo = image::RgbImage::from_fn(1000, 500, |x, _| image::Rgb([(x % 256) as u8, 40, 90]));
    photo
        .save(site.path("content/sprechstunden/69-forum/bild.png"))
        .unwrap();
    let page = "content/sprechstunden/69-forum/index.md";
    site.write(page, site.read(page) + "\n![Ein Bild](bild.png)\n");
    site.build().ok();
    let cached: Vec<_> = std::fs::read_dir(site.path(".ozg-site/images"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-480.png"))
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    std::fs::remove_file(&cached[0]).unwrap();
    symlink("/etc/passwd", &cached[0]).unwrap();
    // Links where the build writes (its temporary file, the WebP marker) must not be written through.
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("opfer.txt");
    std::fs::write(&victim, OUTSIDE_MARKER).unwrap();
    let stem = cached[0].to_string_lossy().replace("-480.png", "");
    let marker = std::path::PathBuf::from(format!("{stem}.webp-smaller"));
    let _ = std::fs::remove_file(&marker);
    symlink(&victim, &marker).unwrap();
    symlink(&victim, format!("{stem}-960.tmp")).unwrap();

    site.build().ok();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), OUTSIDE_MARKER);
    let out = site.path("public/sprechstunden/69-2-gdst-forum/bild-480w.png");
    assert_eq!(image::image_dimensions(&out).unwrap(), (480, 240));
    assert!(
        !site.all_output_text().contains("root:"),
        "/etc/passwd reached the output"
    );
    assert!(
        !std::fs::symlink_metadata(&cached[0])
            .unwrap()
            .file_type()
            .is_symlink(),
        "the cached image {} is still a link",
        cached[0].display()
    );
}

#[test]
fn dot_files_are_never_published() {
    // The walks skipped these before; this keeps every collecting place doing so.
    let site = Site::fixture("basic");
    for rel in [
        "static/.env",
        "static/.htaccess",
        "static/.ozg-site/newsletter.sqlite",
        "static/css/.git/config",
        "content/sprechstunden/69-forum/.env",
        "themes/mini/static/.env",
    ] {
        site.write(rel, DB_MARKER);
    }
    site.build().ok();
    let outputs: Vec<_> = site.snapshot().into_keys().collect();
    assert!(
        outputs
            .iter()
            .all(|p| !p.to_string_lossy().split('/').any(|n| n.starts_with('.'))),
        "{outputs:?}"
    );
    assert!(
        !site.all_output_text().contains(DB_MARKER),
        "the database reached the output"
    );
}

#[test]
fn nested_yaml_is_refused_quickly() {
    let site = Site::fixture("basic");
    site.write(
        "content/aktuelles/tief.md",
        format!(
            "---\ntitle: Tief\ndate: 2025-01-01\nextra: {{x: {}}}\n---\n",
            "[".repeat(100_000)
        ),
    );
    let run = run_with_deadline(&site, &["check", "--now", NOW], Duration::from_secs(10));
    run.failed_with(1)
        .stderr_has("error: the front matter of a news page nests lists or mappings in `[` and `{` more than 64 levels deep")
        .stderr_has(" --> content/aktuelles/tief.md:4:")
        .stderr_has("help: real settings need a few levels at most");

    std::fs::remove_file(site.path("content/aktuelles/tief.md")).unwrap();
    site.write(
        "site.yaml",
        format!(
            "{}extra: {}\n",
            site.read("site.yaml"),
            "{a: ".repeat(100_000)
        ),
    );
    run_with_deadline(&site, &["build", "--now", NOW], Duration::from_secs(10))
        .failed_with(1)
        .stderr_has("error: site.yaml nests lists or mappings")
        .stderr_has(" --> site.yaml:15:");
}

#[test]
fn a_bare_cr_never_reaches_a_calendar_line() {
    let site = Site::fixture("basic");
    let index = "content/sprechstunden/_index.md";
    site.write(
        index,
        site.read(index).replace(
            "kind: sprechstunde\n",
            "kind: sprechstunde\ncalendar: { file: kalender.ics, event_file: termin.ics }\n",
        ),
    );
    site.write(
        "content/sprechstunden/70.md",
        site.read("content/sprechstunden/70.md").replace(
            "end: \"14:00\"\n",
            "end: \"14:00\"\ndescription: \"Rückblick\\rEND:VEVENT\\r\\nBEGIN:VEVENT\\u001b[31m\\u0085Ende\"\nlocation: \"Online\\rX-EVIL:1\"\n",
        ),
    );
    site.build().ok();
    for ics in [
        "public/sprechstunden/kalender.ics",
        "public/sprechstunden/70-jahresrueckblick-2025/termin.ics",
    ] {
        let bytes = std::fs::read(site.path(ics)).unwrap();
        for (i, b) in bytes.iter().enumerate() {
            let crlf = (*b == b'\r' && bytes.get(i + 1) == Some(&b'\n'))
                || (*b == b'\n' && i > 0 && bytes[i - 1] == b'\r');
            assert!(
                crlf || !(b.is_ascii_control() || *b == 0x7f),
                "{ics}: control byte 0x{b:02x} at {i}"
            );
        }
        let text = String::from_utf8(bytes).unwrap();
        let unfolded = text.replace("\r\n ", "");
        assert!(!unfolded.contains('\u{85}'), "{ics}");
        assert!(
            unfolded.contains("DESCRIPTION:Rückblick\\nEND:VEVENT\\nBEGIN:VEVENT[31m\\nEnde"),
            "{unfolded}"
        );
        assert!(
            unfolded.contains("LOCATION:Online\\nX-EVIL:1\r\n"),
            "{unfolded}"
        );
        let begins = unfolded.lines().filter(|l| *l == "BEGIN:VEVENT").count();
        assert_eq!(
            begins,
            unfolded.lines().filter(|l| *l == "END:VEVENT").count()
        );
        assert!(
            !unfolded.lines().any(|l| l.starts_with("X-EVIL")),
            "a line break in a value made a property of its own:\n{unfolded}"
        );
    }
}

#[test]
fn the_preview_answers_404_for_a_refused_link() {
    let (site, outside) = site_with_secrets();
    site.write("static/.env", DB_MARKER);
    let server = Server::start(&site);
    assert_eq!(server.get("/kontakt/").0, 200);
    assert_eq!(server.get("/.env").0, 404);

    let events = server.events();
    link(
        &site,
        "content/aktuelles/daten.bin",
        "../../.ozg-site/newsletter.sqlite",
    );
    link(
        &site,
        "content/aktuelles/geheim.txt",
        outside.path().join("geheim.txt"),
    );
    let error = next_event(&events, "builderror");
    assert!(error.contains("content/aktuelles/daten.bin"), "{error}");
    for path in ["/aktuelles/daten.bin", "/aktuelles/geheim.txt", "/.env"] {
        let (status, body) = server.get(path);
        assert_eq!(status, 404, "{path}");
        assert!(
            !body.contains(DB_MARKER) && !body.contains(OUTSIDE_MARKER),
            "{path} served a file outside the site"
        );
    }
    // The last good site is still served.
    assert_eq!(server.get("/kontakt/").0, 200);
}

/// Runs `ozg-site <args> --root <site>`, failing the test if it has not ended by `deadline`.
fn run_with_deadline(site: &Site, args: &[&str], deadline: Duration) -> Run {
    let child = Command::new(env!("CARGO_BIN_EXE_ozg-site"))
        .args(args)
        .arg("--root")
        .arg(site.root())
        .env_remove("OZG_SITE_NOW")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ozg-site");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(deadline) {
        Ok(out) => {
            let out = out.expect("ozg-site ran");
            Run {
                status: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        }
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("ozg-site {args:?} still ran after {deadline:?}");
        }
    }
}

/// `ozg-site serve` on a free loopback port, stopped on drop.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(site: &Site) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ozg-site"))
            .args(["serve", "--port", "0", "--now", NOW, "--root"])
            .arg(site.root())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = lines
            .next()
            .and_then(Result::ok)
            .expect("serve announces its address");
        // Keep reading so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Server { child, addr }
    }

    /// A plain HTTP/1.1 GET: status and body.
    fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, body.to_string())
    }

    /// The live-reload events as "name: data", from after the server greeted the subscriber.
    fn events(&self) -> mpsc::Receiver<String> {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        write!(
            stream,
            "GET /__ozg/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
            self.addr
        )
        .unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (mut name, mut data) = (String::new(), Vec::new());
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_string();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push(d.strip_prefix(' ').unwrap_or(d).to_string());
                } else if line.is_empty() && !name.is_empty() {
                    if tx.send(format!("{name}: {}", data.join("\n"))).is_err() {
                        return;
                    }
                    name.clear();
                    data.clear();
                }
            }
        });
        // The greeting comes after the subscription: from here on no rebuild is missed.
        next_event(&rx, "hello");
        rx
    }
}

fn next_event(rx: &mpsc::Receiver<String>, prefix: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while let Ok(e) = rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
    {
        if e.starts_with(prefix) {
            return e;
        }
    }
    panic!("no {prefix} event within 20 s");
}

#[test]
fn a_static_file_replaced_by_a_link_out_is_not_served_by_the_running_preview() {
    let (site, outside) = site_with_secrets();
    site.write("static/dateien/notiz.txt", "harmlos");
    let server = Server::start(&site);
    assert_eq!(server.get("/dateien/notiz.txt").0, 200);

    let events = server.events();
    std::fs::remove_file(site.path("static/dateien/notiz.txt")).expect("remove the file");
    link(
        &site,
        "static/dateien/notiz.txt",
        outside.path().join("geheim.txt"),
    );
    // The save takes the full build, which refuses the link; until then, and after it (a build
    // error keeps the last good site), the file is checked again when it is read.
    let error = next_event(&events, "builderror");
    assert!(error.contains("static/dateien/notiz.txt"), "{error}");
    let (status, body) = server.get("/dateien/notiz.txt");
    assert_eq!(status, 404, "the link out must not be served: {body}");
    assert!(!body.contains(OUTSIDE_MARKER), "{body}");
    assert_eq!(
        server.get("/kontakt/").0,
        200,
        "the last good site is still served"
    );
}
