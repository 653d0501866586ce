""""Barriere melden" as readers and attackers use it: `ozg-site subscriptions serve` on 127.0.0.1
with a real SMTP server (aiosmtpd, see smtp_server.py). A report reaches the team's address with
its description, page and the reader's address as Reply-To, and leaves nothing behind once sent;
forms from other sites, other types, huge bodies and bad fields are refused; line breaks in the
fields never become headers; the limits per client and for everybody hold; the log keeps no
content and no address."""

import re
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import smtp_server  # noqa: E402
from test_subscriptions import FORM, Service, free_port, make_site  # noqa: E402

TEAM = "ozg@sachsen-anhalt.de"
PATH = "/barrierefreiheit/melden"
DESCRIPTION = "Die Schaltfläche „Suchen“ erreiche ich mit der Tastatur nicht. Geheimwort Zitronenfalter."


def with_feedback(site, lines):
    """`lines` go under `feedback:` in the site's site.yaml ("" removes the setting)."""
    config = (site / "site.yaml").read_text()
    block = f"feedback:\n  to: {TEAM}\n"
    assert block in config, "the repository's site.yaml has feedback.to"
    (site / "site.yaml").write_text(config.replace(block, "" if lines is None else block + lines))


@pytest.fixture
def world(tmp_path):
    """A site, an SMTP server and the service, started; `feedback` lines go under `feedback:`."""
    started = []

    def make(feedback="", smtp=True):
        port = free_port()
        site = make_site(tmp_path, port)
        with_feedback(site, feedback)
        recorder = smtp_server.Recorder()
        controller, smtp_port = smtp_server.start(recorder)
        started.append(controller.stop)
        service = Service(site, port, smtp_port).start()
        started.append(service.stop)
        return service, recorder

    yield make
    for stop in reversed(started):
        stop()


def report(service, headers=None, **fields):
    return service.request("POST", PATH, fields, {**FORM, **(headers or {})})


