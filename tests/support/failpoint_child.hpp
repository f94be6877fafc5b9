#pragma once
// Crash tests aimed at a named window: a child started with COLONY_FAILPOINT
// stops itself at that failpoint (see colony/shm/failpoint.hpp); the test
// waits until it is stopped there, then SIGKILLs it (or lets it go on).
// Like ChildProcess, the destructor kills and reaps whatever still runs.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "child_process.hpp"

namespace colony::test {

class FailpointChild {
 public:
  // This test binary as `--child scenario args...`, stopping at failpoint
  // (the COLONY_FAILPOINT value: NAME[@N][,once=PATH]).
  static FailpointChild start(const std::string& failpoint, const std::string& scenario,
                              const std::vector<std::string>& args = {});

  FailpointChild(FailpointChild&& other) noexcept;
  FailpointChild& operator=(FailpointChild&&) = delete;
  ~FailpointChild();

  pid_t pid() const noexcept { return pid_; }
  // Waits until the child stopped itself (SIGSTOP). False if it ended first
  // or the timeout passed; describe() then says which.
  bool wait_until_stopped(std::chrono::milliseconds timeout);
  // SIGKILL, then reaps it; true when it died of that SIGKILL.
  bool kill_and_reap();
  // Lets a stopped child go on past its failpoint.
  void resume();
  // Waits for the end of a child that runs (or was resumed); nullopt on timeout.
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout);
  std::string describe() const;

 private:
  explicit FailpointChild(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
  bool reaped_ = false;
  bool stopped_ = false;
  ExitStatus ended_;
};

// Sets COLONY_FAILPOINT in this process's environment for processes started
// while it lives (a broker's workers), and removes it after. This process's
// own failpoints stay unarmed: they read the variable once, at startup.
class FailpointEnvironment {
 public:
  explicit FailpointEnvironment(const std::string& failpoint);
  ~FailpointEnvironment();
  FailpointEnvironment(const FailpointEnvironment&) = delete;
  FailpointEnvironment& operator=(const FailpointEnvironment&) = delete;
};

// For a process this one did not start (a broker's worker): true once
// /proc/PID/stat shows it stopped (state T), false at the timeout.
bool eventually_stopped(pid_t pid, std::chrono::milliseconds timeout);

// A path in the temporary directory no process has claimed, for once=PATH;
// removed by the destructor.
class OncePath {
 public:
  OncePath();
  ~OncePath();
  OncePath(const OncePath&) = delete;
  OncePath& operator=(const OncePath&) = delete;
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

}  // namespace colony::test
