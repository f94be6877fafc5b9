#pragma once
// What the OS tells of one process, for colony top: the CPU time it used, its
// resident memory, and its start, which tells a reused pid apart. How it is
// read is the platform's (process_stats.cpp in linux/).

#include <chrono>
#include <cstdint>
#include <optional>

namespace colony::cli {

struct ProcessStats {
  std::chrono::nanoseconds cpu_time{0};  // user and system time together
  std::uint64_t started = 0;             // the platform's start stamp: equal for one process only
  std::uint64_t rss_bytes = 0;
};

// nullopt when no process has that pid or the platform cannot say.
std::optional<ProcessStats> read_process_stats(int pid);

}  // namespace colony::cli
