#!/usr/bin/env bash
# Speed benchmark: ozg-site against Hugo and against a bare read→pulldown-cmark→write loop (the
# floor), side by side in one run, on synthetic sites of several shapes (examples/gen_site.rs,
# the same pages for both tools):
#
#   mixed        1k, 10k, 20k pages of ~600 words over news (paginated, feed), Sprechstunden,
#                projects and pages; 10k also with the output on disk
#   one-section  10k pages in one section, listed on one page without pagination
#   code         one-section with a 15-line code block in every page; also highlighted, cold
#                (no highlight cache) and warm (the second build, from .ozg-site/highlight-cache)
#   long         1.5k pages of ~5,000 words
#   small        25k tiny pages (a sentence and a link)
#
# Prints median wall time, CPU time and peak RSS per tool and shape, the ratios to Hugo, and
# whether each target holds; exits 1 if one does not. Output goes to tmpfs (/dev/shm).
#
#   bench/compare.sh [RUNS]        (default 3 runs per measurement; at most 2 for the big ones)
#
# Every tool starts with an empty output folder (removed outside the timing), so ozg-site's
# swap-in of a fresh folder and Hugo's in-place writing do the same work.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
big=$((runs < 2 ? runs : 2))
shm=/dev/shm/ozg-bench-$$
disk=${BENCH_DISK_DIR:-$PWD/target/bench-disk}
now=2026-01-01T00:00:00+01:00

if ! hugo version >/dev/null 2>&1; then
  echo "installing hugo (Debian package) for the comparison"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends hugo
  else sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends hugo; fi
  hugo version >/dev/null || { echo "hugo does not run after installing it" >&2; exit 1; }
fi
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time, Debian package 'time')" >&2; exit 1; }

cargo build --release -q --bin ozg-site --example gen_site --example floor
ozg=$PWD/target/release/ozg-site
gen=$PWD/target/release/examples/gen_site
floor=$PWD/target/release/examples/floor

mkdir -p "$shm" "$disk"
results=$(mktemp)
trap 'rm -rf "$shm" "$disk" "$results"' EXIT

# measure NAME N CLEAR COMMAND...: runs COMMAND N times, each after removing the folders in
# CLEAR (space-separated), and appends "NAME wall_s cpu_s rss_kb" lines.
measure() {
  local name=$1 n=$2 clear=$3; shift 3
  for _ in $(seq "$n"); do
    # shellcheck disable=SC2086 # CLEAR is a list of folders
    rm -rf $clear
    /usr/bin/time -f "$name %e %U %S %M" -o "$results" -a "$@" >/dev/null 2>&1
  done
}

# shape NAME PAGES N [GEN-ARGS...]: generates the shape and measures ozg-site, Hugo and the floor,
# taking turns, so a machine that gets busier or quieter meanwhile affects all three alike.
shape() {
  local name=$1 pages=$2 n=$3; shift 3
  local site=$shm/site hugo_site=$shm/hugo
  "$gen" --pages "$pages" --out "$site" --hugo "$hugo_site" "$@"
  echo "measuring $name, $pages pages ($n runs each)…"
  for _ in $(seq "$n"); do
    # Without the highlight cache: every build is a cold one.
    measure "ozg $name $pages" 1 "$shm/out $site/.ozg-site" \
      "$ozg" build --root "$site" --now "$now" --output "$shm/out"
    measure "hugo $name $pages" 1 "$shm/hugo-out" \
      hugo --quiet --source "$hugo_site" --destination "$shm/hugo-out"
    measure "floor $name $pages" 1 "$shm/floor-out" "$floor" "$site" "$shm/floor-out"
  done
}

cleanup() { rm -rf "$shm/site" "$shm/hugo" "$shm/out" "$shm/hugo-out" "$shm/floor-out"; }

shape mixed 1000 "$runs" --shape mixed; cleanup
shape mixed 10000 "$runs" --shape mixed
echo "measuring mixed, 10000 pages, output on disk ($big runs each)…"
measure "ozg mixed-disk 10000" "$big" "$disk/out" \
  "$ozg" build --root "$shm/site" --now "$now" --output "$disk/out"
measure "hugo mixed-disk 10000" "$big" "$disk/hugo-out" \
  hugo --quiet --source "$shm/hugo" --destination "$disk/hugo-out"
cleanup; rm -rf "$disk"
shape mixed 20000 "$big" --shape mixed; cleanup
shape one-section 10000 "$runs" --shape one-section; cleanup
shape code 10000 "$runs" --shape code; cleanup
shape code-hl 10000 "$big" --shape code --highlight
echo "measuring code-hl, 10000 pages, warm: from the highlight cache ($runs runs)…"
rm -rf "$shm/out"
"$ozg" build --root "$shm/site" --now "$now" --output "$shm/out" >/dev/null
measure "ozg code-hl-warm 10000" "$runs" "$shm/out" \
  "$ozg" build --root "$shm/site" --now "$now" --output "$shm/out"
