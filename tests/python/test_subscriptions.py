"""`ozg-site subscriptions serve` as readers and mail providers use it: a real HTTP service on
127.0.0.1 and a real SMTP server (aiosmtpd, see smtp_server.py). Sign-up → confirmation mail →
the link's page → its button → the next edition; one-click unsubscribing; links that are opened by
scanners, reused, expired or made up; a stranger's sign-up of someone else's address; answers that
reveal nothing about an address; limits per client, per mailbox and for everybody; forms from
other sites; a mail server that is down; a service killed with mail still queued; connections that
are slow or never finish."""

import http.client
import os
import re
import selectors
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import smtp_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("OZG_SITE_BIN", ROOT / "target/debug/ozg-site"))
NOW = "2025-12-05T13:00:00+01:00"
CONSENT = "Ich möchte den Newsletter per E-Mail erhalten. Ich kann ihn jederzeit abbestellen."
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_site(tmp_path, port, limits=""):
    """The repository's own site, served (site and service) at http://127.0.0.1:<port>."""
    site = tmp_path / "site"
    site.mkdir()
    for part in ("content", "themes", "static", "newsletters"):
        shutil.copytree(ROOT / part, site / part)
    config = (ROOT / "site.yaml").read_text()
    config = re.sub(r"(?m)^base_url: .*$", f"base_url: http://127.0.0.1:{port}", config)
    config = re.sub(r'(?m)^    consent: ".*"$', f'    consent: "{CONSENT}"', config)
    # The newsletter list's own consent is the one recorded: the same short text.
    config = re.sub(r'(?m)^      consent: "Ich möchte den Newsletter .*"$', f'      consent: "{CONSENT}"', config)
    config = config.replace("  subscriptions:\n", f"  retry_delay_ms: 50\n  subscriptions:\n{limits}")
    (site / "site.yaml").write_text(config)
    return site


def run(site, *args, check=True):
    proc = subprocess.run([str(BIN), *args, "--root", str(site)], capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


class Service:
    """The service as a process; its log (stderr) goes to a file the tests read."""

    def __init__(self, site, port, smtp_port):
        self.site, self.port, self.smtp_port = site, port, smtp_port
        self.log = site / "service.log"
        self.proc = None

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(BIN), "subscriptions", "serve", "--root", str(self.site), "--port", str(self.port),
                 "--smtp", f"smtp://127.0.0.1:{self.smtp_port}"],
                stdout=subprocess.PIPE, stderr=log, text=True)
        line = self.proc.stdout.readline()
        assert f"listening on http://127.0.0.1:{self.port}" in line, line + self.log.read_text()
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            assert self.proc.wait(timeout=15) in (0, -signal.SIGKILL)

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        if isinstance(body, dict):
            body = urllib.parse.urlencode(body)
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        text = response.read().decode()
        conn.close()
        return response.status, dict(response.getheaders()), text

    def signup(self, email, name=None, headers=None, lists=("newsletter",)):
        fields = {"email": email} if name is None else {"email": email, "name": name}
        fields.update({f"list-{list_id}": "ja" for list_id in lists})
        return self.request("POST", "/newsletter/anmelden", fields, {**FORM, **(headers or {})})

    @property
    def db(self):
        return self.site / ".ozg-site" / "newsletter.sqlite"

    def sql(self, query, *args):
        with sqlite3.connect(self.db) as conn:
            return conn.execute(query, args).fetchall()

    def show(self, email):
        out = run(self.site, "subscribers", "show", email).stdout
        return dict(line.split("\t", 1) for line in out.splitlines())


@pytest.fixture
def world(tmp_path):
    """A site, an SMTP server and the service, started; `limits` lines go under `subscriptions:`."""
    started = []

    def make(limits="", smtp=True):
        port, smtp_port = free_port(), free_port()
        site = make_site(tmp_path, port, limits)
        recorder = smtp_server.Recorder()
        if smtp:
            controller, smtp_port = smtp_server.start(recorder)
            started.append(controller.stop)
        service = Service(site, port, smtp_port).start()
        started.append(service.stop)
        return service, recorder

    yield make
    for stop in reversed(started):
        stop()


