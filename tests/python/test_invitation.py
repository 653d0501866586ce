"""The Sprechstunden invitation (`newsletter invite`, and `send --due` at its moment) against a
real SMTP server on 127.0.0.1 (aiosmtpd), with the calendar read by Python's `icalendar`: the
first request, an update with a higher SEQUENCE after the time changed, a cancellation to those
invited before, each exactly once, and an open time that holds the invitation back."""

import email
import email.policy
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import smtp_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("OZG_SITE_BIN", ROOT / "target/debug/ozg-site"))
BERLIN = ZoneInfo("Europe/Berlin")
SESSION = """---
title: Testthema der Sprechstunde
number: 71
date: 2026-01-21
start: "{start}"
end: "{end}"
location: Online (Zugangsdaten mit der Anmeldung)
agenda:
  - Begrüßung
  - Stand der Registermodernisierung
registration: https://ozg.sachsen-anhalt.de/anmeldung/
{extra}---
Ein Test.
"""
# The invitation's moment: seven days before, at 09:00 (the section's `invitation:`).
MOMENT = "2026-01-14T09:00:00+01:00"
AFTER = "2026-01-14T09:30:00+01:00"
PAGE = "sprechstunden/71-testthema-der-sprechstunde/index.html"
INVITED = ["erika.mustermann@example.org", "leser@example.org"]


