#pragma once
// The one way a process of the session sends requests to its broker: the
// request ring (ring.broker, many writers; the records are protocol.hpp's).
// Workers hold one for their life; the colony command and callers of named
// workers open one per request. A request that names a ReplyAddress gets
// one BrokerReply (protocol.hpp): ask() makes the reply ring, posts and
// waits for the answer with its correlation id. The broker's own threads never use it (they
// post to the broker's in-process queue: a stopped process holding this
// ring's claim lock must not keep the broker from learning of deaths).

#include <memory>
#include <string>

#include "colony/session/protocol.hpp"
#include "colony/session/reply_ring.hpp"

#include "colony/session/session_map.hpp"
#include "colony/shm/ring.hpp"
#include "colony/shm/typed.hpp"
#include "colony/session/session_error.hpp"

namespace colony::detail {

class BrokerLink {
 public:
  // Opens the request ring: session_gone when the session has no broker
  // ring (not running, or not a Colony session).
  static SessionExpected<BrokerLink> open(const SessionMap& session);
  BrokerLink(BrokerLink&&) noexcept = default;
  BrokerLink& operator=(BrokerLink&&) = delete;

  // Queues request for the broker: timed_out when the ring stayed full (or
  // its claim lock held) until the deadline, session_gone when the ring is
  // closed or broken.
  template <shm::RegisteredType Request>
  SessionExpected<void> post(const Request& request, shm::Deadline deadline) {
    return check(writer_.send(request, deadline));
  }

  // Posts request with a reply address of its own and returns the broker's
  // answer: its message on success; the broker's code and message on an
  // error, timed_out when no answer came before the deadline, session_gone
  // when the broker died first.
  template <shm::RegisteredType Request>
  SessionExpected<std::string> ask(Request request, shm::Deadline deadline) {
    auto reply_ring = ReplyRing::make(*session_, kBrokerReplyCapacity);
    if (!reply_ring) return reply_ring.error();
    request.reply = ReplyAddress{next_correlation_id(), reply_ring->object()};
    if (auto posted = post(request, deadline); !posted) return posted.error();
    return await_reply(*reply_ring, request.reply.correlation_id, deadline);
  }

  // The smallest ring: a BrokerReply is a code and a line of text.
  static constexpr std::size_t kBrokerReplyCapacity = 4096;

 private:
  BrokerLink(const SessionMap& session, std::unique_ptr<shm::Ring> ring, shm::TypedWriter writer);
  SessionExpected<void> check(shm::Outcome status);
  std::uint64_t next_correlation_id() noexcept;
  SessionExpected<std::string> await_reply(ReplyRing& reply_ring, std::uint64_t correlation_id, shm::Deadline deadline);

  const SessionMap* session_;
  // Held where it stays put: the writer points at it, and a BrokerLink moves.
  std::unique_ptr<shm::Ring> ring_;
  shm::TypedWriter writer_;
};

}  // namespace colony::detail
