#!/usr/bin/env bash
# Load figures for the README and issue notes: creates/s and create+reveal pairs/s with latency
# percentiles, 32 connections for 10 s each, against a release build on loopback.
#   benches/load.sh            (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release -p seecret-server --locked -q
DIR=$(mktemp -d)
PORT=${PORT:-18181}
SEECRET_RATE_LIMIT_PER_MINUTE=0 SEECRET_REVEAL_RATE_LIMIT_PER_MINUTE=0 SEECRET_LOG=warn \
  target/release/seecret serve --bind 127.0.0.1:$PORT --data-dir "$DIR" > "$DIR/out" 2> "$DIR/err" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do grep -qE '^[0-9a-f-]{36}$' "$DIR/out" 2>/dev/null && break; sleep 0.1; done
export TOKEN=$(grep -E '^[0-9a-f-]{36}$' "$DIR/out")
URL=http://127.0.0.1:$PORT
echo "== creates (POST /api.php create_seecret), 32 connections, 10 s"
wrk -t2 -c32 -d10s --latency -s benches/create.lua "$URL/api.php"
echo "== create + reveal pairs, 32 connections, 10 s (pairs/s = requests/s ÷ 2)"
wrk -t2 -c32 -d10s --latency -s benches/create-reveal.lua "$URL/api.php"
