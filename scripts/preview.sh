#!/usr/bin/env bash
# The main job: build the bundled OZG site and serve it on http://127.0.0.1:1111/.
# Until `ozg-site serve` exists (live reload, issue 5), Python's static server serves the output.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-1111}
cargo build --release
./target/release/ozg-site build --base-url "http://127.0.0.1:$port" "$@"
echo "Serving public/ on http://127.0.0.1:$port/ (Ctrl-C to stop)"
exec python3 -m http.server "$port" --bind 127.0.0.1 --directory public
