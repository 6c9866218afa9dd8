#!/usr/bin/env bash
# Load figures: creates/s and create+reveal pairs/s with latency percentiles, 32 connections for
# 10 s each, against a release build on loopback.
#   benches/load.sh                                    SQLite, one instance
#   DATABASE_URL=postgres://postgres@127.0.0.1/db INSTANCES=2 benches/load.sh
#                                                      PostgreSQL, N instances sharing the load
# Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release -p seecret-server --locked -q
INSTANCES=${INSTANCES:-1}
DIR=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT
export SEECRET_RATE_LIMIT_PER_MINUTE=0 SEECRET_REVEAL_RATE_LIMIT_PER_MINUTE=0 SEECRET_LOG=warn
[ -n "${DATABASE_URL:-}" ] && export SEECRET_DATABASE_URL=$DATABASE_URL
URLS=()
for i in $(seq "$INSTANCES"); do
  PORT=$((18180 + i))
  target/release/seecret serve --bind 127.0.0.1:$PORT --data-dir "$DIR/data" > "$DIR/out$i" 2> "$DIR/err$i" &
  PIDS+=($!)
  URLS+=("http://127.0.0.1:$PORT")
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
done
TOKEN=$(cat "$DIR"/out* | grep -E '^[0-9a-f-]{36}$' | head -1)
[ -n "$TOKEN" ] || TOKEN=$(target/release/seecret account create --name "bench-$$" --data-dir "$DIR/data" | tail -1)
export TOKEN
CONN=$((32 / INSTANCES))
run() {  # script, title
  echo "== $2, $INSTANCES instance(s), 32 connections in all, 10 s"
  local wrks=()
  for u in "${URLS[@]}"; do
    wrk -t1 -c$CONN -d10s --latency -s "benches/$1" "$u/api.php" > "$DIR/wrk-$1-${u##*:}" &
    wrks+=($!)
  done
  wait "${wrks[@]}"
  for u in "${URLS[@]}"; do grep -E "Requests/sec|^ +50%|^ +99%" "$DIR/wrk-$1-${u##*:}" | sed "s/^/  ${u##*:} /"; done
}
run create.lua "creates (create_seecret through /api.php)"
run create-reveal.lua "create + reveal pairs (pairs/s = requests/s ÷ 2)"
