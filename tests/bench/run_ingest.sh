#!/usr/bin/env bash
# The ingest benchmark, as recorded in docs/benchmarks.md: builds the Release targets if
# needed, prints the machine, the generated data set, then runs logq_bench_ingest for
# protobuf+snappy and JSON, each with sync_writes off and on, and prints a summary table
# (medians over --repeat rounds; the four combinations are interleaved within each round
# so that noise from other processes spreads over all of them).
#
# Usage: tests/bench/run_ingest.sh [--lines N] [--repeat N] [--build-dir DIR] [--perf DIR]
#                                  [--replay] [--steady SECONDS [--rate MB_PER_S]]
#                                  [-- extra logq_bench_ingest flags]
#   --lines N      lines per run (default 1200000, ~226 MB raw)
#   --repeat N     rounds of the four combinations (default 1)
#   --build-dir D  build directory (default <repo>/build-bench; configured Release if new)
#   --perf DIR     additionally record a perf profile of the server (ingest and flush) for
#                  each combination in DIR (perf's own CPU use disturbs those runs, so
#                  their numbers are printed but left out of the summary)
#   --replay       also kill -9 the store after a protobuf ingest (no flush), restart it and
#                  time the write-ahead log replay (logq_bench_ingest --kill-restart)
#   --steady S     also push --lines at --rate MB/s (default 1) for S seconds, timestamps
#                  following the wall clock, with the data directory's size every 10 s
#                  (logq_bench_ingest --steady; S=600 is the 10-minute run in the docs)
# Environment: TMPDIR picks the file system the store writes to (default /tmp);
# LOGQ_BENCH_REVISION names the revision when the tree is not a git checkout.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LINES=1200000
REPEAT=1
BUILD_DIR="$ROOT/build-bench"
PERF_DIR=""
REPLAY=0
STEADY=0
RATE=1
EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --lines) LINES="$2"; shift 2 ;;
    --lines=*) LINES="${1#*=}"; shift ;;
    --repeat) REPEAT="$2"; shift 2 ;;
    --repeat=*) REPEAT="${1#*=}"; shift ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --build-dir=*) BUILD_DIR="${1#*=}"; shift ;;
    --perf) PERF_DIR="$2"; shift 2 ;;
    --perf=*) PERF_DIR="${1#*=}"; shift ;;
    --replay) REPLAY=1; shift ;;
    --steady) STEADY="$2"; shift 2 ;;
    --steady=*) STEADY="${1#*=}"; shift ;;
    --rate) RATE="$2"; shift 2 ;;
    --rate=*) RATE="${1#*=}"; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "run_ingest.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
ninja -C "$BUILD_DIR" logq-store logq_bench_ingest logq_bench_gen >/dev/null
BENCH="$BUILD_DIR/tests/bench/logq_bench_ingest"
GEN="$BUILD_DIR/tests/bench/logq_bench_gen"

