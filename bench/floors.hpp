#pragma once
// The floors under Colony's rows: what the same exchange costs with nothing
// of Colony in the way. cases_floors.cpp has the portable ones (a spinning
// round trip on a raw shared atomic; memcpy, the throughput ceiling) and
// lists them with the system's, in linux/: the blocking round trip on the
// kernel's bare wait and wake, and a process start by posix_spawn and by
// fork + execve.

#include <vector>

#include "bench.hpp"

namespace bench {

std::vector<Case> system_floor_cases();

// The transport of the blocking round trip's floor (linux/raw_futex.cpp),
// which a target of the report compares Colony with.
extern const char kBlockingFloor[];

}  // namespace bench
