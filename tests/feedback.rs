//! "Barriere melden" in `ozg-site check` and `build`, through the real binary: a theme without the
//! feedback form's pages or mail fails `check` naming the file, and the page of the form posts to
//! the service or names the address to write to. (The service itself: tests/python/test_feedback.py.)

mod common;

use std::path::Path;

use common::{NOW, Site};

const SERVICE: &str = "newsletter:\n  from: team@example.org\n  subscriptions:\n    consent: Ich möchte den Newsletter.\n";
const FEEDBACK: &str = "feedback:\n  to: barrieren@example.org\n";
const PAGE: &str = "content/barriere-melden.md";

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The fixture with the default theme as `themes/eigen`, for a theme that lacks a file.
fn with_own_theme() -> Site {
    let site = Site::fixture("basic");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("themes/default"),
        &site.path("themes/eigen"),
    );
    site.write(
        "site.yaml",
        site.read("site.yaml")
            .replace("theme: default", "theme: eigen")
            + SERVICE
            + FEEDBACK,
    );
    site
}

#[test]
fn check_names_the_feedback_page_a_theme_lacks() {
    let site = with_own_theme();
    site.run(&["check", "--now", NOW]).ok();
    std::fs::remove_file(site.path("themes/eigen/templates/subscriptions/feedback-form.html"))
        .unwrap();
    let run = site.run(&["check", "--now", NOW]);
    run.failed_with(1);
    run.stderr_has("the theme `eigen` has no page for the feedback form");
    run.stderr_has("templates/subscriptions/feedback-form.html");
    run.stderr_has("copy `templates/subscriptions/feedback-*.html`");
}

#[test]
fn check_names_the_feedback_mail_a_theme_lacks() {
    let site = with_own_theme();
    std::fs::remove_file(site.path("themes/eigen/email/feedback.txt")).unwrap();
    let run = site.run(&["check", "--now", NOW]);
    run.failed_with(1);
    run.stderr_has("the theme `eigen` has no e-mail template `email/feedback.txt`");
}

#[test]
fn without_feedback_settings_a_theme_needs_no_feedback_pages() {
    let site = with_own_theme();
    site.write("site.yaml", site.read("site.yaml").replace(FEEDBACK, ""));
    for file in [
        "templates/subscriptions/feedback-form.html",
        "email/feedback.txt",
    ] {
        std::fs::remove_file(site.path(&format!("themes/eigen/{file}"))).unwrap();
    }
    site.run(&["check", "--now", NOW]).ok();
}

#[test]
fn the_feedback_page_posts_to_the_service_or_names_the_address_to_write_to() {
    let site = Site::fixture("basic");
    site.write(
        PAGE,
        "---\ntitle: Barriere melden\ntemplate: feedback.html\n---\nSagen Sie es uns.\n",
    );
    let page = |site: &Site| {
        site.build().ok();
        site.read("public/barriere-melden/index.html")
    };
    // No settings: the site's contact address.
    let html = page(&site);
    assert!(!html.contains("<form"), "{html}");
    assert!(
        html.contains("mailto:test@example.org?subject=Barrierefreiheit"),
        "{html}"
    );
    // `feedback.to` without the service: that address.
    site.write("site.yaml", site.read("site.yaml") + FEEDBACK);
    let html = page(&site);
    assert!(!html.contains("<form"), "{html}");
    assert!(
        html.contains("mailto:barrieren@example.org?subject=Barrierefreiheit"),
        "{html}"
    );
    // With the service: the form, posting to it.
    site.write("site.yaml", site.read("site.yaml") + SERVICE);
    let html = page(&site);
    assert!(
        html.contains(r#"method="post" action="https://test.example.org/barrierefreiheit/melden""#),
        "{html}"
    );
    for field in ["description", "page", "email", "name"] {
        assert!(html.contains(&format!(r#"name="{field}""#)), "{field}");
    }
}

#[test]
fn no_page_may_take_the_address_of_the_feedback_form() {
    let site = Site::fixture("basic");
    site.write(
        "content/melden.md",
        "---\ntitle: Melden\naliases: [/barrierefreiheit/melden]\n---\nText\n",
    );
    let run = site.build();
    run.failed_with(1);
    run.stderr_has("is already the service's feedback form /barrierefreiheit/melden");
}

#[test]
fn the_preview_says_it_sends_no_report() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};

    let site = Site::fixture("basic");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ozg-site"))
        .args(["serve", "--port", "0", "--now", NOW, "--root"])
        .arg(site.root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /barrierefreiheit/melden HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.contains("In der Vorschau werden keine Meldungen verschickt"),
        "{answer}"
    );
}
