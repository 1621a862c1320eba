#!/usr/bin/env bash
# The query benchmark, as recorded in docs/benchmarks.md: builds the Release targets if
# needed, prints the machine, runs logq_chunk_decode_floor (the physical floor: the same
# corpus in the store's chunk format, decoded without the store, alone and with each
# full-scan query's pipeline) and logq_bench_query (the store: ingest, flush, every query
# --repeat times, metadata endpoints at 100 and 10k streams), then prints a summary table
# with the targets, Loki 2.7.5's times and the ratios to the floor.
#
# The store is measured in two states: right after POST /flush (the cut's delete tombstones
# still in the head column family, as on a store that cuts while it ingests), and after a
# graceful restart (memtables flushed, head tombstones compacted away on open: at rest).
# Then a third time without the flush (--heads): every line in the ingester's in-memory
# heads, the state of the most recent data (queries only).
#
# Usage: tests/bench/run_query.sh [--lines N] [--repeat N] [--build-dir DIR] [--perf DIR]
#                                 [-- extra logq_bench_query flags]
#   --lines N      corpus lines (default 1200000, ~226 MB raw)
#   --repeat N     timed runs per query and per floor measurement (default 5)
#   --build-dir D  build directory (default <repo>/build-bench; configured Release if new)
#   --perf DIR     afterwards, run the queries once more with perf recording the server,
#                  one profile per query in DIR (perf disturbs those runs: their numbers
#                  are left out of the summary)
# Environment: TMPDIR picks the file system the store writes to (default /tmp);
# LOGQ_BENCH_REVISION names the revision when the tree is not a git checkout.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LINES=1200000
REPEAT=5
BUILD_DIR="$ROOT/build-bench"
PERF_DIR=""
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
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "run_query.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
ninja -C "$BUILD_DIR" logq-store logq_bench_query logq_chunk_decode_floor >/dev/null
BENCH="$BUILD_DIR/tests/bench/logq_bench_query"
FLOOR="$BUILD_DIR/tests/bench/logq_chunk_decode_floor"

