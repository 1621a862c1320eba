#!/usr/bin/env bash
# The whole test suite: installs missing Debian packages, configures, builds, runs ctest.
# Usage: scripts/test.sh [ctest args...]   (LOGQ_SANITIZE=1 builds with ASan/UBSan in build-asan/)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${LOGQ_SANITIZE:-0}" = 1 ]; then
  export LOGQ_BUILD_DIR="${LOGQ_BUILD_DIR:-build-asan}"
  scripts/build.sh -DLOGQ_SANITIZE=ON
else
  scripts/build.sh
fi
BUILD_DIR="${LOGQ_BUILD_DIR:-build}"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" --timeout 600 "$@"
