#!/usr/bin/env bash
# Configures and builds logq into build/ (or $LOGQ_BUILD_DIR). Extra args go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${LOGQ_BUILD_DIR:-build}"
scripts/deps.sh
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${LOGQ_BUILD_TYPE:-RelWithDebInfo}" "$@"
fi
cmake --build "$BUILD_DIR" -j"$(nproc)" ${LOGQ_TARGETS:+--target $LOGQ_TARGETS}
