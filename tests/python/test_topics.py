"""The topic feeds (`/themen/<slug>/atom.xml`) as a feed reader reads them, with feedparser.

Builds the bundled OZG site with the real binary (5 December 2025, 13:00): each declared topic
has a valid Atom feed of its dated pages, newest first, no news after --now, every link absolute
and leading to a page that was built, each entry titled as its page; the feed's own links point
at itself and at the topic's page, which names the feed in its head.
"""

import os
import re
import subprocess
from pathlib import Path

import feedparser
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("OZG_SITE_BIN", ROOT / "target/debug/ozg-site"))
NOW = "2025-12-05T13:00:00+01:00"
BASE = "https://ozg.sachsen-anhalt.de"


def declared_slugs():
    """The slugs under `themen:` of the repository's site.yaml, in order."""
    text = (ROOT / "site.yaml").read_text(encoding="utf-8")
    block = text.split("\nthemen:\n", 1)[1]
    block = re.split(r"\n(?=\S)", block, maxsplit=1)[0]
    return re.findall(r"^  - slug: ([a-z0-9-]+)$", block, flags=re.M)


SLUGS = declared_slugs()


@pytest.fixture(scope="module")
def public(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "public"
    subprocess.run(
        [str(BIN), "build", "--root", str(ROOT), "--now", NOW, "--output", str(out)],
        check=True,
        capture_output=True,
    )
    return out


def built(public, url):
    """The built file behind an absolute URL of the site."""
    assert url.startswith(BASE + "/"), url
    path = url[len(BASE):]
    assert path.endswith("/"), url
    return public / path.lstrip("/") / "index.html"


def test_the_site_declares_the_topics_its_sources_name():
    assert {"gdst", "zsa", "registermodernisierung", "digital-lotsen"} <= set(SLUGS), SLUGS


@pytest.mark.parametrize("slug", SLUGS)
def test_each_topic_feed_is_valid_newest_first_and_links_to_built_pages(public, slug):
    parsed = feedparser.parse((public / "themen" / slug / "atom.xml").read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title.endswith(" – OZG Sachsen-Anhalt"), parsed.feed.title
    links = {link.rel: link.href for link in parsed.feed.links}
    assert links["self"] == f"{BASE}/themen/{slug}/atom.xml"
    assert links["alternate"] == f"{BASE}/themen/{slug}/"
    page = built(public, links["alternate"]).read_text(encoding="utf-8")
    assert f'href="/themen/{slug}/atom.xml"' in page
    assert 'rel="alternate" type="application/atom+xml"' in page

    dates = [e.published_parsed for e in parsed.entries]
    assert dates == sorted(dates, reverse=True), [e.link for e in parsed.entries]
    for entry in parsed.entries:
        assert entry.id == entry.link
        target = built(public, entry.link)
        assert target.is_file(), entry.link
        html = target.read_text(encoding="utf-8")
        title = re.search(r"<h1[^>]*>(.*?)</h1>", html, flags=re.S).group(1)
        # The heading carries soft hyphens for line breaks (issue 18); the feed's title must not.
        assert "\u00ad" not in entry.title, entry.title
        heading = re.sub(r"<[^>]+>", "", title).replace("\u00ad", "").strip()
        assert entry.title == heading, entry.link
        # Sprechstunden and events are announced ahead; news are not published before their date.
        if "/aktuelles/" in entry.link:
            assert entry.published_parsed[:3] <= (2025, 12, 5), "news dated after --now"
        # The page names this topic among its own.
        assert f'<a href="/themen/{slug}/">' in html, entry.link


def test_the_gdst_feed_has_the_forum_and_the_news_of_its_end(public):
    parsed = feedparser.parse((public / "themen/gdst/atom.xml").read_bytes())
    urls = [e.link for e in parsed.entries]
    assert f"{BASE}/sprechstunden/69-gdst-forum/" in urls
    assert urls[0] == f"{BASE}/aktuelles/gdst-projekt-abgeschlossen/", urls
