#!/usr/bin/env bash
# The whole test suite, installing what it needs first (idempotent). CI runs exactly this.
#
#   Debian packages: chromium (browser tests), a Java runtime (the Nu HTML checker), openssl
#   (a DKIM test key), spamassassin (the spam score of the mails)
#   npm (package-lock.json): playwright-core, axe-core, vnu-jar, lighthouse with chrome-launcher
#   Python venv .venv (tests/python/requirements.txt): pytest, icalendar, feedparser, aiosmtpd
#   (the SMTP server the send tests talk to on 127.0.0.1), dkimpy
#
# Any failing step, or any tool that cannot be installed, stops the run with a non-zero exit code.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
export INSTA_UPDATE=no  # a new or changed snapshot fails the run instead of being written
# CI builds in a fresh clone, where incremental compilation only writes caches nobody reads again.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi

step() { printf '\n== %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

apt_updated=no
apt_install() {
  if [ "$apt_updated" = no ]; then
    as_root apt-get update -qq
    apt_updated=yes
  fi
  # Without --no-install-recommends Chromium's install can fail half-way on these machines.
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@"
}

step "Installing test tools (skipped where present)"
[ -x /usr/bin/chromium ] || apt_install chromium
command -v java >/dev/null || apt_install default-jre-headless
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
command -v openssl >/dev/null || apt_install openssl
# SpamAssassin judges the mails as a provider's filter would (tests/python/test_spam.py, local rules only).
command -v spamassassin >/dev/null || apt_install spamassassin
# Postfix makes the real DSNs of the bounce tests (a private instance on loopback, see
# tests/python/postfix_instance.py); 'Local only' keeps the package's own instance off the net.
if ! command -v postfix >/dev/null || ! command -v smtp-sink >/dev/null; then
  echo "postfix postfix/main_mailer_type select Local only" | as_root debconf-set-selections
  echo "postfix postfix/mailname string localhost" | as_root debconf-set-selections
  apt_install postfix
fi
[ -x /usr/bin/chromium ] || die "chromium is missing after installing it"
command -v java >/dev/null || die "java is missing after installing it"
command -v openssl >/dev/null || die "openssl is missing after installing it"
command -v spamassassin >/dev/null || die "spamassassin is missing after installing it"
command -v postfix >/dev/null || die "postfix is missing after installing it"
npm ci --no-audit --no-fund --loglevel=error
[ -f node_modules/vnu-jar/build/dist/vnu.jar ] || die "vnu.jar missing after npm ci"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv || die "python3 -m venv failed (install python3-venv)"
fi
.venv/bin/pip install -q --disable-pip-version-check -r tests/python/requirements.txt

step "Rust: formatting and lints"
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings

step "Rust: unit and integration tests"
cargo test --all-targets --locked
cargo build --locked  # the binary the Python and browser tests run

step "Formats read by real parsers; sending, the subscription service and its load test against a real SMTP server (pytest)"
.venv/bin/python -m pytest -q tests/python

step "Browser tests in Chromium: axe-core, advent dialog, newsletter sign-up, Nu HTML checker, reflow at 320 px and 400 % zoom, layout shift, menu button, screenshots"
# Node runs one file at a time on a 2-core machine by default (cores - 1); each file has its own
# site, server and Chromium on free ports, so two at a time are safe and the waits overlap.
node --test --test-concurrency=2 --test-reporter=spec tests/browser/

step "Lighthouse: at least 95 in every category (reports in tests/artifacts/lighthouse/)"
# After the browser tests and alone, so its performance runs do not share the CPU with them.
node bench/lighthouse.mjs

step "Rebuild timer script"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
OZG_SITE_BIN=./target/debug/ozg-site OZG_SITE_NOW=2025-12-05T13:00:00+01:00 \
  scripts/rebuild-timer.sh tests/fixtures/basic "$tmp" >/dev/null
grep -qx 'OnCalendar=2025-12-06 11:00:00 UTC' "$tmp/ozg-site-rebuild.timer" \
  || { cat "$tmp/ozg-site-rebuild.timer"; die "rebuild-timer.sh wrote an unexpected timer"; }
echo "rebuild timer ok"

step "All tests passed"
