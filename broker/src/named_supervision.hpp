#pragma once
// The broker's supervision of one named worker: whether and when its process
// is restarted after an end, and the crash reports it keeps.

#include <chrono>
#include <deque>
#include <optional>
#include <string>

#include "colony/session/contract.hpp"
#include "colony/session/crash_log.hpp"
#include "colony/worker/mailbox.hpp"
#include "colony/session/protocol.hpp"
#include "colony/broker/supervision.hpp"
#include "colony/worker/value.hpp"

namespace colony::broker_detail {

using detail::MailboxControl;
using detail::SupervisionState;

using SupervisionClock = std::chrono::steady_clock;

NamedWorkerOptions options_of(const detail::DefineNamed& definition);
detail::DefineNamed with_options(detail::DefineNamed definition, const NamedWorkerOptions& options);

// How one process of the worker ended, as the broker saw it.
struct NamedEnd {
  detail::ChildExit exit;
  int pid = 0;
  bool killed = false;             // KILL WORKER was asked for since it started
  bool in_handler = false;         // a call was in flight when it ended
  bool handler_timed_out = false;  // the broker killed a handler past its timeout
  std::uint64_t noticed_ns = 0;    // steady clock: the reaper saw it
  std::string stderr_tail;
};

class NamedSupervision {
 public:
  enum class Next { stay_down, start_now, start_later, given_up };

  NamedSupervision(std::string name, NamedWorkerOptions options, std::optional<CrashLog> log);

  const NamedWorkerOptions& options() const noexcept { return options_; }
  void set_options(const NamedWorkerOptions& options) noexcept { options_ = options; }
  bool given_up() const noexcept { return given_up_; }
  std::optional<SupervisionClock::time_point> restart_at() const noexcept { return restart_at_; }

  // Decides what follows an end; makes and publishes a crash report for a
  // failure. queued: calls wait in the mailbox.
  Next on_end(const NamedEnd& end, bool queued, MailboxControl& control, SupervisionClock::time_point now);
  // The back-off passed (or a restart was asked for): start it now.
  void restart_due() noexcept { restart_at_.reset(); }
  // The mailbox's kill count when the restart was planned: a kill since
  // cancels a restart that waits out its back-off.
  std::uint32_t kills_when_planned() const noexcept { return kills_when_planned_; }
  // `colony restart`: forget the history and the given-up state.
  void reset() noexcept;

 private:
  Value crash_report(const NamedEnd& end, const MailboxControl& control, const std::string& action) const;
  // Plans the next start through the window and the back-off.
  Next plan_restart(SupervisionClock::time_point now, std::string& action);
  void publish(Value report, MailboxControl& control);

  std::string name_;
  NamedWorkerOptions options_;
  std::optional<CrashLog> log_;
  std::deque<SupervisionClock::time_point> restarts_;  // restarts within the window: the back-off
  std::deque<SupervisionClock::time_point> failures_;  // those after failures: the intensity
  std::optional<SupervisionClock::time_point> restart_at_;
  bool given_up_ = false;
  std::uint32_t kills_when_planned_ = 0;
  std::deque<Value> reports_;
};

}  // namespace colony::broker_detail
