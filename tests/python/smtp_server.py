"""A real SMTP server on 127.0.0.1 for the send tests (aiosmtpd), recording every accepted message
and able to misbehave the way mail providers do: temporary refusals (451), permanent ones (550),
dropped connections and slow answers; with or without SMTPUTF8 (RFC 6531)."""

import email
import email.policy
import random
import socket
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Recorder:
    def __init__(self, temp_fail=0.0, reject=(), drop_every=0, seed=1):
        self.messages = []          # (recipient, parsed message)
        self.mail_options = []      # (recipient, MAIL FROM parameters such as SMTPUTF8)
        self.raw = []               # the bytes as they arrived, for signature checks
        self.lock = threading.Lock()
        self.temp_fail = temp_fail
        self.reject = {r.lower() for r in reject}
        self.drop_every = drop_every
        self.random = random.Random(seed)
        self.datas = 0
        self.refused_temporarily = 0
        self.dropped = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 Mailbox unavailable: no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.datas += 1
            n = self.datas
            fail = self.random.random() < self.temp_fail
        if self.drop_every and n % self.drop_every == 0:
            # The connection breaks before the server answers: the message was not accepted.
            with self.lock:
                self.dropped += 1
            server.transport.abort()
            return "451 4.3.0 never seen"
        if fail:
            with self.lock:
                self.refused_temporarily += 1
            return "451 4.7.1 Try again later (throttled)"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.messages.append((rcpt.lower(), message))
                self.mail_options.append((rcpt.lower(), list(envelope.mail_options)))
                self.raw.append(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"

    def by_recipient(self):
        counts = {}
        with self.lock:
            for rcpt, _ in self.messages:
                counts[rcpt] = counts.get(rcpt, 0) + 1
        return counts


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == user.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False)

    return check


def start(recorder, auth=None, smtputf8=False):
    """Starts the server on a free loopback port; returns (controller, port). `smtputf8` makes it
    offer SMTPUTF8 (addresses with non-ASCII letters before the @)."""
    kwargs = {"enable_SMTPUTF8": smtputf8}
    if auth:
        kwargs |= {"authenticator": authenticator(*auth), "auth_require_tls": False, "auth_required": True}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller, port
