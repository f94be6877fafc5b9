#!/usr/bin/env bash
# Installs the Debian packages Colony builds with, and only those that are missing.
# Idempotent and non-interactive: safe to run on every build.
set -euo pipefail

packages=(
  g++ cmake make pkg-config
  libboost-dev        # Boost's headers (message_queue as a benchmark peer)
  libcereal-dev       # message serialization
  libcli11-dev        # the colony command line
  nlohmann-json3-dev  # JSON for dynamic values (colony::Value), the CLI and --json output
  libtomlplusplus-dev # pipeline files (colony run --pipeline)
  catch2              # tests (Catch2 2.13)
  python3             # tests: Python's multiprocessing.shared_memory reads a Colony byte array
  g++-mingw-w64-x86-64-posix # the Windows build (preset windows), cross-compiled with MinGW-w64
  wine                # runs the Windows build's tests (scripts/wine-run.sh)
  wine64
  clang               # the fuzz targets (tests/fuzz): libFuzzer is clang's
  libclang-rt-dev     # libFuzzer and clang's sanitizer runtimes (not pulled in by clang without recommends)
  llvm                # llvm-symbolizer: file and line in the fuzz targets' sanitizer reports
  # benchmark peers (colony_bench builds and runs without them: their rows show as absent)
  libzmq3-dev         # ZeroMQ (ipc://) as a peer
  iceoryx             # iox-roudi, the daemon colony_bench starts for the iceoryx rows
  libiceoryx-posh-dev # iceoryx publish/subscribe as a peer
  libiceoryx-hoofs-dev # iceoryx's base library headers (needed by the posh headers)
  gnuplot-nox         # colony_bench --plot
  libgrpc++-dev       # gRPC over a Unix socket as a peer of the call rows
  libprotobuf-dev     # the protobuf headers and library that gRPC peer's messages use
  protobuf-compiler-grpc # protoc and grpc_cpp_plugin, which compile that peer's service
)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
