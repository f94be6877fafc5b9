#pragma once
// How a worker ended, as its parent's exit event and its handle report it.

#include <string>

namespace colony {

struct ExitStatus {
  enum class Kind {
    exited,           // returned from main or called exit: code
    signaled,         // killed by a signal (terminate() is SIGKILL): signal
    failed_to_start,  // never ran: reason says why
    not_attached,     // ran but never attached to the session in time; it was killed
  };
  Kind kind = Kind::exited;
  int code = 0;
  int signal = 0;
  bool terminated = false;  // ended by terminate(), its parent's end or the session's end
  std::string reason;       // for failed_to_start and not_attached

  bool ok() const noexcept { return kind == Kind::exited && code == 0; }
  // "exited with code 3", "killed by signal 9 (SIGKILL)", "failed to start: ..."
  std::string describe() const;
  // The shell convention: code, 128 + signal, or 127 when it never ran.
  int shell_code() const noexcept;
};

}  // namespace colony