def run(site, *args, check=True):
    proc = subprocess.run([str(BIN), *args, "--root", str(site)], capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, proc.stderr
    assert "panicked" not in proc.stderr, proc.stderr
    return proc


def write_session(site, start="13:00", end="14:00", extra=""):
    (site / "content/sprechstunden/71-test.md").write_text(
        SESSION.format(start=start, end=end, extra=extra))


def make_site(tmp_path):
    """The repository's own site (its lists and its `invitation:` for the Sprechstunden) with
    one Sprechstunde to come, two members of the Sprechstunden list and one newsletter reader."""
    site = tmp_path / "site"
    site.mkdir()
    for part in ("content", "themes", "static", "newsletters"):
        shutil.copytree(ROOT / part, site / part)
    shutil.copy(ROOT / "site.yaml", site / "site.yaml")
    write_session(site)
    run(site, "subscribers", "add", INVITED[0], "--name", "Erika Mustermann", "--list", "sprechstunden")
    run(site, "subscribers", "add", INVITED[1], "--list", "sprechstunden")
    run(site, "subscribers", "add", "nur.newsletter@example.org")
    return site


@pytest.fixture
def smtp():
    recorder = smtp_server.Recorder()
    controller, port = smtp_server.start(recorder)
    yield recorder, port
    controller.stop()


def invite(site, port, *extra, now=AFTER, check=True):
    return run(site, "newsletter", "invite", "71", "--now", now,
               "--smtp", f"smtp://127.0.0.1:{port}", "--rate", "0", *extra, check=check)


def calendars(message):
    """The inline calendar and the attachment of `message`, parsed."""
    inline = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    attached = [p for p in message.walk() if p.get_filename() == "einladung.ics"]
    assert len(inline) == 1 and len(attached) == 1, [p.get_content_type() for p in message.walk()]
    assert inline[0].get_content_disposition() is None
    assert attached[0].get_content_disposition() == "attachment"
    parsed = [icalendar.Calendar.from_ical(p.get_payload(decode=True)) for p in (inline[0], attached[0])]
    assert parsed[0].to_ical() == parsed[1].to_ical(), "both carry the same calendar"
    return inline[0], parsed[0]


def event_of(calendar):
    [event] = calendar.walk("VEVENT")
    return event


def text_of(message):
    return next(p for p in message.walk() if p.get_content_type() == "text/plain").get_content()


def test_the_first_invitation_is_a_request_calendar_programs_keep(tmp_path, smtp):
    recorder, port = smtp
    site = make_site(tmp_path)
    out = invite(site, port).stdout
    assert "2 sent, 0 failed" in out, out
    assert sorted(recorder.by_recipient()) == INVITED, "only the Sprechstunden list"
    run(site, "build", "--now", AFTER)
    public = icalendar.Calendar.from_ical(
        (site / "public/sprechstunden/71-testthema-der-sprechstunde/termin.ics").read_bytes())
    for rcpt, message in recorder.messages:
        assert message["Subject"] == "Terminanfrage: 71. OZG-Sprechstunde: Testthema der Sprechstunde am 21.01.2026"
        assert message.get_content_type() == "multipart/mixed"
        part, cal = calendars(message)
        assert part.get_param("method") == "REQUEST"
        assert str(cal["METHOD"]) == "REQUEST"
        assert cal.walk("VTIMEZONE") and str(cal.walk("VTIMEZONE")[0]["TZID"]) == "Europe/Berlin"
        ev = event_of(cal)
        # The same UID as the site's calendar file: the invitation is that event.
        assert str(ev["UID"]) == str(event_of(public)["UID"])
        assert int(ev["SEQUENCE"]) == 0
        assert ev.decoded("DTSTART") == datetime(2026, 1, 21, 13, 0, tzinfo=BERLIN)
        assert ev.decoded("DTEND") == datetime(2026, 1, 21, 14, 0, tzinfo=BERLIN)
        assert str(ev["LOCATION"]) == "Online (Zugangsdaten mit der Anmeldung)"
        assert str(ev["STATUS"]) == "CONFIRMED"
        assert str(ev["ORGANIZER"]) == "mailto:ozg@sachsen-anhalt.de"
        attendee = ev["ATTENDEE"]
        assert str(attendee) == f"mailto:{rcpt}"
        assert attendee.params["RSVP"] == "FALSE"
        text = text_of(message)
        for fact in ("Mittwoch, 21. Januar 2026", "13:00 bis 14:00 Uhr", "Stand der Registermodernisierung",
                     "https://ozg.sachsen-anhalt.de/anmeldung/", "einladung.ics"):
            assert fact in text, (fact, text)
        assert "list=sprechstunden" in message["List-Unsubscribe"]
    erika = next(m for r, m in recorder.messages if r == INVITED[0])
    assert event_of(calendars(erika)[1])["ATTENDEE"].params["CN"] == "Erika Mustermann"
    assert "Guten Tag Erika Mustermann," in text_of(erika)
    anonymous = next(m for r, m in recorder.messages if r == INVITED[1])
    assert "Guten Tag," in text_of(anonymous)
    # A second run sends nothing: the journal has both.
    again = invite(site, port).stdout
    assert "already gone to every subscriber" in again, again
    assert len(recorder.messages) == 2


def test_a_changed_time_sends_an_update_and_cancelled_a_cancellation(tmp_path, smtp):
    recorder, port = smtp
    site = make_site(tmp_path)
    invite(site, port)
    first_uid = str(event_of(calendars(recorder.messages[0][1])[1])["UID"])
    write_session(site, start="14:00", end="15:30")
    out = invite(site, port).stdout
    assert "update to the 71. Sprechstunde (version 1): 2 sent" in out, out
    updates = recorder.messages[2:]
    assert sorted(r for r, _ in updates) == INVITED
    for _, message in updates:
        assert message["Subject"].startswith("Geänderter Termin: 71. OZG-Sprechstunde")
        part, cal = calendars(message)
        assert part.get_param("method") == "REQUEST"
        ev = event_of(cal)
        assert str(ev["UID"]) == first_uid
        assert int(ev["SEQUENCE"]) == 1
        assert ev.decoded("DTSTART") == datetime(2026, 1, 21, 14, 0, tzinfo=BERLIN)
        assert ev.decoded("DTEND") == datetime(2026, 1, 21, 15, 30, tzinfo=BERLIN)
        assert "14:00 bis 15:30 Uhr" in text_of(message)
    assert "already gone" in invite(site, port).stdout
    # Someone joins after the invitations went out: a cancellation is no news to them.
    run(site, "subscribers", "add", "neu@example.org", "--list", "sprechstunden")
    write_session(site, start="14:00", end="15:30", extra="cancelled: true\n")
    out = invite(site, port).stdout
    assert "cancellation to the 71. Sprechstunde (version 2): 2 sent" in out, out
    cancels = recorder.messages[4:]
    assert sorted(r for r, _ in cancels) == INVITED
    for _, message in cancels:
        assert message["Subject"] == "Abgesagt: 71. OZG-Sprechstunde: Testthema der Sprechstunde am 21.01.2026"
        part, cal = calendars(message)
        assert part.get_param("method") == "CANCEL"
        assert str(cal["METHOD"]) == "CANCEL"
        ev = event_of(cal)
        assert (str(ev["UID"]), int(ev["SEQUENCE"]), str(ev["STATUS"])) == (first_uid, 2, "CANCELLED")
        assert "findet nicht statt" in text_of(message)
    assert "already gone" in invite(site, port).stdout
    assert len(recorder.messages) == 6
    # The site says so too, and so does its calendar file.
    run(site, "build", "--now", AFTER)
    assert "Diese Sprechstunde ist abgesagt." in (site / "public" / PAGE).read_text()
    public = (site / "public/sprechstunden/71-testthema-der-sprechstunde/termin.ics").read_text()
    assert "STATUS:CANCELLED" in public


def test_a_sprechstunde_cancelled_before_any_invitation_tells_nobody(tmp_path, smtp):
    recorder, port = smtp
    site = make_site(tmp_path)
    write_session(site, extra="cancelled: true\n")
    out = invite(site, port).stdout
    assert "nobody to tell" in out, out
    assert recorder.messages == []


def test_the_timer_sends_it_at_its_moment_once_and_holds_an_open_time(tmp_path, smtp):
    recorder, port = smtp
    site = make_site(tmp_path)
    schedule = run(site, "schedule", "--now", "2026-01-10T12:00:00+01:00").stdout
    assert f"{MOMENT}\tcontent/sprechstunden/71-test.md\tinvite" in schedule, schedule

    def due(now, check=True):
        return run(site, "newsletter", "send", "--due", "--now", now,
                   "--smtp", f"smtp://127.0.0.1:{port}", "--rate", "0", check=check)

    assert "Nothing is due" in due("2026-01-14T08:59:00+01:00").stdout
    # Due, but the page it links to is not built yet: held, exit code 1.
    held = due(AFTER, check=False)
    assert held.returncode == 1 and "is not built yet" in held.stderr, held.stderr
    run(site, "build", "--now", AFTER)
    sent = due(AFTER).stdout
    assert "invitation to the 71. Sprechstunde (version 0): 2 sent" in sent, sent
    second = due("2026-01-14T10:00:00+01:00").stdout
    assert "Already sent to every subscriber: the invitation to the 71. Sprechstunde (version 0)" in second, second
    assert len(recorder.messages) == 2
    # After the Sprechstunde began nothing more goes out, even when its facts change.
    write_session(site, start="13:30", end="14:00")
    assert "Nothing is due" in due("2026-01-21T13:45:00+01:00").stdout
    late = invite(site, port, now="2026-01-21T13:45:00+01:00", check=False)
    assert late.returncode != 0 and "too late" in late.stderr, late.stderr
    assert len(recorder.messages) == 2

    # An open start time cannot go into a calendar: held with the file, line and what to do.
    write_session(site, start="", end="14:00")
    text = (site / "content/sprechstunden/71-test.md").read_text().replace(
        'start: ""', 'start: {offen: "Die Uhrzeit nennt die Landeskoordination"}')
    (site / "content/sprechstunden/71-test.md").write_text(text)
    run(site, "build", "--now", "2026-01-14T10:00:00+01:00")
    open_time = due("2026-01-14T10:00:00+01:00", check=False)
    assert open_time.returncode == 1, open_time.stdout
    assert "no start time yet" in open_time.stderr, open_time.stderr
    assert "content/sprechstunden/71-test.md:5:1" in open_time.stderr, open_time.stderr
    direct = invite(site, port, now="2026-01-14T10:00:00+01:00", check=False)
    assert direct.returncode == 1 and "start: offen" in direct.stderr, direct.stderr
    assert len(recorder.messages) == 2


def test_a_list_the_section_names_must_exist(tmp_path, smtp):
    _, port = smtp
    site = make_site(tmp_path)
    index = site / "content/sprechstunden/_index.md"
    index.write_text(index.read_text().replace("list: sprechstunden", "list: sprechstunde"))
    out = invite(site, port, check=False)
    assert out.returncode == 1
    assert "which site.yaml does not declare" in out.stderr and "content/sprechstunden/_index.md" in out.stderr, out.stderr
    # `check` finds it before anything is due, at the line of the `list:`.
    checked = run(site, "check", "--now", AFTER, check=False)
    assert checked.returncode == 1, checked.stdout
    line = next(i for i, l in enumerate(index.read_text().splitlines(), 1) if "list: sprechstunde" in l)
    assert f"content/sprechstunden/_index.md:{line}:3" in checked.stderr + checked.stdout, checked.stderr
