#!/usr/bin/env bash
# Builds Colony and runs the whole test suite: a Debug build (preset `debug`,
# in build/debug), then a Release build of the whole tree (preset `release`,
# in build/release: built, not run: it is what users get, and the compiler
# finds other things at -O3), then the Windows build (preset `windows`, in
# build/windows: cross-compiled with MinGW-w64, its tests run under Wine
# through scripts/wine-run.sh; so far the shm layer and its tests, as the
# port goes up the layers), then an ASan+UBSan build of the whole suite (preset `asan`,
# in build/asan), then a TSan build of the in-process concurrency tests
# (preset `tsan`, label `threads`), then the fuzz pass: the libFuzzer targets
# of tests/fuzz built with clang, ASan and UBSan (preset `fuzz`), each run for
# COLONY_FUZZ_SECONDS seconds (default 10, two targets at a time) from its corpus in
# tests/fuzz/corpus/TARGET. Installs missing Debian packages first. Fails on
# the first build error, failing test, or fuzzer crash, leak or sanitizer
# report (the input that did it is kept in build/fuzz/fuzz-runs/TARGET/).
#
#   scripts/test.sh [--no-asan]
#
# --no-asan skips the sanitizer passes (asan, tsan and the fuzz pass, which is
# a sanitizer build too) for a quicker local run; it is ignored when CI=true:
# CI always runs every pass.
set -euo pipefail

usage() {
  echo "usage: scripts/test.sh [--no-asan]"
  echo "  builds and runs the test suite with the debug preset, builds the release preset, builds the windows preset"
  echo "  (MinGW-w64) and runs its tests under Wine, then the asan preset (ASan+UBSan),"
  echo "  then the tsan preset (the in-process concurrency tests), then the fuzz preset (each fuzz target"
  echo "  for \$COLONY_FUZZ_SECONDS seconds, default 10)"
  echo "  --no-asan   skip the sanitizer passes: asan, tsan and fuzz (ignored when CI=true)"
}

run_asan=1
for arg in "$@"; do
  case "$arg" in
    --no-asan) run_asan=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "test.sh: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done
if [ "${CI:-}" = "true" ] && [ "$run_asan" -eq 0 ]; then
  echo "test.sh: CI=true: ignoring --no-asan, the sanitizer passes always run in CI"
  run_asan=1
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

passes=(debug)
if [ "$run_asan" -eq 1 ]; then passes+=(asan tsan); fi

current="dependencies"
finished=0
report() {
  local status=$?
  if [ "$finished" -ne 1 ]; then
    echo "colony: test run FAILED during the $current step (exit status $status)" >&2
  fi
}
trap report EXIT

echo "==> installing missing build dependencies (scripts/install-deps.sh)"
bash "$root/scripts/install-deps.sh"

# UBSan reports with a stack (the build already stops at the first report).
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

for preset in "${passes[@]}"; do
  current="$preset configure"
  echo "==> [$preset] configuring (cmake --preset $preset, build/$preset)"
  cmake --preset "$preset"
  current="$preset build"
  echo "==> [$preset] building"
  cmake --build --preset "$preset" -j2
  current="$preset tests"
  echo "==> [$preset] running the test suite"
  ctest --preset "$preset" --output-on-failure --no-tests=error -j2
  echo "==> [$preset] all tests passed"
  if [ "$preset" = "debug" ]; then
    current="release build"
    echo "==> [release] configuring and building the whole tree (cmake --preset release, build/release)"
    cmake --preset release
    cmake --build --preset release -j2
    echo "==> [release] built"
    current="windows configure"
    echo "==> [windows] configuring (cmake --preset windows, build/windows: MinGW-w64, tests under Wine)"
    cmake --preset windows
    current="windows build"
    echo "==> [windows] building"
    cmake --build --preset windows -j2
    current="windows tests"
    echo "==> [windows] running the test suite under Wine"
    ctest --preset windows --output-on-failure --no-tests=error -j2
    echo "==> [windows] all tests passed"
  fi
done

# Runs one fuzz target for fuzz_seconds from a scratch copy of its corpus
# (new inputs stay in build/, the repository's corpus is only read). libFuzzer
# exits non-zero on a crash, a leak, a timeout or a sanitizer report.
fuzz_seconds="${COLONY_FUZZ_SECONDS:-10}"
run_fuzzer() {
  local target=$1
  local binary="$root/build/fuzz/tests/fuzz/colony_fuzz_$target"
  local work="$root/build/fuzz/fuzz-runs/$target"
  rm -rf "$work"
  mkdir -p "$work/corpus"
  local status=0
  "$binary" -max_total_time="$fuzz_seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
    -close_fd_mask=1 -artifact_prefix="$work/" "$work/corpus" "$root/tests/fuzz/corpus/$target" \
    >"$work/log" 2>&1 &
  local pid=$!
  wait "$pid" || status=$?
  # A target removes the segments it makes; one that crashed mid-input may
  # have left its session's (named fz<tag><pid>): remove them, and count a
  # leftover after a clean run as a failure.
  local left
  left=$(find /dev/shm -maxdepth 1 -name "colony.fz*${pid}.*" 2>/dev/null | grep -E "/colony\.fz[a-z]+${pid}\." || true)
  if [ -n "$left" ]; then
    echo "$left" | xargs rm -f
    if [ "$status" -eq 0 ]; then
      echo "fuzz: $target left segments in /dev/shm:" >&2
      echo "$left" >&2
      status=1
    fi
  fi
  local runs
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/log" | grep -o '[0-9]*$' || echo "?")
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $target FAILED (exit status $status) after $runs inputs; its log ends:" >&2
    tail -n 60 "$work/log" >&2
    ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null | sed 's/^/fuzz: reproducer: /' >&2 || true
    return 1
  fi
  echo "fuzz: $target: $runs inputs in ${fuzz_seconds} s, no crash, leak or sanitizer report"
}

if [ "$run_asan" -eq 1 ]; then
  current="fuzz configure"
  echo "==> [fuzz] configuring (cmake --preset fuzz, build/fuzz, clang++ with ASan+UBSan and libFuzzer)"
  cmake --preset fuzz
  current="fuzz build"
  echo "==> [fuzz] building the fuzz targets"
  cmake --build --preset fuzz -j2
  echo "==> [fuzz] running each fuzz target for ${fuzz_seconds} s, two at a time"
  current="fuzz targets"
  targets=(ring_reader typed_decoder value_binary value_json session_control crash_log properties
           pipeline_file cli_arguments)
  failed=()
  for ((i = 0; i < ${#targets[@]}; i += 2)); do
    pair=("${targets[@]:i:2}")
    pids=()
    for target in "${pair[@]}"; do
      run_fuzzer "$target" &
      pids+=($!)
    done
    for k in "${!pids[@]}"; do
      wait "${pids[$k]}" || failed+=("${pair[$k]}")
    done
  done
  if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz: failed: ${failed[*]}" >&2
    exit 1
  fi
  echo "==> [fuzz] no fuzz target found a problem"
fi

finished=1
if [ "$run_asan" -eq 1 ]; then
  echo "colony: all test passes succeeded (debug, release build, windows under Wine, asan, tsan, fuzz)"
else
  echo "colony: all test passes succeeded (debug, release build, windows under Wine; asan, tsan and fuzz skipped by --no-asan)"
fi
