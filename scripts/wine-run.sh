#!/usr/bin/env bash
# Runs a Windows executable of the `windows` preset under Wine: the emulator
# CMake names (CMAKE_CROSSCOMPILING_EMULATOR), so ctest, the tests' discovery
# and the tests' own child processes all go through it.
#
#   scripts/wine-run.sh PROGRAM.exe [ARGS...]
#
# The Wine prefix is $WINEPREFIX, or build/windows/wine-prefix, made on first
# use (about 6 s) under a lock, so parallel tests share one. Wine's own
# diagnostics are off (WINEDEBUG=-all): what a test prints is the test's.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export WINEPREFIX="${WINEPREFIX:-$root/build/windows/wine-prefix}"
export WINEDEBUG="${WINEDEBUG:--all}"
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}"  # no Mono or Gecko installer prompts

# The prefix's wineserver is started here, outside ctest's mark of the run
# (COLONY_TEST_RUN, tests/test_run.cmake), and lives 30 s past its last
# client: a daemon of Wine's, not a process a test left behind, and one
# server for the whole run.
wineserver=/usr/lib/wine/wineserver64
[ -x "$wineserver" ] || wineserver=/usr/lib/wine/wineserver32
mkdir -p "$(dirname "$WINEPREFIX")"
(
  flock 9
  if [ ! -f "$WINEPREFIX/system.reg" ]; then
    env -u COLONY_TEST_RUN -u COLONY_TEST_RUN_STARTED wineboot --init >/dev/null 2>&1 9>&-
    wineserver --wait 9>&-
  fi
  # Debian's wineserver wrapper forces -p0 (exit with the last client), which
  # would make every test pay for Wine's start-up (seconds): the binary itself.
  # A second one for a prefix that has its server exits at once.
  # Not holding the lock's descriptor: the daemon would keep the lock for its
  # life. A new server starts Wine's own services with its first program:
  # that first program runs here, under the lock, since two programs racing
  # to be the first have been seen to stall each other for a minute.
  if env -u COLONY_TEST_RUN -u COLONY_TEST_RUN_STARTED "$wineserver" -p30 >/dev/null 2>&1 9>&-; then
    env -u COLONY_TEST_RUN -u COLONY_TEST_RUN_STARTED wine cmd.exe /c exit >/dev/null 2>&1 9>&- || true
  fi
) 9>"$WINEPREFIX.lock"
# Not exec: a test that ends badly says so, with its status, in what ctest
# keeps (one that failed before printing anything is otherwise silent). Only
# under ctest's run mark: the tests' discovery at build time lists them, and
# Catch2 then exits with their number.
status=0
wine "$@" || status=$?
if [ "$status" -ne 0 ] && [ -n "${COLONY_TEST_RUN:-}" ]; then
  echo "wine-run.sh: $1 ended with status $status" >&2
fi
exit "$status"
