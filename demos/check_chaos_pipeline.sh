#!/usr/bin/env bash
# The crash suite's chaos run (ctest crash.chaos_pipeline): the pipeline demo
# once calm, once while its stage processes are SIGKILLed. Passes only when
# kills landed and were restarted from, every block arrived whole, and the
# result checksum is the calm run's.
#   check_chaos_pipeline.sh PIPELINE_DEMO
set -euo pipefail
demo=$1
# Three stages in series, 10,000 blocks. The chaos run is paced at 2,000
# blocks/s, so that it lasts 5 s and a kill lands every 50 to 200 ms.
shape=(--stages 3 --messages 10000)

# One field of the demo's --json line.
field() { sed -E -n "s/.*\"$1\":\"?([^,\"}]*)\"?.*/\1/p" <<<"$2"; }

calm=$("$demo" "${shape[@]}" --json) || { echo "the calm run failed: $calm"; exit 1; }
echo "calm:  $calm"
chaos=$("$demo" "${shape[@]}" --rate 2000 --chaos --timeout 240 --json) || { echo "the chaos run failed: $chaos"; exit 1; }
echo "chaos: $chaos"

status=0
fail() { echo "FAILED: $*"; status=1; }
[ "$(field ok "$calm")" = true ] || fail "the calm run is not ok"
[ "$(field chaos "$calm")" = false ] || fail "the calm run was under chaos"
[ "$(field ok "$chaos")" = true ] || fail "the chaos run lost, corrupted or repeated blocks"
[ "$(field chaos "$chaos")" = true ] || fail "the chaos run was not under chaos"
[ "$(field kills "$chaos")" -ge 1 ] || fail "no stage process was killed"
[ "$(field restarts "$chaos")" -ge 1 ] || fail "no killed stage was restarted"
[ "$(field arrived "$chaos")" = 10000 ] || fail "not every block arrived under chaos"
calm_result=$(field result "$calm")
chaos_result=$(field result "$chaos")
[ -n "$calm_result" ] && [ "$calm_result" = "$chaos_result" ] ||
  fail "the result checksum under chaos ($chaos_result) is not the calm run's ($calm_result)"
[ "$status" -eq 0 ] && echo "chaos: $(field kills "$chaos") kills, same result checksum $chaos_result"
exit "$status"
