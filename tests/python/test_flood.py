"""`ozg-site subscriptions serve` under a sign-up flood, with the limits as shipped: for
OZG_FLOOD_SECONDS (30 by default), many clients sign up made-up addresses and `+tag` variants of a
few mailboxes, each request from another IPv6 /64 (through `X-Forwarded-For` from 127.0.0.1, which
the service trusts as a proxy on the same machine), against a real SMTP server (aiosmtpd in its
own process, mail_sink.py).

What must hold afterwards: the mails that arrived stay under `confirmation_mails_per_hour` (500),
no mailbox got more than `signups_per_address_per_hour` (3) whatever its tags and letter case, no
answer was 5xx or missing, past the ceiling nothing was stored, the WAL stayed within
`journal_size_limit` (64 MiB) throughout and was emptied once the flood paused, the database file
stayed small, and the log said once that the ceiling was reached. The figures are printed.
"""

import http.client
import json
import os
import random
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("OZG_SITE_BIN", ROOT / "target/debug/ozg-site"))
SINK = Path(__file__).with_name("mail_sink.py")

SECONDS = float(os.environ.get("OZG_FLOOD_SECONDS", "30"))
CLIENTS = 40
CEILING = 500            # `confirmation_mails_per_hour`, the default
PER_MAILBOX = 3          # `signups_per_address_per_hour`, the default
WAL_LIMIT = 64 << 20     # `PRAGMA journal_size_limit` in src/newsletter/store/mod.rs
DB_LIMIT = 16 << 20      # far more than CEILING sign-ups with their mails need
MAILBOXES = ["opfer", "ziel", "postfach"]  # flooded with +tags


def first_line(proc, what, timeout=60):
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    assert line, f"{what} did not start (exit code {proc.poll()})"
    return line