def team_mails(recorder, count=1, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with recorder.lock:
            found = [m for rcpt, m in recorder.messages if rcpt == TEAM]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{count} report(s) to {TEAM} expected, got {len(found)}")


def eventually(condition, what, timeout=20):
    """Polls `condition` (the service's upkeep runs every 5 s) until it holds or `timeout`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} after {timeout} s")


def test_a_report_reaches_the_team_with_reply_to_and_leaves_nothing_behind(world):
    service, recorder = world()
    status, headers, page = report(service, description=DESCRIPTION, page="/termine/",
                                   email="Erika.Mustermann@example.org", name="Erika Müller")
    assert status == 200 and "Vielen Dank für Ihre Meldung" in page, page[:500]
    assert "Erika.Mustermann@example.org" in page, "the page says where the answer goes"
    assert headers["cache-control"] == "no-store" and "frame-ancestors 'none'" in headers["content-security-policy"]
    [mail] = team_mails(recorder)
    assert str(mail["Subject"]) == f"Barriere gemeldet: http://127.0.0.1:{service.port}/termine/"
    assert mail["Reply-To"].addresses[0].addr_spec == "Erika.Mustermann@example.org"
    assert mail["Reply-To"].addresses[0].display_name == "Erika Müller"
    assert mail["To"].addresses[0].addr_spec == TEAM
    assert mail["Auto-Submitted"] == "auto-generated"
    body = mail.get_content()
    assert " ".join(DESCRIPTION.split()) in " ".join(body.replace("  | ", " ").split()), body
    assert f"Seite:   http://127.0.0.1:{service.port}/termine/" in body
    assert "Name:    Erika Müller" in body

    # Sent means gone: no queued mail, no subscriber, nothing else; and once the upkeep has
    # checkpointed the WAL, no byte of it in any file of the database.
    eventually(lambda: service.sql("SELECT count(*) FROM outgoing") == [(0,)], "the queued mail is deleted")
    assert service.sql("SELECT count(*) FROM subscribers") == [(0,)]
    assert service.sql("SELECT count(*) FROM confirmations") == [(0,)]

    def traceless():
        return not any(b"Zitronenfalter" in f.read_bytes() or b"Erika.Mustermann" in f.read_bytes()
                       for f in service.db.parent.glob("newsletter.sqlite*"))
    eventually(traceless, "the report is still in the database files")

    log = service.log.read_text()
    assert f"POST {PATH} 200" in log and "report queued" in log, log
    assert "@" not in log and "Zitronenfalter" not in log and "Erika" not in log, log


def test_a_report_without_address_or_page_is_sent_without_reply_to(world):
    service, recorder = world()
    status, _, page = report(service, description="Kontrast zu schwach")
    assert status == 200 and "keine E-Mail-Adresse angegeben" in page
    [mail] = team_mails(recorder)
    assert mail["Reply-To"] is None
    assert str(mail["Subject"]) == "Barriere gemeldet"
    assert "(nicht angegeben" in mail.get_content()


def test_forms_from_other_sites_other_types_huge_bodies_and_bad_fields_are_refused(world):
    service, recorder = world()
    cross = {"Origin": "https://boese.example", "Sec-Fetch-Site": "cross-site"}
    status, _, page = report(service, cross, description=DESCRIPTION)
    assert status == 403 and "anderen Website" in page and TEAM in page
    same = {"Origin": f"http://127.0.0.1:{service.port}", "Sec-Fetch-Site": "same-origin"}
    assert report(service, same, description="von der eigenen Seite")[0] == 200
    assert service.request("POST", PATH, '{"description": "x"}', {"Content-Type": "application/json"})[0] == 415
    status, _, page = service.request("POST", PATH, {"description": "x" * 70_000}, FORM)
    assert status == 413 and "nicht lesbar" in page
    chunked = (b"description=" + b"x" * 1000 if i == 0 else b"x" * 1000 for i in range(100))
    assert service.request("POST", PATH, chunked, FORM)[0] == 413, "without a length, cut off at 64 KiB"
    assert service.request("POST", PATH, "description=a&description=b", FORM)[0] == 400

    status, _, page = report(service, description="  \r\n ", email="erika@", page="Startseite", name="Erika")
    assert status == 422
    assert page.count('aria-invalid="true"') == 3 and 'role="alert"' in page
    assert "Bitte beschreiben Sie die Barriere" in page and 'value="erika@"' in page
    assert 'value="Startseite"' in page and 'value="Erika"' in page
    status, _, page = report(service, description="Text", email='"><script>alert(1)</script>@x.de')
    assert status == 422 and "<script>alert(1)" not in page
    status, _, page = report(service, description="x" * 5001)
    assert status == 422 and "höchstens 5000 Zeichen" in page and "x" * 5001 in page, "the text comes back"
    assert report(service, description="Text", page="https://boese.example/")[0] == 422
    assert service.request("PUT", PATH, "x", FORM)[0] == 405

    time.sleep(1)
    with recorder.lock:
        sent = [m for rcpt, m in recorder.messages if rcpt == TEAM]
    assert len(sent) == 1, "only the one report from the site's own page"
    assert "von der eigenen Seite" in sent[0].get_content()


def test_line_breaks_in_the_name_or_page_never_become_headers(world):
    service, recorder = world()
    smuggled = "\r\nBcc: opfer@example.org\r\nSubject: Gewonnen"
    assert report(service, description="Text", name="Erika" + smuggled)[0] == 422
    assert report(service, description="Text", page="/termine/" + smuggled)[0] == 422
    assert report(service, description="Text", email="erika@example.org" + smuggled)[0] == 422
    assert report(service, description="Text", page="/termine/%0d%0aBcc:%20opfer@example.org")[0] == 200
    # A name that tries to add an address to Reply-To stays the display name of the reader's one.
    assert report(service, description="Namenstest", email="leser@example.org",
                  name='Erika" <opfer@example.org>, "X')[0] == 200
    # In the description they are only text, quoted in the body; an escape sequence is shown.
    status, _, _ = report(service, description="Erste Zeile" + smuggled + "\x1b[2J\x00Ende")
    assert status == 200
    mails = team_mails(recorder, 3)
    [named] = [m for m in mails if "Namenstest" in m.get_content()]
    assert [a.addr_spec for a in named["Reply-To"].addresses] == ["leser@example.org"]
    assert named["Reply-To"].addresses[0].display_name == 'Erika" <opfer@example.org>, "X'
    for mail in mails:
        assert mail["Bcc"] is None and len(mail.get_all("Subject")) == 1
        assert str(mail["Subject"]).startswith("Barriere gemeldet")
    [body] = [m.get_content() for m in mails if "Erste Zeile" in m.get_content()]
    assert "  | Bcc: opfer@example.org" in body and "\\u{1b}[2J\\u{0}Ende" in body, body
    assert "\x1b" not in body and "\x00" not in body
    time.sleep(0.5)
    with recorder.lock:
        assert {rcpt for rcpt, _ in recorder.messages} == {TEAM}, "nobody else got anything"


def test_the_limits_per_client_and_for_everybody_hold(world):
    service, recorder = world("  reports_per_client_per_hour: 2\n  reports_per_hour: 3\n")
    # Forms sent back for correction do not count.
    for _ in range(3):
        assert report(service, description="")[0] == 422
    assert report(service, description="eins")[0] == 200
    assert report(service, description="zwei")[0] == 200
    status, headers, page = report(service, description="drei")
    assert status == 429 and "Zu viele Meldungen" in page
    assert 60 <= int(headers["retry-after"]) <= 3600
    # Another client behind the proxy on this machine has its own allowance …
    assert report(service, {"X-Forwarded-For": "198.51.100.23"}, description="vier")[0] == 200
    # … but everybody's is used up: the form says so and names the address to write to.
    status, headers, page = report(service, {"X-Forwarded-For": "203.0.113.9"}, description="fünf")
    assert status == 503 and "sehr viele Meldungen" in page and f"mailto:{TEAM}" in page
    assert 60 <= int(headers["retry-after"]) <= 3600
    assert len(team_mails(recorder, 3)) == 3
    time.sleep(0.5)
    assert len(team_mails(recorder, 3)) == 3
    log = service.log.read_text()
    assert log.count("the ceiling of 3 reports per hour is reached") == 1, log


def test_the_form_page_takes_a_page_of_the_site_from_a_link_and_nothing_else(world):
    service, _ = world()
    status, _, page = service.request("GET", PATH + "?seite=%2Ftermine%2F")
    assert status == 200 and "<h1>Barriere melden</h1>" in page
    assert f'name="page" type="text" inputmode="url" value="http://127.0.0.1:{service.port}/termine/"' in page
    for query in ("?seite=https%3A%2F%2Fboese.example%2F", "?seite=Ihr+Konto+wird+gesperrt", "?seite=" + "a" * 3000):
        status, _, page = service.request("GET", PATH + query)
        assert status == 200 and not re.search(r'name="page"[^>]*value=', page), query
    assert "boese.example" not in page


def test_without_feedback_settings_the_service_has_no_form(tmp_path):
    port = free_port()
    site = make_site(tmp_path, port)
    with_feedback(site, None)
    service = Service(site, port, free_port()).start()
    try:
        assert service.request("GET", PATH)[0] == 404
        assert service.request("POST", PATH, {"description": "x"}, FORM)[0] == 404
    finally:
        service.stop()


def test_a_browser_still_sending_a_too_large_form_gets_the_answer_not_a_reset(world):
    """The service reads the rest of a body up to 1 MiB before its 413, so a client (or a proxy)
    that is still sending sees the page that says what is wrong, not a closed connection."""
    import socket
    import time

    service, _ = world()
    size = 300_000
    sock = socket.create_connection(("127.0.0.1", service.port), timeout=10)
    sock.sendall((f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{service.port}\r\n"
                  "Content-Type: application/x-www-form-urlencoded\r\n"
                  f"Content-Length: {size}\r\n\r\n").encode())
    body = b"description=" + b"x" * (size - len("description="))
    for i in range(0, size, 10_000):
        sock.sendall(body[i:i + 10_000])  # raises ConnectionResetError/BrokenPipe if the service hung up
        time.sleep(0.01)
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed without an answer: {answer!r}"
        answer += chunk
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
