#!/usr/bin/env bash
# Fails when this ctest run left a Colony segment in /dev/shm or a process
# running. ctest runs it last (the cleanup of fixture no_leftovers).
#
# What is this run's: ctest gives every test COLONY_TEST_RUN, an id new at
# each run, and COLONY_TEST_RUN_STARTED, when the run began (test_run.cmake).
# - Processes: every live process whose environment holds COLONY_TEST_RUN=<id>.
#   Whatever a test starts inherits it: test children, workers, plain stages
#   (sleep, tr, yes...), brokers in the background, the demos and theirs.
# - Segments: those of the sessions the suite names, which begin with
#   test<id>p (tests/support/test_session.hpp); and those of sessions whose
#   names the suite does not choose (random ones, the demos' own) that belong
#   to this user, were made since the run began, and that no live process
#   outside the run maps.
# Not counted: what another run marks with its own id (a suite running at the
# same time from another build tree), other users' processes and segments,
# live sessions of processes outside the run.
set -u

if [ -z "${COLONY_LEFTOVERS_OF:-}" ]; then
  if [ -z "${COLONY_TEST_RUN:-}" ] || [ -z "${COLONY_TEST_RUN_STARTED:-}" ]; then
    echo "check_no_leftovers.sh: COLONY_TEST_RUN is not set: run it through ctest" >&2
    exit 2
  fi
  # Look without the mark: this script and the commands it runs would carry it.
  exec env -u COLONY_TEST_RUN -u COLONY_TEST_RUN_STARTED COLONY_LEFTOVERS_OF="$COLONY_TEST_RUN" \
    COLONY_LEFTOVERS_SINCE="$COLONY_TEST_RUN_STARTED" bash "$0" "$@"
fi
run=$COLONY_LEFTOVERS_OF
since=$COLONY_LEFTOVERS_SINCE
me=$(id -u)

# Live (not zombie) processes of this run, one "pid command line" per line.
run_processes() {
  local file pid state
  for file in $(grep -lzx -- "COLONY_TEST_RUN=$run" /proc/[0-9]*/environ 2>/dev/null); do
    pid=${file#/proc/}
    pid=${pid%/environ}
    state=$(sed -E 's/^.*\) ([A-Z]).*$/\1/' "/proc/$pid/stat" 2>/dev/null) || continue
    [ -n "$state" ] && [ "$state" != Z ] || continue
    echo "$pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
  done
}

# True when a live process outside this run maps a segment of session $1.
used_outside_run() {
  local file pid
  for file in $(grep -lF -- "/dev/shm/colony.$1." /proc/[0-9]*/maps 2>/dev/null); do
    pid=${file#/proc/}
    pid=${pid%/maps}
    grep -qzx -- "COLONY_TEST_RUN=$run" "/proc/$pid/environ" 2>/dev/null || return 0
  done
  return 1
}

# Segments of this run, one name per line.
run_segments() {
  local entry name session
  local -A verdict=()
  for entry in /dev/shm/colony.*; do
    [ -e "$entry" ] || continue
    name=${entry#/dev/shm/}
    session=${name#colony.}
    session=${session%%.*}
    if [ -z "${verdict[$session]+set}" ]; then
      if [[ $session == "test${run}p"* ]]; then
        verdict[$session]=ours
      elif [[ $session =~ ^test[0-9a-z]{1,12}p[0-9]+n ]]; then
        verdict[$session]=another-run
      else
        verdict[$session]=unmarked
      fi
    fi
    if [ "${verdict[$session]}" = unmarked ]; then
      if used_outside_run "$session"; then verdict[$session]=used-outside; else verdict[$session]=unused; fi
    fi
    case ${verdict[$session]} in
      ours) echo "$name" ;;
      unused)
        [ "$(stat -c %u "$entry" 2>/dev/null)" = "$me" ] || continue
        [ "$(stat -c %Z "$entry" 2>/dev/null || echo 0)" -ge "$since" ] || continue
        echo "$name"
        ;;
    esac
  done
}

# Processes just killed and brokers removing their sessions take a moment:
# look again for up to 10 s before calling anything left behind.
for _ in $(seq 50); do
  procs=$(run_processes)
  segments=$(run_segments)
  [ -z "$procs" ] && [ -z "$segments" ] && break
  sleep 0.2
done

status=0
if [ -n "$segments" ]; then
  echo "leftover shared-memory segments:"
  echo "$segments" | sed 's/^/  /'
  status=1
fi
if [ -n "$procs" ]; then
  echo "leftover processes of this test run (COLONY_TEST_RUN=$run):"
  echo "$procs" | sed 's/^/  /'
  status=1
fi
[ "$status" -eq 0 ] && echo "no segment and no process of this test run (COLONY_TEST_RUN=$run) left behind"
exit "$status"