def stop(proc, timeout):
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def queued(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        text = response.read().decode()
        assert response.status == 200, (response.status, text)
        return int(re.search(r"mails queued: (\d+)", text).group(1))
    finally:
        conn.close()


def size(path):
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def mailbox(address):
    local, _, domain = address.lower().rpartition("@")
    return f"{local.split('+')[0] or local}@{domain}"


def flood(number, port, deadline, results):
    """One attacker's client: sign-up after sign-up on a kept-alive connection, each from another
    /64 and for another address."""
    rng = random.Random(number)
    conn = None
    sent = 0
    while time.monotonic() < deadline:
        sent += 1
        prefix = f"2001:db8:{number:x}:{sent:x}"
        if rng.random() < 0.5:
            address = f"flut-{number}-{sent}@example.org"
        else:
            box = rng.choice(MAILBOXES)
            address = f"{box.capitalize() if rng.random() < 0.3 else box}+{number}x{sent}@example.org"
        body = urllib.parse.urlencode({"email": address, "name": "Ihr Konto wird gesperrt", "list-newsletter": "ja"})
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Forwarded-For": f"{prefix}::{rng.randrange(1, 0xffff):x}"}
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/newsletter/anmelden", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            results.append(response.status)
            if response.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            results.append(f"{type(e).__name__}: {e}")
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()


def test_a_sign_up_flood_stays_within_the_ceiling_and_the_database_stays_small(tmp_path, capsys):
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(ROOT / "site.yaml", site / "site.yaml")
    for folder in ["content", "themes", "static", "newsletters"]:
        shutil.copytree(ROOT / folder, site / folder)
    db = tmp_path / "newsletter.sqlite"
    wal = tmp_path / "newsletter.sqlite-wal"
    mails_path = tmp_path / "mails.jsonl"
    mails_path.touch()
    log_path = tmp_path / "service.log"

    sink = subprocess.Popen([sys.executable, str(SINK), str(mails_path)], stdout=subprocess.PIPE, text=True)
    service = None
    try:
        sink_port = int(first_line(sink, "the SMTP sink").split()[1])
        with open(log_path, "w") as log:
            service = subprocess.Popen(
                [str(BIN), "subscriptions", "serve", "--root", str(site), "--port", "0", "--db", str(db),
                 "--smtp", f"smtp://127.0.0.1:{sink_port}"],
                stdout=subprocess.PIPE, stderr=log, text=True)
        port = int(re.search(r"listening on http://127\.0\.0\.1:(\d+) ",
                             first_line(service, "the service")).group(1))

        per_client = [[] for _ in range(CLIENTS)]
        sizes = []  # (wal, db) while the flood goes on
        started = time.monotonic()
        deadline = started + SECONDS
        threads = [threading.Thread(target=flood, args=(n, port, deadline, per_client[n]))
                   for n in range(CLIENTS)]
        for t in threads:
            t.start()
        while time.monotonic() < deadline:
            sizes.append((size(wal), size(db)))
            time.sleep(0.2)
        for t in threads:
            t.join()
        flood_took = time.monotonic() - started

        # The queue drains; then the quiet lets the service empty its WAL (it looks every 5 s).
        drain_deadline = time.monotonic() + 10
        while queued(port) and time.monotonic() < drain_deadline:
            time.sleep(0.1)
        left_queued = queued(port)
        quiet_deadline = time.monotonic() + 12
        while size(wal) > 0 and time.monotonic() < quiet_deadline:
            sizes.append((size(wal), size(db)))
            time.sleep(0.2)
        wal_after, db_after = size(wal), size(db)
        conn = sqlite3.connect(db)
        rows = conn.execute("SELECT count(*) FROM subscribers").fetchone()[0]
        named = conn.execute("SELECT count(*) FROM subscribers WHERE name IS NOT NULL").fetchone()[0]
        conn.close()
        service_exit = stop(service, 10)
    finally:
        if service is not None and service.poll() is None:
            service.kill()
            service.wait()
        sink_exit = stop(sink, 10)

    results = [r for rs in per_client for r in rs]
    statuses = Counter(r if isinstance(r, int) else "no answer" for r in results)
    failures = [r for r in results if not isinstance(r, int)]
    mails = [json.loads(line) for line in mails_path.read_text(encoding="utf-8").splitlines()]
    per_mailbox = Counter(mailbox(m["rcpt"]) for m in mails)
    tagged = {f"{b}@example.org" for b in MAILBOXES}
    log = log_path.read_text(encoding="utf-8", errors="replace")
    reached = log.count("service mails per hour is reached")
    # The ceiling refills evenly: a few more mails came back while the flood went on.
    allowed = CEILING + int(CEILING * (time.monotonic() - started) / 3600) + 1
    wal_max = max(w for w, _ in sizes)
    db_max = max(d for _, d in sizes)

    summary = "\n".join([
        f"Flood: {CLIENTS} clients for {flood_took:.1f} s, each request from another IPv6 /64",
        f"{len(results)} requests ({len(results) / flood_took:.0f}/s): "
        + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=str)),
        f"mails arrived: {len(mails)} (ceiling {CEILING}/h: {allowed} in this time), to {len(per_mailbox)} mailboxes; "
        f"per-mailbox maximum {max(per_mailbox.values(), default=0)} (limit {PER_MAILBOX}); "
        f"the tagged mailboxes got " + ", ".join(f"{b}: {per_mailbox[b]}" for b in sorted(tagged)),
        f"subscriber rows: {rows} ({named} with a name); queue after the flood: {left_queued}",
        f"WAL: at most {wal_max / 1024:.0f} KiB during the flood, {wal_after / 1024:.0f} KiB after "
        f"(limit {WAL_LIMIT >> 20} MiB); database: at most {db_max / 1024:.0f} KiB, "
        f"{db_after / 1024:.0f} KiB after",
        f"log: 'ceiling reached' {reached}×; service exit {service_exit}, sink exit {sink_exit}",
    ])
    with capsys.disabled():
        print("\n" + summary)
        if os.environ.get("OZG_FLOOD_SIZES"):
            print("WAL KiB every 0.2 s:", [w >> 10 for w, _ in sizes])

    assert not failures, failures[:5]
    assert not any(isinstance(r, int) and r >= 500 for r in results), statuses
    assert statuses[200] > CEILING, "the flood went past the ceiling"
    assert len(mails) <= allowed, summary
    assert max(per_mailbox.values()) <= PER_MAILBOX, per_mailbox.most_common(5)
    assert all(per_mailbox[b] <= PER_MAILBOX for b in tagged)
    assert rows <= allowed, "past the ceiling no sign-up is stored"
    assert named == 0, "an unconfirmed sign-up leaves no name on the subscriber"
    assert wal_max <= WAL_LIMIT, summary
    assert wal_after == 0, f"the WAL is emptied once the flood pauses: {summary}"
    assert db_max <= DB_LIMIT, summary
    assert reached == 1, f"the ceiling is logged once, not per request:\n{log[-2000:]}"
    assert service_exit == 0 and sink_exit == 0
