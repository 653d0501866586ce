"""Reference for bench/send.sh: Python smtplib sending COUNT pre-rendered messages over one connection.

    python3 bench/smtplib_send.py PORT COUNT MESSAGE.eml   → prints messages per second
"""
import smtplib, sys, time
from pathlib import Path
port, count, eml = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]).read_bytes()
# Pre-rendered: one message per recipient, differing in the To line and the token, built before timing.
messages = [eml.replace(b"vorschau@example.org", f"leser{i}@example.org".encode()) for i in range(count)]
start = time.perf_counter()
with smtplib.SMTP("127.0.0.1", port) as s:
    for i, m in enumerate(messages):
        s.sendmail("ozg@sachsen-anhalt.de", [f"leser{i}@example.org"], m)
elapsed = time.perf_counter() - start
print(f"{count / elapsed:.0f}")
