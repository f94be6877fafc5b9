#pragma once
// Summaries of the ping-pong's round-trip times: percentiles and a text
// histogram with log-scale buckets (<1 us, 1-2, 2-4, 4-8 ... us), because
// latencies spread over orders of magnitude and the tail is the point.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace ping_pong {

// The q-th quantile (0..1) of sorted nanoseconds, nearest rank.
inline std::uint64_t quantile(const std::vector<std::uint64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(q * static_cast<double>(sorted.size()));
  return sorted[std::min(rank, sorted.size() - 1)];
}

// Bucket 0 holds < 1 us; bucket b >= 1 holds [2^(b-1), 2^b) us.
inline std::size_t bucket_of(std::uint64_t ns) {
  std::uint64_t us = ns / 1000;
  std::size_t bucket = 0;
  while (us > 0) {
    us >>= 1;
    ++bucket;
  }
  return bucket;
}

inline std::string bucket_label(std::size_t bucket) {
  if (bucket == 0) return "<1 us";
  const std::uint64_t low = std::uint64_t{1} << (bucket - 1);
  return std::to_string(low) + "-" + std::to_string(low * 2) + " us";
}

// Prints one line per bucket up to the last non-empty one; bars are scaled
// to the fullest bucket, and any non-empty bucket gets at least one '#'.
inline void print_histogram(const std::vector<std::uint64_t>& samples_ns) {
  std::vector<std::uint64_t> counts;
  for (const std::uint64_t ns : samples_ns) {
    const std::size_t bucket = bucket_of(ns);
    if (bucket >= counts.size()) counts.resize(bucket + 1, 0);
    ++counts[bucket];
  }
  const std::uint64_t fullest = counts.empty() ? 0 : *std::max_element(counts.begin(), counts.end());
  constexpr std::uint64_t kWidth = 50;
  for (std::size_t b = 0; b < counts.size(); ++b) {
    std::uint64_t bar = fullest == 0 ? 0 : counts[b] * kWidth / fullest;
    if (counts[b] > 0 && bar == 0) bar = 1;
    const double percent = 100.0 * static_cast<double>(counts[b]) / static_cast<double>(samples_ns.size());
    std::printf("  %-15s %9llu %6.2f%%%s%s\n", bucket_label(b).c_str(), static_cast<unsigned long long>(counts[b]),
                percent, bar > 0 ? "  " : "", std::string(static_cast<std::size_t>(bar), '#').c_str());
  }
}

}  // namespace ping_pong
