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
        own = ("auth", "smtputf8")
        recorder = smtp_server.Recorder(**{k: v for k, v in kwargs.items() if k not in own})
        controller, port = smtp_server.start(recorder, auth=kwargs.get("auth"),
                                             smtputf8=kwargs.get("smtputf8", False))
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
        for header in ["from", "to", "subject", "date", "message-id", "content-type", "mime-version",
                       "list-id", "list-unsubscribe", "list-unsubscribe-post"]:
            assert header in signed, signature
        assert dkim.verify(raw, dnsfunc=dns), "the signature verifies with the published key"
        for before, after in [
            (b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
             b"List-Unsubscribe-Post: List-Unsubscribe=Two-Clicks"),
            (b"Message-ID: <ausgabe-2.", b"Message-ID: <ausgabe-3."),
            (b"List-Id: ", b"List-Id: x"),
            (b"Content-Type: multipart/alternative;", b"Content-Type: multipart/mixed;"),
        ]:
            assert before in raw, before
            tampered = raw.replace(before, after, 1)
            assert not dkim.verify(tampered, dnsfunc=dns), f"{before!r} is covered by the signature"


class Greeted(smtp_server.Recorder):
    """Records the name each client greeted with (EHLO)."""

    def __init__(self):
        super().__init__()
        self.helo = []

    async def handle_DATA(self, server, session, envelope):
        self.helo.append(session.host_name)
        return await super().handle_DATA(server, session, envelope)


def test_headers_name_the_list_in_full_and_the_server_is_greeted_with_a_domain(tmp_path):
    site = make_site(tmp_path, 1)
    yaml = site / "site.yaml"
    yaml.write_text(yaml.read_text().replace(
        'from: "Testteam Sachsen-Anhalt <team@example.org>"',
        'from: "Ministerium für Infrastruktur und Digitales <team@example.org>"'))
    recorder = Greeted()
    controller, port = smtp_server.start(recorder)
    try:
        send(site, port)
        assert recorder.helo == ["example.org"], "the From domain, not the machine's short name"
        message = recorder.messages[0][1]
        assert str(message["List-Id"]) == "Ministerium für Infrastruktur und Digitales <newsletter.example.org>"
        assert recorder.raw[0].decode("ascii"), "every header is ASCII on the wire"
        yaml.write_text(yaml.read_text() + "  helo_name: mail.example.org\n")
        run(site, "newsletter", "send", "2", "--now", NOW, "--smtp", f"smtp://127.0.0.1:{port}",
            "--rate", "0", "--to", "pruefer@example.org")
        assert recorder.helo[-1] == "mail.example.org"
    finally:
        controller.stop()


class Refusing(smtp_server.Recorder):
    """Refuses every message for good at `stage` (MAIL or DATA) with `reply`."""

    def __init__(self, stage, reply):
        super().__init__()
        self.stage, self.reply, self.tries = stage, reply, 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.stage == "MAIL":
            self.tries += 1
            return self.reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.stage == "DATA":
            self.tries += 1
            return self.reply
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("stage,reply", [
    ("MAIL", "553 5.7.1 Sender address rejected: not owned by user"),
    ("DATA", "554 5.7.1 Message rejected as spam"),
])
def test_a_permanent_refusal_fails_at_once_without_retries(tmp_path, stage, reply):
    site = make_site(tmp_path, 2)
    yaml = site / "site.yaml"
    # A retry would wait 10 s first: the run's time shows there was none.
    yaml.write_text(yaml.read_text().replace("retry_delay_ms: 20", "retry_delay_ms: 10000"))
    recorder = Refusing(stage, reply)
    controller, port = smtp_server.start(recorder)
    try:
        started = time.monotonic()
        out = send(site, port, check=False)
        elapsed = time.monotonic() - started
    finally:
        controller.stop()
    assert "0 sent, 2 failed" in out.stdout, out.stdout + out.stderr
    assert elapsed < 8, f"took {elapsed:.1f} s: a permanent refusal was retried"
    assert recorder.tries == 2, "one attempt per recipient"
    status = run(site, "newsletter", "status", "2").stdout
    assert reply.split(" ", 2)[2] in status, status
    assert sql(site, "SELECT DISTINCT attempts FROM deliveries") == [(1,)]


