#!/usr/bin/env bash
# Fails when a test run left Colony test segments in /dev/shm or test children running.
set -u
status=0
left=$(ls /dev/shm 2>/dev/null | grep -E '^colony\.test[0-9]+n' || true)
if [ -n "$left" ]; then
  echo "leftover shared-memory segments:"; echo "$left" | sed 's/^/  /'
  status=1
fi
procs=$(pgrep -a -f 'colony_[a-z_]*tests --child' || true)
if [ -n "$procs" ]; then
  echo "leftover child processes:"; echo "$procs" | sed 's/^/  /'
  status=1
fi
[ "$status" -eq 0 ] && echo "no segment and no child process left behind"
exit "$status"
