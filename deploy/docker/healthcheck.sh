#!/usr/bin/env bash
# Container health check without curl: GET http://127.0.0.1:PORT/PATH, healthy on HTTP 200.
# Usage: logq-healthcheck PORT PATH   (exit 0 healthy, 1 unhealthy, 2 usage)
set -u
if [ $# -ne 2 ]; then
  echo "usage: logq-healthcheck PORT PATH" >&2
  exit 2
fi
port="$1"
path="$2"
exec 3<>"/dev/tcp/127.0.0.1/$port" || { echo "unhealthy: nothing listens on port $port" >&2; exit 1; }
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&3
IFS= read -r -t 4 status <&3 || { echo "unhealthy: no reply from port $port" >&2; exit 1; }
exec 3<&-
case "$status" in
  "HTTP/1."[01]" 200"*) exit 0 ;;
  *) echo "unhealthy: GET $path answered: ${status%$'\r'}" >&2; exit 1 ;;
esac
