#!/usr/bin/env bash
# libFuzzer targets (tests/fuzz/, docs/fuzzing.md): builds them with clang into build-fuzz/,
# replays the committed seed corpora (testdata/fuzz/<target>/) and fuzzes each target for a
# bounded time.
#
# Usage: scripts/fuzz.sh [ci|replay|run|repro|build] [target...]
#   ci      (default) build, replay every corpus, fuzz each target LOGQ_FUZZ_SECONDS (20 s)
#   replay  build, run every committed seed once (no fuzzing)
#   run     build, fuzz the targets LOGQ_FUZZ_SECONDS each, keeping what they find in
#           build-fuzz/corpus/<target>/ (reused by later runs; copy good inputs to testdata/)
#   repro   build, run the known crash reproducers testdata/fuzz/<target>/crashes/* and say
#           which still crash (they are not part of the replayed corpus)
#   build   only build
# Targets: push logql template json logfmt decode config positions (default: all).
# Environment: LOGQ_FUZZ_SECONDS, LOGQ_FUZZ_BUILD_DIR (build-fuzz), LOGQ_FUZZ_JOBS (1:
# libFuzzer -fork workers per target), CXX/CC (clang++-14/clang-14 when present).
# Exit status: 0 when nothing crashed (or clang is missing: the stage is then skipped with a
# message), 1 when a target crashed, leaked, timed out or ran out of memory (the input is in
# build-fuzz/artifacts/<target>/). In `ci` mode only a committed seed that fails is fatal; a
# crash found by the bounded random search is printed as a NEW FINDING with its input.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_TARGETS=(push logql template json logfmt decode config positions walrec)
mode="${1:-ci}"
case "$mode" in
  ci|replay|run|repro|build) shift || true ;;
  *) mode=ci ;;
esac
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")

BUILD_DIR="${LOGQ_FUZZ_BUILD_DIR:-build-fuzz}"
SECONDS_PER_TARGET="${LOGQ_FUZZ_SECONDS:-20}"
JOBS="${LOGQ_FUZZ_JOBS:-1}"

# Longest input per target: enough for every grammar construct, small enough that one input
# runs in milliseconds.
max_len() {
  case "$1" in
    push) echo 65536 ;;
    json|config) echo 8192 ;;
    template) echo 2048 ;;
    *) echo 4096 ;;
  esac
}

find_clang() {
  local cxx="${CXX:-}" cc="${CC:-}"
  if [ -z "$cxx" ]; then
    for c in clang++-14 clang++; do command -v "$c" >/dev/null && { cxx="$c"; break; }; done
  fi
  if [ -z "$cc" ]; then
    for c in clang-14 clang; do command -v "$c" >/dev/null && { cc="$c"; break; }; done
  fi
  if [ -z "$cxx" ] || [ -z "$cc" ] || ! "$cxx" --version 2>/dev/null | grep -qi clang; then
    return 1
  fi
  # libFuzzer's runtime comes with libclang-rt-14-dev.
  if ! echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long){return 0;}' |
      "$cxx" -x c++ -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
    return 1
  fi
  FUZZ_CXX="$cxx"
  FUZZ_CC="$cc"
}

if ! find_clang; then
  echo "fuzz: SKIPPED: no clang with libFuzzer found (need clang-14 and libclang-rt-14-dev;" \
       "scripts/deps.sh installs them)"
  exit 0
fi

start=$(date +%s)
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  CC="$FUZZ_CC" CXX="$FUZZ_CXX" cmake -S . -B "$BUILD_DIR" -G Ninja -DLOGQ_FUZZ=ON \
    -DLOGQ_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
build_targets=()
for t in "${targets[@]}"; do build_targets+=("fuzz_$t"); done
echo "fuzz: building ${build_targets[*]} with $FUZZ_CXX in $BUILD_DIR"
if ! cmake --build "$BUILD_DIR" -j"$(nproc)" --target "${build_targets[@]}" >"$BUILD_DIR/fuzz-build.log" 2>&1; then
  tail -50 "$BUILD_DIR/fuzz-build.log"
  echo "fuzz: FAILED: build (log: $BUILD_DIR/fuzz-build.log)"
  exit 1
fi
echo "fuzz: built in $(( $(date +%s) - start )) s"
[ "$mode" = build ] && exit 0

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
COMMON_FLAGS=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -print_final_stats=1)

