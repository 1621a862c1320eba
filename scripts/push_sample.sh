#!/usr/bin/env bash
# Pushes the CRI log files of a /var/log/pods-shaped tree to a Loki push endpoint as JSON,
# re-stamping entries to the last few minutes so they pass the store's age limits.
# Usage: scripts/push_sample.sh ADDR PODS_DIR
set -euo pipefail
ADDR="$1"
ROOT="$2"
now=$(date +%s%N)
total=0
for f in "$ROOT"/*/*/*.log; do
  rel="${f#"$ROOT"/}"
  poddir="${rel%%/*}"
  container="$(basename "$(dirname "$f")")"
  IFS=_ read -r ns pod uid <<<"$poddir"
  n=$(wc -l <"$f")
  i=0
  out_values=""
  err_values=""
  while IFS= read -r line; do
    # CRI: <RFC3339Nano> <stream> <P|F> <message>
    stream="${line#* }"; stream="${stream%% *}"
    msg="${line#* * * }"
    ts=$((now - (n - i) * 1000000000))
    esc=$(printf '%s' "$msg" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g')
    if [ "$stream" = stderr ]; then
      err_values+="${err_values:+,}[\"$ts\",\"$esc\"]"
    else
      out_values+="${out_values:+,}[\"$ts\",\"$esc\"]"
    fi
    i=$((i + 1))
  done <"$f"
  labels="\"namespace\":\"$ns\",\"pod\":\"$pod\",\"container\":\"$container\",\"filename\":\"/var/log/pods/$rel\""
  streams=""
  [ -n "$out_values" ] && streams+="{\"stream\":{$labels,\"stream\":\"stdout\"},\"values\":[$out_values]}"
  [ -n "$err_values" ] && streams+="${streams:+,}{\"stream\":{$labels,\"stream\":\"stderr\"},\"values\":[$err_values]}"
  body="{\"streams\":[$streams]}"
  code=$(curl -s -o /tmp/logq-push.$$ -w '%{http_code}' -H 'Content-Type: application/json' -X POST \
    --data-binary "$body" "$ADDR/loki/api/v1/push")
  if [ "$code" != 204 ]; then echo "push of $rel failed: HTTP $code: $(cat /tmp/logq-push.$$)"; exit 1; fi
  total=$((total + i))
done
rm -f /tmp/logq-push.$$
echo "pushed $total sample lines from $ROOT"
