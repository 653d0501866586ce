"""Lists (`newsletter.lists` in site.yaml) as readers and the team meet them, against the real
service on 127.0.0.1 and a real SMTP server (aiosmtpd): a sign-up for two lists confirmed by one
link, a second sign-up that adds a list after its own confirmation, an edition that reaches only
its list's members, a one-click unsubscribe that ends only the list of its mail, and "all lists"
on the unsubscribe page."""

import csv
import io
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from test_subscriptions import CONSENT, FORM, NOW, confirm, link, mails_to, make_site, run, world  # noqa: E402,F401

SPRECHSTUNDE_EDITION = """---
title: Einladung zur OZG-Sprechstunde
description: Die Terminanfrage zur nächsten OZG-Sprechstunde.
number: 3
date: 2022-11-02
subject: "Einladung zur OZG-Sprechstunde"
preheader: Die nächste OZG-Sprechstunde, mit Agenda und Anmeldung.
list: sprechstunden
---

## Die nächste Sprechstunde

Wir laden Sie herzlich zur nächsten OZG-Sprechstunde ein.
"""


def sign_up_and_confirm(service, recorder, email, lists, mails_before=0):
    status, _, page = service.signup(email, lists=lists)
    assert status == 200, page[:500]
    mail = mails_to(recorder, email, mails_before + 1)[-1]
    status, _, page = confirm(service, link(mail, "/newsletter/bestaetigen"))
    assert status == 200, page[:500]
    return mail


def send(service, number):
    return run(service.site, "newsletter", "send", str(number), "--now", NOW, "--smtp",
               f"smtp://127.0.0.1:{service.smtp_port}", "--rate", "0").stdout


def editions_to(recorder, address, subject):
    with recorder.lock:
        return [m for rcpt, m in recorder.messages if rcpt == address and str(m["Subject"]) == subject]


