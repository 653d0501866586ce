"""The site's calendars, feeds, sitemap and manifest, read by real parsers.

Builds the bundled OZG site with the real binary (5 December 2025, 13:00) and checks what a
calendar app, a feed reader, a search engine and a phone would read from it.
"""

import json
import os
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from datetime import date, datetime, timezone
from pathlib import Path

import feedparser
import icalendar
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("OZG_SITE_BIN", ROOT / "target/debug/ozg-site"))
NOW = "2025-12-05T13:00:00+01:00"


@pytest.fixture(scope="module")
def public(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "public"
    subprocess.run(
        [str(BIN), "build", "--root", str(ROOT), "--now", NOW, "--output", str(out)],
        check=True,
        capture_output=True,
    )
    return out


def events(path):
    cal = icalendar.Calendar.from_ical(path.read_bytes())
    return cal, {str(e["SUMMARY"]): e for e in cal.walk("VEVENT")}


def utc(dt):
    return dt.astimezone(timezone.utc).replace(tzinfo=None)


def test_sprechstunden_calendar_is_valid_with_berlin_times(public):
    cal, evs = events(public / "sprechstunden/kalender.ics")
    assert cal["VERSION"] == "2.0"
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    by_number = {s.split(".")[0]: e for s, e in evs.items()}
    assert {"57", "58", "69", "70"} <= set(by_number)
    # The 58th is the one session whose hour the sources give (13-14 Uhr): 23 April 2025 is
    # summer time (CEST, UTC+2). Winter time is checked with the roadshow below.
    assert utc(by_number["58"].decoded("DTSTART")) == datetime(2025, 4, 23, 11, 0)
    assert utc(by_number["58"].decoded("DTEND")) == datetime(2025, 4, 23, 12, 0)
    assert by_number["58"]["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert "69. OZG-Sprechstunde: " in str(by_number["69"]["SUMMARY"])
    for e in evs.values():
        assert str(e["URL"]).startswith("https://ozg.sachsen-anhalt.de/sprechstunden/")
        assert e["UID"]


@pytest.mark.parametrize(
    "number,folder,day",
    [
        ("57", "57-einblick-in-die-zsa-machbarkeitsstudie", date(2025, 4, 2)),
        ("69", "69-gdst-forum", date(2025, 12, 3)),
        ("70", "70-jahresrueckblick-2025", date(2025, 12, 17)),
    ],
)
def test_a_session_without_a_known_time_is_an_all_day_entry_without_a_place(public, number, folder, day):
    # The sources give no hour and no place for Sprechstunden 57, 69 and 70 (`start: offen`,
    # `end: offen`, `location: offen`): the calendar shows the day and invents neither an hour
    # nor "Online".
    for path in [public / "sprechstunden/kalender.ics", public / f"sprechstunden/{folder}/termin.ics"]:
        _, evs = events(path)
        (session,) = [e for s, e in evs.items() if s.startswith(f"{number}.")]
        assert session["DTSTART"].params["VALUE"] == "DATE"
        assert session.decoded("DTSTART") == day
        assert session["DTEND"].params["VALUE"] == "DATE"
        assert session.decoded("DTEND") == date.fromordinal(day.toordinal() + 1)
        assert "LOCATION" not in session
        assert str(session["UID"]) == f"sprechstunden-{folder}@ozg.sachsen-anhalt.de"


def test_no_session_in_the_calendar_names_a_place_the_sources_do_not_give(public):
    # No source says where a Sprechstunde takes place, or that it is online.
    _, evs = events(public / "sprechstunden/kalender.ics")
    assert {s.split(".")[0] for s in evs} >= {"57", "58", "69", "70"}
    for summary, e in evs.items():
        assert "LOCATION" not in e, summary


def test_each_session_has_its_own_calendar_file(public):
    files = sorted(public.glob("sprechstunden/*/termin.ics"))
    assert len(files) >= 4
    for f in files:
        _, evs = events(f)
        assert len(evs) == 1


def test_event_calendar_has_venue(public):
    _, evs = events(public / "termine/kalender.ics")
    (roadshow,) = [e for s, e in evs.items() if "RegMo" in s]
    assert utc(roadshow.decoded("DTSTART")) == datetime(2026, 1, 27, 8, 0)
    assert utc(roadshow.decoded("DTEND")) == datetime(2026, 1, 27, 12, 0)
    assert "Otto-von-Guericke" in str(roadshow["LOCATION"])


@pytest.mark.parametrize("feed", ["atom.xml", "aktuelles/atom.xml", "newsletter/atom.xml"])
def test_atom_feeds_parse_cleanly(public, feed):
    parsed = feedparser.parse((public / feed).read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title
    assert parsed.entries
    for entry in parsed.entries:
        assert entry.title
        assert entry.link.startswith("https://ozg.sachsen-anhalt.de/")
        assert entry.updated_parsed
        assert entry.id


def test_news_feed_is_newest_first_and_has_no_future_items(public):
    parsed = feedparser.parse((public / "aktuelles/atom.xml").read_bytes())
    dates = [e.updated_parsed for e in parsed.entries]
    assert dates == sorted(dates, reverse=True)
    assert all(d[:3] <= (2025, 12, 5) for d in dates), "an item dated after --now is in the feed"


def test_sitemap_lists_existing_pages_only(public):
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    root = ET.parse(public / "sitemap.xml").getroot()
    locs = [u.find("s:loc", ns).text for u in root.findall("s:url", ns)]
    assert len(locs) > 40
    for loc in locs:
        path = loc.removeprefix("https://ozg.sachsen-anhalt.de")
        assert (public / path.lstrip("/") / "index.html").is_file(), loc
    assert not any("/adventskalender/2025/6/" in loc for loc in locs)


def test_control_characters_in_titles_and_text_leave_feeds_and_sitemap_readable(tmp_path):
    # XML 1.0 allows no C0 control but TAB, LF and CR, not even as `&#1;`: one ESC in a title
    # made atom.xml unreadable for every feed reader.
    site = tmp_path / "site"
    shutil.copytree(ROOT / "tests/fixtures/basic", site)
    news = site / "content/aktuelles/erster.md"
    edits = {
        # YAML's escapes: U+0001 and ESC in a page's title, a vertical tab in the site's.
        news: [
            ("title: Erster Beitrag über Größe", 'title: "Erster\\x01 Beitrag \\e[31mrot"'),
            ("Erster Absatz mit Teaser.", "Erster Absatz\x01 mit \x1b[2J Teaser."),
        ],
        site / "site.yaml": [("title: Testseite OZG", 'title: "Testseite\\x0b OZG"')],
    }
    for path, replacements in edits.items():
        text = path.read_text(encoding="utf-8")
        for old, new in replacements:
            assert old in text
            text = text.replace(old, new, 1)
        path.write_text(text, encoding="utf-8")
    out = tmp_path / "public"
    subprocess.run(
        [str(BIN), "build", "--root", str(site), "--now", NOW, "--output", str(out)],
        check=True,
        capture_output=True,
    )
    for feed in ["atom.xml", "aktuelles/atom.xml"]:
        data = (out / feed).read_bytes()
        ET.fromstring(data)
        parsed = feedparser.parse(data)
        assert not parsed.bozo, (feed, parsed.get("bozo_exception"))
        assert "Testseite OZG" in parsed.feed.title
        titles = [e.title for e in parsed.entries]
        assert "Erster Beitrag [31mrot" in titles, titles
        (first,) = [e for e in parsed.entries if e.title == "Erster Beitrag [31mrot"]
        assert "Erster Absatz mit [2J Teaser." in first.summary
    ET.parse(out / "sitemap.xml")


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_manifest_names_the_site_and_its_icons_exist(public):
    manifest = json.loads((public / "manifest.webmanifest").read_text(encoding="utf-8"))
    assert manifest["name"] == "OZG Sachsen-Anhalt"
    assert manifest["lang"] == "de"
    assert manifest["display"] == "standalone"
    # A stable identity: browsers key an installed app by `id`, not by a start URL that may change.
    assert manifest["id"] == manifest["start_url"] == "/"
    assert manifest["theme_color"].startswith("#")
    sizes = set()
    for icon in manifest["icons"]:
        w, h = png_size(public / icon["src"].lstrip("/"))
        assert icon["sizes"] == f"{w}x{h}"
        sizes.add(w)
    assert {192, 512} <= sizes
    assert any(i.get("purpose") == "maskable" for i in manifest["icons"])
