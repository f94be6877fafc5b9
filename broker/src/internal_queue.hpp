#pragma once
// Requests from the broker process's own threads (the reaper, stop, define,
// restart) to the broker's loop. They never go through the request ring: a
// process that holds the ring's claim lock and is stopped, or a lock word
// someone overwrote, must not keep the broker from learning of deaths or from
// stopping. Posting sets the pending flag, then wakes the loop's sleep on the
// ring (Ring::wake_reader); the loop's receive returns on the flag.

#include <atomic>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <variant>

#include "colony/shm/ring.hpp"
#include "colony/session/protocol.hpp"
#include "request_outcome.hpp"

namespace colony::broker_detail {

class InternalQueue {
 public:
  // A definition is answered through its promise: empty once the name is
  // registered, else why it is not.
  struct DefineCall {
    detail::DefineNamed definition;
    std::shared_ptr<std::promise<std::string>> answer;
  };
  // A restart is answered through its promise with what the broker did.
  struct RestartCall {
    std::string name;
    std::shared_ptr<std::promise<RequestOutcome>> answer;
  };
  using Request = std::variant<detail::ChildEnded, DefineCall, RestartCall>;

  // wake: the ring whose reader the loop sleeps on.
  explicit InternalQueue(shm::Ring& wake) : wake_(wake) {}

  // From any thread of this process; never blocks on shared memory.
  void post(Request request);
  // Allocation-free, for request_stop (noexcept) and signal-waiting threads.
  void post_stop() noexcept;

  // What the loop's receive watches: set while something is posted.
  const std::atomic<bool>& pending() const noexcept { return pending_; }

  struct Taken {
    bool stop = false;
    std::deque<Request> requests;
  };
  // The broker's thread: everything posted so far.
  Taken take();

 private:
  void wake() noexcept;

  shm::Ring& wake_;
  std::mutex mutex_;
  std::deque<Request> queue_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> pending_{false};
};

}  // namespace colony::broker_detail
