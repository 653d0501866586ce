"""`ozg-site newsletter send` against a real SMTP server on 127.0.0.1 (aiosmtpd, see
smtp_server.py): every subscriber exactly once, through refusals, dropped connections and
`kill -9` at random moments."""

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import smtp_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("OZG_SITE_BIN", ROOT / "target/debug/ozg-site"))
NOW = "2025-12-05T13:00:00+01:00"
SETTINGS = """newsletter:
  from: "Testteam Sachsen-Anhalt <team@example.org>"
  unsubscribe_url: "https://test.example.org/abmelden/?t={token}"
  retry_delay_ms: 20
  retries: 8
"""


def make_site(tmp_path, subscribers):
    site = tmp_path / "site"
    shutil.copytree(ROOT / "tests/fixtures/basic", site)
    (site / "site.yaml").write_text((site / "site.yaml").read_text() + SETTINGS)
    if subscribers:
        rows = "\n".join(f"person{i}@example.org;Person {i}" for i in range(subscribers))
        (site / "liste.csv").write_text("email;name\n" + rows + "\n")
        run(site, "subscribers", "import", str(site / "liste.csv"))
    return site


def run(site, *args, env=None, check=True):
    proc = subprocess.run(
        [str(BIN), *args, "--root", str(site)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def send(site, port, *extra, check=True, env=None):
    return run(site, "newsletter", "send", "2", "--now", NOW, "--smtp", f"smtp://127.0.0.1:{port}",
               "--rate", "0", *extra, check=check, env=env)


def token_of(message):
    match = re.search(r"\?t=([0-9a-f]{32})", str(message["List-Unsubscribe"]))
    assert match, message["List-Unsubscribe"]
    return match.group(1)


@pytest.fixture
def server():
    started = []

    def start(**kwargs):
        recorder = smtp_server.Recorder(**{k: v for k, v in kwargs.items() if k != "auth"})
        controller, port = smtp_server.start(recorder, auth=kwargs.get("auth"))
        started.append(controller)
        return recorder, port

    yield start
    for c in started:
        c.stop()


def test_every_subscriber_gets_exactly_one_message_with_their_own_token(tmp_path, server):
    site = make_site(tmp_path, 200)
    recorder, port = server()
    out = send(site, port, "--connections", "4").stdout
    assert "200 sent, 0 failed" in out
    counts = recorder.by_recipient()
    assert len(counts) == 200 and set(counts.values()) == {1}
    tokens = {rcpt: token_of(m) for rcpt, m in recorder.messages}
    assert len(set(tokens.values())) == 200, "each subscriber has their own unsubscribe token"
    listed = dict(line.split("\t")[:2] for line in run(site, "subscribers", "list").stdout.splitlines())
    assert set(listed) == set(counts)
    for _, m in recorder.messages[:5]:
        assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert m["List-Id"]
        assert token_of(m) in m.get_body(("html",)).get_content()
    # Running it again sends nothing and says so.
    again = send(site, port).stdout
    assert "already gone to every subscriber" in again
    assert len(recorder.messages) == 200


def test_a_test_copy_records_nothing(tmp_path, server):
    site = make_site(tmp_path, 3)
    recorder, port = server()
    send(site, port, "--to", "redaktion@example.org")
    assert [r for r, _ in recorder.messages] == ["redaktion@example.org"]
    assert str(recorder.messages[0][1]["Subject"]).startswith("[TEST] ")
    assert "has not been sent yet" in run(site, "newsletter", "status", "2").stdout
    send(site, port)
    assert len(recorder.messages) == 4


def test_dry_run_sends_nothing(tmp_path, server):
    site = make_site(tmp_path, 5)
    recorder, port = server()
    out = send(site, port, "--dry-run").stdout
    assert "5 messages of edition 2 rendered" in out
    assert recorder.messages == []


def test_throttling_and_rejections_end_with_everybody_else_delivered_once(tmp_path, server):
    site = make_site(tmp_path, 300)
    rejected = ["person7@example.org", "person123@example.org", "person250@example.org"]
    recorder, port = server(temp_fail=0.2, reject=rejected, seed=4)
    out = send(site, port, "--connections", "3").stdout
    assert "297 sent, 3 failed" in out, out
    assert recorder.refused_temporarily > 30, "the 451s happened and were retried"
    counts = recorder.by_recipient()
    assert len(counts) == 297 and set(counts.values()) == {1}
    status = run(site, "newsletter", "status", "2").stdout
    assert "297 sent, 3 failed, 0 pending" in status
    for address in rejected:
        assert re.search(rf"failed\t{re.escape(address)}\t.*550.*no such user", status), status
    # After the mailbox is fixed, --retry-failed sends to exactly those.
    recorder.reject.clear()
    recorder.temp_fail = 0
    assert "3 sent, 0 failed" in send(site, port, "--retry-failed").stdout
    assert set(recorder.by_recipient().values()) == {1}
    assert len(recorder.by_recipient()) == 300


def test_dropped_connections_are_survived(tmp_path, server):
    site = make_site(tmp_path, 120)
    recorder, port = server(drop_every=9)
    out = send(site, port, "--connections", "2").stdout
    assert "120 sent, 0 failed" in out, out
    assert recorder.dropped >= 10
    assert set(recorder.by_recipient().values()) == {1}


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_clear_errors_and_nothing_marked(tmp_path, server):
    site = make_site(tmp_path, 2)
    with socket_free_port() as port:
        proc = send(site, port, check=False)
    assert proc.returncode == 1
    assert "cannot reach the mail server" in proc.stderr
    assert "has not been sent yet" in run(site, "newsletter", "status", "2").stdout

    proc = run(site, "newsletter", "send", "2", "--now", NOW, "--smtp", "smtp//kaputt", check=False)
    assert proc.returncode == 1 and "malformed SMTP address" in proc.stderr

    proc = run(site, "newsletter", "send", "9", "--now", NOW, check=False)
    assert proc.returncode == 1 and "no published edition number 9" in proc.stderr

    empty = make_site(tmp_path / "leer", 0)
    proc = run(empty, "newsletter", "send", "2", "--now", NOW, check=False)
    assert proc.returncode == 1 and "there are no subscribers" in proc.stderr

    recorder, port = server(auth=("redaktion", "richtig"))
    secret = "geheim-falsch-123"
    proc = send(site, port, check=False, env={"OZG_SMTP_USER": "redaktion", "OZG_SMTP_PASSWORD": secret})
    assert proc.returncode == 1 and "refused the login" in proc.stderr, proc.stderr
    assert secret not in proc.stderr + proc.stdout
    ok = send(site, port, env={"OZG_SMTP_USER": "redaktion", "OZG_SMTP_PASSWORD": "richtig"})
    assert "2 sent" in ok.stdout


def test_rate_limit_holds_across_connections(tmp_path, server):
    site = make_site(tmp_path, 30)
    recorder, port = server()
    started = time.monotonic()
    run(site, "newsletter", "send", "2", "--now", NOW, "--smtp", f"smtp://127.0.0.1:{port}",
        "--rate", "20", "--connections", "3")
    # 30 messages at 20 per second: the last may leave 29/20 s after the first.
    assert time.monotonic() - started >= 1.4
    assert len(recorder.messages) == 30


def test_kill_9_at_random_moments_loses_nobody(tmp_path, server):
    connections = 4
    site = make_site(tmp_path, 2000)
    recorder, port = server()
    rng = random.Random(7)
    kills = 0
    for _ in range(10):
        proc = subprocess.Popen(
            [str(BIN), "newsletter", "send", "2", "--now", NOW, "--smtp", f"smtp://127.0.0.1:{port}",
             "--rate", "0", "--connections", str(connections), "--root", str(site)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.05, 0.6))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    send(site, port, "--connections", str(connections))
    counts = recorder.by_recipient()
    assert len(counts) == 2000, "nobody is lost"
    duplicates = sum(n - 1 for n in counts.values())
    assert kills >= 5, "the test killed sends in progress"
    assert duplicates <= kills * connections, (duplicates, kills)
    assert "2000 sent, 0 failed, 0 pending" in run(site, "newsletter", "status", "2").stdout


class socket_free_port:
    """A loopback port nobody listens on."""

    def __enter__(self):
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc):
        self.sock.close()


def test_dkim_signature_verifies_and_covers_the_unsubscribe_headers(tmp_path, server):
    import base64

    import dkim

    site = make_site(tmp_path, 2)
    key = site / ".ozg-site" / "dkim.pem"
    key.parent.mkdir(exist_ok=True)
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(key), "2048"], check=True,
                   capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                            check=True, capture_output=True).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    (site / "site.yaml").write_text((site / "site.yaml").read_text()
                                    + "  dkim: { selector: ozg2025, private_key: .ozg-site/dkim.pem }\n")
    recorder, port = server()
    send(site, port)
    assert len(recorder.messages) == 2

    def dns(name, timeout=5):
        assert name == b"ozg2025._domainkey.example.org."
        return record

    for (_, message), raw in zip(recorder.messages, recorder.raw):
        signature = str(message["DKIM-Signature"])
        signed = re.search(r"h=([^;]+)", signature).group(1).replace(" ", "").lower().split(":")
        for header in ["from", "subject", "date", "to", "list-unsubscribe", "list-unsubscribe-post"]:
            assert header in signed, signature
        assert dkim.verify(raw, dnsfunc=dns), "the signature verifies with the published key"
        tampered = raw.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                               b"List-Unsubscribe-Post: List-Unsubscribe=Two-Clicks")
        assert not dkim.verify(tampered, dnsfunc=dns)


