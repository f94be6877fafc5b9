#pragma once
// Wall-clock time as the session's records keep it (for display: `colony ps`).

#include <chrono>
#include <cstdint>

namespace colony::broker_detail {

inline std::uint64_t unix_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

}  // namespace colony::broker_detail
