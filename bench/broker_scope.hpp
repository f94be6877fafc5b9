#pragma once
// What the rows that run a Broker in the bench share (cases_worker.cpp,
// fan_out.cpp, cases_scale.cpp): the broker of one row, which ends its
// session and checks that nothing of it is left in /dev/shm, and small
// helpers for times and sizes.
//
// Every such row gives its Broker a session "<bench session>-w<N>";
// destroying it ends the workers and removes the session's segments.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "bench.hpp"
#include "colony/broker/broker.hpp"
#include "colony/shm/names.hpp"
#include "colony/shm/segment.hpp"
#include "colony/worker/worker.hpp"
#include "watchdog.hpp"

namespace bench {

inline constexpr std::chrono::milliseconds kDispatchSlice{100};  // one Worker::dispatch wait

inline std::int64_t elapsed_ns(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count();
}

inline std::chrono::milliseconds left_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

inline std::string worker_executable() { return bench_file(kWorkerExecutable, "the worker executable"); }

// "12.3 MB", or "?" when the system did not say.
inline std::string megabytes(const std::optional<double>& bytes) {
  if (!bytes) return "?";
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f MB", *bytes / 1e6);
  return text;
}

class BrokerScope {
 public:
  explicit BrokerScope(RunContext& context, colony::BrokerLimits limits = {})
      : context_(context), session_(context.broker_session()) {
    broker_.emplace(colony::BrokerOptions{session_, limits});
  }

  colony::Worker& host() { return broker_->host(); }

  // Bytes of /dev/shm the session's segments hold (allocated pages, not their
  // apparent sizes): memory of the machine's, mapped by a process or not.
  double shared_memory_held() const {
    double held = 0;
    for (const std::string& name : colony::shm::Segment::list(colony::shm::SegmentName::session_prefix(session_))) {
      held += static_cast<double>(colony::shm::Segment::owner_of(name).bytes);
    }
    return held;
  }

  // Ends the session (its workers and segments) and checks that nothing of it
  // is left in /dev/shm.
  void finish() {
    broker_.reset();
    const auto left = colony::shm::Segment::list(colony::shm::SegmentName::session_prefix(session_));
    if (!left.empty()) {
      for (const std::string& name : left) colony::shm::Segment::remove_os_name(name.c_str());
      throw BenchError("the broker left " + std::to_string(left.size()) + " segment(s) of session " + session_ +
                       " in /dev/shm, e.g. " + left.front());
    }
  }

  // Dispatches the host's events until done() holds; throws at the row's deadline.
  template <class Done>
  void dispatch_until(Done&& done, const char* what) {
    colony::Worker& self = host();
    for (std::uint32_t turn = 1; !done(); ++turn) {
      if (!self.dispatch(kDispatchSlice) || turn % 256 == 0) {
        if (Clock::now() >= context_.deadline()) throw BenchError(std::string(what) + " timed out");
        check_watchdog(what);
      }
    }
  }

 private:
  RunContext& context_;
  std::string session_;
  std::optional<colony::Broker> broker_;
};

}  // namespace bench
