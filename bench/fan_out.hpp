#pragma once
// Many workers echoing at once (fan_out.cpp): the workers-64 row and the
// scale-1000 row's exchange.

#include <cstddef>

#include "bench.hpp"

namespace bench {

// Starts `workers` colony_bench_worker echo processes under one broker (its
// running cap raised to them), keeps kFanWindow std::uint64_t messages in
// flight to each, and measures the echoes per second the bench receives;
// the notes give the bench's memory and the workers' mean.
inline constexpr std::uint64_t kFanWindow = 16;
Measurement run_fan_out(RunContext& context, std::size_t workers);

}  // namespace bench
