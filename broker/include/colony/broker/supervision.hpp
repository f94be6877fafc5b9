#pragma once
// How the broker supervises a named worker (Erlang/OTP supervisors are the
// model): when to restart its process, how often before giving up, how long
// to wait between restarts, and how long one handler may run. Broker policy:
// a worker process never reads it.

#include <chrono>
#include <cstdint>
#include <algorithm>
#include <cstddef>
#include <optional>
#include <string_view>

namespace colony {

enum class RestartPolicy : std::uint32_t {
  never,       // not restarted; the next call starts a process again
  on_failure,  // restarted after a non-zero exit or a death by signal
  always,      // restarted after any end, a clean exit too (not after kill)
};
std::string_view to_string(RestartPolicy policy) noexcept;
// "never", "on-failure", "always".
std::optional<RestartPolicy> parse_restart_policy(std::string_view text) noexcept;

struct NamedWorkerOptions {
  // Deliveries of one call that end with the process's death before the call
  // is dead-lettered (K).
  std::uint32_t max_attempts = 3;
  RestartPolicy restart = RestartPolicy::on_failure;
  // Restart intensity: more than max_restarts restarts within restart_window
  // and the worker is given up (reported; its mailbox kept; `colony restart`
  // or Broker::restart_named_worker starts it again).
  // The defaults let a poison call kill K = 3 processes, and a replay of it
  // three more, without giving the worker up.
  std::uint32_t max_restarts = 10;
  std::chrono::milliseconds restart_window{60'000};
  // Back-off: the first restart in a window is immediate, the next waits
  // backoff_initial, then twice as long each time, up to backoff_max.
  std::chrono::milliseconds backoff_initial{10};
  std::chrono::milliseconds backoff_max{1'000};
  // A handler running longer is killed and counted as a crash: its call is
  // delivered again, toward the dead-letter limit. 0: no limit.
  std::chrono::milliseconds handler_timeout{0};
};

// The wait before a restart, given how many restarts the window already holds.
inline std::chrono::milliseconds restart_backoff(const NamedWorkerOptions& options, std::size_t restarts_in_window) {
  if (restarts_in_window == 0) return std::chrono::milliseconds(0);
  auto wait = options.backoff_initial;
  for (std::size_t i = 1; i < restarts_in_window && wait < options.backoff_max; ++i) wait *= 2;
  return std::min(wait, options.backoff_max);
}

}  // namespace colony
