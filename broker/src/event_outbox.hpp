#pragma once
// The broker's events to workers (launch results, children online, child
// exits), each written to the addressee's events ring. What a full ring
// cannot take waits in the addressee's backlog and is retried: every 5 ms
// while the addressee reads, less and less often (up to 4 times a second)
// while it reads nothing. The backlog is bounded: past it, an event is
// dropped and counted in the session header (events_dropped), as is every
// event to an addressee whose events ring cannot be opened. That is what
// becomes of the events of a host that never runs its event loop
// (`colony broker start`): the broker's memory stays bounded and it does not
// wake every 5 ms for the rest of the session.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>

#include "colony/shm/ring.hpp"
#include "colony/shm/typed.hpp"
#include "colony/session/context.hpp"
#include "colony/session/session_map.hpp"

namespace colony::broker_detail {

class EventOutbox {
 public:
  using Clock = shm::Clock;
  static constexpr auto kRetryFirst = std::chrono::milliseconds(5);
  static constexpr auto kRetryMost = std::chrono::milliseconds(250);

  EventOutbox(std::shared_ptr<detail::SessionMap> map, std::size_t backlog_limit)
      : map_(std::move(map)), backlog_limit_(backlog_limit) {}

  // The worker is tracked: events may be addressed to it from now on.
  void open(std::uint32_t slot, std::uint32_t generation);
  // It is gone: events to it are dropped (nobody to tell), its backlog too.
  void close(std::uint32_t slot) noexcept;
  void post(std::uint32_t slot, detail::BrokerEvent event);
  // Retries the backlogs whose time has come.
  void retry_due(Clock::time_point now);
  // When retry_due has something to do; max() when no backlog waits.
  Clock::time_point next_retry() const noexcept;
  // Events waiting in backlogs, all addressees together (for tests).
  std::size_t backlog_size() const noexcept;

 private:
  struct Addressee {
    std::uint32_t generation = 0;
    std::optional<shm::Ring> ring;
    std::optional<shm::TypedWriter> writer;
    std::deque<detail::BrokerEvent> backlog;  // what its ring could not take yet
    Clock::time_point retry_at{};
    Clock::duration retry_after = kRetryFirst;
    std::uint64_t read_at_last_try = 0;  // its ring's records_read then: did it read since?
    // Its events ring could not be opened (it is gone or not a ring): every
    // event to it is dropped and counted at once, without trying again.
    bool unreachable = false;
  };

  void flush(std::uint32_t slot, Addressee& to, Clock::time_point now);
  void drop(std::size_t count) noexcept;
  void give_up_on(Addressee& to) noexcept;

  std::shared_ptr<detail::SessionMap> map_;
  std::size_t backlog_limit_;
  std::map<std::uint32_t, Addressee> addressees_;
};

}  // namespace colony::broker_detail
