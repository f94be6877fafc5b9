#include <algorithm>

#include "colony/worker/context.hpp"

namespace colony::detail {
namespace {

constexpr std::size_t kEventsCapacity = 256 << 10;

std::size_t channel_max_message(std::size_t capacity, std::size_t session_max) {
  // Beyond this a message travels out of line (channel.hpp).
  return std::min(capacity / 2 - sizeof(shm::RecordHeader) - shm::kRecordAlign, session_max);
}

void create_ring(const SessionMap& session, std::string_view object, std::size_t capacity) {
  shm::RingOptions options;
  options.capacity = capacity;
  options.max_message = channel_max_message(capacity, session.header().max_message);
  auto ring = shm::Ring::create(session.name(shm::SegmentKind::ring, object), options);
  if (!ring) throw WorkerError(WorkerErrc::os_error, "cannot create ring: " + ring.error().message);
}

}  // namespace

void create_worker_segments(const SessionMap& session, std::uint32_t slot, std::uint32_t generation) {
  try {
    create_ring(session, worker_object(slot, generation, kEventsSuffix), kEventsCapacity);
    const std::size_t capacity = session.header().channel_capacity;
    create_ring(session, worker_object(slot, generation, kToWorkerSuffix), capacity);
    create_ring(session, worker_object(slot, generation, kToParentSuffix), capacity);
    const std::string props = worker_object(slot, generation, kPropertiesSuffix);
    (void)PropertyStore::create(session.name(shm::SegmentKind::bytes, props),
                                session.name(shm::SegmentKind::mutex, props));
  } catch (...) {
    remove_worker_segments(session, slot, generation);
    throw;
  }
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
