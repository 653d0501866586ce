#!/usr/bin/env bash
# Preview benchmark: on the synthetic 10,000-page site, the time from saving one page to the
# reload event reaching the browser (median of 20 edits), next to the full build time.
#
#   bench/serve_edit.sh [PAGES]     (default 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
pages=${1:-10000}
now=2026-01-01T00:00:00+01:00
dir=/dev/shm/ozg-serve-bench
cargo build --release -q --bin ozg-site --example gen_site --example edit_latency
rm -rf "$dir"
./target/release/examples/gen_site --pages "$pages" --out "$dir/site"
full=$( { /usr/bin/time -f "%e" ./target/release/ozg-site build --root "$dir/site" --now "$now" --output "$dir/out" >/dev/null; } 2>&1 )
log=$(mktemp)
./target/release/ozg-site serve --root "$dir/site" --now "$now" --port 0 >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$dir" "$log"' EXIT
for _ in $(seq 100); do grep -q "http://" "$log" && break; sleep 0.2; done
addr=$(grep -o 'http://[0-9.:]*' "$log" | head -1 | sed 's|http://||')
[ -n "$addr" ] || { cat "$log"; echo "the server did not start" >&2; exit 1; }
echo "full build of $pages pages: ${full}s"
./target/release/examples/edit_latency "$addr" "$dir/site/content/aktuelles/seite-0.md" 20 "$full"