def test_two_lists_confirm_send_to_one_and_unsubscribe_one_or_all(world):
    service, recorder = world()
    (service.site / "newsletters" / "3-einladung.md").write_text(SPRECHSTUNDE_EDITION)

    # No list ticked: the form again, 422, with the error summary.
    status, _, page = service.signup("niemand@example.org", lists=())
    assert status == 422 and "Bitte kreuzen Sie mindestens eine Liste an" in page
    assert 'class="error-summary"' in page and 'href="#newsletter-anmeldung-liste-newsletter"' in page

    # One link confirms both lists, each with its own consent record.
    mail = sign_up_and_confirm(service, recorder, "anna@example.org", ("newsletter", "sprechstunden"))
    assert "Sprechstunden" in " ".join(mail.get_content().split())
    anna = service.show("anna@example.org")
    assert anna["list.newsletter.status"] == "active" and anna["list.sprechstunden.status"] == "active"
    assert "OZG-Sprechstunden" in anna["list.sprechstunden.consent"]
    assert anna["list.sprechstunden.confirmed_at"] >= anna["list.sprechstunden.requested_at"]
    assert len(anna["list.sprechstunden.consent_version"]) == 16

    # A second sign-up adds a list only after its own confirmation.
    sign_up_and_confirm(service, recorder, "bert@example.org", ("newsletter",))
    status, _, _ = service.signup("bert@example.org", lists=("sprechstunden",))
    assert status == 200
    assert "list.sprechstunden.status" not in service.show("bert@example.org"), "not before the link"
    second = mails_to(recorder, "bert@example.org", 2)[-1]
    quoted = " ".join(second.get_content().split())
    assert "OZG-Sprechstunden" in quoted and CONSENT.split(".")[0] not in quoted, "only the list it confirms"
    confirm(service, link(second, "/newsletter/bestaetigen"))
    assert service.show("bert@example.org")["list.sprechstunden.status"] == "active"
    sign_up_and_confirm(service, recorder, "clara@example.org", ("newsletter",))
    assert run(service.site, "subscribers", "count", "--list", "sprechstunden").stdout.strip() == "2"
    assert run(service.site, "subscribers", "count", "--list", "newsletter").stdout.strip() == "3"

    # The Sprechstunden edition reaches its members only.
    assert "2 sent, 0 failed" in send(service, 3)
    subject = "Einladung zur OZG-Sprechstunde"
    assert len(editions_to(recorder, "anna@example.org", subject)) == 1
    assert len(editions_to(recorder, "bert@example.org", subject)) == 1
    assert editions_to(recorder, "clara@example.org", subject) == []

    # Its one-click link ends the Sprechstunden list only.
    [invitation] = editions_to(recorder, "anna@example.org", subject)
    header = str(invitation["List-Unsubscribe"])
    match = re.fullmatch(rf"<http://127\.0\.0\.1:{service.port}(/newsletter/abmelden\?token=[0-9a-f]{{32}}&list=sprechstunden)>", header)
    assert match, header
    status, _, _ = service.request("POST", match.group(1), "List-Unsubscribe=One-Click", FORM)
    assert status == 200
    anna = service.show("anna@example.org")
    assert anna["status"] == "active" and anna["list.newsletter.status"] == "active"
    assert anna["list.sprechstunden.status"] == "unsubscribed"
    assert anna["list.sprechstunden.unsubscribed_via"] == "one-click"

    # The newsletter goes to all three; Bert's page offers one list or all, and "all" ends both.
    assert "3 sent, 0 failed" in send(service, 2)
    token = re.search(r"token=([0-9a-f]{32})", str(editions_to(recorder, "bert@example.org", subject)[0]["List-Unsubscribe"])).group(1)
    status, _, page = service.request("GET", f"/newsletter/abmelden?token={token}&list=sprechstunden")
    assert status == 200 and "Nur „Einladungen zu den OZG-Sprechstunden“ abbestellen" in page
    assert "Alle Listen abbestellen" in page
    same = {"Origin": f"http://127.0.0.1:{service.port}", "Sec-Fetch-Site": "same-origin", **FORM}
    status, _, _ = service.request("POST", "/newsletter/abmelden", {"token": token, "scope": "alle"}, same)
    assert status == 200
    bert = service.show("bert@example.org")
    assert bert["status"] == "unsubscribed"
    assert bert["list.newsletter.status"] == bert["list.sprechstunden.status"] == "unsubscribed"
    assert bert["list.newsletter.unsubscribed_via"] == "link"

    # The CLI per list: remove --list ends one, the export names the lists received.
    run(service.site, "subscribers", "remove", "clara@example.org", "--list", "newsletter")
    assert service.show("clara@example.org")["status"] == "unsubscribed"
    listed = run(service.site, "subscribers", "list", "--list", "sprechstunden").stdout.splitlines()
    assert sorted(listed) == ["anna@example.org\tunsubscribed\t", "bert@example.org\tunsubscribed\t"]
    run(service.site, "subscribers", "export", str(service.site / "export.csv"))
    rows = list(csv.DictReader(io.StringIO((service.site / "export.csv").read_text(encoding="utf-8-sig")), delimiter=";"))
    lists = {row["email"]: row["lists"] for row in rows}
    assert lists == {"anna@example.org": "newsletter", "bert@example.org": "", "clara@example.org": ""}
    unknown = run(service.site, "subscribers", "count", "--list", "sprechstunde", check=False)
    assert unknown.returncode == 1 and "sprechstunden" in unknown.stderr


def test_an_edition_for_an_undeclared_list_is_an_error_at_its_line_with_did_you_mean(tmp_path):
    site = make_site(tmp_path, 8000)
    edition = site / "newsletters" / "2-ozg-sachsenanhaltspunkte.md"
    edition.write_text(edition.read_text().replace("number: 2\n", "number: 2\nlist: sprechstunde\n", 1))
    proc = run(site, "check", "--now", NOW, check=False)
    assert proc.returncode == 1
    assert "error: there is no list `sprechstunde` to send this edition to" in proc.stderr, proc.stderr
    assert "newsletters/2-ozg-sachsenanhaltspunkte.md:5:7" in proc.stderr
    assert "did you mean `sprechstunden`?" in proc.stderr
    assert run(site, "newsletter", "send", "2", "--now", NOW, "--dry-run", check=False).returncode == 1
