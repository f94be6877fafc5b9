#!/usr/bin/env bash
# Compiles the Windows side of the shm layer's segment interface with MinGW
# (syntax and warnings only: there is no Windows machine to link or run on).
# Installs Debian's g++-mingw-w64-x86-64-posix when missing. Not part of the
# test suite: a check for whoever changes the platform layer.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v x86_64-w64-mingw32-g++-posix >/dev/null; then
  sudo_cmd=(); [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq g++-mingw-w64-x86-64-posix
fi

# Boost's headers only, without the rest of /usr/include (Linux system headers).
boost_only=$(mktemp -d)
trap 'rm -rf "$boost_only"' EXIT
ln -s /usr/include/boost "$boost_only/boost"

status=0
for source in shm/src/windows/*.cpp shm/src/segment.cpp shm/src/names.cpp shm/src/error.cpp; do
  echo "compiling $source for Windows"
  x86_64-w64-mingw32-g++-posix -std=c++20 -fsyntax-only -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror \
    -Ishm/include -Ishm/src -isystem "$boost_only" "$source" || status=1
done
[ "$status" -eq 0 ] && echo "windows: the segment layer compiles for Win32"
exit "$status"
