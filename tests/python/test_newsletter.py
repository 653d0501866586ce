"""The newsletter e-mail of edition 2, read the way mail software reads it.

`ozg-site newsletter build 2` writes message.eml (a complete message to the sample recipient),
email.html and email.txt. Python's standard `email` package parses the message; `html.parser`
reads the HTML part.
"""

import email
import email.policy
import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("OZG_SITE_BIN", ROOT / "target/debug/ozg-site"))
NOW = "2025-12-05T13:00:00+01:00"
EDITION = ROOT / "newsletters/2-ozg-sachsenanhaltspunkte.md"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("mail")
    run = subprocess.run(
        [str(BIN), "newsletter", "build", "2", "--root", str(ROOT), "--now", NOW, "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == "", "the bundled edition builds without warnings"
    return out / "2"


@pytest.fixture(scope="module")
def message(built):
    return email.message_from_bytes((built / "message.eml").read_bytes(), policy=email.policy.default)


def front_matter_value(key):
    text = EDITION.read_text(encoding="utf-8")
    match = re.search(rf'^{key}: "?(.*?)"?$', text, re.MULTILINE)
    assert match, key
    return match.group(1)


class Html(HTMLParser):
    """Collects every start tag with its attributes."""

    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def parse_html(text):
    parser = Html()
    parser.feed(text)
    return parser.tags


def test_structure_is_multipart_alternative_text_then_html(message):
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for part in parts:
        assert part.get_content_charset() == "utf-8"
    assert message["MIME-Version"] == "1.0"


def test_headers(message):
    assert str(message["Subject"]) == front_matter_value("subject")
    assert "Büro" in str(message["Subject"])
    assert message["From"].addresses[0].addr_spec == "ozg@sachsen-anhalt.de"
    assert message["From"].addresses[0].display_name == "OZG-Team Sachsen-Anhalt"
    assert message["To"].addresses[0].display_name == "Erika Mustermann"
    assert message["Date"].datetime is not None
    assert re.fullmatch(r"<[^<>@\s]+@sachsen-anhalt\.de>", message["Message-ID"])
    unsubscribe = str(message["List-Unsubscribe"])
    assert re.fullmatch(r"<https://ozg\.sachsen-anhalt\.de/newsletter/abmelden\?token=[0-9a-z]+>", unsubscribe)
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    # The list's full name as an RFC 2919 phrase (test_send.py: with umlauts).
    assert str(message["List-Id"]) == '"OZG-Team Sachsen-Anhalt" <newsletter.sachsen-anhalt.de>'


def test_one_salutation_set_off_from_the_greeting_in_both_parts(message):
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Guten Tag Erika Mustermann,\n\nich freue mich sehr" in text
    assert re.search(r"<p[^>]*>Guten Tag Erika Mustermann,</p>", html)
    for part in (html, text):
        assert "Liebe Leserinnen, liebe Leser," not in part, "one salutation, not two"
    assert len(re.findall(r"<h1[\s>]", html)) == 1, "the edition's title is the mail's h1"


def test_the_text_part_carries_every_link_of_the_html_part(message):
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    links = [l for t, a in parse_html(html) if (l := a.get("href"))]
    assert len(links) > 20
    for link in links:
        assert link.removeprefix("mailto:") in text, link


def test_html_part_is_made_for_mail_clients(message):
    html = message.get_body(("html",)).get_content()
    tags = parse_html(html)
    names = {t for t, _ in tags}
    assert not names & {"style", "script", "link", "iframe", "form"}, names
    for tag, attrs in tags:
        for key in ("href", "src"):
            if key in attrs:
                assert re.match(r"(https://|mailto:)", attrs[key]), f"{tag} {key}={attrs[key]}"
        if tag == "img":
            assert attrs.get("alt") is not None, attrs
        if "width" in attrs and attrs["width"].rstrip("px").isdigit():
            assert int(attrs["width"].rstrip("px")) <= 600, (tag, attrs["width"])
        for value in re.findall(r"(?:^|[;\s])(?:max-)?width:\s*(\d+)px", attrs.get("style", "")):
            assert int(value) <= 600, (tag, attrs["style"])
    # The preheader: hidden text right at the start of the body.
    assert front_matter_value("preheader") in html
    # Personal parts are filled; no placeholder is left.
    assert "%%" not in html
    assert "Guten Tag Erika Mustermann," in html
    assert "Im Browser ansehen" in html
    assert 'href="https://ozg.sachsen-anhalt.de/newsletter/2/"' in html
    assert "Newsletter abbestellen" in html
    assert "https://ozg.sachsen-anhalt.de/impressum/" in html


def test_text_part_reads_on_its_own(message):
    # Lines end in CRLF on the wire, as RFC 5322 requires.
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "%%" not in text
    lines = text.splitlines()
    long_lines = [l for l in lines if len(l) > 72 and not re.search(r"https?://\S+$", l)]
    assert long_lines == []
    assert not any(l != l.rstrip() for l in lines), "no trailing spaces"
    assert "Wir ziehen in ein neues Büro\n============================" in text
    # Links are numbered references listed at the end.
    refs = re.findall(r"^\[(\d+)\] (https://\S+)$", text, re.MULTILINE)
    assert refs and [int(n) for n, _ in refs] == list(range(1, len(refs) + 1))
    for n, _ in refs:
        assert f"[{n}]" in text.split("\nLinks\n")[0]
    assert "https://ozg.sachsen-anhalt.de/newsletter/abmelden?token=" in text


def test_files_keep_placeholders_for_sending(built):
    html = (built / "email.html").read_text(encoding="utf-8")
    text = (built / "email.txt").read_text(encoding="utf-8")
    for part in (html, text):
        assert "%%UNSUBSCRIBE_URL%%" in part
        assert "Erika" not in part, "nothing recipient-specific in the shared rendering"
