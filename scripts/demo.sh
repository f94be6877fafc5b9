#!/usr/bin/env bash
# Builds Colony (Release, preset `release`, in build/release) and runs the main
# demo: a pipeline of supervised worker processes under chaos. A thread
# SIGKILLs a random stage process every 50 to 200 ms; supervision restarts it,
# nothing queued is lost, and the result checksum is the same as without
# chaos. Then the smaller demos: two processes over one shm ring, a broker
# with three workers, and a pipeline file mixing Colony workers and `tr`.
# Installs missing Debian packages first. Arguments go to the main demo
# (e.g. scripts/demo.sh --messages 1000000 --transformers 8).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

echo "==> installing missing build dependencies (scripts/install-deps.sh)"
bash "$root/scripts/install-deps.sh"

echo "==> configuring the Release build in build/release (cmake --preset release)"
cmake --preset release

targets=(colony colony_demo_pipeline colony_demo_shm colony_demo_greeter colony_demo_words)
echo "==> building the demos (cmake --build --preset release --target ${targets[*]})"
cmake --build --preset release -j"$(nproc)" --target "${targets[@]}"

demos="$root/build/release/demos"
echo "==> the main demo: build/release/demos/colony_demo_pipeline --chaos $*"
"$demos/colony_demo_pipeline" --chaos "$@"
echo "==> the same pipeline without chaos: the same result checksum"
"$demos/colony_demo_pipeline" "$@"
echo "==> two processes, one ring: build/release/demos/colony_demo_shm"
"$demos/colony_demo_shm"
echo "==> a broker and three worker processes: build/release/demos/colony_demo_greeter"
"$demos/colony_demo_greeter"
echo "==> a pipeline file: build/release/cli/colony run --pipeline build/release/demos/words.toml"
"$root/build/release/cli/colony" run --pipeline "$demos/words.toml"
echo "colony: demo succeeded"
