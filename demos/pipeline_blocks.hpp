#pragma once
// The blocks the pipeline demo moves: a sequence number, bytes made from it,
// and a checksum of the bytes. Every stage checks the checksum, changes the
// bytes in a known way and checksums them again, so the end can tell a block
// that went through every stage, once each, from a corrupt or skipped one.

#include <cstdint>
#include <vector>

#include "colony/worker/value.hpp"

namespace pipeline_demo {

inline std::uint64_t checksum(const std::vector<std::byte>& data) {
  std::uint64_t hash = 1469598103934665603ULL;  // FNV-1a
  for (const std::byte b : data) hash = (hash ^ static_cast<std::uint8_t>(b)) * 1099511628211ULL;
  return hash;
}

// The bytes block seq starts with: 64 to 255 of them.
inline std::vector<std::byte> block_data(std::uint64_t seq) {
  std::uint64_t state = seq * 0x9E3779B97F4A7C15ULL + 1;
  std::vector<std::byte> data(64 + seq % 192);
  for (auto& b : data) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    b = static_cast<std::byte>(state);
  }
  return data;
}

// What one stage does to the bytes: adds 1 to each.
inline void transform(std::vector<std::byte>& data) {
  for (auto& b : data) b = static_cast<std::byte>(static_cast<std::uint8_t>(b) + 1);
}

inline colony::Value make_block(std::uint64_t seq, std::vector<std::byte> data) {
  const std::uint64_t sum = checksum(data);
  return colony::Value(colony::Value::Map{{"seq", static_cast<long long>(seq)},
                                          {"data", colony::Value(std::move(data))},
                                          {"sum", static_cast<long long>(sum)}});
}

}  // namespace pipeline_demo
