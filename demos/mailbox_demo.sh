#!/usr/bin/env bash
# Named workers driven from a shell with the colony command: a background
# broker, calls queued and awaited, KILL WORKER, `colony ps`, and a crash the
# broker recovers from. Each command is shown before it runs; the answers the
# story relies on are checked, and a wrong one ends the script with code 1.
#
#   demos/mailbox_demo.sh COLONY_BINARY NAMED_WORKER_EXECUTABLE
#
# NAMED_WORKER_EXECUTABLE is tests/colony_test_worker (run in mode "named": a
# counter with the methods add, get, pid, sleep and die).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 COLONY_BINARY NAMED_WORKER_EXECUTABLE" >&2
  exit 2
fi
colony=$1
worker=$2

# A name of our own: demos and tests may run side by side.
export COLONY_SESSION="mailbox-demo-$$"
broker_started=no

# Whatever happens, the broker goes, and with it the workers and the segments.
stop_broker() {
  if [ "$broker_started" = yes ] && "$colony" broker status --session "$COLONY_SESSION" >/dev/null 2>&1; then
    "$colony" broker stop --session "$COLONY_SESSION" >/dev/null 2>&1 || true
  fi
}
trap stop_broker EXIT

# Shows a command as a reader would type it: `colony`, not the binary's path;
# arguments with spaces in quotes.
show() {
  local line='$ colony' arg
  for arg in "$@"; do
    case $arg in
      *[[:space:]]* | '') line+=" '$arg'" ;;
      *) line+=" $arg" ;;
    esac
  done
  printf '%s\n' "$line"
}

# Runs a colony command after showing it; its output is printed and kept in $answer.
answer=""
run() {
  show "$@"
  answer=$("$colony" "$@")
  [ -z "$answer" ] || printf '%s\n' "$answer"
}

# Fails the demo when an answer is not what the story needs.
expect() {  # expect WHAT ACTUAL EXPECTED
  if [ "$2" != "$3" ]; then
    printf 'FAILED: %s: got "%s", expected "%s"\n' "$1" "$2" "$3"
    exit 1
  fi
}
expect_match() {  # expect_match WHAT TEXT PATTERN (grep -E)
  if ! grep -qE -- "$3" <<<"$2"; then
    printf 'FAILED: %s: no line matches "%s"\n' "$1" "$3"
    exit 1
  fi
}

echo "# a broker in the background, offering two named workers (no process runs yet)"
run broker start --session "$COLONY_SESSION" --worker "counter=$worker named" --worker "other=$worker named"
broker_started=yes
expect "broker start prints the session" "$answer" "$COLONY_SESSION"

echo
echo "# a queued call returns at once; the first call starts the worker"
run call counter add 5
echo "# calls are handled in order by one process, so its state persists: 5 + 7"
run call --wait counter add 7
expect "counter after add 5, add 7" "$answer" 12

echo
echo "# KILL WORKER: the process ends after its current call; the next call starts a new one"
run call --wait other pid
first_pid=$answer
run kill other
run call --wait other pid
second_pid=$answer
if [ "$first_pid" = "$second_pid" ]; then
  echo "FAILED: 'other' still runs as pid $first_pid after colony kill"
  exit 1
fi
run ps
expect_match "ps shows 'other' started twice, its last exit clean" "$answer" '^ +other +[0-9]+ running +2 code 0 '

echo
echo "# a crash: 'die' SIGKILLs the worker inside the call; the broker restarts it and"
echo "# delivers the call again, and after 3 deaths parks it in the dead-letter box"
run call counter die
echo "# the call behind it is answered by a new process: the old state died with the old one"
run call --wait counter get
expect "counter after the crash" "$answer" 0
run ps
expect_match "ps shows the restarts" "$answer" '^ +counter +[0-9]+ running +4 signal 9 '
expect_match "ps shows the crash report" "$answer" 'last crash .*killed by signal 9'
expect_match "ps shows the call in flight" "$answer" 'in flight: die \(attempt 3\)'
run deadletters list counter
expect_match "the dead-letter box holds the call" "$answer" 'die'

echo
run broker stop --session "$COLONY_SESSION"
broker_started=no
echo
echo "OK: answers as expected, broker stopped"
