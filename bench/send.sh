#!/usr/bin/env bash
# Newsletter sending benchmark: 10,000 personalised messages to Postfix's smtp-sink on loopback,
# with the send journal on (every recipient's state committed to SQLite), next to two references
# measured in the same run against the same sink: Python smtplib pushing 10,000 pre-rendered
# messages over one connection, and Postfix's C client smtp-source.
#
#   bench/send.sh [COUNT] [CONNECTIONS]      (defaults 10000 and 4)
#
# Targets: faster than smtplib, and at least half of smtp-source's rate.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10000}
connections=${2:-4}
now=2025-12-05T13:00:00+01:00

if ! command -v smtp-sink >/dev/null || ! command -v smtp-source >/dev/null; then
  export PATH="$PATH:/usr/sbin"
fi
if ! command -v smtp-sink >/dev/null; then
  echo "installing postfix for smtp-sink and smtp-source"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postfix >/dev/null
  export PATH="$PATH:/usr/sbin"
fi

cargo build --release -q --bin ozg-site
bin=./target/release/ozg-site
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_user=(); [ "$(id -u)" -eq 0 ] && as_user=(-u nobody)
smtp-sink "${as_user[@]}" "127.0.0.1:$port" 256 &
sink=$!
trap 'kill $sink 2>/dev/null; rm -rf "$work"' EXIT
sleep 0.5

python3 -c "
print('email;name')
for i in range($count): print(f'leser{i}@example.org;Leserin {i}')" >"$work/subscribers.csv"
"$bin" newsletter build 2 --now "$now" --out "$work/mail" >/dev/null
size=$(stat -c %s "$work/mail/2/message.eml")

rate_of() { python3 -c "print(f'{$count / $1:.0f}')"; }
seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); python3 -c "print($e - $s)"; }

run_ours() {
  rm -f "$work"/db.sqlite*
  "$bin" subscribers import "$work/subscribers.csv" --db "$work/db.sqlite" >/dev/null
  seconds "$bin" newsletter send 2 --now "$now" --db "$work/db.sqlite" --smtp "smtp://127.0.0.1:$port" \
    --rate 0 --connections "$1"
  local sent
  sent=$("$bin" newsletter status 2 --db "$work/db.sqlite" | grep -o '^Edition 2: [0-9]* sent' | grep -o '[0-9]* sent')
  [ "$sent" = "$count sent" ] || { echo "the journal says $sent, expected $count" >&2; exit 1; }
}

ours=$(rate_of "$(run_ours "$connections")")
ours1=$(rate_of "$(run_ours 1)")
smtplib=$(python3 bench/smtplib_send.py "$port" "$count" "$work/mail/2/message.eml")
source_rate=$(rate_of "$(seconds smtp-source -d -s "$connections" -m "$count" -l "$size" \
  -f ozg@sachsen-anhalt.de -t leser@example.org "127.0.0.1:$port")")

echo "messages of $size bytes, $count recipients, smtp-sink on loopback"
printf '%-48s %6s msg/s\n' "ozg-site newsletter send, $connections connections, journal on" "$ours"
printf '%-48s %6s msg/s\n' "ozg-site newsletter send, 1 connection" "$ours1"
printf '%-48s %6s msg/s\n' "Python smtplib, 1 connection, pre-rendered" "$smtplib"
printf '%-48s %6s msg/s\n' "Postfix smtp-source, $connections sessions" "$source_rate"
python3 - "$ours" "$smtplib" "$source_rate" <<'PY'
import sys
ours, smtplib, source = map(float, sys.argv[1:])
print(f"vs smtplib: {ours / smtplib:.1f}x (target > 1x); vs smtp-source: {ours / source:.0%} (target >= 50%)")
PY
