#!/usr/bin/env bash
# The whole test suite, installing what it needs first (idempotent). CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

echo "== Rust: formatting, lints, unit and integration tests"
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --all-targets --locked

echo "== Rebuild timer script"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
OZG_SITE_BIN=./target/debug/ozg-site OZG_SITE_NOW=2025-12-05T13:00:00+01:00 \
  scripts/rebuild-timer.sh tests/fixtures/basic "$tmp" >/dev/null
grep -qx 'OnCalendar=2025-12-06 11:00:00 UTC' "$tmp/ozg-site-rebuild.timer" \
  || { echo "rebuild-timer.sh wrote an unexpected timer:"; cat "$tmp/ozg-site-rebuild.timer"; exit 1; }
echo "rebuild timer ok"
