"""An SMTP sink on 127.0.0.1 in a process of its own, for the load test (test_load.py): the load
generator needs its interpreter's time for the requests, so the parsing of thousands of mails
happens here.

    python mail_sink.py OUT.jsonl

prints `port N` on stdout once it listens, then appends one JSON line per accepted recipient:
`{"rcpt", "at", "subject", "edition", "confirm", "unsubscribe"}`. `at` is the Unix time of
arrival; `edition` is whether the mail carries `List-Unsubscribe-Post` (an edition of the
newsletter); `confirm` and `unsubscribe` are the tokens of the `bestaetigen?token=` and
`abmelden?token=` links in its text parts, quoted-printable and base64 decoded. Every line is
flushed before the server answers 250, so a mail the sender saw accepted is in the file.
SIGTERM or SIGINT stop it (exit 0).
"""

import email
import email.parser
import email.policy
import json
import re
import signal
import socket
import sys
import time

from aiosmtpd.controller import Controller

CONFIRM = re.compile(r"bestaetigen\?token=([0-9a-f]{32})")
UNSUBSCRIBE = re.compile(r"abmelden/?\?(?:token|t)=([0-9a-f]{32})")


def summarise(content):
    """What the load test needs to know about one message."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(content)
    record = {
        "subject": str(headers["Subject"] or ""),
        "edition": headers["List-Unsubscribe-Post"] is not None,
        "confirm": [],
        "unsubscribe": [],
    }
    if record["edition"]:
        # An edition's body is large and holds no confirmation link: the headers say enough.
        return record
    message = email.message_from_bytes(content, policy=email.policy.default)
    for part in message.walk():
        if part.get_content_maintype() != "text":
            continue
        text = part.get_content()
        for token in CONFIRM.findall(text):
            if token not in record["confirm"]:
                record["confirm"].append(token)
        for token in UNSUBSCRIBE.findall(text):
            if token not in record["unsubscribe"]:
                record["unsubscribe"].append(token)
    return record


class Sink:
    def __init__(self, out):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        try:
            record = summarise(envelope.content)
        except Exception as e:  # a message we cannot read is still recorded, and shows up
            record = {"subject": "", "edition": False, "confirm": [], "unsubscribe": [],
                      "unreadable": repr(e)}
        at = round(time.time(), 3)
        for rcpt in envelope.rcpt_tos:
            line = {"rcpt": rcpt.lower(), "at": at, **record}
            self.out.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.out.flush()
        return "250 Message accepted for delivery"


def main(path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with open(path, "a", encoding="utf-8") as out:
        controller = Controller(Sink(out), hostname="127.0.0.1", port=port)
        controller.start()
        print(f"port {port}", flush=True)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
        controller.stop()
    return 0


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    sys.exit(main(sys.argv[1]))
