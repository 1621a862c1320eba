#!/usr/bin/env bash
# The main job: builds if needed, starts logq-store with its embedded default config on
# 127.0.0.1:3100 (data in ./logq-data), starts logq-shipper on a copy of the sample pod log
# tree testdata/pods (re-stamped to now), waits until every line is stored, and shows query
# results.
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
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$MODE" = auto ] && { [ -t 0 ] && [ -t 1 ] && MODE=serve || MODE=once; }

LOGQ_TARGETS="logq-store logq-shipper logq" scripts/build.sh >/dev/null
BIN="${LOGQ_BUILD_DIR:-build}/store/server/logq-store"
SHIPPER_BIN="${LOGQ_BUILD_DIR:-build}/shipper/logq-shipper"
DATA=./logq-data
ADDR="http://127.0.0.1:$PORT"
mkdir -p "$DATA"

"$BIN" -server.http-listen-address=127.0.0.1 -server.http-listen-port="$PORT" -storage.path="$DATA" \
  >"$DATA/logq-store.log" 2>&1 &
STORE_PID=$!
SHIPPER_PID=""
cleanup() {
  [ -n "$SHIPPER_PID" ] && { kill -TERM "$SHIPPER_PID" 2>/dev/null && wait "$SHIPPER_PID" 2>/dev/null || true; }
  kill -TERM "$STORE_PID" 2>/dev/null && wait "$STORE_PID" 2>/dev/null || true
}
trap cleanup EXIT

for _ in $(seq 1 200); do
  curl -sf "$ADDR/ready" >/dev/null 2>&1 && break
  kill -0 "$STORE_PID" 2>/dev/null || { echo "logq-store failed to start:"; cat "$DATA/logq-store.log"; exit 1; }
  sleep 0.1
done
curl -sf "$ADDR/ready" >/dev/null || { echo "logq-store did not become ready"; cat "$DATA/logq-store.log"; exit 1; }
echo "logq-store is ready at $ADDR (log: $DATA/logq-store.log)"

# Sample pod logs: testdata/pods is a /var/log/pods tree (<ns>_<pod>_<uid>/<container>/0.log,
# CRI format). A copy re-stamped to the last minutes (so it passes the store's age limit) is
# what logq-shipper tails, exactly as it would tail a node's /var/log/pods.
PODS="$PWD/logq-data/pods"
rm -rf "$PODS" "$DATA/shipper-positions.yaml"
now=$(date +%s)
total=0
for f in testdata/pods/*/*/*.log; do
  rel="${f#testdata/pods/}"
  mkdir -p "$PODS/$(dirname "$rel")"
  n=$(wc -l <"$f")
  i=0
  while IFS= read -r line; do
    ts=$(date -u -d "@$((now - 60 + i))" +%Y-%m-%dT%H:%M:%S)
    printf '%s.%09dZ %s\n' "$ts" "$i" "${line#* }"
    i=$((i + 1))
  done <"$f" >"$PODS/$rel"
  total=$((total + n))
done

cat >"$DATA/shipper.yaml" <<YAML
server:
  http_listen_address: 127.0.0.1
  http_listen_port: 0
positions:
  filename: $DATA/shipper-positions.yaml
clients:
  - url: $ADDR/loki/api/v1/push
    batchwait: 200ms
shipper:
  pods_root: $PODS
  node_name: demo-node
YAML
"$SHIPPER_BIN" -config.file="$DATA/shipper.yaml" >"$DATA/logq-shipper.log" 2>&1 &
SHIPPER_PID=$!
echo "logq-shipper is tailing $PODS (log: $DATA/logq-shipper.log)"
stored=0
for _ in $(seq 1 100); do
  kill -0 "$SHIPPER_PID" 2>/dev/null || { echo "logq-shipper exited:"; cat "$DATA/logq-shipper.log"; exit 1; }
  stored=$(curl -s -G "$ADDR/loki/api/v1/query" --data-urlencode 'query=sum(count_over_time({node_name="demo-node"}[2m]))' |
    sed -n 's/.*"value":\[[^,]*,"\([0-9]*\)".*/\1/p')
  [ "${stored:-0}" -ge "$total" ] && break
  sleep 0.1
done
echo "shipped $stored of $total sample lines"
[ "${stored:-0}" -ge "$total" ] || { echo "logq-shipper did not deliver every line:"; cat "$DATA/logq-shipper.log"; exit 1; }

# The results, shown through the logq CLI (build/query/cli/logq; logcli's flags).
LOGQ="${LOGQ_BUILD_DIR:-build}/query/cli/logq"
export LOGQ_ADDR="$ADDR"
show() {  # prints the command as typed (the query quoted), then runs it
  local shown="" a
  for a in "$@"; do case "$a" in *[\ \{\"]*) shown+=" '$a'" ;; *) shown+=" $a" ;; esac; done
  echo; echo "\$ logq$shown"; "$LOGQ" "$@" || true
}
show -q labels
show -q labels namespace
show -q query --since=10m --limit=5 --exclude-label=filename '{namespace="shop", container="checkout"} | json | level="error"'
show -q instant-query -o table 'sum by (namespace) (count_over_time({namespace=~".+"}[1h]))'
echo

if [ "$MODE" = serve ]; then
  echo
  echo "logq-store keeps serving at $ADDR (point Grafana's Loki datasource or Promtail here);"
  echo "logq-shipper keeps tailing $PODS (append CRI lines to its files to see them arrive). Ctrl-C stops both."
  wait "$STORE_PID"
fi
