#!/usr/bin/env bash
# The demo behind `make demo`: a podcache sidecar in front of an app that plays a slow database
# (examples/slow-db/app.py, 200 ms per lookup), and a client (examples/python/demo_client.py)
# that shows misses becoming hits, then 50 concurrent requests for one key costing a single
# database lookup.
# Everything it starts is stopped on exit. Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$ROOT/build/release}"
PODCACHE="$BUILD/sidecar/podcache"
CTL="$BUILD/sidecar/podcachectl"
WORK="$(mktemp -d /tmp/podcache-demo.XXXXXX)"
API=127.0.0.1:17070 HTTP=127.0.0.1:17072 APP_PORT=18080
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ctl() { "$CTL" --addr "$API" "$@"; }

say "starting the app (a slow database: 200 ms per lookup) on 127.0.0.1:$APP_PORT"
/usr/bin/python3 "$ROOT/examples/slow-db/app.py" --port "$APP_PORT" --delay-ms 200 > "$WORK/app.log" &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$WORK/app.log" 2>/dev/null && break; sleep 0.05; done
grep -q listening "$WORK/app.log" || { echo "the app did not start (port $APP_PORT in use?)"; exit 1; }

say "starting podcache: app API $API, metrics http://$HTTP/metrics"
"$PODCACHE" --api-listen "$API" --http-listen "$HTTP" \
  --keyspace "users:max_bytes=64MiB,ttl=5m,loader=http://127.0.0.1:$APP_PORT/cache/{keyspace}/{key}" \
  > "$WORK/podcache.log" &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://$HTTP/readyz" > /dev/null 2>&1 && break; sleep 0.05; done
curl -fs "http://$HTTP/readyz" > /dev/null || { cat "$WORK/podcache.log"; exit 1; }
head -1 "$WORK/podcache.log"

say "reads: a miss waits for the database once, then the key is served from memory"
PODCACHE_PYGEN="$BUILD/tests/pygen" /usr/bin/python3 "$ROOT/examples/python/demo_client.py" --addr "$API"
echo "  database lookups per key: $(curl -s "http://127.0.0.1:$APP_PORT/calls")"

say "the same from the shell: podcachectl -v get users user:1"
ctl -v get users user:1 2>&1; echo

say "podcachectl stats users"
ctl stats users | grep -E 'main|gets=|loads='

say "a few lines of /metrics"
curl -s "http://$HTTP/metrics" | grep -E '^podcache_(gets|loads|loads_deduped)_total|^podcache_loader_calls_total'

say "stopping (SIGTERM: not ready, drain, exit 0)"
kill -TERM "${pids[1]}"
wait "${pids[1]}" && echo "podcache exited with status 0"
pids=("${pids[0]}")
