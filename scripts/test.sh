#!/usr/bin/env bash
# Builds Colony and runs the whole test suite: a Debug build (preset `debug`,
# in build/debug), then an ASan+UBSan build of the whole suite (preset `asan`,
# in build/asan), then a TSan build of the in-process concurrency tests
# (preset `tsan`, label `threads`). Installs missing Debian packages first.
# Fails on the first build error or failing test.
#
#   scripts/test.sh [--no-asan]
#
# --no-asan skips the sanitizer passes for a quicker local run; it is ignored
# when CI=true: CI always runs every pass.
set -euo pipefail

usage() {
  echo "usage: scripts/test.sh [--no-asan]"
  echo "  builds and runs the test suite with the debug preset, then the asan preset (ASan+UBSan),"
  echo "  then the tsan preset (the in-process concurrency tests)"
  echo "  --no-asan   skip the sanitizer passes (ignored when CI=true)"
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
done

finished=1
if [ "$run_asan" -eq 1 ]; then
  echo "colony: all test passes succeeded (debug, asan, tsan)"
else
  echo "colony: all test passes succeeded (debug; asan and tsan skipped by --no-asan)"
fi