echo "== machine"
echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "cpu:      $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
echo "memory:   $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "kernel:   $(uname -sr)"
echo "storage:  $(df -T "${TMPDIR:-/tmp}" | awk 'NR==2 {print $2 " on " $1}') (${TMPDIR:-/tmp})"
# LOGQ_BENCH_REVISION names the revision when the tree is not a git checkout (e.g. `git archive`).
rev="${LOGQ_BENCH_REVISION:-$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}"
if [[ -z "${LOGQ_BENCH_REVISION:-}" && -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  rev="$rev (with uncommitted changes)"
fi
echo "revision: $rev"
echo "build:    $(grep -m1 '^CMAKE_BUILD_TYPE:' "$BUILD_DIR/CMakeCache.txt" | cut -d= -f2) in $BUILD_DIR"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) before the runs"
echo
echo "== data set (logq_bench_gen --lines=$LINES)"
"$GEN" --lines="$LINES" | sed -n '1,6p'
echo

RESULTS="$(mktemp)"
trap 'rm -f "$RESULTS"' EXIT
failed=0
for ((round = 1; round <= REPEAT; round++)); do
  for format in protobuf json; do
    for sync in off on; do
      flags=(--format="$format" --lines="$LINES" --json)
      [[ "$sync" == on ]] && flags+=(--sync-writes)
      echo "== round $round/$REPEAT: $format, sync_writes=$sync"
      if ! out="$("$BENCH" "${flags[@]}" "${EXTRA[@]}" 2>&1)"; then failed=1; fi
      grep -v '^BENCH_JSON ' <<<"$out" | grep -v '^generating ' || true
      grep '^BENCH_JSON ' <<<"$out" | sed 's/^BENCH_JSON //' >>"$RESULTS" || true
      echo
    done
  done
done

if [[ "$REPLAY" == 1 ]]; then
  for format in protobuf json; do
    echo "== replay: $format, kill -9 after the ingest, restart (--kill-restart)"
    if ! out="$("$BENCH" --format="$format" --lines="$LINES" --kill-restart "${EXTRA[@]}" 2>&1)"; then
      failed=1
    fi
    grep -E '^(responses|stored|wall|server CPU|memory|replay|            WAL|flush|chunks|read back)' <<<"$out" || true
    echo
  done
fi

if [[ "$STEADY" != 0 ]]; then
  echo "== steady ingest: $RATE MB/s for $STEADY s (--steady)"
  steady_flags=(--steady="$STEADY" --rate="$RATE")
  # --lines only when given explicitly (the driver sizes the corpus from rate and duration).
  [[ "$LINES" != 1200000 ]] && steady_flags+=(--lines="$LINES")
  "$BENCH" "${steady_flags[@]}" "${EXTRA[@]}" 2>&1 | grep -v '^BENCH_JSON ' || failed=1
  echo
fi

if [[ -n "$PERF_DIR" ]]; then
  mkdir -p "$PERF_DIR"
  for format in protobuf json; do
    for sync in off on; do
      flags=(--format="$format" --lines="$LINES" --perf="$PERF_DIR/$format-sync-$sync")
      [[ "$sync" == on ]] && flags+=(--sync-writes)
      echo "== perf: $format, sync_writes=$sync -> $PERF_DIR/$format-sync-$sync.{ingest,flush}.data"
      "$BENCH" "${flags[@]}" "${EXTRA[@]}" 2>&1 | grep -E '^(wall|server CPU|flush) ' || failed=1
    done
  done
  echo "read with: perf report -i FILE --no-children --sort dso,symbol -g none"
  echo
fi

echo "== summary (median of $REPEAT round(s); MB = 10^6 B of raw line bytes)"
if command -v python3 >/dev/null; then
  python3 - "$RESULTS" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cols = [
    ("wall MB/s", lambda r: r["wall_mb_s"], "{:.1f}"),
    ("lines/s", lambda r: r["lines_per_s"], "{:,.0f}"),
    ("server CPU s", lambda r: r["server_cpu_ingest"]["user_s"] + r["server_cpu_ingest"]["system_s"], "{:.2f}"),
    ("MB/server CPU-s", lambda r: r["mb_per_server_cpu_s"], "{:.1f}"),
    ("MB/CPU-s incl. cut", lambda r: r["mb_per_server_cpu_s_with_flush"], "{:.1f}"),
    ("p50 ms", lambda r: r["latency_ms"]["p50"], "{:.0f}"),
    ("p99 ms", lambda r: r["latency_ms"]["p99"], "{:.0f}"),
    ("VmHWM ingest MB", lambda r: r["vmhwm_ingest_bytes"] / 1e6, "{:.0f}"),
    ("VmHWM +cut MB", lambda r: r["vmhwm_flush_bytes"] / 1e6, "{:.0f}"),
    ("du/raw after cut", lambda r: r["du_ratio_after_flush"], "{:.3f}"),
    ("du/raw after ingest", lambda r: r["files_after_ingest"]["allocated"] / r["raw_bytes"], "{:.3f}"),
    ("disk/raw at rest", lambda r: r["files_at_rest"]["apparent"] / r["raw_bytes"], "{:.3f}"),
    ("chunks/raw", lambda r: r["chunk_encoded_bytes"] / max(r["chunk_raw_bytes"], 1), "{:.3f}"),
    ("flush s", lambda r: r["flush_s"], "{:.1f}"),
    ("cut CPU s", lambda r: r["server_cpu_cut"]["user_s"] + r["server_cpu_cut"]["system_s"], "{:.2f}"),
    ("other procs cores", lambda r: r["other_processes_cores_ingest"], "{:.2f}"),
    ("non-204", lambda r: r["responses_other"], "{:.0f}"),
]
print("| format | sync_writes | " + " | ".join(c[0] for c in cols) + " |")
print("|---|---|" + "---|" * len(cols))
for fmt in ("protobuf", "json"):
    for sync in (False, True):
        sel = [r for r in runs if r["format"] == fmt and r["sync_writes"] == sync]
        if not sel:
            continue
        name = "protobuf+snappy" if fmt == "protobuf" else "json"
        cells = [c[2].format(statistics.median(c[1](r) for r in sel)) for c in cols]
        print(f"| {name} | {'on' if sync else 'off'} | " + " | ".join(cells) + " |")
print(f"\n{len(runs)} runs; raw {runs[0]['raw_bytes']/1e6:.1f} MB, {runs[0]['lines']} lines, "
      f"{runs[0]['requests']} requests, {runs[0]['concurrency']} connections" if runs else "no results")
EOF
else
  echo "(python3 not found; raw results:)"
  cat "$RESULTS"
fi
exit "$failed"
