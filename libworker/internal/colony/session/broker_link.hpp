#pragma once
// The one way a process of the session sends requests to its broker: the
// request ring (ring.broker, many writers; the records are protocol.hpp's).
// Workers hold one for their life; the colony command and callers of named
// workers open one per request. The broker's own threads never use it (they
// post to the broker's in-process queue: a stopped process holding this
// ring's claim lock must not keep the broker from learning of deaths).

#include <string>

#include "colony/session/session_map.hpp"
#include "colony/shm/ring.hpp"
#include "colony/shm/typed.hpp"
#include "colony/worker/errors.hpp"

namespace colony::detail {

class BrokerLink {
 public:
  // Opens the request ring; throws WorkerError session_gone when the session
  // has no broker ring (not running, or not a Colony session).
  explicit BrokerLink(const SessionMap& session);
  BrokerLink(const BrokerLink&) = delete;
  BrokerLink& operator=(const BrokerLink&) = delete;

  // Queues request for the broker; throws WorkerError timed_out when the ring
  // stayed full (or its claim lock held) until the deadline, session_gone
  // when the ring is closed or broken.
  template <shm::RegisteredType Request>
  void post(const Request& request, shm::Deadline deadline) {
    check(writer_.send(request, deadline));
  }

 private:
  static shm::TypedWriter attach(shm::Ring& ring);
  void check(shm::RingStatus status);
  shm::Ring ring_;
  shm::TypedWriter writer_;
};

}  // namespace colony::detail
