#pragma once
// The floors under Colony's rows: what the same exchange costs with nothing
// of Colony in the way. cases_floors.cpp has the portable ones (a spinning
// round trip on a raw shared atomic; memcpy, one core's copy; the copy ring,
// the floor of a copying channel between two cores) and
// lists them with the system's, in linux/: the blocking round trip on the
// kernel's bare wait and wake, and a process start by posix_spawn and by
// fork + execve.

#include <vector>

#include "bench.hpp"

namespace bench {

std::vector<Case> system_floor_cases();
// The copying channel's floor (floor_copy_ring.cpp).
std::vector<Case> copy_ring_cases();

// The transport of the blocking round trip's floor (linux/raw_futex.cpp),
// which a target of the report compares Colony with.
extern const char kBlockingFloor[];
// The copy ring with one store per message, which the throughput targets use.
inline constexpr char kCopyRingFloor[] = "copy-ring";

}  // namespace bench
