#include "colony/worker/errors.hpp"

#include <csignal>
#include <cstring>

#include "colony/worker/exit_status.hpp"

namespace colony {

std::string_view to_string(WorkerErrc code) noexcept {
  switch (code) {
    case WorkerErrc::not_a_worker: return "not_a_worker";
    case WorkerErrc::no_such_executable: return "no_such_executable";
    case WorkerErrc::worker_cap: return "worker_cap";
    case WorkerErrc::not_attached: return "not_attached";
    case WorkerErrc::bad_state: return "bad_state";
    case WorkerErrc::message_too_large: return "message_too_large";
    case WorkerErrc::channel_closed: return "channel_closed";
    case WorkerErrc::channel_full: return "channel_full";
    case WorkerErrc::no_such_property: return "no_such_property";
    case WorkerErrc::wrong_type: return "wrong_type";
    case WorkerErrc::undecodable: return "undecodable";
    case WorkerErrc::session_gone: return "session_gone";
    case WorkerErrc::not_found: return "not_found";
    case WorkerErrc::timed_out: return "timed_out";
    case WorkerErrc::os_error: return "os_error";
  }
  return "unknown";
}

std::string ExitStatus::describe() const {
  std::string text;
  switch (kind) {
    case Kind::exited: text = "exited with code " + std::to_string(code); break;
    case Kind::signaled: {
      const char* abbrev = sigabbrev_np(signal);
      text = "killed by signal " + std::to_string(signal) + (abbrev ? " (SIG" + std::string(abbrev) + ")" : "");
      break;
    }
    case Kind::failed_to_start: text = "failed to start: " + reason; break;
    case Kind::not_attached: text = "killed: " + reason; break;
  }
  if (terminated && kind == Kind::signaled) text += ", terminated";
  return text;
}

int ExitStatus::shell_code() const noexcept {
  switch (kind) {
    case Kind::exited: return code;
    case Kind::signaled: return 128 + signal;
    case Kind::failed_to_start: return 127;
    case Kind::not_attached: return 126;
  }
  return 1;
}

}  // namespace colony