seeds_of() {  # the committed seeds of target $1 (not its crashes/ subdirectory)
  find "testdata/fuzz/$1" -maxdepth 1 -type f | sort
}

failed=()
found=()
for t in "${targets[@]}"; do
  bin="$BUILD_DIR/tests/fuzz/fuzz_$t"
  log_dir="$BUILD_DIR/logs"
  artifacts="$BUILD_DIR/artifacts/$t/"
  mkdir -p "$log_dir" "$artifacts"
  flags=("${COMMON_FLAGS[@]}" -max_len="$(max_len "$t")" -artifact_prefix="$artifacts")
  t0=$(date +%s)

  if [ "$mode" = repro ]; then
    shopt -s nullglob
    for f in testdata/fuzz/"$t"/crashes/*; do
      if "$bin" "${flags[@]}" -runs=1 "$f" >"$log_dir/$t-repro.log" 2>&1; then
        echo "fuzz: $t: $f: no longer crashes"
      else
        echo "fuzz: $t: $f: still crashes: $(grep -m1 -E 'ERROR|SUMMARY|violated|runtime error' \
          "$log_dir/$t-repro.log" || echo 'see log')"
      fi
    done
    shopt -u nullglob
    continue
  fi

  if [ "$mode" = ci ] || [ "$mode" = replay ]; then
    mapfile -t seeds < <(seeds_of "$t")
    if ! "$bin" "${flags[@]}" -runs=1 "${seeds[@]}" >"$log_dir/$t-replay.log" 2>&1; then
      tail -40 "$log_dir/$t-replay.log"
      echo "fuzz: $t: FAILED replaying its ${#seeds[@]} seeds (log: $log_dir/$t-replay.log)"
      failed+=("$t")
      continue
    fi
    replayed="replayed ${#seeds[@]} seeds"
    if [ "$mode" = replay ]; then
      echo "fuzz: $t: $replayed: ok"
      continue
    fi
  else
    replayed="seeded"
  fi

  # Fuzz in a scratch corpus (seeds + whatever earlier runs found), never in testdata/.
  corpus="$BUILD_DIR/corpus/$t"
  mkdir -p "$corpus"
  seeds_of "$t" | xargs -r cp -t "$corpus"
  fork=()
  [ "$JOBS" -gt 1 ] && fork=(-fork="$JOBS" -ignore_crashes=0)
  if ! "$bin" "${flags[@]}" "${fork[@]}" -max_total_time="$SECONDS_PER_TARGET" "$corpus" \
      >"$log_dir/$t-fuzz.log" 2>&1; then
    grep -v -E '^#[0-9]+' "$log_dir/$t-fuzz.log" | tail -60
    if [ "$mode" = ci ]; then
      # A random 20 s search is not repeatable: in CI a new finding is reported loudly with its
      # input, and only a failing committed seed fails the run (docs/fuzzing.md).
      echo "fuzz: $t: NEW FINDING after $(( $(date +%s) - t0 )) s; input in $artifacts (log: $log_dir/$t-fuzz.log)"
      found+=("$t")
    else
      echo "fuzz: $t: FAILED after $(( $(date +%s) - t0 )) s; input in $artifacts (log: $log_dir/$t-fuzz.log)"
      failed+=("$t")
    fi
    continue
  fi
  runs=$(grep -o -E 'Done [0-9]+ runs' "$log_dir/$t-fuzz.log" | tail -1 | grep -o -E '[0-9]+' || true)
  [ -n "$runs" ] || runs=$(grep -o -E 'stat::number_of_executed_units: [0-9]+' "$log_dir/$t-fuzz.log" |
                           awk '{s+=$2} END {print s+0}')
  cov=$(grep -o -E 'cov: [0-9]+' "$log_dir/$t-fuzz.log" | tail -1 || true)
  echo "fuzz: $t: $replayed, fuzzed ${SECONDS_PER_TARGET} s: ${runs:-?} runs, ${cov:-cov: ?}," \
       "corpus $(find "$corpus" -type f | wc -l) inputs: ok"
done

echo "fuzz: total $(( $(date +%s) - start )) s"
if [ ${#found[@]} -gt 0 ]; then
  echo "fuzz: NEW FINDINGS in ${found[*]}: copy each input into testdata/fuzz/<target>/crashes/," \
       "fix it, then move it to the seeds (not failing this run: see docs/fuzzing.md)"
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: all targets ok"
