#include <algorithm>
#include <cstring>

#include "colony/session/slot_state.hpp"
#include "colony/shm/failpoint.hpp"
#include "colony/shm/process.hpp"

#include "colony/session/context.hpp"

namespace colony::detail {
namespace {

// Lifecycle events are a few dozen bytes; a full ring is retried by the broker.
constexpr std::size_t kEventsCapacity = 16 << 10;

std::size_t channel_max_message(std::size_t capacity, std::size_t session_max) {
  // Beyond this a message travels out of line (channel.hpp).
  return std::min(shm::largest_message(capacity), session_max);
}

SessionExpected<void> create_ring(const SessionMap& session, std::string_view object, std::size_t capacity,
                                  shm::RingPages pages) {
  shm::RingOptions options;
  options.capacity = capacity;
  options.pages = pages;
  options.max_message = channel_max_message(capacity, session.header().max_message);
  auto ring = shm::Ring::create(session.name(shm::SegmentKind::ring, object), options);
  if (!ring) return session_error(WorkerErrc::os_error, "cannot create ring: ", ring.error());
  return {};
}

SessionExpected<void> make_worker_segments(const SessionMap& session, std::uint32_t slot, std::uint32_t generation) {
  const std::size_t capacity = session.header().channel_capacity;
  // The events ring carries the broker's lifecycle records, which must
  // never meet a full /dev/shm, so it is reserved whole (and is small). A
  // worker's channel pair is reserved as written: most workers send little,
  // and an idle one then costs /dev/shm a page per ring, not its capacity.
  if (auto made = create_ring(session, worker_object(slot, generation, kEventsSuffix), kEventsCapacity,
                              shm::RingPages::reserved_at_creation);
      !made) {
    return made;
  }
  for (const auto suffix : {kToWorkerSuffix, kToParentSuffix}) {
    if (auto made = create_ring(session, worker_object(slot, generation, suffix), capacity,
                                shm::RingPages::reserved_as_written);
        !made) {
      return made;
    }
  }
  const std::string props = worker_object(slot, generation, kPropertiesSuffix);
  try {
    (void)PropertyStore::create(session.name(shm::SegmentKind::bytes, props),
                                session.name(shm::SegmentKind::mutex, props));
  } catch (const WorkerError& e) {
    return SessionError{e.code(), e.what(), e.system_code()};  // the property store is the facade's, and throws
  }
  return {};
}

}  // namespace

SessionExpected<void> create_worker_segments(const SessionMap& session, std::uint32_t slot, std::uint32_t generation) {
  auto made = make_worker_segments(session, slot, generation);
  if (!made) remove_worker_segments(session, slot, generation);
  return made;
}

void remove_worker_segments(const SessionMap& session, std::uint32_t slot, std::uint32_t generation) noexcept {
  for (const auto suffix : {kEventsSuffix, kToWorkerSuffix, kToParentSuffix}) {
    if (auto name = shm::SegmentName::make(session.session(), shm::SegmentKind::ring,
                                           worker_object(slot, generation, suffix))) {
      shm::Segment::remove(*name);
    }
  }
  for (const auto kind : {shm::SegmentKind::bytes, shm::SegmentKind::mutex}) {
    if (auto name = shm::SegmentName::make(session.session(), kind,
                                           worker_object(slot, generation, kPropertiesSuffix))) {
      shm::Segment::remove(*name);
    }
  }
}

SessionExpected<std::pair<std::uint32_t, std::uint32_t>> make_worker_slot(const SessionMap& session,
                                                                         std::uint32_t parent_slot,
                                                                         std::uint32_t parent_generation,
                                                                         const std::string& executable) {
  auto& header = session.header();
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  // Claim a slot: a never-used one first, then the oldest terminated ones.
  // creator_pid is claimed before the state, so that from the moment a slot
  // is reserved the broker can tell whose it is: a creator that dies with a
  // slot reserved (or with only creator_pid taken) is matched by its pid when
  // the broker sees it end. Only a slot whose creator_pid is 0 is claimable.
  const std::int32_t self = shm::current_pid();
  const auto claim = [&](std::uint32_t index, std::uint64_t seen, std::uint32_t next_generation) {
    auto& record = session.slot(index);
    std::int32_t nobody = 0;
    if (!record.creator_pid.compare_exchange_strong(nobody, self, std::memory_order_acq_rel)) return false;
    COLONY_FAILPOINT("worker_slot.make.creator_claimed");
    if (advance_slot_state(record, generation_of(seen), state_of(seen), next_generation, SlotState::reserved,
                           SlotWriter::creator)) {
      return true;
    }
    record.creator_pid.store(0, std::memory_order_release);  // dying before this: the broker clears it
    return false;
  };
  for (std::uint32_t fresh = header.next_fresh_slot.load(); fresh < kMaxWorkerSlots;
       fresh = header.next_fresh_slot.load()) {
    if (!header.next_fresh_slot.compare_exchange_weak(fresh, fresh + 1)) continue;
    COLONY_FAILPOINT("worker_slot.make.fresh_index_taken");
    if (claim(fresh, pack_state(0, SlotState::free), 1)) {
      slot = fresh;
      generation = 1;
      break;
    }
  }
  // A slot below next_fresh_slot still free was abandoned by a creator that
  // died between taking its index and claiming it: claimable like a terminated one.
  for (std::uint32_t index = 1; slot == 0 && index < kMaxWorkerSlots; ++index) {
    const std::uint64_t seen = session.slot(index).state_word.load(std::memory_order_acquire);
    if (state_of(seen) != SlotState::terminated && state_of(seen) != SlotState::free) continue;
    const std::uint32_t next = generation_of(seen) + 1 == 0 ? 1 : generation_of(seen) + 1;
    if (claim(index, seen, next)) {
      slot = index;
      generation = next;
    }
  }
  if (slot == 0) {
    return SessionError{WorkerErrc::worker_cap,
                        "all " + std::to_string(kMaxWorkerSlots - 1) + " worker slots of the session are in use"};
  }
  // A creator that dies from here to `created` leaves a reserved slot; the
  // broker frees it when it sees this process end.
  COLONY_FAILPOINT("worker_slot.make.reserved");
  auto& record = session.slot(slot);
  record.parent_slot.store(parent_slot, std::memory_order_relaxed);
  record.parent_generation.store(parent_generation, std::memory_order_relaxed);
  record.pid.store(0, std::memory_order_relaxed);
  record.exit_kind.store(0, std::memory_order_relaxed);
  record.exit_code.store(0, std::memory_order_relaxed);
  record.exit_signal.store(0, std::memory_order_relaxed);
  record.messages_in.store(0, std::memory_order_relaxed);
  record.messages_out.store(0, std::memory_order_relaxed);
  std::memset(record.executable, 0, sizeof(record.executable));
  std::memcpy(record.executable, executable.data(), std::min(executable.size(), sizeof(record.executable) - 1));
  if (auto made = create_worker_segments(session, slot, generation); !made) {
    record.creator_pid.store(0, std::memory_order_relaxed);  // as the broker's release: owner first, then state
    publish_slot_state(record, generation, SlotState::terminated, SlotWriter::creator);
    return made.error();
  }
  // Publishing point. A CAS, not a store: if the broker took the slot back
  // meanwhile (it judged us dead), it is not ours to publish.
  if (!advance_slot_state(record, generation, SlotState::reserved, generation, SlotState::created,
                          SlotWriter::creator)) {
    remove_worker_segments(session, slot, generation);
    return SessionError{WorkerErrc::bad_state, "worker slot " + std::to_string(slot) + " was reclaimed while being made"};
  }
  return std::pair{slot, generation};
}

ExitStatus exit_status_from(const ChildExit& exit) {
  ExitStatus status;
  switch (static_cast<ExitKind>(exit.kind)) {
    case ExitKind::signaled: status.kind = ExitStatus::Kind::signaled; break;
    case ExitKind::failed_to_start: status.kind = ExitStatus::Kind::failed_to_start; break;
    case ExitKind::not_attached: status.kind = ExitStatus::Kind::not_attached; break;
    default: status.kind = ExitStatus::Kind::exited; break;
  }
  status.code = exit.code;
  status.signal = exit.signal;
  status.terminated = exit.terminated;
  status.reason = exit.reason;
  return status;
}

}  // namespace colony::detail
