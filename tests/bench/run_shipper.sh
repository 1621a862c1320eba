#!/usr/bin/env bash
# Builds and runs the logq-shipper benchmark (tests/bench/shipper_main.cc) against the real
# logq-store: one 220 MB CRI file, 20 files at 10k lines/s with a mid-run rotation, and 1,000
# idle files. Prints one line per scenario (see docs/benchmarks.md for how to read them).
# Usage: tests/bench/run_shipper.sh [extra logq_bench_shipper flags, e.g. --big-mb 50]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD="${LOGQ_BUILD_DIR:-build}"
LOGQ_TARGETS="logq-store logq-shipper logq_bench_shipper" scripts/build.sh >/dev/null
DIR=$(mktemp -d /tmp/logq-bench-shipper.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB RAM; load $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD/tests/bench/logq_bench_shipper" --store "$BUILD/store/server/logq-store" \
  --shipper "$BUILD/shipper/logq-shipper" --dir "$DIR" "$@"
