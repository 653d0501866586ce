"""Scheduled editions: `newsletter send --due` (what the rebuild timer runs) against a real SMTP
server on 127.0.0.1 (aiosmtpd): a due edition goes out once, a second run sends nothing, and an
edition whose `send_at` has come but whose web version is not published (or not built) is held."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import smtp_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("OZG_SITE_BIN", ROOT / "target/debug/ozg-site"))
SETTINGS = """newsletter:
  from: "Testteam Sachsen-Anhalt <team@example.org>"
  unsubscribe_url: "https://test.example.org/abmelden/?t={token}"
  retry_delay_ms: 20
"""
EDITION = """---
title: Ausgabe 3
number: 3
date: 2025-12-09
publish: {publish}
send_at: {send_at}
subject: OZG-Newsletter Ausgabe 3
preheader: Geplant für Dienstag
---
## Geplant

Diese Ausgabe geht zur geplanten Zeit hinaus.
"""
BEFORE_PUBLICATION = "2025-12-09T08:45:00+01:00"
AFTER_SEND_AT = "2025-12-09T09:45:00+01:00"


def run(site, *args, check=True):
    proc = subprocess.run([str(BIN), *args, "--root", str(site)], capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def make_site(tmp_path, publish="2025-12-09 09:00", send_at="2025-12-09 09:30"):
    site = tmp_path / "site"
    shutil.copytree(ROOT / "tests/fixtures/basic", site)
    (site / "site.yaml").write_text((site / "site.yaml").read_text() + SETTINGS)
    (site / "newsletters/3-geplant.md").write_text(
        EDITION.format(publish=f'"{publish}"', send_at=f'"{send_at}"'))
    for i in range(3):
        run(site, "subscribers", "add", f"person{i}@example.org")
    return site


def due(site, port, now, check=True):
    return run(site, "newsletter", "send", "--due", "--now", now,
               "--smtp", f"smtp://127.0.0.1:{port}", "--rate", "0", check=check)


@pytest.fixture
def server():
    recorder = smtp_server.Recorder()
    controller, port = smtp_server.start(recorder)
    yield recorder, port
    controller.stop()


def test_a_due_edition_is_sent_once_and_a_second_run_sends_nothing(tmp_path, server):
    recorder, port = server
    site = make_site(tmp_path)
    schedule = run(site, "schedule", "--now", BEFORE_PUBLICATION).stdout
    assert "2025-12-09T09:30:00+01:00\tnewsletters/3-geplant.md\tsend" in schedule
    # Before its moment: nothing.
    early = due(site, port, "2025-12-09T09:15:00+01:00")
    assert "Nothing is due to be sent" in early.stdout
    run(site, "build", "--now", AFTER_SEND_AT)
    first = due(site, port, AFTER_SEND_AT)
    assert "Edition 3: 3 sent, 0 failed" in first.stdout, first.stdout
    assert sorted(r for r, _ in recorder.messages) == [f"person{i}@example.org" for i in range(3)]
    assert {str(m["Subject"]) for _, m in recorder.messages} == {"OZG-Newsletter Ausgabe 3"}
    # The timer fires again (the next publication, a retry): the journal makes it a no-op.
    second = due(site, port, "2025-12-10T12:00:00+01:00")
    assert "Already sent to every subscriber: edition 3; nothing to do." in second.stdout, second.stdout
    assert len(recorder.messages) == 3
    assert "3 sent, 0 failed, 0 pending" in run(site, "newsletter", "status", "3").stdout


def test_an_edition_due_before_its_publication_is_held_until_then(tmp_path, server):
    recorder, port = server
    # send_at before publish: the mail would link to a page that is not there yet.
    site = make_site(tmp_path, publish="2025-12-09 10:00", send_at="2025-12-09 09:30")
    run(site, "build", "--now", AFTER_SEND_AT)
    held = due(site, port, AFTER_SEND_AT, check=False)
    assert held.returncode == 1
    assert "edition 3 (newsletters/3-geplant.md) is due since 2025-12-09T09:30:00+01:00" in held.stderr
    assert "appears only at 2025-12-09T10:00:00+01:00" in held.stderr
    assert recorder.messages == []
    assert "has not been sent yet" in run(site, "newsletter", "status", "3").stdout
    # Published but the site not built since: still held, with what to do.
    unbuilt = due(site, port, "2025-12-09T10:05:00+01:00", check=False)
    assert unbuilt.returncode == 1 and "not built yet; run `ozg-site build` first" in unbuilt.stderr
    assert recorder.messages == []
    run(site, "build", "--now", "2025-12-09T10:05:00+01:00")
    sent = due(site, port, "2025-12-09T10:05:00+01:00")
    assert "Edition 3: 3 sent" in sent.stdout
    assert len(recorder.messages) == 3


def test_a_draft_with_send_at_is_never_sent(tmp_path, server):
    recorder, port = server
    site = make_site(tmp_path)
    path = site / "newsletters/3-geplant.md"
    path.write_text(path.read_text().replace("number: 3\n", "number: 3\ndraft: true\n"))
    held = due(site, port, AFTER_SEND_AT, check=False)
    assert held.returncode == 1 and "is a draft" in held.stderr
    assert recorder.messages == []
