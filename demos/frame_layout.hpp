#pragma once
// What the frame producer (frame_host.cpp) and its consumers
// (frame_consumer.cpp) agree on: where things sit in the shared byte array,
// how frame k's bytes are derived from k, the checksum, and the report a
// consumer sends back. One header, so the two sides cannot drift apart.
//
// The array, all of it guarded by the shared mutex:
//   offset  0  u32  generation: bumped once per published frame (0: none yet)
//   offset  4  u32  done: 1 once the producer has published its last frame
//   offset  8  u64  frame number k
//   offset 16  u64  checksum of the payload
//   offset 64  ...  payload, to the end of the array: 64-bit words derived from k

#include <cstddef>
#include <cstdint>
#include <span>

#include "colony/shm/type_registry.hpp"

namespace frame {

inline constexpr std::size_t kGenerationOffset = 0;
inline constexpr std::size_t kDoneOffset = 4;
inline constexpr std::size_t kNumberOffset = 8;
inline constexpr std::size_t kChecksumOffset = 16;
inline constexpr std::size_t kPayloadOffset = 64;
inline constexpr std::size_t kFrameBytes = 64 << 10;  // 64 KiB, header included

// Word j of frame k: differs between frames and between words, so a frame
// torn between two producers' writes, or a stale word, changes the checksum.
inline std::uint64_t payload_word(std::uint64_t k, std::uint64_t j) noexcept {
  std::uint64_t x = (k << 32) ^ (j * 0x9E3779B97F4A7C15ULL);
  x ^= x >> 31;
  return x * 0xBF58476D1CE4E5B9ULL;
}

// Order-sensitive (a multiply per word), so swapped words are caught too.
inline std::uint64_t checksum(std::span<const std::uint64_t> words) noexcept {
  std::uint64_t h = 0xCBF29CE484222325ULL;
  for (const std::uint64_t w : words) h = (h ^ w) * 0x100000001B3ULL;
  return h;
}

// The last message a consumer sends its parent before it ends.
struct ConsumerReport {
  std::int32_t consumer = 0;
  std::uint64_t frames_seen = 0;
  std::uint64_t frames_bad = 0;  // wrong checksum, or a frame number that went backwards
  std::uint64_t first_frame = 0;
  std::uint64_t last_frame = 0;
  template <class A> void serialize(A& a) { a(consumer, frames_seen, frames_bad, first_frame, last_frame); }
};

}  // namespace frame

COLONY_REGISTER_TYPE(frame::ConsumerReport, "demo.frame.report")