def test_subscriber_commands(tmp_path):
    site = make_site(tmp_path, 0)
    (site / "liste.csv").write_bytes(
        "\ufeffName;E-Mail\nJürgen Müller;juergen@example.org\nOhne At;kaputt\nDoppelt;JUERGEN@example.org\n;ines@example.org\n".encode()
    )
    proc = run(site, "subscribers", "import", str(site / "liste.csv"), check=False)
    assert proc.returncode == 1, "a refused row makes the import fail, after importing the rest"
    assert "2 added, 1 already there, 0 not added again (unsubscribed or forgotten), 1 invalid" in proc.stdout
    assert "2 subscribers in all." in proc.stdout
    assert "liste.csv:3:" in proc.stderr and "line 3, column 2 (`E-Mail`)" in proc.stderr
    assert run(site, "subscribers", "count").stdout.strip() == "2"
    assert "is subscribed" in run(site, "subscribers", "add", "Ines@Example.org").stdout
    run(site, "subscribers", "add", "neu@example.org", "--name", "Neue Leserin")
    bad = run(site, "subscribers", "add", "neu@", check=False)
    assert bad.returncode == 1 and "`neu@` has no complete domain" in bad.stderr
    # Removing unsubscribes: the record stays, nothing more is sent, no list brings it back.
    assert "unsubscribed juergen@example.org" in run(site, "subscribers", "remove", "JUERGEN@example.org").stdout.lower()
    again = run(site, "subscribers", "remove", "juergen@example.org", check=False)
    assert again.returncode == 1 and "unsubscribed already" in again.stderr
    unknown = run(site, "subscribers", "remove", "niemand@example.org", check=False)
    assert unknown.returncode == 1 and "is not subscribed" in unknown.stderr
    assert run(site, "subscribers", "count").stdout.strip() == "2"
    back = run(site, "subscribers", "import", str(site / "liste.csv"), check=False)
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
                       "unsubscribed_at", "unsubscribed_via", "lists"]
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
    readded = run(site, "subscribers", "import", str(site / "liste.csv"), check=False)
    assert "skipped ines@example.org: its owner asked for its data to be deleted" in readded.stderr
    assert run(site, "subscribers", "count").stdout.strip() == "1"
    # The database lives outside the published site and is git-ignored.
    assert db.is_file()
    run(site, "build", "--now", NOW)
    assert not any("sqlite" in p.name for p in (site / "public").rglob("*"))


def db_of(site):
    return site / ".ozg-site" / "newsletter.sqlite"


def insert_subscriber(site, email, name=None, status="active", source="cli"):
    """A row as an older version or a hand edit left it: nothing checked on the way in."""
    import secrets
    import sqlite3

    conn = sqlite3.connect(db_of(site))
    with conn:
        conn.execute(
            "INSERT INTO subscribers (email, email_key, name, link_nonce, added_at, status, source, requested_at)"
            " VALUES (?, ?, ?, ?, '2025-01-01T00:00:00Z', ?, ?, '2025-01-01T00:00:00Z')",
            (email, email.strip().lower(), name, secrets.token_hex(16), status, source),
        )
        # Since schema 5 a subscriber receives the lists they are a member of.
        conn.execute(
            "INSERT INTO memberships (subscriber, list, status, source, requested_at)"
            " SELECT id, 'newsletter', status, source, requested_at FROM subscribers"
            " WHERE email_key = ? AND status != 'pending'",
            (email.strip().lower(),),
        )
    conn.close()


def sql(site, query, *args):
    import sqlite3

    conn = sqlite3.connect(db_of(site))
    try:
        return conn.execute(query, args).fetchall()
    finally:
        conn.close()


