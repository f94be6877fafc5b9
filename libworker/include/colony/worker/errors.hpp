#pragma once
// Errors of the worker API. Calls that cannot do what was asked throw a
// WorkerError whose code a caller can branch on and whose what() names the
// reason for a person. Ordinary outcomes (a full channel under the fail
// policy, a receive that timed out) are results, not exceptions.

#include <stdexcept>
#include <string>
#include <string_view>

namespace colony {

enum class WorkerErrc {
  not_a_worker,        // Worker::current() in a process no broker started
  no_such_executable,  // start(): not found or not executable
  worker_cap,          // start(): the running-worker cap is reached and the policy is fail
  not_attached,        // the process never attached to the session in time
  bad_state,           // the call does not fit the worker's or channel's state
  message_too_large,   // over the channel's or the session's message size limit
  channel_closed,      // send on a closed channel
  channel_full,        // send found no space before its deadline
  no_such_property,
  wrong_type,          // a property or message holds another registered type
  undecodable,         // bytes that do not decode as their type
  session_gone,        // the broker or a segment of the session is gone
  not_found,           // a referenced object (or named worker) does not exist
  timed_out,           // no answer before the deadline (nothing was lost: see the call)
  os_error,
};

std::string_view to_string(WorkerErrc code) noexcept;

class WorkerError : public std::runtime_error {
 public:
  WorkerError(WorkerErrc code, const std::string& message, int system_code = 0)
      : std::runtime_error(message), code_(code), system_code_(system_code) {}
  WorkerErrc code() const noexcept { return code_; }
  // The OS's error number (errno on POSIX) when a system call failed, else 0:
  // for code that must tell causes apart; never parse what() for it.
  int system_code() const noexcept { return system_code_; }

 private:
  WorkerErrc code_;
  int system_code_;
};

}  // namespace colony
