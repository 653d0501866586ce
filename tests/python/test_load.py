"""`ozg-site subscriptions serve` under load, while `newsletter send` sends an edition from the
same database: 200 keep-alive clients on 127.0.0.1 sign up, confirm (the link's page, then its
button), unsubscribe with one click and fetch pages for OZG_LOAD_SECONDS (30 by default; OZG_LOAD_SEED varies the mix). Afterwards
the answers the clients got, the database and the mails the SMTP sink received must tell one
consistent story: no 5xx, every confirmation recorded with its consent, every one-click
unsubscribe kept, every edition once.

The SMTP sink runs in a process of its own (mail_sink.py), so parsing thousands of mails does not
take the interpreter's time from the load generator. The summary is printed and written to
tests/artifacts/load-summary.txt.
"""

import hashlib
import hmac
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
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("OZG_SITE_BIN", ROOT / "target/debug/ozg-site"))
SINK = Path(__file__).with_name("mail_sink.py")
ARTIFACTS = ROOT / "tests/artifacts"
NOW = "2025-12-05T13:00:00+01:00"

SECONDS = float(os.environ.get("OZG_LOAD_SECONDS", "30"))
SEED = int(os.environ.get("OZG_LOAD_SEED", "1"))
CLIENTS = 200
IMPORTED = 2000
FRESH = 1000
SEND_AFTER = 2.0
PER_ADDRESS = 3  # `signups_per_address_per_hour`, the default
DRAIN_LIMIT = 60.0
NAMES = ["Jürgen Müller", "Änne Öztürk", "Björn Weiß", "Gülay Straßburger", "Zoë Ölschläger"]

# One client's requests, by weight in per cent.
MIX = {"signup_new": 45, "signup_imported": 5, "unsubscribe": 25, "confirm": 15, "page": 10}
EXPECTED = {
    "POST anmelden (new)": {200},
    "POST anmelden (imported)": {200},
    "POST abmelden one-click": {200},
    "GET bestaetigen": {200, 410},
    "POST bestaetigen": {200, 410},
    "GET abmelden": {200},
    "GET anmelden": {200},
}
REQUEST_LOG = re.compile(r"^\S+ (GET|POST|HEAD) (\S+) (\d{3}) (\d+)ms client=\S+")


@dataclass
class Result:
    endpoint: str
    status: int | None  # None: no answer (see error)
    started: float      # time.monotonic()
    ended: float
    address: str = ""
    token: str = ""
    again: bool = False  # a confirmation link clicked before
    error: str = ""
    connected: bool = False  # opened a new connection for this request


class Problems:
    """Findings by kind, each kind reported once with its count and a few examples."""

    def __init__(self):
        self.kinds = {}

    def add(self, kind, example=""):
        self.kinds.setdefault(kind, []).append(example)

    def lines(self):
        out = []
        for kind, examples in self.kinds.items():
            shown = [e for e in examples if e][:5]
            count = f"{len(examples)}× " if len(examples) > 1 else ""
            out.append(f"{count}{kind}" + (": " + "; ".join(shown) if shown else ""))
        return out

    def __bool__(self):
        return bool(self.kinds)


def make_site(tmp_path):
    """A copy of the repository's site with the load test's settings; returns it and the consent."""
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(ROOT / "site.yaml", site / "site.yaml")
    for folder in ["content", "themes", "static", "newsletters"]:
        shutil.copytree(ROOT / folder, site / folder)
    out, added = [], set()
    for line in (site / "site.yaml").read_text(encoding="utf-8").splitlines(keepends=True):
        out.append(line)
        # All the load comes from 127.0.0.1, which counts as one client.
        if line.rstrip() == "  subscriptions:":
            out.append("    signups_per_client_per_hour: 1000000\n")
            # The ceiling for everybody is the flood test's subject (test_flood.py); here every
            # fresh address must get its mails.
            out.append("    confirmation_mails_per_hour: 100000\n")
            added.add("client limit")
        elif line.rstrip() == "newsletter:":
            out.append("  retry_delay_ms: 50\n")
            # The service sends its queue over this many connections. lettre 0.11.23 does not set
            # TCP_NODELAY, so each small mail waits ~40 ms for the receiver's delayed ACK: a
            # connection sends ~25 mails/s (see README), and the burst of this test needs more.
            out.append("  connections: 8\n")
            added.add("retry delay")
    assert added == {"client limit", "retry delay"}, "site.yaml has newsletter: and subscriptions:"
    (site / "site.yaml").write_text("".join(out), encoding="utf-8")
    consent = re.search(r'^    consent: "(.*)"\s*$', "".join(out), re.MULTILINE)
    assert consent, "the consent statement in site.yaml"
    rows = "".join(f"reader{i}@example.org;Reader {i}\n" for i in range(IMPORTED))
    (site / "liste.csv").write_text("email;name\n" + rows, encoding="utf-8")
    return site, consent.group(1)


