#pragma once
// The broker's thread: one loop that waits on the request ring (woken also
// by the internal queue, internal_queue.hpp) until the next timer, hands each
// request to the piece that does the work, and runs the timers (attach
// deadlines, handler timeouts, restarts after back-off, event retries, the
// session's end). It decides nothing itself beyond when the session ends.

#include <chrono>

#include "colony/broker/broker.hpp"
#include "colony/shm/ring.hpp"
#include "event_outbox.hpp"
#include "internal_queue.hpp"
#include "named_workers.hpp"
#include "process_tree.hpp"

namespace colony::broker_detail {

class BrokerLoop {
 public:
  using Clock = shm::Clock;

  BrokerLoop(detail::SessionMap& map, shm::RingReader& requests, InternalQueue& internal, ProcessTree& tree,
             NamedWorkers& named, EventOutbox& outbox, const BrokerLimits& limits)
      : map_(map), requests_(requests), internal_(internal), tree_(tree), named_(named), outbox_(outbox),
        limits_(limits) {}

  // Until the session has ended: every worker stopped, or given up on.
  void run();

 private:
  void handle(const shm::RecordView& record);
  // Writes the one reply to a request that named a reply address.
  void answer(const detail::ReplyAddress& address, const RequestOutcome& outcome);
  void handle_internal();
  void handle_internal_request(const detail::ChildEnded& ended);
  void handle_internal_request(const InternalQueue::DefineCall& call);
  void handle_internal_request(const InternalQueue::RestartCall& call);
  void begin_stop();
  Clock::time_point next_timer() const;

  detail::SessionMap& map_;
  shm::RingReader& requests_;
  InternalQueue& internal_;
  ProcessTree& tree_;
  NamedWorkers& named_;
  EventOutbox& outbox_;
  BrokerLimits limits_;
  Clock::time_point grace_deadline_{};
  Clock::time_point hard_deadline_{};
};

}  // namespace colony::broker_detail
