#pragma once
// Sending one request to a session's broker, for commands that are not workers.

#include <chrono>
#include <string>

#include "colony/shm/ring.hpp"
#include "colony/shm/typed.hpp"
#include "colony/worker/errors.hpp"
#include "colony/session/session_map.hpp"

namespace colony::cli {

template <shm::RegisteredType Request>
void send_to_broker(const detail::SessionMap& map, const Request& request) {
  auto ring = shm::Ring::open(map.name(shm::SegmentKind::ring, detail::kBrokerRing),
                              shm::Deadline::after(std::chrono::seconds(2)));
  if (!ring) throw WorkerError(WorkerErrc::session_gone, "cannot reach the broker: " + ring.error().message);
  auto writer = shm::RingWriter::attach(*ring);
  if (!writer) throw WorkerError(WorkerErrc::session_gone, "cannot reach the broker: " + writer.error().message);
  shm::TypedWriter typed(std::move(*writer));
  if (const auto sent = typed.send(request, shm::Deadline::after(std::chrono::seconds(5))); sent != shm::RingStatus::ok) {
    throw WorkerError(sent == shm::RingStatus::timed_out ? WorkerErrc::timed_out : WorkerErrc::session_gone,
                      "the broker takes no request: " + typed.describe(sent));
  }
}

}  // namespace colony::cli
