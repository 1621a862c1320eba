#!/usr/bin/env bash
# The main job: builds if needed, starts logq-store with its embedded default config on
# 127.0.0.1:3100 (data in ./logq-data), sends sample pod logs, and shows query results.
# On a terminal it then keeps serving until Ctrl-C; otherwise it stops after the demo.
# Usage: scripts/run.sh [--serve|--once] [--port N]
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=auto
PORT=3100
while [ $# -gt 0 ]; do
  case "$1" in
    --serve) MODE=serve ;;
    --once) MODE=once ;;
    --port) PORT="$2"; shift ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$MODE" = auto ] && { [ -t 0 ] && [ -t 1 ] && MODE=serve || MODE=once; }

LOGQ_TARGETS=logq-store scripts/build.sh >/dev/null
BIN="${LOGQ_BUILD_DIR:-build}/store/server/logq-store"
DATA=./logq-data
ADDR="http://127.0.0.1:$PORT"
mkdir -p "$DATA"

"$BIN" -server.http-listen-address=127.0.0.1 -server.http-listen-port="$PORT" -storage.path="$DATA" \
  >"$DATA/logq-store.log" 2>&1 &
STORE_PID=$!
cleanup() { kill -TERM "$STORE_PID" 2>/dev/null && wait "$STORE_PID" 2>/dev/null || true; }
trap cleanup EXIT

for _ in $(seq 1 200); do
  curl -sf "$ADDR/ready" >/dev/null 2>&1 && break
  kill -0 "$STORE_PID" 2>/dev/null || { echo "logq-store failed to start:"; cat "$DATA/logq-store.log"; exit 1; }
  sleep 0.1
done
curl -sf "$ADDR/ready" >/dev/null || { echo "logq-store did not become ready"; cat "$DATA/logq-store.log"; exit 1; }
echo "logq-store is ready at $ADDR (log: $DATA/logq-store.log)"

# Sample pod logs from testdata/pods (CRI format), re-stamped to now and pushed over the
# Loki push API exactly as an agent would.
scripts/push_sample.sh "$ADDR" testdata/pods

echo
echo "== labels:   GET /loki/api/v1/labels"
curl -s "$ADDR/loki/api/v1/labels"
echo
echo "== values:   GET /loki/api/v1/label/namespace/values"
curl -s "$ADDR/loki/api/v1/label/namespace/values"
echo
echo '== query:    {namespace="shop", container="checkout"} | json | level="error"'
curl -s -G "$ADDR/loki/api/v1/query_range" \
  --data-urlencode 'query={namespace="shop", container="checkout"} | json | level="error"' \
  --data-urlencode limit=5 | head -c 1500
echo
echo
echo '== metric:   sum by (namespace) (count_over_time({namespace=~".+"}[1h]))'
curl -s -G "$ADDR/loki/api/v1/query" \
  --data-urlencode 'query=sum by (namespace) (count_over_time({namespace=~".+"}[1h]))' | head -c 1500
echo

if [ "$MODE" = serve ]; then
  echo
  echo "logq-store keeps serving at $ADDR (point Grafana's Loki datasource or Promtail here). Ctrl-C stops it."
  wait "$STORE_PID"
fi