def first_line(proc, what, timeout=60):
    """The first line `proc` writes on stdout, within `timeout` seconds."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    assert line, f"{what} did not start (exit code {proc.poll()})"
    return line


def stop(proc, timeout):
    """SIGTERM; the exit code, or None if it had to be killed."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def healthz(port):
    """The number of mails the service has queued."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        text = response.read().decode()
        assert response.status == 200, (response.status, text)
        return int(re.search(r"mails queued: (\d+)", text).group(1))
    finally:
        conn.close()


def cpu_seconds(pid):
    """User and system CPU time of a running process, from /proc (None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class Links:
    """The confirmation links the sink has received so far, for the clients to click."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.unclicked = []
        self.clicked = []    # first click answered: any later one must be refused (410)
        self.owner = {}      # token -> the address the mail went to
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.follow, daemon=True)

    def follow(self):
        with open(self.path, encoding="utf-8") as f:
            partial = ""
            while not self.done.is_set():
                chunk = f.readline()
                if not chunk:
                    time.sleep(0.05)
                    continue
                partial += chunk
                if not partial.endswith("\n"):
                    continue
                mail, partial = json.loads(partial), ""
                with self.lock:
                    for token in mail["confirm"]:
                        if token not in self.owner:
                            self.owner[token] = mail["rcpt"]
                            self.unclicked.append(token)

    def take(self, rng):
        """(token, clicked before), or None while there is no link yet. A link is clicked again
        only after its first click was answered."""
        with self.lock:
            if self.clicked and (not self.unclicked or rng.random() < 0.2):
                return rng.choice(self.clicked), True
            if self.unclicked:
                i = rng.randrange(len(self.unclicked))
                self.unclicked[i], self.unclicked[-1] = self.unclicked[-1], self.unclicked[i]
                return self.unclicked.pop(), False
        return None

    def answered(self, token):
        with self.lock:
            self.clicked.append(token)


def client(number, port, deadline, tokens, links, results):
    """One reader after another on one keep-alive connection, until `deadline`."""
    rng = random.Random(SEED * 1000 + number)
    imported = list(tokens)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    conn = None
    previous = None  # (endpoint, status, ended) of the request before on this connection
    while time.monotonic() < deadline:
        action = rng.choices(list(MIX), list(MIX.values()))[0]
        address, token, again = "", "", False
        taken = links.take(rng) if action == "confirm" else None
        if action == "confirm" and taken is None:
            action = "page"
        if action == "confirm":
            # The link's page, then its button: a form posting the token.
            token, again = taken
            address = links.owner[token]
            steps = [("GET bestaetigen", "GET", f"/newsletter/bestaetigen?token={token}", None, {}),
                     ("POST bestaetigen", "POST", "/newsletter/bestaetigen",
                      urllib.parse.urlencode({"token": token}).encode(), form)]
        elif action in ("signup_new", "signup_imported"):
            if action == "signup_new":
                endpoint, address = "POST anmelden (new)", f"load{rng.randrange(FRESH)}@example.org"
            else:
                endpoint, address = "POST anmelden (imported)", rng.choice(imported)
            fields = {"email": address, "list-newsletter": "ja"}
            if rng.random() < 0.3:
                fields["name"] = rng.choice(NAMES)
            body = urllib.parse.urlencode(fields).encode()
            steps = [(endpoint, "POST", "/newsletter/anmelden", body, form)]
        elif action == "unsubscribe":
            address = rng.choice(imported)
            token = tokens[address]
            steps = [("POST abmelden one-click", "POST", f"/newsletter/abmelden?token={token}", b"List-Unsubscribe=One-Click", form)]
        elif rng.random() < 0.5:
            address = rng.choice(imported)
            steps = [("GET abmelden", "GET", f"/newsletter/abmelden?token={tokens[address]}", None, {})]
        else:
            steps = [("GET anmelden", "GET", "/newsletter/anmelden", None, {})]
        for endpoint, method, path, body, headers in steps:
            started = time.monotonic()
            status, error, connected = None, "", conn is None
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    previous = None
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                error = f"{type(e).__name__}: {e} " + (
                    f"(after {previous[0]} → {previous[1]} on this connection, {started - previous[2]:.3f} s before)"
                    if previous else "(on a new connection)")
                if conn is not None:
                    conn.close()
                conn = None
            ended = time.monotonic()
            results.append(Result(endpoint, status, started, ended, address, token, again, error, connected))
            previous = (endpoint, status, ended)
            if endpoint == "POST bestaetigen" and not again:
                links.answered(token)
    if conn is not None:
        conn.close()


def percentile(sorted_values, p):
    """Nearest-rank percentile."""
    if not sorted_values:
        return float("nan")
    rank = min(len(sorted_values), max(1, -(-p * len(sorted_values) // 100)))
    return sorted_values[int(rank) - 1]


def rate(mails, start, end):
    """Mails per second that arrived at the sink between `start` and `end` (Unix times)."""
    times = [m["at"] for m in mails if start <= m["at"] < end]
    return len(times) / max(min(end, max(times)) - start, 1e-3) if times else 0.0


def utc(unix):
    return time.strftime("%H:%M:%S", time.gmtime(unix)) + f".{int(unix * 1000) % 1000:03d}Z"


def test_service_under_load_while_an_edition_goes_out(tmp_path, capsys):
    site, consent = make_site(tmp_path)
    db = tmp_path / "newsletter.sqlite"
    imported = subprocess.run([str(BIN), "subscribers", "import", str(site / "liste.csv"), "--root", str(site),
                               "--db", str(db)], capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr
    conn = sqlite3.connect(db)
    # The database keeps no tokens, only their hashes: derive them as `newsletter send` does
    # (store/links.rs), with the key file beside the database.
    key = bytes.fromhex(db.with_name(db.name + ".key").read_text().strip())
    tokens = {email_key: hmac.new(key, b"unsubscribe\0" + nonce.encode(), hashlib.sha256).hexdigest()[:32]
              for email_key, nonce in conn.execute(
                  "SELECT email_key, link_nonce FROM subscribers WHERE source = 'import'")}
    conn.close()
    assert len(tokens) == IMPORTED

    mails_path = tmp_path / "mails.jsonl"
    mails_path.touch()
    service_log = tmp_path / "service.log"
    sink = subprocess.Popen([sys.executable, str(SINK), str(mails_path)], stdout=subprocess.PIPE, text=True)
    service = None
    try:
        sink_port = int(first_line(sink, "the SMTP sink").split()[1])
        with open(service_log, "w") as log:
            service = subprocess.Popen(
                [str(BIN), "subscriptions", "serve", "--root", str(site), "--port", "0", "--db", str(db),
                 "--smtp", f"smtp://127.0.0.1:{sink_port}"],
                stdout=subprocess.PIPE, stderr=log, text=True)
        line = first_line(service, "the service")
        port = int(re.search(r"listening on http://127\.0\.0\.1:(\d+) ", line).group(1))
        assert healthz(port) == 0

        links = Links(mails_path)
        links.thread.start()
        per_client = [[] for _ in range(CLIENTS)]
        send = {}

        def send_edition():
            time.sleep(SEND_AFTER)
            send["started"] = time.monotonic()
            try:
                send["proc"] = subprocess.run(
                    [str(BIN), "newsletter", "send", "2", "--root", str(site), "--db", str(db),
                     "--smtp", f"smtp://127.0.0.1:{sink_port}", "--rate", "0", "--connections", "2",
                     "--now", NOW],
                    capture_output=True, text=True, timeout=100)
            except subprocess.TimeoutExpired as e:
                send["timeout"] = e
            send["ended"] = time.monotonic()

        load_started = time.monotonic()
        wall = time.time() - load_started  # wall + a monotonic time = Unix time, the sink's clock
        deadline = load_started + SECONDS
        threads = [threading.Thread(target=client, args=(n, port, deadline, tokens, links, per_client[n]))
                   for n in range(CLIENTS)]
        sender = threading.Thread(target=send_edition)
        for t in threads:
            t.start()
        sender.start()
        for t in threads:
            t.join()
        load_ended = time.monotonic()

        # The queue drains while the edition may still be going out.
        queued, drained = healthz(port), None
        while queued and time.monotonic() - load_ended < DRAIN_LIMIT:
            time.sleep(0.1)
            queued = healthz(port)
        if not queued:
            drained = time.monotonic() - load_ended
        sender.join()
        queued_at_end = healthz(port)
        service_cpu = cpu_seconds(service.pid)
        service_exit = stop(service, 10)
        links.done.set()
        links.thread.join()
    finally:
        if service is not None and service.poll() is None:
            service.kill()
            service.wait()
        sink_exit = stop(sink, 10)

    results = [r for rs in per_client for r in rs]
    mails = [json.loads(line) for line in mails_path.read_text(encoding="utf-8").splitlines()]
    log_lines = service_log.read_text(encoding="utf-8", errors="replace").splitlines()
    problems = Problems()

    # --- What the clients saw ----------------------------------------------------------------------
    by_endpoint = defaultdict(list)
    for r in results:
        by_endpoint[r.endpoint].append(r)
    failed = [r for r in results if r.status is None]
    timeouts = [r for r in failed if "timed out" in r.error]
    for r in failed:
        problems.add("requests without an answer", f"{r.endpoint} {utc(wall + r.started)}: {r.error}")
    # A confirmed sign-up starts a new subscription with a new unsubscribe link: the imported
    # link of an address that unsubscribed and came back ends nothing any more (404).
    renewed_at = {}
    for r in results:
        if r.endpoint == "POST bestaetigen" and r.status == 200:
            # From when its request started: it may commit before the answer arrives.
            renewed_at[r.address] = min(renewed_at.get(r.address, r.started), r.started)
    for r in results:
        if r.status is not None and r.status >= 500:
            problems.add("answers ≥ 500", f"{r.endpoint} {r.address} {utc(wall + r.started)} → {r.status}")
        elif (r.status == 404 and r.endpoint in ("POST abmelden one-click", "GET abmelden")
              and renewed_at.get(r.address, float("inf")) < r.ended):
            pass
        elif r.status is not None and r.status not in EXPECTED[r.endpoint]:
            problems.add(f"unexpected status of {r.endpoint}", f"{r.address} → {r.status}")
    confirms = by_endpoint["POST bestaetigen"]
    for r in confirms:
        if r.again and r.status != 410:
            problems.add("a confirmation link clicked again was not refused with 410",
                         f"{r.address} → {r.status}")
    for r in by_endpoint["GET bestaetigen"]:
        if r.again and r.status != 410:
            problems.add("the page of a used confirmation link did not say 410", f"{r.address} → {r.status}")

    # --- The database ------------------------------------------------------------------------------
    conn = sqlite3.connect(db)
    integrity = conn.execute("PRAGMA integrity_check").fetchall()
    if integrity != [("ok",)]:
        problems.add("PRAGMA integrity_check", str(integrity[:5]))
    for row in conn.execute("PRAGMA foreign_key_check"):
        problems.add("PRAGMA foreign_key_check", str(row))
    columns = "email_key, status, source, confirmed_at, consent, unsubscribed_at, unsubscribed_via"
    rows = {r[0]: r for r in conn.execute(f"SELECT {columns} FROM subscribers")}
    campaign = conn.execute("SELECT id, finished_at FROM campaigns WHERE edition = 2").fetchone()
    deliveries = conn.execute(
        "SELECT s.email_key, d.state FROM deliveries d JOIN subscribers s ON s.id = d.subscriber "
        "WHERE d.campaign = (SELECT id FROM campaigns WHERE edition = 2)").fetchall()
    queued_for = Counter(r[0].lower() for r in conn.execute("SELECT recipient FROM outgoing"))
    outgoing = sum(queued_for.values())
    unsubscribe_owner = dict(conn.execute(
        "SELECT u.token_hash, s.email_key FROM unsubscribe_links u JOIN subscribers s ON s.id = u.subscriber"))
    link_owner = dict(conn.execute(
        "SELECT c.token_hash, s.email_key FROM confirmations c JOIN subscribers s ON s.id = c.subscriber"))
    conn.close()
    pending_of = {k for k, state in deliveries if state == "pending"}
    sent_to = Counter(k for k, state in deliveries if state == "sent")

    def shown(row):
        return f"{row[1]}/{row[2]} confirmed_at={row[3]} unsubscribed_at={row[5]} via={row[6]}"

    def active_by_form(row):
        return (row[1] == "active" and row[2] == "form" and row[3] is not None and row[4] == consent
                and row[5] is None and row[6] is None)

    def unsubscribed_by_one_click(row):
        return row[1] == "unsubscribed" and row[5] is not None and row[6] == "one-click"

    signed_up = {r.address for r in results if r.endpoint.startswith("POST anmelden") and r.status == 200}
    for address in sorted(signed_up - rows.keys()):
        problems.add("signed up (200) but not in subscribers", address)

    confirmed, unsubscribed = defaultdict(list), defaultdict(list)
    for r in confirms:
        if r.status == 200:
            confirmed[r.address].append(r)
    for r in by_endpoint["POST abmelden one-click"]:
        if r.status == 200:
            unsubscribed[r.address].append(r)

    # Fresh addresses are never unsubscribed here: confirmed once, active with the consent.
    for address, clicks in sorted(confirmed.items()):
        if not address.startswith("load"):
            continue
        if len(clicks) > 1:
            problems.add("a fresh address confirmed more than once (200)", f"{address}: {len(clicks)}")
        row = rows.get(address)
        if row is None or not active_by_form(row):
            problems.add("confirmed (200) but not active by the form with the consent",
                         f"{address}: {row and shown(row)}")

    # A link refused at its first click: another link of the address, or an unsubscribe, spent it.
    for r in confirms:
        if r.status == 410 and not r.again:
            spenders = confirmed.get(r.address, []) + unsubscribed.get(r.address, [])
            if not any(s.started < r.ended for s in spenders):
                problems.add("the first click on a link got 410, but nothing had spent it", r.address)

    # One-click unsubscribes hold, unless the address confirmed a new sign-up afterwards.
    resubscribed = 0
    for address, posts in sorted(unsubscribed.items()):
        row, clicks = rows[address], confirmed.get(address, [])
        confirm_last = bool(clicks) and max(c.started for c in clicks) > max(p.ended for p in posts)
        unsubscribe_last = not clicks or max(p.started for p in posts) > max(c.ended for c in clicks)
        if unsubscribe_last and not unsubscribed_by_one_click(row):
            problems.add("unsubscribed with one click (200), but the row says otherwise",
                         f"{address}: {shown(row)}")
        elif confirm_last and not active_by_form(row):
            problems.add("confirmed after unsubscribing, but not active by the form",
                         f"{address}: {shown(row)}")
        elif not (unsubscribed_by_one_click(row) or active_by_form(row)):
            problems.add("unsubscribe and confirmation overlapped; the row is neither",
                         f"{address}: {shown(row)}")
        resubscribed += active_by_form(row)
        if address in pending_of:
            problems.add("unsubscribed (200) but a delivery is still pending", address)

    # --- The edition: once per recipient, as the journal says ---------------------------------------
    edition_mails = Counter(m["rcpt"] for m in mails if m["edition"])
    for address, n in sorted(edition_mails.items()):
        if n > 1:
            problems.add("the edition arrived more than once", f"{address}: {n}")
    if sum(edition_mails.values()) != sum(sent_to.values()):
        problems.add(f"{sum(edition_mails.values())} editions arrived at the sink, but "
                     f"{sum(sent_to.values())} deliveries are marked sent")
    for address in sorted(sent_to):
        if edition_mails[address] != 1:
            problems.add("marked sent, but the edition did not arrive exactly once",
                         f"{address}: {edition_mails[address]}")
    posts_of = defaultdict(list)
    for u in by_endpoint["POST abmelden one-click"]:
        posts_of[u.address].append(u)
    for address in sorted(set(edition_mails) - set(sent_to)):
        arrived = [utc(m["at"]) for m in mails if m["edition"] and m["rcpt"] == address]
        posts = [f"{utc(wall + u.started)}–{utc(wall + u.ended)} → {u.status}"
                 for u in sorted(posts_of[address], key=lambda u: u.started)[:2]]
        problems.add("the edition arrived, but the journal has no 'sent' delivery for the address",
                     f"{address}: edition at the sink {arrived}, first one-click POSTs {posts}, "
                     f"row {shown(rows[address])}")
    if campaign is None or campaign[1] is None:
        problems.add("the campaign of edition 2 did not finish", str(campaign))
    for address in sorted(pending_of):
        problems.add("deliveries still pending after the send", address)
    send_proc = send.get("proc")
    send_out = send_proc.stdout.strip() if send_proc else f"timed out: {send.get('timeout')}"
    if send_proc is None or send_proc.returncode != 0:
        problems.add("newsletter send failed", f"{send_out} {send_proc and send_proc.stderr}")
    else:
        said = re.search(r"Edition 2: (\d+) sent, (\d+) failed", send_out)
        if not said or int(said.group(1)) != sum(sent_to.values()) or said.group(2) != "0":
            problems.add(f"newsletter send says `{send_out.splitlines()[0]}`, the journal has "
                         f"{sum(sent_to.values())} sent")

    # --- The service's mails --------------------------------------------------------------------------
    service_mails = [m for m in mails if not m["edition"]]
    per_address = Counter(m["rcpt"] for m in service_mails)
    for m in mails:
        if "unreadable" in m:
            problems.add("mails the sink could not read", f"{m['rcpt']}: {m['unreadable']}")
    for address in sorted(a for a in signed_up if a.startswith("load")):
        if per_address[address] == 0 and queued_for[address]:
            problems.add("a fresh address signed up (200) and got no mail: it is still queued", address)
        elif per_address[address] == 0:
            problems.add("a fresh address signed up (200) and got no mail, none is queued", address)
    for address in sorted(set(per_address) | set(queued_for)):
        if per_address[address] + queued_for[address] > PER_ADDRESS:
            problems.add(f"more than {PER_ADDRESS} service mails to one address (received + queued)",
                         f"{address}: {per_address[address]} + {queued_for[address]}")
    asked = {r.address for r in results if r.endpoint.startswith("POST anmelden")}
    for address in sorted(set(per_address) - asked):
        problems.add("service mails to an address nobody signed up", address)
    for m in service_mails:
        if len(m["confirm"]) + len(m["unsubscribe"]) != 1:
            problems.add("a service mail without exactly one link", f"{m['rcpt']}: {m['subject']}")
        for token in m["confirm"]:
            owner = link_owner.get(hashlib.sha256(token.encode()).hexdigest())
            if owner != m["rcpt"]:
                problems.add("a confirmation link that belongs to another address", f"{m['rcpt']}: {owner}")
        for token in m["unsubscribe"]:
            owner = unsubscribe_owner.get(hashlib.sha256(token.encode()).hexdigest())
            if owner is None and m["rcpt"] in renewed_at:
                continue  # a link of the subscription before the renewal: rightly gone
            if owner != m["rcpt"]:
                problems.add("an unsubscribe link that is not the recipient's own", m["rcpt"])
    if outgoing:
        problems.add(f"{outgoing} mails left in `outgoing`: the queue did not drain within "
                     f"{DRAIN_LIMIT:.0f} s after the load")

    # --- The processes -------------------------------------------------------------------------------
    if service_exit != 0:
        problems.add(f"the service exited with {service_exit} after SIGTERM (None: killed after 10 s)")
    if sink_exit != 0:
        problems.add(f"the SMTP sink exited with {sink_exit}")
    noteworthy = [line for line in log_lines if not REQUEST_LOG.match(line) and not line.endswith(" stopped")]
    server_ms = defaultdict(list)
    for line in log_lines:
        match = REQUEST_LOG.match(line)
        if match:
            server_ms[f"{match.group(1)} {match.group(2)}"].append(int(match.group(4)))

    # --- Summary -----------------------------------------------------------------------------------
    duration = load_ended - load_started
    out = [f"Load test: {CLIENTS} clients for {SECONDS:g} s (seed {SEED}), {IMPORTED} imported "
           f"subscribers, {FRESH} fresh addresses",
           f"{len(results)} requests in {duration:.1f} s: {len(results) / duration:.0f} requests/s; "
           f"{len(failed)} without answer ({len(timeouts)} timeouts), "
           f"{sum(1 for r in results if (r.status or 0) >= 500)} answers ≥ 500; "
           f"{sum(r.connected for r in results)} connections opened ({CLIENTS} at the start)",
           "",
           f"{'endpoint':26} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}  statuses"]
    for endpoint in EXPECTED:
        rs = by_endpoint.get(endpoint, [])
        ms = sorted((r.ended - r.started) * 1000 for r in rs)
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(Counter(str(r.status) for r in rs).items()))
        out.append(f"{endpoint:26} {len(rs):>8} {percentile(ms, 50):>8.1f} {percentile(ms, 95):>8.1f} "
                   f"{percentile(ms, 99):>8.1f} {max(ms, default=float('nan')):>8.1f}  {statuses}")
    reclicks = sum(1 for r in confirms if r.again)
    cpu = f"{service_cpu:.1f} s CPU, " if service_cpu is not None else ""
    out += ["",
            f"confirmation links: {len(confirms) - reclicks} first clicks, {reclicks} clicks again; "
            f"{len(confirmed)} addresses confirmed; {len(unsubscribed)} imported subscribers "
            f"unsubscribed with one click, {resubscribed} of them confirmed a new sign-up afterwards",
            f"service mails received: {len(service_mails)} "
            f"({sum(1 for m in service_mails if m['confirm'])} with a confirmation link, "
            f"{sum(1 for m in service_mails if m['unsubscribe'])} notes 'already subscribed') "
            f"to {len(per_address)} addresses; "
            f"{rate(service_mails, wall + load_started, wall + load_ended):.0f}/s during the load, "
            f"{rate(service_mails, wall + load_ended, float('inf')):.0f}/s after it",
            f"edition mails received: {sum(edition_mails.values())}; journal: "
            f"{sum(sent_to.values())} sent, {len(pending_of)} pending",
            "queue drained " + (f"{drained:.1f} s after the load ended" if drained is not None
                                else f"not within {DRAIN_LIMIT:.0f} s ({queued_at_end} still queued)"),
            f"newsletter send (started {SEND_AFTER:g} s into the load, took "
            f"{send.get('ended', 0) - send.get('started', 0):.1f} s): " + " ".join(send_out.split("\n")),
            f"service: exit code {service_exit} after SIGTERM, {cpu}{len(log_lines)} log lines, "
            f"{len(noteworthy)} other than request lines",
            "server-side time per request (its log), p50/max ms: "
            + ", ".join(f"{k} {percentile(sorted(v), 50)}/{max(v)}" for k, v in sorted(server_ms.items()))]
    out += [f"  log: {line}" for line in noteworthy[:20]]
    out += ["", f"{len(problems.kinds)} kinds of problems" + (":" if problems else "")]
    out += [f"  - {line}" for line in problems.lines()]
    summary = "\n".join(out) + "\n"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "load-summary.txt").write_text(summary, encoding="utf-8")
    with capsys.disabled():
        print("\n" + summary)
    assert not problems, "\n".join(problems.lines())
