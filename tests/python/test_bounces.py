"""`ozg-site newsletter bounces` on DSNs made by a real Postfix on loopback (postfix_instance.py):
an edition goes through Postfix to addresses that do not exist (hard, 5.1.1) or that refuse for now
(soft, 4.x.x); Postfix returns DSNs to the VERP return path, delivered to a Maildir, which the
command reads. Hard bounces stop an address at once, soft ones at `soft_limit`; stopped addresses
get no further edition; a second run counts nothing twice."""

import os
import shutil
import smtplib
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import postfix_instance  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("OZG_SITE_BIN", ROOT / "target/debug/ozg-site"))
NOW = "2025-12-05T13:00:00+01:00"
SETTINGS = """newsletter:
  from: "Testteam Sachsen-Anhalt <team@bounces.test>"
  unsubscribe_url: "https://test.example.org/abmelden/?t={token}"
  retry_delay_ms: 20
  bounces:
    soft_limit: 2
    return_path: "bounce+{token}@bounces.test"
"""
EDITION_3 = """---
title: Ausgabe 3
number: 3
date: 2025-12-01
subject: OZG-Newsletter Ausgabe 3
preheader: Noch eine Ausgabe
---
## Noch eine

Text.
"""

@pytest.fixture(autouse=True)
def postfix_is_here():
    """A missing tool fails the test loudly, never skips it: scripts/test.sh installs postfix."""
    if not postfix_instance.available():
        pytest.fail("needs root and Debian's postfix (postfix, smtp-sink): run scripts/test.sh, which installs them")


def run(site, *args, check=True):
    proc = subprocess.run([str(BIN), *args, "--root", str(site)], capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def postfix():
    instance = postfix_instance.Postfix()
    yield instance
    instance.stop()


def make_site(tmp_path, port):
    site = tmp_path / "site"
    shutil.copytree(ROOT / "tests/fixtures/basic", site)
    (site / "site.yaml").write_text(
        (site / "site.yaml").read_text() + SETTINGS + f'  smtp: "smtp://127.0.0.1:{port}"\n')
    (site / "newsletters/3-noch-eine.md").write_text(EDITION_3)
    for address in ["niemand@example.test", "voll@soft.test", "leser@bounces.test"]:
        run(site, "subscribers", "add", address)
    return site


def bounces(site, maildir):
    return run(site, "newsletter", "bounces", "--maildir", str(maildir)).stdout


def test_postfix_dsns_stop_dead_addresses_and_count_soft_ones(tmp_path, postfix):
    site = make_site(tmp_path, postfix.port)
    sent = run(site, "newsletter", "send", "2", "--now", NOW, "--rate", "0").stdout
    assert "3 sent, 0 failed" in sent, run(site, "newsletter", "status", "2").stdout + postfix.log()
    postfix.wait_for_messages(2)
    out = bounces(site, postfix.maildir)
    print(out)
    lines = out.splitlines()
    hard = [l for l in lines if "niemand@example.test" in l]
    soft = [l for l in lines if "voll@soft.test" in l]
    assert len(hard) == 1 and "\thard 5.1.1\tedition 2\treceives nothing more" in hard[0], out
    assert len(soft) == 1 and "\tedition 2\tsoft bounce 1 of 2" in soft[0], out
    assert "2 messages: 2 bounces recorded (1 addresses stopped)" in out
    # Read: moved to cur/ with the seen flag; a second run finds nothing new.
    assert list((postfix.maildir / "new").iterdir()) == []
    assert all(f.name.endswith(":2,S") for f in (postfix.maildir / "cur").iterdir())
    assert "0 messages" in bounces(site, postfix.maildir)

    status = run(site, "newsletter", "status", "2").stdout
    assert "bounced\tniemand@example.test\thard 5.1.1" in status, status
    assert "bounced\tvoll@soft.test\tsoft 4." in status, status
    show = run(site, "subscribers", "show", "niemand@example.test").stdout
    assert "\nbounced\t" in show and "hard bounce 5.1.1" in show, show
    assert "bounce\tedition 2\thard 5.1.1" in show, show

    # The next edition: the dead address gets nothing, the soft one a second try.
    run(site, "newsletter", "send", "3", "--now", NOW, "--rate", "0")
    postfix.wait_for_messages(1)
    second = bounces(site, postfix.maildir)
    assert "\tedition 3\treceives nothing more" in second, second
    assert "niemand@example.test" not in second
    assert "1 messages: 1 bounces recorded (1 addresses stopped)" in second
    log = postfix.log()
    assert log.count("to=<niemand@example.test>") == 1, "sent to a dead address again"
    assert "to=<leser@bounces.test>" in log
    # Edition 4 would reach only the reader: nobody stopped is in a new campaign.
    status3 = run(site, "newsletter", "status", "3").stdout
    assert status3.startswith("Edition 3: 2 sent"), status3
    # The reader says the mailbox works again: the address receives again.
    reset = run(site, "newsletter", "bounces", "--reset", "voll@soft.test").stdout
    assert "receives the next edition again" in reset
    assert "bounce\t" not in run(site, "subscribers", "show", "voll@soft.test").stdout
    unknown = run(site, "newsletter", "bounces", "--reset", "fremd@example.test", check=False)
    assert unknown.returncode == 1 and "nothing is stored about fremd@example.test" in unknown.stderr


def test_a_dsn_for_an_address_nobody_subscribed_is_reported_not_recorded(tmp_path, postfix):
    site = make_site(tmp_path, postfix.port)
    # A message to a stranger with our return address (a forward, or someone else's mail).
    with smtplib.SMTP("127.0.0.1", postfix.port) as smtp:
        smtp.sendmail("team@bounces.test", ["fremd@example.test"],
                      "From: team@bounces.test\r\nTo: fremd@example.test\r\n"
                      "Message-ID: <ausgabe-2.1.2@bounces.test>\r\nSubject: x\r\n\r\nHallo\r\n")
    postfix.wait_for_messages(1)
    out = bounces(site, postfix.maildir)
    assert "fremd@example.test\thard 5.1.1\tedition 2\tunknown address, nothing recorded" in out, out
    assert "1 for unknown addresses" in out


def test_hostile_messages_in_the_maildir_get_a_line_each(tmp_path):
    site = make_site(tmp_path, 25)
    maildir = tmp_path / "Maildir"
    for sub in ["new", "cur", "tmp"]:
        (maildir / sub).mkdir(parents=True)
    new = maildir / "new"
    (new / "1.big").write_bytes(b"Subject: big\r\n\r\n" + b"x" * (30 * 1024 * 1024))
    (new / "2.esc").write_bytes(
        b"Content-Type: multipart/report; report-type=\"\x1b[2Jdelivery\"; boundary=x\r\n\r\n--x\r\n")
    (new / "3.broken").write_bytes(b"Content-Type: multipart/report; boundary=\r\n\r\n--\r\n--\r\n")
    out = bounces(site, maildir)
    assert "1.big\tignored: 30 MB is too big" in out, out
    assert "2.esc\tignored:" in out and "\x1b" not in out, out
    assert "3.broken\tignored:" in out, out
    assert "3 messages: 0 bounces recorded" in out
