"""A private Postfix instance on a loopback port, for bounces made by a real mail server.

Its own config_directory, queue_directory and data_directory in a temporary folder, so it
touches nothing of the machine's Postfix. `example.test` is a local domain without users (every
recipient there bounces 5.1.1 after the message was accepted, as on the net), `soft.test` is
relayed to Postfix's own `smtp-sink` refusing every recipient for now (450), which Postfix, with
no queue lifetime, gives up at once as a soft bounce; `bounces.test` is a virtual mailbox domain whose addresses (with `+extension`, for VERP)
are delivered to one Maildir, where the DSNs land. Nothing leaves the machine.
Needs root (Postfix's master runs as root) and Debian's `postfix` package."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

MASTER_CF = Path("/etc/postfix/master.cf")


def available():
    return shutil.which("postfix") is not None and MASTER_CF.exists() and os.geteuid() == 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postfix:
    def __init__(self):
        # Not under pytest's tmp_path: its parents are 0700, and Postfix's daemons and the
        # virtual delivery agent (as nobody) must traverse the path.
        self.dir = Path(tempfile.mkdtemp(prefix="ozg-postfix-"))
        self.port = free_port()
        self.sink_port = free_port()
        self.maildir = self.dir / "mail" / "Maildir"
        d = self.dir
        for sub in ["etc", "spool", "data", "mail"]:
            (d / sub).mkdir()
        for p in [d, d / "etc", d / "mail"]:
            p.chmod(0o755)
        shutil.chown(d / "mail", 65534, 65534)
        shutil.chown(d / "data", "postfix")
        (d / "etc" / "main.cf").write_text(f"""compatibility_level = 3.6
config_directory = {d}/etc
queue_directory = {d}/spool
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.bounces.test
mydomain = bounces.test
myorigin = bounces.test
mydestination = example.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
local_recipient_maps =
alias_maps =
alias_database =
recipient_delimiter = +
relay_domains = soft.test
transport_maps = texthash:{d}/etc/transport
maximal_queue_lifetime = 0
bounce_queue_lifetime = 0
virtual_mailbox_domains = bounces.test
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = texthash:{d}/etc/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
default_transport = error:5.7.1 no mail leaves this test instance
smtputf8_enable = no
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
biff = no
""")
        (d / "etc" / "vmailbox").write_text(
            "bounce@bounces.test Maildir/\nteam@bounces.test Maildir/\nleser@bounces.test leser/Maildir/\n")
        (d / "etc" / "transport").write_text(f"soft.test smtp:[127.0.0.1]:{self.sink_port}\n")
        lines = []
        for line in MASTER_CF.read_text().splitlines():
            fields = line.split()
            if line[:1].isalpha() and len(fields) > 4:
                if fields[0] == "smtp" and fields[1] == "inet":
                    fields[0] = f"127.0.0.1:{self.port}"
                fields[4] = "n"  # no chroot: the instance's paths are outside any jail
                line = " ".join(fields)
            lines.append(line)
        (d / "etc" / "master.cf").write_text("\n".join(lines) + "\n")
        self.sink = subprocess.Popen(
            ["smtp-sink", "-u", "nobody", "-r", "rcpt", f"127.0.0.1:{self.sink_port}", "10"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.postfix("start")
            self._wait_listening(self.port)
            self._wait_listening(self.sink_port)
        except Exception:
            self.stop()
            raise

    def postfix(self, *args):
        proc = subprocess.run(["postfix", "-c", str(self.dir / "etc"), *args],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"postfix {' '.join(args)} failed: {proc.stderr}\n{self.log()}")

    def log(self):
        log = self.dir / "maillog"
        return log.read_text() if log.exists() else "(no maillog)"

    def _wait_listening(self, port):
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"nothing listens on {port}:\n{self.log()}")

    def wait_for_messages(self, count, timeout=30):
        """The files in the bounce Maildir's new/ once there are at least `count`."""
        new = self.maildir / "new"
        deadline = time.time() + timeout
        while time.time() < deadline:
            files = sorted(new.iterdir()) if new.is_dir() else []
            if len(files) >= count:
                return files
            time.sleep(0.2)
        raise AssertionError(f"expected {count} DSNs in {new}:\n{self.log()}")

    def stop(self):
        try:
            self.sink.terminate()
            self.sink.wait(timeout=10)
            if (self.dir / "data" / "master.lock").exists():
                self.postfix("stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
