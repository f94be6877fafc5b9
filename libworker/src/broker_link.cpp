#include "colony/session/broker_link.hpp"

#include <chrono>

#include "colony/session/contract.hpp"
#include "colony/shm/process.hpp"

namespace colony::detail {
namespace {

// How often a wait for the broker's answer looks whether the broker still
// lives (the answer itself wakes it at once).
constexpr auto kLivenessInterval = std::chrono::milliseconds(100);

}  // namespace

SessionExpected<BrokerLink> BrokerLink::open(const SessionMap& session) {
  auto ring = shm::Ring::open(session.name(shm::SegmentKind::ring, kBrokerRing),
                              shm::Deadline::after(detail::kSegmentPublishWait));
  if (!ring) return session_error(WorkerErrc::session_gone, "cannot reach the broker: ", ring.error());
  auto held = std::make_unique<shm::Ring>(std::move(*ring));
  auto writer = shm::RingWriter::attach(*held);
  if (!writer) return session_error(WorkerErrc::session_gone, "cannot reach the broker: ", writer.error());
  shm::TypedWriter typed(std::move(*writer));
  return BrokerLink(session, std::move(held), std::move(typed));
}

BrokerLink::BrokerLink(const SessionMap& session, std::unique_ptr<shm::Ring> ring, shm::TypedWriter writer)
    : session_(&session), ring_(std::move(ring)), writer_(std::move(writer)) {}

SessionExpected<void> BrokerLink::check(shm::Outcome status) {
  if (status == shm::Outcome::ok) return {};
  if (status == shm::Outcome::timed_out) {
    return SessionError{WorkerErrc::timed_out, "the broker took no request in time: " + writer_.describe(status)};
  }
  return SessionError{WorkerErrc::session_gone, "the broker takes no request: " + writer_.describe(status)};
}

std::uint64_t BrokerLink::next_correlation_id() noexcept {
  // Shared by every process of the session: unique among its requests.
  return session_->header().next_object_id.fetch_add(1, std::memory_order_relaxed);
}

SessionExpected<std::string> BrokerLink::await_reply(ReplyRing& reply_ring, std::uint64_t correlation_id,
                                                     shm::Deadline deadline) {
  auto reader = reply_ring.reader();
  if (!reader) return reader.error();
  for (;;) {
    auto received = reader->receive<BrokerReply>(deadline.capped(kLivenessInterval));
    if (received.ok()) {
      if (received.value->correlation_id != correlation_id) continue;  // not ours: never happens on a ring of our own
      if (!received.value->ok) {
        // A code this build does not know (a newer broker's) is still an error.
        const auto code = received.value->code <= static_cast<std::uint32_t>(WorkerErrc::os_error)
                              ? static_cast<WorkerErrc>(received.value->code)
                              : WorkerErrc::os_error;
        return SessionError{code, std::move(received.value->message)};
      }
      return std::move(received.value->message);
    }
    if (received.status != shm::Outcome::timed_out) {
      return SessionError{WorkerErrc::undecodable, "the broker's answer does not decode: " + received.error};
    }
    if (!shm::is_alive(broker_identity(session_->header()))) {
      return SessionError{WorkerErrc::session_gone, "the broker (pid " + std::to_string(session_->header().broker_pid.load()) +
                                                        ") died before it answered"};
    }
    if (deadline.passed()) return SessionError{WorkerErrc::timed_out, "the broker did not answer in time"};
  }
}

}  // namespace colony::detail