def test_a_stored_name_with_a_line_break_fails_that_row_and_the_others_are_sent(tmp_path, server):
    site = make_site(tmp_path, 3)
    insert_subscriber(site, "excel@example.org", "Erika\r\nMustermann")
    insert_subscriber(site, "escape@example.org", "\x1b[2J\x1b[31mRot")
    insert_subscriber(site, "kaputt\n@example.org")
    recorder, port = server()
    out = send(site, port)
    assert "3 sent, 3 failed" in out.stdout, out.stdout + out.stderr
    assert "panicked" not in out.stderr
    assert sorted(recorder.by_recipient()) == [f"person{i}@example.org" for i in range(3)]
    status = run(site, "newsletter", "status", "2").stdout
    assert "3 sent, 3 failed, 0 pending" in status
    assert "\x1b" not in status and "\r" not in status
    lines = {line.split("\t")[1]: line.split("\t")[2] for line in status.splitlines() if line.startswith("failed")}
    assert "stored name `Erika\\u{d}\\u{a}Mustermann` cannot go into a mail" in lines["excel@example.org"]
    assert "\\u{1b}[2J" in lines["escape@example.org"]
    assert "stored address cannot be sent to" in lines["kaputt\\u{a}@example.org"]
    # A rerun neither panics nor sends again.
    again = send(site, port)
    assert "already gone to every subscriber" in again.stdout and "panicked" not in again.stderr
    assert len(recorder.messages) == 3
    # Corrected by hand, the name goes out with the retry.
    run(site, "subscribers", "add", "excel@example.org", "--name", "Erika Mustermann")
    assert "1 sent, 2 failed" in send(site, port, "--retry-failed").stdout
    message = dict(recorder.messages)["excel@example.org"]
    assert str(message["To"]) == "Erika Mustermann <excel@example.org>"
    assert "Guten Tag Erika Mustermann," in message.get_body(("plain",)).get_content()


def test_import_refuses_values_sending_could_not_handle_at_their_line_and_imports_the_rest(tmp_path):
    site = make_site(tmp_path, 0)
    csv = site / "liste.csv"
    csv.write_text(
        "email;name\n"                                   # 1
        "erika@example.org;\"Erika\nMustermann\"\n"      # 2-3: Alt+Enter in an Excel cell
        "gut@example.org;Gut\n"                          # 4
        "esc@example.org;\x1b[31mRot\n"                  # 5
        "\"\"\"a b\"\"@example.org\";Zitat\n"               # 6: quoted local part
        f"lang@example.org;{'x' * 30_000_000}\n"         # 7: 30 MB
        "nul\x00@example.org;Nul\n"                      # 8
        "auch-gut@example.org;Auch Gut\n",               # 9
        newline="",
    )
    proc = run(site, "subscribers", "import", str(csv), check=False)
    assert proc.returncode == 1
    assert "2 added" in proc.stdout and "5 invalid" in proc.stdout
    for line, column in [(2, 2), (5, 2), (6, 1), (7, 2), (8, 1)]:
        assert f"line {line}, column {column} " in proc.stderr, (line, proc.stderr[:3000])
    assert "Alt+Enter" in proc.stderr
    assert "\x1b" not in proc.stderr and "\x00" not in proc.stderr
    assert len(proc.stderr) < 10_000, "the 30 MB name is not quoted"
    listed = run(site, "subscribers", "list").stdout.splitlines()
    assert listed == ["auch-gut@example.org\tactive\tAuch Gut", "gut@example.org\tactive\tGut"]
    bad = run(site, "subscribers", "add", "neu@example.org", "--name", "Neu\r\nBcc: x@example.org", check=False)
    assert bad.returncode == 1 and "--name: the name contains a line break" in bad.stderr
    bad = run(site, "subscribers", "add", "\"a b\"@example.org", check=False)
    assert bad.returncode == 1 and "quoted part before the @" in bad.stderr
    assert run(site, "subscribers", "count").stdout.strip() == "2"


