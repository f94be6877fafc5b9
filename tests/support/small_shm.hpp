#pragma once
// A shared-memory file system of a chosen size for this process alone, so a
// test can run out of /dev/shm without touching the machine's: on Linux a
// tmpfs mounted over /dev/shm in a private mount namespace (as root), gone
// with the process. Implemented per platform, under this file's name.

#include <cstddef>
#include <string>

namespace colony::test {

// Empty when this process now sees a /dev/shm of `bytes`; else why not.
std::string use_small_shm(std::size_t bytes);

}  // namespace colony::test
