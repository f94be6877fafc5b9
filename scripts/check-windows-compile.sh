#!/usr/bin/env bash
# Compiles the Windows side of the platform folders with MinGW, syntax and
# warnings only: every shm source (the platform-neutral ones and
# shm/src/windows/) and libworker's src/windows/. The windows preset builds
# and tests the shm layer for real (scripts/test.sh runs it under Wine); this
# quick check also covers libworker's platform files, which no Windows build
# links until libworker is ported. Installs Debian's g++-mingw-w64-x86-64-posix
# when missing. Not part of the test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v x86_64-w64-mingw32-g++-posix >/dev/null; then
  sudo_cmd=(); [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq g++-mingw-w64-x86-64-posix
fi

# Boost's and cereal's headers only, without the rest of /usr/include (Linux system headers).
headers_only=$(mktemp -d)
trap 'rm -rf "$headers_only"' EXIT
ln -s /usr/include/boost "$headers_only/boost"
ln -s /usr/include/cereal "$headers_only/cereal"

status=0
for source in shm/src/*.cpp shm/src/failpoint/*.cpp shm/src/windows/*.cpp libworker/src/windows/*.cpp; do
  echo "compiling $source for Windows"
  x86_64-w64-mingw32-g++-posix -std=c++20 -fsyntax-only -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror \
    -DCOLONY_FAILPOINTS -Ishm/include -Ishm/src -Ilibworker/include -isystem "$headers_only" "$source" || status=1
done
[ "$status" -eq 0 ] && echo "windows: the shm layer and libworker's platform folder compile for Win32"
exit "$status"
