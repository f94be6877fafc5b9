#include "colony/session/broker_link.hpp"

#include <chrono>

namespace colony::detail {
namespace {

constexpr auto kOpenDeadline = std::chrono::seconds(2);

shm::Ring open_request_ring(const SessionMap& session) {
  auto ring = shm::Ring::open(session.name(shm::SegmentKind::ring, kBrokerRing), shm::Deadline::after(kOpenDeadline));
  if (!ring) throw WorkerError(WorkerErrc::session_gone, "cannot reach the broker: " + ring.error().message);
  return std::move(*ring);
}

}  // namespace

BrokerLink::BrokerLink(const SessionMap& session) : ring_(open_request_ring(session)), writer_(attach(ring_)) {}

shm::TypedWriter BrokerLink::attach(shm::Ring& ring) {
  auto writer = shm::RingWriter::attach(ring);
  if (!writer) throw WorkerError(WorkerErrc::session_gone, "cannot reach the broker: " + writer.error().message);
  return shm::TypedWriter(std::move(*writer));
}

void BrokerLink::check(shm::RingStatus status) {
  if (status == shm::RingStatus::ok) return;
  if (status == shm::RingStatus::timed_out) {
    throw WorkerError(WorkerErrc::timed_out, "the broker took no request in time: " + writer_.describe(status));
  }
  throw WorkerError(WorkerErrc::session_gone, "the broker takes no request: " + writer_.describe(status));
}

}  // namespace colony::detail
