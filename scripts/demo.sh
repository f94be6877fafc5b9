#!/usr/bin/env bash
# Builds Colony (Release, preset `release`, in build/release) and runs the main
# demo: two processes passing 100,000 typed messages through a shared-memory
# ring. Installs missing Debian packages first. Arguments go to the demo
# (e.g. scripts/demo.sh --messages 1000000).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

echo "==> installing missing build dependencies (scripts/install-deps.sh)"
bash "$root/scripts/install-deps.sh"

echo "==> configuring the Release build in build/release (cmake --preset release)"
cmake --preset release

echo "==> building the demos (cmake --build --preset release --target colony colony_demo_shm colony_demo_greeter colony_demo_words)"
cmake --build --preset release -j"$(nproc)" --target colony colony_demo_shm colony_demo_greeter colony_demo_words

demo="$root/build/release/demos/colony_demo_shm"
echo "==> running the demo: $demo $*"
"$demo" "$@"
greeter="$root/build/release/demos/colony_demo_greeter"
echo "==> running the workers demo: $greeter (a broker and three worker processes)"
"$greeter"
pipeline="$root/build/release/demos/words.toml"
echo "==> running a pipeline file: build/release/cli/colony run --pipeline $pipeline (Colony workers and tr)"
"$root/build/release/cli/colony" run --pipeline "$pipeline"
echo "colony: demo succeeded"