def mails_to(recorder, address, count=1, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with recorder.lock:
            found = [m for rcpt, m in recorder.messages if rcpt == address.lower()]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{count} mail(s) to {address} expected, got {len(found)}")


def confirm(service, link, headers=None):
    """What the reader does with a confirmation link: opens its page, then clicks the button
    (a form posting the token to the same address). Returns the button's answer."""
    status, _, page = service.request("GET", link)
    assert status == 200 and "Anmeldung bestätigen" in page, (status, page[:300])
    token = re.search(r'name="token" value="([0-9a-f]{32})"', page).group(1)
    assert link.endswith(token)
    action = re.search(r'<form class="confirm-form" method="post" action="([^"]+)"', page).group(1)
    assert urllib.parse.urlsplit(action).path == "/newsletter/bestaetigen"
    same = {"Origin": f"http://127.0.0.1:{service.port}", "Sec-Fetch-Site": "same-origin", **FORM}
    return service.request("POST", "/newsletter/bestaetigen", {"token": token}, {**same, **(headers or {})})


def link(message, path):
    match = re.search(rf"http://127\.0\.0\.1:\d+({re.escape(path)}\?token=[0-9a-f]{{32}})",
                      message.get_content())
    assert match, message.get_content()
    return match.group(1)


def test_sign_up_confirm_and_the_next_edition_arrives_with_a_one_click_link(world):
    service, recorder = world()
    status, _, page = service.signup("Erika.Mustermann@example.org", "Erika Müller")
    assert status == 200 and "<h1>" in page
    [mail] = mails_to(recorder, "erika.mustermann@example.org")
    assert str(mail["Subject"]) == "Bitte bestätigen Sie Ihre Anmeldung zum Newsletter"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert CONSENT.split(".")[0] in " ".join(mail.get_content().split())
    assert service.show("erika.mustermann@example.org")["status"] == "pending"
    assert run(service.site, "subscribers", "count").stdout.strip() == "0"

    status, _, page = confirm(service, link(mail, "/newsletter/bestaetigen"))
    assert status == 200 and "Erika.Mustermann@example.org" in page
    record = service.show("erika.mustermann@example.org")
    assert record["status"] == "active" and record["source"] == "form"
    assert record["name"] == "Erika Müller" and record["consent"] == CONSENT
    assert record["confirmed_at"] >= record["requested_at"]

    # The next edition reaches the new subscriber, with the service's one-click link.
    out = run(service.site, "newsletter", "send", "2", "--now", NOW, "--smtp",
              f"smtp://127.0.0.1:{service.smtp_port}", "--rate", "0").stdout
    assert "1 sent, 0 failed" in out
    edition = [m for m in mails_to(recorder, "erika.mustermann@example.org", 2) if m["List-Id"]][0]
    assert edition["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = str(edition["List-Unsubscribe"])
    match = re.fullmatch(rf"<http://127\.0\.0\.1:{service.port}(/newsletter/abmelden\?token=[0-9a-f]{{32}})>", header)
    assert match, header
    assert match.group(1) in edition.get_body(("plain",)).get_content()
    # What a mail provider does when the reader clicks "Abbestellen" (RFC 8058).
    status, _, _ = service.request("POST", match.group(1), "List-Unsubscribe=One-Click", FORM)
    assert status == 200
    record = service.show("erika.mustermann@example.org")
    assert record["status"] == "unsubscribed" and record["unsubscribed_via"] == "one-click"
    assert record["consent"] == CONSENT, "the proof of consent stays"
    assert "edition 2\tsent" in run(service.site, "subscribers", "show", "erika.mustermann@example.org").stdout


def test_opening_a_link_confirms_nobody_only_its_button_does(world):
    service, recorder = world()
    service.signup("scanner@example.org")
    path = link(mails_to(recorder, "scanner@example.org")[0], "/newsletter/bestaetigen")
    # What link-scanning mail gateways do: HEAD, GET, GET again. Nobody is confirmed.
    assert service.request("HEAD", path)[0] == 200
    for _ in range(3):
        status, headers, page = service.request("GET", path)
        assert status == 200 and "Anmeldung bestätigen" in page and "scanner@example.org" in page
    assert headers["referrer-policy"] == "no-referrer" and headers["cache-control"] == "no-store"
    assert service.show("scanner@example.org")["status"] == "pending"
    # The button is a form: from another site it is refused, as any other form.
    token = path.split("=")[1]
    cross = {"Origin": "https://boese.example", "Sec-Fetch-Site": "cross-site", **FORM}
    assert service.request("POST", "/newsletter/bestaetigen", {"token": token}, cross)[0] == 403
    assert service.request("POST", "/newsletter/bestaetigen", f'{{"token": "{token}"}}',
                           {"Content-Type": "application/json"})[0] == 415
    assert service.request("POST", "/newsletter/bestaetigen", {"token": token, "x": "y" * 5000}, FORM)[0] == 413
    assert service.request("POST", "/newsletter/bestaetigen", f"token={token}&token={token}", FORM)[0] == 400
    assert service.show("scanner@example.org")["status"] == "pending"
    status, _, page = confirm(service, path)
    assert status == 200 and "Anmeldung bestätigt" in page
    assert service.show("scanner@example.org")["status"] == "active"


def test_links_are_single_use_expire_and_cannot_be_made_up(world):
    service, recorder = world()
    service.signup("a@example.org")
    service.signup("b@example.org")
    a = link(mails_to(recorder, "a@example.org")[0], "/newsletter/bestaetigen")
    b = link(mails_to(recorder, "b@example.org")[0], "/newsletter/bestaetigen")
    assert confirm(service, a)[0] == 200
    status, _, page = service.request("GET", a)
    assert status == 410 and "schon verwendet" in page
    status, _, page = service.request("POST", "/newsletter/bestaetigen", {"token": a.split("=")[1]}, FORM)
    assert status == 410 and "schon verwendet" in page
    service.sql("UPDATE confirmations SET expires_ms = 0")
    status, _, page = service.request("GET", b)
    assert status == 410 and "abgelaufen" in page
    status, _, page = service.request("POST", "/newsletter/bestaetigen", {"token": b.split("=")[1]}, FORM)
    assert status == 410 and "abgelaufen" in page
    assert service.show("b@example.org")["status"] == "pending"
    made_up = "0123456789abcdef" * 2
    assert service.request("GET", "/newsletter/bestaetigen?token=" + made_up)[0] == 404
    assert service.request("POST", "/newsletter/bestaetigen", {"token": made_up}, FORM)[0] == 404
    assert service.request("GET", "/newsletter/bestaetigen?token=abc")[0] == 400
    assert service.request("GET", "/newsletter/bestaetigen?token=" + "A" * 32)[0] == 400
    assert service.request("GET", "/newsletter/bestaetigen")[0] == 400
    assert service.request("POST", "/newsletter/bestaetigen", {"token": "abc"}, FORM)[0] == 400
    assert service.request("POST", "/newsletter/bestaetigen", {}, FORM)[0] == 400
    assert service.request("GET", "/newsletter/abmelden?token=" + "f" * 32)[0] == 404
    assert service.request("POST", "/newsletter/abmelden?token=" + "f" * 32, "List-Unsubscribe=One-Click", FORM)[0] == 404


def test_a_strangers_name_does_not_stay_when_the_owner_confirms_without_one(world):
    service, recorder = world()
    phishing = "Ihr Konto wird gesperrt: http://boese.example/entsperren"
    assert service.signup("opfer@example.org", phishing, {"X-Forwarded-For": "203.0.113.66"})[0] == 200
    strangers = link(mails_to(recorder, "opfer@example.org")[0], "/newsletter/bestaetigen")
    assert service.show("opfer@example.org").get("name", "") == "", "an unconfirmed request names nobody"
    assert phishing not in mails_to(recorder, "opfer@example.org")[0].get_content()
    # Later the owner signs up themselves, without a name, and confirms their own link.
    assert service.signup("opfer@example.org")[0] == 200
    owners = link(mails_to(recorder, "opfer@example.org", 2)[1], "/newsletter/bestaetigen")
    assert owners != strangers
    assert confirm(service, owners)[0] == 200
    record = service.show("opfer@example.org")
    assert record["status"] == "active" and record.get("name", "") == "", record
    assert service.request("GET", strangers)[0] == 410, "the stranger's link is spent"
    # The next edition greets nobody by the stranger's words.
    run(service.site, "newsletter", "send", "2", "--now", NOW, "--smtp",
        f"smtp://127.0.0.1:{service.smtp_port}", "--rate", "0")
    edition = [m for m in mails_to(recorder, "opfer@example.org", 3) if m["List-Id"]][0]
    assert "gesperrt" not in edition.get_body(("plain",)).get_content()
    assert all(phishing not in row for (row,) in service.sql("SELECT coalesce(name, '') FROM subscribers"))


def test_answers_do_not_tell_whether_an_address_is_subscribed(world):
    service, recorder = world()
    run(service.site, "subscribers", "add", "known@example.org")
    known = service.signup("known@example.org")
    unknown = service.signup("unknown@example.org")
    drop = {"date"}
    assert known[0] == unknown[0] == 200
    assert {k: v for k, v in known[1].items() if k.lower() not in drop} == \
        {k: v for k, v in unknown[1].items() if k.lower() not in drop}
    assert known[2] == unknown[2]
    # Only the mailbox's owner learns it: a note with the way out, not a second subscription.
    [note] = mails_to(recorder, "known@example.org")
    assert str(note["Subject"]) == "Sie erhalten unseren Newsletter bereits"
    assert link(note, "/newsletter/abmelden")
    assert "bestaetigen" not in note.get_content()
    assert service.show("known@example.org")["source"] == "cli"


def test_limits_per_client_and_per_mailbox(world):
    service, recorder = world(limits="    signups_per_client_per_hour: 6\n    signups_per_address_per_hour: 2\n")
    # Sub-addresses and letter case are one mailbox.
    for address in ("flood@example.org", "flood+1@example.org", "Flood+2@Example.org", "FLOOD@example.org"):
        assert service.signup(address)[0] == 200
    time.sleep(1)
    with recorder.lock:
        mailbox = [r for r, _ in recorder.messages if r.split("@")[0].split("+")[0] == "flood"]
    assert len(mailbox) == 2, f"two mails to the mailbox, then silence: {mailbox}"
    service.signup("x1@example.org")
    service.signup("x2@example.org")
    status, headers, page = service.signup("x3@example.org")
    assert status == 429 and "Zu viele Anmeldungen" in page
    assert 60 <= int(headers["retry-after"]) <= 3600
    assert service.sql("SELECT count(*) FROM subscribers WHERE email_key = 'x3@example.org'") == [(0,)]
    # Another client behind the same proxy on this machine is counted on its own.
    assert service.signup("x4@example.org", headers={"X-Forwarded-For": "198.51.100.23"})[0] == 200
    # IPv6 clients are counted per /64: other addresses of one prefix do not help.
    for i in range(6):
        assert service.signup(f"v6-{i}@example.org", headers={"X-Forwarded-For": f"2001:db8:1:2::{i + 1}"})[0] == 200
    assert service.signup("v6-x@example.org", headers={"X-Forwarded-For": "2001:db8:1:2:ffff::1"})[0] == 429
    assert service.signup("v6-y@example.org", headers={"X-Forwarded-For": "2001:db8:1:3::1"})[0] == 200


def test_past_the_ceiling_sign_ups_get_the_same_page_but_no_mail_and_no_record(world):
    service, recorder = world(limits="    confirmation_mails_per_hour: 3\n")
    pages = set()
    for i in range(8):
        status, _, page = service.signup(f"viele{i}@example.org", headers={"X-Forwarded-For": f"2001:db8:{i}::1"})
        assert status == 200
        pages.add(page)
    assert len(pages) == 1, "every sign-up sees the same page"
    for i in range(3):
        mails_to(recorder, f"viele{i}@example.org")
    time.sleep(1)
    assert len(recorder.messages) == 3
    assert service.sql("SELECT count(*) FROM subscribers") == [(3,)]
    log = service.log.read_text()
    assert log.count("ceiling of 3 service mails per hour is reached") == 1, log
    assert log.count("ceiling\n") == 5, "each refused sign-up is noted on its request line"


def test_forms_from_other_sites_and_bad_input_are_refused(world):
    service, _ = world()
    cross = {"Origin": "https://boese.example", "Sec-Fetch-Site": "cross-site"}
    status, _, page = service.signup("a@example.org", headers=cross)
    assert status == 403 and "anderen Website" in page
    same = {"Origin": f"http://127.0.0.1:{service.port}", "Sec-Fetch-Site": "same-origin"}
    assert service.signup("a@example.org", headers=same)[0] == 200
    assert service.request("POST", "/newsletter/anmelden", '{"email": "a@example.org"}',
                           {"Content-Type": "application/json"})[0] == 415
    assert service.request("POST", "/newsletter/anmelden", {"email": "a@example.org", "x": "y" * 5000}, FORM)[0] == 413
    assert service.request("POST", "/newsletter/anmelden", "email=a%40example.org&email=b%40example.org", FORM)[0] == 400
    status, _, page = service.signup("erika@", "Erika")
    assert status == 422
    assert 'aria-invalid="true"' in page and 'value="erika@"' in page and 'role="alert"' in page
    assert service.signup("erika@example.org", "Zeile\nzwei")[0] == 422
    assert service.signup("<script>@example.org")[0] == 422
    # Valid by RFC 5321, but no mail library or server takes it: refused at the field, not a 503.
    status, _, page = service.signup('"erika mustermann"@example.org')
    assert status == 422 and 'aria-invalid="true"' in page
    assert "mustermann" not in service.log.read_text()
    status, _, page = service.signup('"><script>alert(1)</script>')
    assert status == 422 and "<script>alert(1)" not in page
    assert service.request("GET", "/newsletter/anmelden")[0] == 200
    assert service.request("GET", "/gibt-es-nicht")[0] == 404
    assert service.request("PUT", "/newsletter/anmelden", "x", FORM)[0] == 405
    assert service.sql("SELECT count(*) FROM subscribers") == [(1,)]


def test_unsubscribing_needs_no_login_and_is_idempotent(world):
    service, _ = world()
    run(service.site, "subscribers", "add", "leser@example.org")
    token = service.show("leser@example.org")["unsubscribe_link"].split("token=")[1]
    status, headers, page = service.request("GET", f"/newsletter/abmelden?token={token}")
    assert status == 200 and f'value="{token}"' in page and "Newsletter abbestellen" in page
    assert headers["referrer-policy"] == "no-referrer", "the token in the address must not leak"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"
    assert service.show("leser@example.org")["status"] == "active", "showing the page changes nothing"
    same = {"Origin": f"http://127.0.0.1:{service.port}", **FORM}
    status, _, page = service.request("POST", "/newsletter/abmelden", {"token": token}, same)
    assert status == 200
    record = service.show("leser@example.org")
    assert record["status"] == "unsubscribed" and record["unsubscribed_via"] == "link"
    again = service.request("POST", "/newsletter/abmelden", {"token": token}, same)
    assert again[0] == 200 and again[2] != page, "says it was unsubscribed already"
    # A mail provider's one-click POST whose body comes a moment after its headers, then another
    # request on the same connection: the body is read, so the connection stays usable (as a
    # proxy's kept-alive upstream connection must).
    body = b"List-Unsubscribe=One-Click"
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as raw:
        raw.sendall(f"POST /newsletter/abmelden?token={token} HTTP/1.1\r\nHost: x\r\n"
                    f"Content-Type: application/x-www-form-urlencoded\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode())
        time.sleep(0.2)
        raw.sendall(body + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answers = b""
        while answers.count(b"HTTP/1.1 200") < 2:
            chunk = raw.recv(65536)
            assert chunk, f"connection closed after {answers.count(b'HTTP/1.1 ')} answer(s)"
            answers += chunk
    assert service.request("POST", "/newsletter/abmelden", {"token": "zu-kurz"}, same)[0] == 400
    cross = {"Origin": "https://boese.example", "Sec-Fetch-Site": "cross-site", **FORM}
    assert service.request("POST", "/newsletter/abmelden", {"token": token}, cross)[0] == 403


def test_a_mail_server_that_is_down_delays_mails_and_a_killed_service_loses_none(tmp_path):
    smtp_port, port = free_port(), free_port()
    site = make_site(tmp_path, port)
    service = Service(site, port, smtp_port).start()
    try:
        assert service.signup("geduld@example.org")[0] == 200
        time.sleep(0.5)
        assert service.sql("SELECT count(*) FROM outgoing") == [(1,)], "queued while the server is down"
        # The process dies with the mail still queued; the sign-up and its mail survive.
        service.stop(signal.SIGKILL)
        recorder = smtp_server.Recorder()
        controller = smtp_server.Controller(recorder, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        try:
            service.start()
            [mail] = mails_to(recorder, "geduld@example.org", timeout=20)
            assert link(mail, "/newsletter/bestaetigen")
            assert service.sql("SELECT count(*) FROM outgoing") == [(0,)]
            assert "not accepted yet" in service.log.read_text()
        finally:
            controller.stop()
    finally:
        service.stop()


def test_the_log_holds_no_addresses_and_no_tokens(world):
    service, recorder = world()
    service.signup("geheim@example.org", "Geheim")
    confirm_link = link(mails_to(recorder, "geheim@example.org")[0], "/newsletter/bestaetigen")
    assert confirm(service, confirm_link)[0] == 200
    token = service.show("geheim@example.org")["unsubscribe_link"].split("token=")[1]
    service.request("POST", f"/newsletter/abmelden?token={token}", "List-Unsubscribe=One-Click", FORM)
    # A mangled link with the address in its path: a 404, and the log names no such path.
    assert service.request("GET", "/newsletter/abmelden/geheim@example.org")[0] == 404
    log = service.log.read_text()
    assert "POST /newsletter/anmelden 200" in log and "address=" in log
    assert "@" not in log and "geheim" not in log.lower()
    assert token not in log and confirm_link.split("=")[1] not in log


def test_forgetting_a_form_subscriber_leaves_only_a_hash(world):
    service, recorder = world()
    service.signup("vergessen@example.org", "Vera")
    assert confirm(service, link(mails_to(recorder, "vergessen@example.org")[0], "/newsletter/bestaetigen"))[0] == 200
    run(service.site, "newsletter", "send", "2", "--now", NOW, "--smtp", f"smtp://127.0.0.1:{service.smtp_port}", "--rate", "0")
    mails_to(recorder, "vergessen@example.org", 2)
    run(service.site, "subscribers", "export", str(service.site / "export.csv"))
    exported = (service.site / "export.csv").read_text(encoding="utf-8-sig")
    assert f"vergessen@example.org;Vera;active;form;" in exported and CONSENT in exported
    run(service.site, "subscribers", "remove", "--forget", "vergessen@example.org")
    for f in service.db.parent.glob("newsletter.sqlite*"):
        data = f.read_bytes()
        assert b"vergessen@example.org" not in data and b"Vera" not in data, f
    assert service.sql("SELECT count(*) FROM deliveries") == [(0,)]
    # The person may come back themselves, with a new confirmation.
    assert service.signup("vergessen@example.org")[0] == 200
    mails_to(recorder, "vergessen@example.org", 3)


def test_the_service_explains_what_is_missing_before_it_starts(tmp_path):
    port = free_port()
    site = make_site(tmp_path, port)
    config = (site / "site.yaml").read_text()
    (site / "site.yaml").write_text(re.sub(r"(?ms)^  subscriptions:\n(    .*\n)+", "", config)
                                    + '  unsubscribe_url: "https://x.example/?t={token}"\n')
    proc = subprocess.run([str(BIN), "subscriptions", "serve", "--root", str(site), "--port", "0"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "no `subscriptions:` settings" in proc.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        (site / "site.yaml").write_text(config)
        proc = subprocess.run([str(BIN), "subscriptions", "serve", "--root", str(site), "--port", str(taken)],
                              capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and f"cannot listen on 127.0.0.1:{taken}" in proc.stderr


HEADER_TIMEOUT = 10  # listener.rs: Settings::default().header_timeout
BODY_TIMEOUT = 5     # http.rs: BODY_TIMEOUT


def test_slow_and_idle_connections_neither_stall_the_service_nor_stay_open(world):
    """A slowloris attack from one machine: 500 connections that send a header byte a second and
    never finish. The service goes on answering, and closes them after its header timeout; a
    trickled body is cut off; an idle kept-alive connection is closed too."""
    service, _ = world()
    watch = selectors.DefaultSelector()
    slow = {}  # socket -> when it was opened

    def opened(sock, what):
        sock.setblocking(False)
        watch.register(sock, selectors.EVENT_READ, what)

    for _ in range(500):
        sock = socket.create_connection(("127.0.0.1", service.port), timeout=5)
        sock.sendall(b"GET /newsletter/anmelden HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Langsam: ")
        slow[sock] = time.monotonic()
        opened(sock, "slow")
    trickle = socket.create_connection(("127.0.0.1", service.port), timeout=5)
    trickle.sendall(b"POST /newsletter/anmelden HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=")
    trickled = time.monotonic()
    opened(trickle, "trickle")
    idle = socket.create_connection(("127.0.0.1", service.port), timeout=5)
    idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert idle.recv(65536).startswith(b"HTTP/1.1 200"), "kept alive after its answer"
    idled = time.monotonic()
    opened(idle, "idle")

    closed = {}       # socket -> seconds it stayed open
    answers = {}      # what the trickled POST got
    fast = []         # seconds the normal requests took while the slow ones were open
    deadline = time.monotonic() + HEADER_TIMEOUT + 12
    next_byte = time.monotonic()
    while len(closed) < len(slow) + 2 and time.monotonic() < deadline:
        if len(closed) == 0 and len(fast) < 10:
            for path in ("/newsletter/anmelden", "/healthz"):
                began = time.monotonic()
                status, _, _ = service.request("GET", path)
                fast.append(time.monotonic() - began)
                assert status == 200, path
        if time.monotonic() >= next_byte:
            next_byte += 1
            for sock in list(slow) + [trickle]:
                if sock not in closed:
                    try:
                        sock.send(b"a")
                    except OSError:
                        pass  # closed by the server: the selector tells when
        for key, _ in watch.select(timeout=0.2):
            sock = key.fileobj
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if key.data == "trickle" and data:
                answers.setdefault("first", data)
                answers.setdefault("at", time.monotonic() - trickled)
                continue
            if not data:
                started = {"slow": slow.get(sock), "trickle": trickled, "idle": idled}[key.data]
                closed[sock] = time.monotonic() - started
                watch.unregister(sock)
    for sock in list(slow) + [trickle, idle]:
        sock.close()

    assert fast and max(fast) < 2, f"normal requests took up to {max(fast):.2f} s"
    assert len(fast) >= 10, "requests were made while the slow connections were open"
    open_for = sorted(closed[s] for s in slow if s in closed)
    assert len(open_for) == len(slow), f"{len(slow) - len(open_for)} slow connections still open"
    assert HEADER_TIMEOUT - 1 <= open_for[0] and open_for[-1] <= HEADER_TIMEOUT + 3, \
        f"slow connections closed after {open_for[0]:.1f}–{open_for[-1]:.1f} s"
    assert answers.get("first", b"").startswith(b"HTTP/1.1 408"), answers
    assert BODY_TIMEOUT - 1 <= answers["at"] <= BODY_TIMEOUT + 2, answers["at"]
    assert trickle in closed and closed[trickle] <= BODY_TIMEOUT + 3
    assert idle in closed and HEADER_TIMEOUT - 1 <= closed[idle] <= HEADER_TIMEOUT + 3, closed.get(idle)
    # The service is fine afterwards, and nothing was stored.
    assert service.request("GET", "/healthz")[0] == 200
    assert service.sql("SELECT count(*) FROM subscribers") == [(0,)]
