#pragma once
// The session target's input: a session control segment (ctl.session) as a
// broker, a worker or any process of the user could have left it. A valid
// segment is made first, as a broker of this process would make it; then
//
//   [0]        u8 flags: bit 0 XOR the next 64 bytes onto the SegmentHeader
//              (its magic and READY word excepted: those only make openers
//              wait), bit 1 clean with --force
//   [1..64]    XOR onto the SegmentHeader, when bit 0 is set
//   [65..320]  XOR onto the SessionHeader (zeros: the valid one made)
//   then       patches, each: u8 where (even: a worker slot, odd: a registry
//              entry), u16 index, u8 length, then length bytes written at the
//              start of that slot or entry
//
// The valid header lists 16 registry entries and 16 used slots, so patches
// there are seen without the fuzzer finding the counters first.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "colony/shm/process.hpp"
#include "colony/shm/segment.hpp"
#include "colony/session/contract.hpp"
#include "colony/session/session_map.hpp"
#include "fuzz_support.hpp"

namespace colony::fuzz {

inline constexpr std::size_t kSegmentHeaderPatch = 64;
inline constexpr std::uint8_t kSessionPatchHeader = 1;
inline constexpr std::uint8_t kSessionForceClean = 2;
inline constexpr std::uint32_t kListedByDefault = 16;

inline shm::SegmentName control_name(const std::string& session) {
  return *shm::SegmentName::make(session, shm::SegmentKind::control, detail::kSessionControl);
}

// Makes ctl.session of session as the broker does, valid and READY, with
// this process as its broker.
inline std::optional<shm::Segment> make_session_control(const std::string& session) {
  auto segment = shm::Segment::create(control_name(session), detail::kSessionDataSize);
  if (!segment) return std::nullopt;
  auto& header = *reinterpret_cast<detail::SessionHeader*>(segment->control());
  const shm::ProcessIdentity self = shm::current_identity();
  header.magic = detail::kSessionMagic;
  header.version = detail::kSessionVersion;
  header.slot_count = detail::kMaxWorkerSlots;
  header.broker_pid.store(self.pid);
  header.broker_start = self.start;
  header.state.store(static_cast<std::uint32_t>(detail::SessionState::running));
  header.max_running = 64;
  header.max_message = 64 << 10;
  header.channel_capacity = 1 << 20;
  header.attach_timeout_ms = 5000;
  header.next_fresh_slot.store(kListedByDefault);
  header.object_entries.store(kListedByDefault);
  segment->mark_ready();
  return std::move(*segment);
}

inline void xor_onto(std::byte* target, std::span<const std::uint8_t> bytes) {
  for (std::size_t i = 0; i < bytes.size(); ++i) target[i] ^= static_cast<std::byte>(bytes[i]);
}

// Applies the input to a segment make_session_control made; returns the flags.
inline std::uint8_t apply_session_image(shm::Segment& segment, std::span<const std::uint8_t> image) {
  InputReader input(image.data(), image.size());
  const auto flags = input.take<std::uint8_t>();
  const auto segment_patch = input.take_bytes(kSegmentHeaderPatch);
  if ((flags & kSessionPatchHeader) != 0) {
    std::uint8_t patch[kSegmentHeaderPatch] = {};
    std::copy(segment_patch.begin(), segment_patch.end(), patch);
    std::memset(patch + offsetof(shm::SegmentHeader, magic), 0, sizeof(std::uint64_t));
    std::memset(patch + offsetof(shm::SegmentHeader, ready), 0, sizeof(std::uint32_t));
    xor_onto(segment.base(), patch);
  }
  xor_onto(segment.control(), input.take_bytes(sizeof(detail::SessionHeader)));
  while (!input.empty()) {
    const auto where = input.take<std::uint8_t>();
    const auto index = input.take<std::uint16_t>();
    const auto length = input.take<std::uint8_t>();
    const auto bytes = input.take_bytes(length);
    std::byte* target = nullptr;
    std::size_t room = 0;
    if ((where & 1) == 0) {
      target = segment.data() + sizeof(detail::WorkerSlot) * (index % detail::kMaxWorkerSlots);
      room = sizeof(detail::WorkerSlot);
    } else {
      target = segment.data() + sizeof(detail::WorkerSlot) * detail::kMaxWorkerSlots +
               sizeof(detail::ObjectEntry) * (index % detail::kMaxObjectEntries);
      room = sizeof(detail::ObjectEntry);
    }
    std::memcpy(target, bytes.data(), std::min(room, bytes.size()));
  }
  return flags;
}

}  // namespace colony::fuzz
