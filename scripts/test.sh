#!/usr/bin/env bash
# The whole test suite: installs missing Debian packages, configures, builds, runs ctest.
# Usage: scripts/test.sh [ctest args...]   (LOGQ_SANITIZE=1 builds with ASan/UBSan in build-asan/)
#
# With LOGQ_SANITIZE=1 every process (test binaries and the logq-store / logq-shipper / logq
# children the e2e tests start) writes its ASan/LSan reports to $LOGQ_SANITIZER_LOGS (default
# build-asan/sanitizer-logs/, emptied first): a child's report would otherwise land in its log
# inside a deleted temp directory, or be seen only as an unexpected exit code. The run fails if
# any report was written, even when ctest passed. UBSan reports ignore log_path (GCC 12's
# runtime); UBSan aborts the process (-fno-sanitize-recover), which fails its test, and the
# report is in that process's stderr. See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
timeout=600
if [ "${LOGQ_SANITIZE:-0}" = 1 ]; then
  export LOGQ_BUILD_DIR="${LOGQ_BUILD_DIR:-build-asan}"
  scripts/build.sh -DLOGQ_SANITIZE=ON
  logs="${LOGQ_SANITIZER_LOGS:-$(realpath -m "$LOGQ_BUILD_DIR")/sanitizer-logs}"
  rm -rf "$logs" && mkdir -p "$logs"
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:log_path=$logs/asan}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  timeout=900  # instrumented code runs 2-3x slower
else
  scripts/build.sh
fi
BUILD_DIR="${LOGQ_BUILD_DIR:-build}"
status=0
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" --timeout "$timeout" "$@" || status=$?
if [ "${LOGQ_SANITIZE:-0}" = 1 ]; then
  reports=$(find "$logs" -type f | sort)
  if [ -n "$reports" ]; then
    for f in $reports; do echo "=== $f"; head -60 "$f"; done
    echo "test: FAILED: $(echo "$reports" | wc -l) sanitizer report(s) in $logs (above)"
    [ "$status" -ne 0 ] || status=1
  else
    echo "test: no sanitizer reports"
  fi
fi
exit "$status"
