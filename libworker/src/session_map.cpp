#include "colony/session/session_map.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "colony/shm/failpoint.hpp"
#include "colony/shm/wait_word.hpp"
#include "colony/worker/errors.hpp"

namespace colony::detail {

SessionExpected<std::shared_ptr<SessionMap>> SessionMap::open(std::string_view session, shm::Deadline deadline) {
  auto name = shm::SegmentName::make(session, shm::SegmentKind::control, kSessionControl);
  if (!name) return session_error(WorkerErrc::session_gone, "", name.error());
  auto segment = shm::Segment::open(*name, deadline);
  if (!segment) {
    return session_error(WorkerErrc::session_gone, "session '" + std::string(session) + "' is not running: ",
                         segment.error());
  }
  const auto& header = *reinterpret_cast<const SessionHeader*>(segment->control());
  if (header.magic != kSessionMagic || header.version != kSessionVersion || header.slot_count != kMaxWorkerSlots ||
      segment->data_size() < kSessionDataSize) {
    return SessionError{WorkerErrc::session_gone, "segment " + name->os_name() + " is not a Colony session of this version"};
  }
  return std::shared_ptr<SessionMap>(new SessionMap(std::move(*segment)));
}

std::shared_ptr<SessionMap> SessionMap::adopt(shm::Segment segment) {
  return std::shared_ptr<SessionMap>(new SessionMap(std::move(segment)));
}

shm::SegmentName SessionMap::name(shm::SegmentKind kind, std::string_view object) const {
  auto made = shm::SegmentName::make(session(), kind, object);
  if (!made) throw WorkerError(WorkerErrc::bad_state, made.error().message);
  return std::move(*made);
}

bool SessionMap::register_object(shm::SegmentKind kind, std::string_view name, std::uint32_t owner_slot,
                                 std::uint32_t owner_generation) const noexcept {
  return register_entry(static_cast<std::uint32_t>(kind), name, owner_slot, owner_generation);
}

bool SessionMap::has_entry(std::uint32_t kind, std::string_view name) const noexcept {
  const std::uint32_t count = std::min(header().object_entries.load(std::memory_order_acquire), kMaxObjectEntries);
  for (std::uint32_t i = 0; i < count; ++i) {
    const ObjectEntry& entry = object_entry(i);
    if (entry.state.load(std::memory_order_acquire) != 2 || entry.kind != kind) continue;
    if (std::string_view(entry.name, ::strnlen(entry.name, sizeof(entry.name))) == name) return true;
  }
  return false;
}

bool SessionMap::register_entry(std::uint32_t kind, std::string_view name, std::uint32_t owner_slot,
                                std::uint32_t owner_generation) const noexcept {
  const std::uint32_t index = header().object_entries.fetch_add(1, std::memory_order_relaxed);
  if (index >= kMaxObjectEntries) return false;
  ObjectEntry& entry = object_entry(index);
  entry.state.store(1, std::memory_order_relaxed);
  entry.kind = kind;
  entry.owner_slot = owner_slot;
  entry.owner_generation = owner_generation;
  entry.created_unix_ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  const std::size_t length = std::min(name.size(), sizeof(entry.name) - 1);
  std::memcpy(entry.name, name.data(), length);
  entry.name[length] = '\0';
  // A creator that dies here leaves the entry in state 1: readers skip it.
  COLONY_FAILPOINT("object_entry.register.before_publish");
  // Publishing point: readers list the entry from here on.
  entry.state.store(2, std::memory_order_release);
  return true;
}

void SessionMap::ring_doorbell(std::uint32_t index) const noexcept {
  // Pairs with the fence a sleeper issues after raising doorbell_sleeping and
  // before its last look at its channels: either it sees what we published,
  // or we see it asleep and wake it.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  ring_doorbell_after_fence(index);
}

void SessionMap::ring_doorbell_after_fence(std::uint32_t index) const noexcept {
  auto& word = slot(index).doorbell_sleeping;
  if (word.load(std::memory_order_relaxed) != 0 && word.exchange(0, std::memory_order_acq_rel) != 0) {
    shm::wake_waiters(word, shm::kWakeAll);
  }
}

}  // namespace colony::detail
