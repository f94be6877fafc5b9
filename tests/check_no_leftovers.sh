#!/usr/bin/env bash
# Fails when a test run left Colony test segments in /dev/shm or test children running.
#   check_no_leftovers.sh TEST_BINARY...
# Children are matched by this build's test binaries, so a suite running at the
# same time from another build tree does not count against this one.
set -u
status=0
left=$(ls /dev/shm 2>/dev/null | grep -E '^colony\.test[0-9]+n' || true)
if [ -n "$left" ]; then
  echo "leftover shared-memory segments:"; echo "$left" | sed 's/^/  /'
  status=1
fi
procs=""
for binary in "$@"; do
  procs+=$(pgrep -a -f -- "^$binary( |$)" || true)
done
if [ -n "$procs" ]; then
  echo "leftover child processes:"; echo "$procs" | sed 's/^/  /'
  status=1
fi
[ "$status" -eq 0 ] && echo "no segment and no child process left behind"
exit "$status"