echo "== machine"
echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "cpu:      $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
echo "memory:   $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "kernel:   $(uname -sr)"
echo "storage:  $(df -T "${TMPDIR:-/tmp}" | awk 'NR==2 {print $2 " on " $1}') (${TMPDIR:-/tmp})"
rev="${LOGQ_BENCH_REVISION:-$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}"
if [[ -z "${LOGQ_BENCH_REVISION:-}" && -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  rev="$rev (with uncommitted changes)"
fi
echo "revision: $rev"
echo "build:    $(grep -m1 '^CMAKE_BUILD_TYPE:' "$BUILD_DIR/CMakeCache.txt" | cut -d= -f2) in $BUILD_DIR"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) before the runs"
echo

RESULTS="$(mktemp)"
trap 'rm -f "$RESULTS"' EXIT
failed=0

# The full-scan queries, as the store benchmark sends them, for the floor + pipeline rows.
floor_flags=(--lines="$LINES" --repeat="$REPEAT" --json)
while IFS=$'\t' read -r name full_scan query; do
  [[ "$full_scan" == 1 ]] && floor_flags+=(--query="$query")
done < <("$BENCH" --list-queries "${EXTRA[@]}")

echo "== decode floor (logq_chunk_decode_floor)"
if ! out="$("$FLOOR" "${floor_flags[@]}" 2>&1)"; then failed=1; fi
grep -v '^BENCH_JSON ' <<<"$out" | grep -v '^generating ' || true
grep '^BENCH_JSON ' <<<"$out" | sed 's/^BENCH_JSON //' >>"$RESULTS" || true
echo

echo "== store right after POST /flush (logq_bench_query)"
if ! out="$("$BENCH" --lines="$LINES" --repeat="$REPEAT" --json "${EXTRA[@]}" 2>&1)"; then failed=1; fi
grep -v '^BENCH_JSON ' <<<"$out" || true
grep '^BENCH_JSON ' <<<"$out" | sed 's/^BENCH_JSON //' >>"$RESULTS" || true
echo

echo "== store after a graceful restart (logq_bench_query --restart; queries only)"
names="$("$BENCH" --list-queries "${EXTRA[@]}" | cut -f1 | paste -sd, -)"
if ! out="$("$BENCH" --lines="$LINES" --repeat="$REPEAT" --json --restart --only="$names" \
            "${EXTRA[@]}" 2>&1)"; then failed=1; fi
grep -v '^BENCH_JSON ' <<<"$out" | grep -vE '^(query |generating )' || true
grep '^BENCH_JSON ' <<<"$out" | sed 's/^BENCH_JSON //' >>"$RESULTS" || true
echo

echo "== store without a flush: every line in the heads (logq_bench_query --heads; queries only)"
if ! out="$("$BENCH" --lines="$LINES" --repeat="$REPEAT" --json --heads --only="$names" \
            "${EXTRA[@]}" 2>&1)"; then failed=1; fi
grep -v '^BENCH_JSON ' <<<"$out" | grep -vE '^(query |generating )' || true
grep '^BENCH_JSON ' <<<"$out" | sed 's/^BENCH_JSON //' >>"$RESULTS" || true
echo

if [[ -n "$PERF_DIR" ]]; then
  mkdir -p "$PERF_DIR"
  echo "== perf: one profile per query -> $PERF_DIR/query.<name>.data"
  "$BENCH" --lines="$LINES" --repeat="$REPEAT" --big-streams=0 --perf="$PERF_DIR/query" \
    "${EXTRA[@]}" 2>&1 | grep -vE '^(BENCH_JSON|query |metadata|generating)' || failed=1
  echo "read with: perf report -i FILE --no-children --sort dso,symbol -g none"
  echo
fi

echo "== summary (GB = 10^9 raw line bytes; times in seconds unless noted)"
if command -v python3 >/dev/null; then
  python3 - "$RESULTS" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
floor = {}
for r in rows:
    if r["bench"] == "decode_floor":
        floor[(r["mode"], r["query"], r["threads"])] = r
queries = [r for r in rows if r["bench"] == "query" and r["store_state"] == "after_flush"]
rest = {r["name"]: r for r in rows if r["bench"] == "query" and r["store_state"] == "restarted"}
heads = {r["name"]: r for r in rows if r["bench"] == "query" and r["store_state"] == "heads"}
meta = [r for r in rows if r["bench"] == "metadata"]
def f(x, p=3):
    return "-" if x is None else f"{x:.{p}f}"
d1, d2 = floor.get(("decode", "", 1)), floor.get(("decode", "", 2))
z2 = floor.get(("zstd", "", 2))
if d1 and d2:
    print(f"decode floor: {d1['raw_bytes']/1e9:.3f} GB in {d1['chunks']} chunks; 1 thread "
          f"{d1['gb_per_s_median']:.2f} GB/s, 2 threads {d2['gb_per_s_median']:.2f} GB/s "
          f"({d2['gb_per_cpu_s']:.2f} GB per CPU-second)"
          + (f"; zstd alone, 2 threads {z2['gb_per_s_median']:.2f} GB/s" if z2 else "") + "\n")
print("| query | target | Loki 2.7.5 s | after flush: median s | GB/s | server CPU s | verdict "
      "| restarted: median s | GB/s | verdict | decode floor s (2 thr) | floor+pipeline s (2 thr) "
      "| ×floor+pipeline (flush / restarted) | first s | other procs cores "
      "| heads: median s | GB/s | server CPU s | verdict |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for q in queries:
    if q.get("error"):
        print(f"| {q['name']} | ERROR: {q['error']} |" + " |" * 17)
        continue
    med = q["wall_s"]["median"]
    sel = q["selected_raw_bytes"]
    # The decode floor for the same bytes: the whole-corpus decode time scaled by the share.
    fl = d2["wall_s"]["median"] * sel / d2["raw_bytes"] if d2 and q["full_scan"] else None
    fp = floor.get(("pipeline", q["query"], 2))
    fpt = fp["wall_s"]["median"] if fp else None
    r = rest.get(q["name"])
    rmed = r["wall_s"]["median"] if r and not r.get("error") else None
    h = heads.get(q["name"])
    hmed = h["wall_s"]["median"] if h and not h.get("error") else None
    gb = lambda x: x["gb_per_s_median"] if x and x["full_scan"] else None
    print(f"| {q['name']} | {q['target'] or '-'} | {f(q['loki_2_7_5_s'] or None, 1)} | {med:.3f} | "
          f"{f(gb(q), 2)} | {q['server_cpu_s']['median']:.2f} | {q['verdict']} | {f(rmed)} | "
          f"{f(gb(r) if rmed else None, 2)} | {r['verdict'] if rmed else '-'} | {f(fl)} | {f(fpt)} | "
          f"{f(med/fpt if fpt else None, 1)} / {f(rmed/fpt if fpt and rmed else None, 1)} | "
          f"{q['wall_s']['first']:.3f} | {q['other_processes_cores_median']:.2f} | "
          f"{f(hmed)} | {f(gb(h) if hmed else None, 2)} | "
          f"{f(h['server_cpu_s']['median'] if hmed else None, 2)} | {h['verdict'] if hmed else '-'} |")
if meta:
    print("\n| endpoint | streams | p50 ms | p99 ms | max ms | server CPU ms/request | reply bytes | other procs cores |")
    print("|---|---|---|---|---|---|---|---|")
    for m in meta:
        if m.get("error"):
            print(f"| {m['endpoint']} | {m['streams']} | ERROR: {m['error']} | | | | | |")
            continue
        l = m["latency_ms"]
        print(f"| {m['endpoint']} | {m['streams']:,} | {l['p50']:.2f} | {l['p99']:.2f} | {l['max']:.2f} | "
              f"{f(m['server_cpu_ms_per_request'], 2)} | {m['reply_bytes']:,} | {f(m['other_processes_cores'], 2)} |")
EOF
else
  echo "(python3 not found; raw results:)"
  cat "$RESULTS"
fi
exit "$failed"
