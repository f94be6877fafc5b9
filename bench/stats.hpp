#pragma once
// Percentiles of round-trip samples (nearest rank) and throughput figures.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "bench.hpp"

namespace bench {

// The nearest-rank q-quantile (0 < q <= 1) of samples, which it sorts.
inline double percentile(std::vector<std::int64_t>& samples, double q) {
  if (samples.empty()) throw BenchError("no samples");
  std::sort(samples.begin(), samples.end());
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size())));
  return static_cast<double>(samples[std::clamp<std::size_t>(rank, 1, samples.size()) - 1]);
}

inline Measurement latency_measurement(std::vector<std::int64_t> round_trips_ns) {
  Measurement m;
  m.p50_ns = percentile(round_trips_ns, 0.50);
  m.p99_ns = percentile(round_trips_ns, 0.99);
  return m;
}

inline Measurement throughput_measurement(std::uint64_t messages, std::size_t message_size, std::int64_t elapsed_ns) {
  if (elapsed_ns <= 0) throw BenchError("non-positive elapsed time");
  const double seconds = static_cast<double>(elapsed_ns) * 1e-9;
  Measurement m;
  m.msgs_per_s = static_cast<double>(messages) / seconds;
  m.bytes_per_s = static_cast<double>(messages) * static_cast<double>(message_size) / seconds;
  return m;
}

// p50, p90 and p99 of samples, and how many there were.
inline Measurement detailed_latency(std::vector<std::int64_t> samples) {
  Measurement m;
  m.samples = samples.size();
  m.p90_ns = percentile(samples, 0.90);
  m.p50_ns = percentile(samples, 0.50);
  m.p99_ns = percentile(samples, 0.99);
  return m;
}

// Messages for the timed pass, from the rate the pilot pass achieved.
inline std::uint64_t timed_messages(double messages_per_second, double target_seconds) {
  const double wanted = messages_per_second * target_seconds;
  return static_cast<std::uint64_t>(std::clamp(wanted, 100.0, 50'000'000.0));
}

}  // namespace bench
