#pragma once
// The ring target's input: a ring's reader-visible state as another process
// could have left it. A fixed header forges the control words, the rest is
// the data area, byte for byte:
//
//   [0]   u8  flags: bit 0 many writers (else one writer)
//   [1]   u8  steps: bit 0 closed, bit 1 a writer attaches and sends after the
//             reader is done, bit 2 the reader commits after every record
//             (else once at the end)
//   [8]   u64 head      [16] u64 tail
//   [24]  u64 last_sequence (the reader's)   [32] u64 next_sequence (the writer's)
//   [40]  the data area (kFuzzRingCapacity bytes; shorter input: zeros after)
//
// The rings are made once per process with a known publication key, so that
// an input (and the seed maker) can hold committed single-writer records, and
// their names are removed at once: nothing is left in /dev/shm even when the
// target crashes.

#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "colony/shm/ring.hpp"

namespace colony::fuzz {

// One page: a read past the data area is past the mapping, and faults.
inline constexpr std::size_t kFuzzRingCapacity = 4096;
inline constexpr std::size_t kFuzzRingMaxMessage = 1000;
inline constexpr std::uint64_t kFuzzPublicationKey = 0x5a5a'1234'9876'a5a5ULL;
inline constexpr std::size_t kRingImageHeader = 40;

struct RingImageHeader {
  std::uint8_t flags = 0;
  std::uint8_t steps = 0;
  std::uint8_t reserved[6] = {};
  std::uint64_t head = 0;
  std::uint64_t tail = 0;
  std::uint64_t last_sequence = 0;
  std::uint64_t next_sequence = 1;
};
static_assert(sizeof(RingImageHeader) == kRingImageHeader);

inline constexpr std::uint8_t kImageManyWriters = 1;
inline constexpr std::uint8_t kStepClosed = 1;
inline constexpr std::uint8_t kStepWriter = 2;
inline constexpr std::uint8_t kStepCommitEach = 4;

inline shm::Ring make_fuzz_ring(const std::string& session, shm::RingVariant variant) {
  const std::string object = variant == shm::RingVariant::single_writer ? "single" : "many";
  auto name = shm::SegmentName::make(session, shm::SegmentKind::ring, object);
  if (!name) throw std::runtime_error(name.error().message);
  shm::RingOptions options;
  options.capacity = kFuzzRingCapacity;
  options.max_message = kFuzzRingMaxMessage;
  options.variant = variant;
  auto created = shm::Ring::create(*name, options);
  if (!created) throw std::runtime_error(created.error().message);
  created->control().publication_key = kFuzzPublicationKey;
  auto opened = shm::Ring::open(*name, shm::Deadline::now());
  shm::Segment::remove(*name);
  if (!opened) throw std::runtime_error(opened.error().message);
  return std::move(*opened);
}

// Puts the ring in the state the image describes; no reader or writer attached.
inline void load_image(shm::Ring& ring, const RingImageHeader& header, std::span<const std::uint8_t> data) {
  shm::RingControl& c = ring.control();
  c.closed.store((header.steps & kStepClosed) != 0 ? 1 : 0);
  c.head.store(header.head);
  c.tail.store(header.tail);
  c.last_sequence.store(header.last_sequence);
  c.next_sequence.store(header.next_sequence);
  c.reader.store(0);
  c.writer.store(0);
  c.readers_waiting.store(0);
  c.writers_waiting.store(0);
  c.records_read.store(0);
  c.records_written.store(0);
  const std::size_t n = std::min(data.size(), ring.capacity());
  if (n > 0) std::memcpy(ring.data(), data.data(), n);
  std::memset(ring.data() + n, 0, ring.capacity() - n);
}

// The image of a ring's state now (what the seed maker writes).
inline std::vector<std::uint8_t> save_image(const shm::Ring& ring, std::uint8_t steps) {
  RingImageHeader header;
  header.flags = ring.variant() == shm::RingVariant::many_writers ? kImageManyWriters : 0;
  header.steps = steps;
  const shm::RingControl& c = ring.control();
  header.head = c.head.load();
  header.tail = c.tail.load();
  header.last_sequence = c.last_sequence.load();
  header.next_sequence = c.next_sequence.load();
  std::vector<std::uint8_t> image(kRingImageHeader + ring.capacity());
  std::memcpy(image.data(), &header, sizeof header);
  std::memcpy(image.data() + kRingImageHeader, ring.data(), ring.capacity());
  // Trailing zeros cost the fuzzer nothing to drop: the target zero-fills.
  while (image.size() > kRingImageHeader && image.back() == 0) image.pop_back();
  return image;
}

}  // namespace colony::fuzz