def test_import_and_add_never_activate_or_rename_an_unconfirmed_sign_up(tmp_path):
    site = make_site(tmp_path, 1)
    for i in range(3):
        insert_subscriber(site, f"fremd{i}@example.org", "Vom Formular", status="pending", source="form")
    insert_subscriber(site, "weg@example.org", "Weg", status="unsubscribed")
    csv = site / "alt.csv"
    csv.write_text("email;name\n" + "".join(f"Fremd{i}@example.org;Aus der Liste\n" for i in range(3))
                   + "weg@example.org;Neu\nperson0@example.org;Umbenannt\n")
    proc = run(site, "subscribers", "import", str(csv))
    assert "3 already signed up but not confirmed: left unchanged" in proc.stdout
    assert "0 added, 1 already there, 1 not added again" in proc.stdout
    rows = sql(site, "SELECT email, status, name, source FROM subscribers ORDER BY email")
    assert rows == [
        ("fremd0@example.org", "pending", "Vom Formular", "form"),
        ("fremd1@example.org", "pending", "Vom Formular", "form"),
        ("fremd2@example.org", "pending", "Vom Formular", "form"),
        ("person0@example.org", "active", "Person 0", "import"),
        ("weg@example.org", "unsubscribed", "Weg", "cli"),
    ]
    refused = run(site, "subscribers", "add", "fremd0@example.org", "--name", "X", check=False)
    assert refused.returncode == 1 and "has not confirmed yet" in refused.stderr
    assert sql(site, "SELECT status, name FROM subscribers WHERE email = 'fremd0@example.org'") == [
        ("pending", "Vom Formular")]
    assert run(site, "subscribers", "count").stdout.strip() == "1"


def test_list_and_show_print_control_characters_escaped(tmp_path):
    site = make_site(tmp_path, 0)
    run(site, "subscribers", "count")  # creates the database
    insert_subscriber(site, "a@example.org", "\x1b]0;gehackt\x07\x1b[2JErika\rX")
    listed = run(site, "subscribers", "list").stdout
    assert listed == "a@example.org\tactive\t\\u{1b}]0;gehackt\\u{7}\\u{1b}[2JErika\\u{d}X\n"
    shown = run(site, "subscribers", "show", "a@example.org").stdout
    assert "name\t\\u{1b}]0;gehackt\\u{7}\\u{1b}[2JErika\\u{d}X\n" in shown
    assert "\x1b" not in shown and "\x07" not in shown
    missing = run(site, "subscribers", "show", "x\x1b[31m@example.org", check=False)
    assert "\x1b" not in missing.stderr and "\\u{1b}" in missing.stderr


def test_export_neutralises_formulas_and_reads_back_to_the_original_values(tmp_path):
    site = make_site(tmp_path, 0)
    formula_name = '=HYPERLINK("http://x","y")'
    run(site, "subscribers", "add", "=1+1@example.org", "--name", formula_name)
    (site / "minus.csv").write_text("email;name\n-minus@example.org;@SUMME(A1)\n")
    run(site, "subscribers", "import", str(site / "minus.csv"))
    run(site, "subscribers", "add", "normal@example.org", "--name", "'Tom")
    export = site / "export.csv"
    run(site, "subscribers", "export", str(export))
    data = export.read_bytes()
    assert b"\n'=1+1@example.org;\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\";active;cli;" in data, data
    assert b"\n'-minus@example.org;'@SUMME(A1);active;import;" in data
    assert b"\nnormal@example.org;'Tom;" in data
    for line in data.decode("utf-8-sig").splitlines():
        for cell in line.split(";"):
            assert not cell.lstrip('"').startswith(("=", "+", "-", "@", "\t", "\r")), line
    # Read back into another database, the values are the original ones.
    other = make_site(tmp_path / "zweite", 0)
    run(other, "subscribers", "import", str(export))
    assert sorted(run(other, "subscribers", "list").stdout.splitlines()) == sorted([
        f"=1+1@example.org\tactive\t{formula_name}",
        "-minus@example.org\tactive\t@SUMME(A1)",
        "normal@example.org\tactive\t'Tom",
    ])


