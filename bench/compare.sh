#!/usr/bin/env bash
# Speed benchmark: ozg-site against Hugo and against a bare read→pulldown-cmark→write loop (the
# floor), on synthetic sites of 1k, 10k and 20k pages, with and without code highlighting, output
# on tmpfs (/dev/shm) and, for reference, on disk. Prints median wall time, peak RSS, ratios, and
# whether each target of the speed issue holds; exits 1 if one does not.
#
#   bench/compare.sh [RUNS]        (default 5 runs per measurement)
#
# Every tool starts with an empty output folder (removed outside the timing), so ozg-site's
# swap-in of a fresh folder and Hugo's in-place writing do the same work.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shm=/dev/shm/ozg-bench
disk=${BENCH_DISK_DIR:-$PWD/target/bench-disk}
now=2026-01-01T00:00:00+01:00

if ! command -v hugo >/dev/null; then
  echo "installing hugo (Debian package) for the comparison"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends hugo
  else sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends hugo; fi
fi
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time, Debian package 'time')" >&2; exit 1; }

cargo build --release -q --bin ozg-site --example gen_site --example floor
ozg=$PWD/target/release/ozg-site
gen=$PWD/target/release/examples/gen_site
floor=$PWD/target/release/examples/floor

mkdir -p "$shm" "$disk"
results=$(mktemp)
trap 'rm -rf "$shm" "$results"' EXIT

# measure NAME DEST-TO-CLEAR COMMAND...: runs it $n times, appends "NAME wall_s rss_kb" lines.
measure() {
  local name=$1 dest=$2; shift 2
  for _ in $(seq "$n"); do
    rm -rf "$dest"
    /usr/bin/time -f "$name %e %M" -o "$results" -a "$@" >/dev/null 2>&1
  done
}

for pages in 1000 10000 20000; do
  n=$runs
  site=$shm/site-$pages; hugo_site=$shm/hugo-$pages
  "$gen" --pages "$pages" --out "$site" --hugo "$hugo_site"
  echo "measuring $pages pages ($n runs each)…"
  measure "ozg-$pages" "$shm/out" "$ozg" build --root "$site" --now "$now" --output "$shm/out"
  measure "hugo-$pages" "$shm/hugo-out" hugo --quiet --source "$hugo_site" --destination "$shm/hugo-out"
  measure "floor-$pages" "$shm/floor-out" "$floor" "$site" "$shm/floor-out"
  if [ "$pages" -eq 10000 ]; then
    measure "ozgdisk-$pages" "$disk/out" "$ozg" build --root "$site" --now "$now" --output "$disk/out"
    measure "hugodisk-$pages" "$disk/hugo-out" hugo --quiet --source "$hugo_site" --destination "$disk/hugo-out"
    "$gen" --pages "$pages" --out "$site-hl" --hugo "$hugo_site-hl" --highlight
    measure "ozghl-$pages" "$shm/out" "$ozg" build --root "$site-hl" --now "$now" --output "$shm/out"
    measure "hugohl-$pages" "$shm/hugo-out" hugo --quiet --source "$hugo_site-hl" --destination "$shm/hugo-out"
    rm -rf "$site-hl" "$hugo_site-hl"
  fi
  rm -rf "$site" "$hugo_site" "$shm/out" "$shm/hugo-out" "$shm/floor-out"
done
rm -rf "$disk"

n=10
echo "measuring the bundled OZG site ($n runs)…"
measure "bundled" "$shm/out" "$ozg" build --root . --now 2025-12-05T13:00:00+01:00 --output "$shm/out"

python3 - "$results" <<'PY'
import statistics, sys
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]):
    name, wall, rss = line.split()
    rows[name].append((float(wall), int(rss)))
med = {k: (statistics.median(w for w, _ in v), statistics.median(r for _, r in v) / 1024) for k, v in rows.items()}
print()
print(f"{'pages':>6} | {'ozg-site':>9} {'RSS':>8} | {'Hugo':>8} {'RSS':>8} | {'time ratio':>10} {'RSS ratio':>9} | {'floor':>6} {'ozg/floor':>9}")
for p in (1000, 10000, 20000):
    o, h, f = med[f"ozg-{p}"], med[f"hugo-{p}"], med[f"floor-{p}"]
    print(f"{p:>6} | {o[0]:>8.2f}s {o[1]:>6.0f}MB | {h[0]:>7.2f}s {h[1]:>6.0f}MB | {o[0]/h[0]:>10.2f} {o[1]/h[1]:>9.2f} | {f[0]:>5.2f}s {o[0]/f[0]:>9.2f}")
hl_o, hl_h = med["ozghl-10000"], med["hugohl-10000"]
d_o, d_h = med["ozgdisk-10000"], med["hugodisk-10000"]
b = med["bundled"]
print(f"10k with highlighting: ozg-site {hl_o[0]:.2f}s {hl_o[1]:.0f}MB, Hugo {hl_h[0]:.2f}s {hl_h[1]:.0f}MB, ratio {hl_o[0]/hl_h[0]:.2f}")
print(f"10k on disk:           ozg-site {d_o[0]:.2f}s, Hugo {d_h[0]:.2f}s, ratio {d_o[0]/d_h[0]:.2f}")
growth = med["ozg-20000"][0] / med["ozg-10000"][0]
print(f"growth 20k/10k:        {growth:.2f}")
print(f"bundled OZG site:      {b[0]*1000:.0f} ms, {b[1]:.0f}MB")
o, h, f = med["ozg-10000"], med["hugo-10000"], med["floor-10000"]
checks = [
    ("10k wall <= 0.25x Hugo", o[0] <= 0.25 * h[0]),
    ("10k peak RSS <= 0.25x Hugo", o[1] <= 0.25 * h[1]),
    ("10k within 3x of the floor", o[0] <= 3 * f[0]),
    ("10k highlighted <= 0.25x Hugo highlighted", hl_o[0] <= 0.25 * hl_h[0]),
    ("20k <= 2.1x 10k", growth <= 2.1),
    ("bundled site < 150 ms", b[0] < 0.150),
]
print()
for name, ok in checks:
    print(f"{'ok    ' if ok else 'MISSED'} {name}")
sys.exit(0 if all(ok for _, ok in checks) else 1)
PY