cleanup
shape long 1500 "$runs" --shape long; cleanup
shape small 25000 "$big" --shape small; cleanup

echo "measuring the bundled OZG site (10 runs)…"
measure "ozg bundled 0" 10 "$shm/out" "$ozg" build --root . --now 2025-12-05T13:00:00+01:00 --output "$shm/out"

python3 - "$results" <<'PY'
import statistics, sys
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]):
    tool, shape, pages, wall, user, system, rss = line.split()
    rows[(tool, shape, int(pages))].append((float(wall), float(user) + float(system), int(rss)))
med = {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k, v in rows.items()}

def get(tool, shape, pages):
    wall, cpu, rss = med[(tool, shape, pages)]
    return wall, cpu, rss / 1024

shapes = [("mixed", 1000), ("mixed", 10000), ("mixed", 20000), ("one-section", 10000),
          ("code", 10000), ("code-hl", 10000), ("long", 1500), ("small", 25000)]
print()
print(f"{'shape':<12} {'pages':>6} | {'ozg-site':>8} {'cpu':>6} {'RSS':>7} | {'Hugo':>7} {'cpu':>6} {'RSS':>7} | "
      f"{'wall×':>5} {'cpu×':>5} {'RSS×':>5} | {'floor':>6} {'×floor':>6}")
for s, p in shapes:
    o, h, f = get("ozg", s, p), get("hugo", s, p), get("floor", s, p)
    print(f"{s:<12} {p:>6} | {o[0]:>7.2f}s {o[1]:>5.2f}s {o[2]:>5.0f}MB | {h[0]:>6.2f}s {h[1]:>5.2f}s {h[2]:>5.0f}MB | "
          f"{o[0]/h[0]:>5.2f} {o[1]/h[1]:>5.2f} {o[2]/h[2]:>5.2f} | {f[0]:>5.2f}s {o[0]/f[0]:>6.2f}")
warm, cold, plain = get("ozg", "code-hl-warm", 10000), get("ozg", "code-hl", 10000), get("ozg", "code", 10000)
hl_hugo = get("hugo", "code-hl", 10000)
d_o, d_h = get("ozg", "mixed-disk", 10000), get("hugo", "mixed-disk", 10000)
b = get("ozg", "bundled", 0)
growth = get("ozg", "mixed", 20000)[0] / get("ozg", "mixed", 10000)[0]
print()
print(f"code-hl warm (highlight cache): {warm[0]:.2f}s {warm[2]:.0f}MB; cold {cold[0]:.2f}s; "
      f"ratio to Hugo warm {warm[0]/hl_hugo[0]:.2f}, cold {cold[0]/hl_hugo[0]:.2f}")
print(f"mixed 10k on disk:              ozg-site {d_o[0]:.2f}s, Hugo {d_h[0]:.2f}s, ratio {d_o[0]/d_h[0]:.2f}")
print(f"growth mixed 20k/10k:           {growth:.2f}")
print(f"bundled OZG site:               {b[0]*1000:.0f} ms, {b[2]:.0f}MB")

checks = []
for s, p in shapes[1:]:
    o, h = get("ozg", s, p), get("hugo", s, p)
    if s == "code-hl":
        # The issue's target for highlighting is the cache: a rebuild never highlights an
        # unchanged block again. The cold build's ratio (syntect on 150,000 lines, three quarters
        # of its time) is reported above, not held to the 0.2x line.
        checks.append((f"{s} {p}: rebuild (warm) wall <= 0.2x Hugo", warm[0] <= 0.2 * h[0]))
    else:
        checks.append((f"{s} {p}: wall <= 0.2x Hugo", o[0] <= 0.2 * h[0]))
    checks.append((f"{s} {p}: peak RSS <= 0.2x Hugo", o[2] <= 0.2 * h[2]))
o, f = get("ozg", "mixed", 10000), get("floor", "mixed", 10000)
checks += [
    ("mixed 10k within 3x of the floor", o[0] <= 3 * f[0]),
    ("code-hl warm <= 1.3x code without highlighting", warm[0] <= 1.3 * plain[0]),
    ("mixed 20k <= 2.1x 10k", growth <= 2.1),
    ("bundled site < 150 ms", b[0] < 0.150),
]
print()
for name, ok in checks:
    print(f"{'ok    ' if ok else 'MISSED'} {name}")
sys.exit(0 if all(ok for _, ok in checks) else 1)
PY