def test_international_addresses_go_out_with_smtputf8_or_fail_at_once_without_it(tmp_path, server):
    site = make_site(tmp_path, 0)
    csv = site / "liste.csv"
    csv.write_text("email;name\njörg@bücher.de;Jörg\nanna@bücher.de;Anna\n")
    run(site, "subscribers", "import", str(csv))
    listed = run(site, "subscribers", "list").stdout
    assert "jörg@xn--bcher-kva.de\tactive" in listed and "anna@xn--bcher-kva.de\tactive" in listed

    recorder, port = server()  # no SMTPUTF8
    out = send(site, port)
    assert "1 sent, 1 failed" in out.stdout, out.stdout + out.stderr
    assert [r for r, _ in recorder.messages] == ["anna@xn--bcher-kva.de"], "the domain as Punycode"
    assert recorder.mail_options == [("anna@xn--bcher-kva.de", [])]
    status = run(site, "newsletter", "status", "2").stdout
    assert "failed\tjörg@xn--bcher-kva.de\tthe mail server does not offer SMTPUTF8, which this address needs" in status
    assert sql(site, "SELECT attempts FROM deliveries WHERE email LIKE 'jörg%'") == [(1,)], "no retries"

    utf8, port = server(smtputf8=True)
    assert "1 sent, 0 failed" in send(site, port, "--retry-failed").stdout
    assert [r for r, _ in utf8.messages] == ["jörg@xn--bcher-kva.de"]
    assert "SMTPUTF8" in utf8.mail_options[0][1]
    assert "jörg@xn--bcher-kva.de" in str(utf8.messages[0][1]["To"])


def test_a_forgotten_address_stays_forgotten_in_every_spelling(tmp_path):
    site = make_site(tmp_path, 0)
    run(site, "subscribers", "add", "jörg@bücher.de")
    run(site, "subscribers", "remove", "--forget", "JÖRG@BÜCHER.DE")
    decomposed = "jo\u0308rg@bu\u0308cher.de"
    csv = site / "liste.csv"
    csv.write_text(f"email\njörg@xn--bcher-kva.de\n{decomposed}\n")
    proc = run(site, "subscribers", "import", str(csv))
    assert "0 added, 0 already there, 2 not added again" in proc.stdout
    assert proc.stderr.count("its owner asked for its data to be deleted") == 2
    assert "it was forgotten" in run(site, "subscribers", "show", decomposed, check=False).stderr
    assert run(site, "subscribers", "count").stdout.strip() == "0"


def test_a_rate_that_means_no_limit_by_accident_is_refused(tmp_path):
    site = make_site(tmp_path, 1)
    for bad in ["-1", "nan", "inf", "1e-20"]:
        proc = run(site, "newsletter", "send", "2", "--now", NOW, f"--rate={bad}", check=False)
        assert proc.returncode == 2 and "--rate" in proc.stderr and "between 0.01 and 10000" in proc.stderr, bad
    text = (site / "site.yaml").read_text()
    lines = (text + "  rate: .nan\n").splitlines()
    (site / "site.yaml").write_text("\n".join(lines) + "\n")
    proc = run(site, "newsletter", "send", "2", "--now", NOW, check=False)
    assert proc.returncode == 1
    assert f"site.yaml:{len(lines)}:9" in proc.stderr and "`newsletter.rate`" in proc.stderr, proc.stderr
    (site / "site.yaml").write_text(text)
    assert "has not been sent yet" in run(site, "newsletter", "status", "2").stdout


def test_every_mail_opens_with_exactly_one_salutation_on_its_own_line(tmp_path, server):
    site = tmp_path / "site"
    site.mkdir()
    for part in ("content", "themes", "static", "newsletters"):
        shutil.copytree(ROOT / part, site / part)
    shutil.copy(ROOT / "site.yaml", site / "site.yaml")
    (site / "liste.csv").write_text(
        "email;name\nerika.mustermann@example.org;Erika Mustermann\nleser@example.org;\n")
    run(site, "subscribers", "import", str(site / "liste.csv"))
    recorder, port = server()
    assert "2 sent, 0 failed" in send(site, port).stdout
    mails = dict(recorder.messages)
    for address, salutation in [("erika.mustermann@example.org", "Guten Tag Erika Mustermann,"),
                                ("leser@example.org", "Liebe Leserinnen, liebe Leser,")]:
        text = mails[address].get_body(("plain",)).get_content().replace("\r\n", "\n")
        html = mails[address].get_body(("html",)).get_content()
        assert f"\n\n{salutation}\n\nich freue mich sehr" in text, text[:600]
        assert re.search(rf"<p[^>]*>{salutation}</p>", html)
        for part in (text, html):
            assert part.count("Guten Tag") + part.count("Liebe Leserinnen") == 1, address