def test_subscriber_commands(tmp_path):
    site = make_site(tmp_path, 0)
    (site / "liste.csv").write_bytes(
        "\ufeffName;E-Mail\nJürgen Müller;juergen@example.org\nOhne At;kaputt\nDoppelt;JUERGEN@example.org\n;ines@example.org\n".encode()
    )
    proc = run(site, "subscribers", "import", str(site / "liste.csv"))
    assert "2 added, 1 already there, 0 not added again (unsubscribed or forgotten), 1 invalid" in proc.stdout
    assert "2 subscribers in all." in proc.stdout
    assert "liste.csv" in proc.stderr and "line 3" in proc.stderr
    assert run(site, "subscribers", "count").stdout.strip() == "2"
    assert "is subscribed" in run(site, "subscribers", "add", "Ines@Example.org").stdout
    run(site, "subscribers", "add", "neu@example.org", "--name", "Neue Leserin")
    bad = run(site, "subscribers", "add", "neu@", check=False)
    assert bad.returncode == 1 and "not an e-mail address" in bad.stderr
    # Removing unsubscribes: the record stays, nothing more is sent, no list brings it back.
    assert "unsubscribed juergen@example.org" in run(site, "subscribers", "remove", "JUERGEN@example.org").stdout.lower()
    again = run(site, "subscribers", "remove", "juergen@example.org", check=False)
    assert again.returncode == 1 and "unsubscribed already" in again.stderr
    unknown = run(site, "subscribers", "remove", "niemand@example.org", check=False)
    assert unknown.returncode == 1 and "is not subscribed" in unknown.stderr
    assert run(site, "subscribers", "count").stdout.strip() == "2"
    back = run(site, "subscribers", "import", str(site / "liste.csv"))
    assert "0 added, 1 already there, 2 not added again" in back.stdout  # both rows of the address
    assert "skipped juergen@example.org: it unsubscribed on 20" in back.stderr
    refused = run(site, "subscribers", "add", "juergen@example.org", check=False)
    assert refused.returncode == 1 and "through the sign-up form" in refused.stderr
    listed = run(site, "subscribers", "list").stdout.splitlines()
    assert "juergen@example.org\tunsubscribed\tJürgen Müller" in listed
    shown = dict(line.split("\t", 1) for line in run(site, "subscribers", "show", "juergen@example.org").stdout.splitlines())
    assert shown["status"] == "unsubscribed" and shown["source"] == "import"
    assert shown["unsubscribed_via"] == "cli"
    run(site, "subscribers", "export", str(site / "export.csv"))
    exported = (site / "export.csv").read_bytes()
    assert exported.startswith("\ufeff".encode())
    rows = [line.split(";") for line in exported.decode("utf-8-sig").splitlines()]
    assert rows[0] == ["email", "name", "status", "source", "requested_at", "confirmed_at", "consent",
                       "unsubscribed_at", "unsubscribed_via"]
    assert [r[:4] for r in rows[1:]] == [
        ["ines@example.org", "", "active", "import"],
        ["juergen@example.org", "Jürgen Müller", "unsubscribed", "import"],
        ["neu@example.org", "Neue Leserin", "active", "cli"],
    ]
    # Forgetting deletes every row about the address; only a keyed hash remains.
    assert "forgot ines@example.org" in run(site, "subscribers", "remove", "--forget", "INES@example.org").stdout.lower()
    db = site / ".ozg-site" / "newsletter.sqlite"
    for f in db.parent.glob("newsletter.sqlite*"):  # the database, its write-ahead log
        assert b"ines@example.org" not in f.read_bytes(), f
    assert "it was forgotten" in run(site, "subscribers", "show", "ines@example.org", check=False).stderr
    readded = run(site, "subscribers", "import", str(site / "liste.csv"))
    assert "skipped ines@example.org: its owner asked for its data to be deleted" in readded.stderr
    assert run(site, "subscribers", "count").stdout.strip() == "1"
    # The database lives outside the published site and is git-ignored.
    assert db.is_file()
    run(site, "build", "--now", NOW)
    assert not any("sqlite" in p.name for p in (site / "public").rglob("*"))
