#!/usr/bin/env bash
# The demo behind `make demo`: a 3-node podcache cluster on loopback with mTLS between the nodes
# (certificates made by scripts/gen-certs.sh), each node in front of its own copy of an app that
# plays a slow database (examples/slow-db/app.py, 200 ms per lookup), and a client
# (examples/python/demo_client.py) that shows key ownership, one load per key across the
# cluster, hot copies, and a node killed with kill -9. Everything it starts is stopped on exit.
# Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$ROOT/build/release}"
PODCACHE="$BUILD/sidecar/podcache"
CTL="$BUILD/sidecar/podcachectl"
WORK="$(mktemp -d /tmp/podcache-demo.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
port_free() { ! (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

say "certificates for the peers (mTLS): scripts/gen-certs.sh"
"$ROOT/scripts/gen-certs.sh" "$WORK/tls" node0 node1 node2

API=() HTTP=() PEER=() APP=() NODE_PIDS=()
for i in 0 1 2; do
  API+=("127.0.0.1:$((17070 + 10 * i))") HTTP+=("127.0.0.1:$((17072 + 10 * i))")
  PEER+=("127.0.0.1:$((17071 + 10 * i))") APP+=("$((18080 + i))")
done
for p in 17070 17071 17072 17080 17081 17082 17090 17091 17092 18080 18081 18082; do
  port_free "$p" || { echo "port $p is in use; stop what uses it and run again"; exit 1; }
done
PEERS="$(IFS=,; echo "${PEER[*]}")"

say "3 apps (slow databases, 200 ms per lookup) and 3 podcache sidecars, one per pretend pod"
for i in 0 1 2; do
  /usr/bin/python3 "$ROOT/examples/slow-db/app.py" --port "${APP[$i]}" --delay-ms 200 > "$WORK/app$i.log" &
  pids+=($!)
  "$PODCACHE" --api-listen "${API[$i]}" --http-listen "${HTTP[$i]}" \
    --peer-listen "${PEER[$i]}" --advertise "${PEER[$i]}" --peers "$PEERS" \
    --tls-cert "$WORK/tls/node$i.crt" --tls-key "$WORK/tls/node$i.key" --tls-ca "$WORK/tls/ca.crt" \
    --keyspace "users:max_bytes=64MiB,ttl=5m,loader=http://127.0.0.1:${APP[$i]}/cache/{keyspace}/{key}" \
    > "$WORK/node$i.log" &
  pids+=($!) NODE_PIDS+=($!)
done
for i in 0 1 2; do
  for _ in $(seq 100); do curl -fs "http://${HTTP[$i]}/readyz" > /dev/null 2>&1 && break; sleep 0.05; done
  curl -fs "http://${HTTP[$i]}/readyz" > /dev/null || { cat "$WORK/node$i.log"; exit 1; }
  echo "  node$i: app API ${API[$i]}, peers ${PEER[$i]} (mTLS), metrics http://${HTTP[$i]}/metrics"
done
echo "  node0's view of the ring (podcachectl ring):"
"$CTL" --http "${HTTP[0]}" ring | sed 's/^/    /'

say "the client"
PODCACHE_PYGEN="$BUILD/tests/pygen" /usr/bin/python3 "$ROOT/examples/python/demo_client.py" \
  --api "$(IFS=,; echo "${API[*]}")" --http "$(IFS=,; echo "${HTTP[*]}")" --peers "$PEERS" \
  --apps "$(IFS=,; echo "${APP[*]}")" --pids "$(IFS=,; echo "${NODE_PIDS[*]}")" --ctl "$CTL"
{ wait "${NODE_PIDS[2]}"; } 2>/dev/null || true  # killed by the client

say "node0's view: podcachectl stats users"
"$CTL" --addr "${API[0]}" stats users | grep -E 'gets=|loads=|peer_gets=|peer_errors=|local_fallback|hot_promotions'

say "stopping node0 and node1 (SIGTERM: not ready, drain, exit 0)"
for i in 0 1; do
  kill -TERM "${NODE_PIDS[$i]}"
  wait "${NODE_PIDS[$i]}" && echo "  node$i exited with status 0"
done
