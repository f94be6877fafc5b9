#pragma once
// Crash tests aimed at a named window: a child started with COLONY_FAILPOINT
// stops itself at that failpoint (see colony/shm/failpoint.hpp); the test
// waits until it is stopped there, then SIGKILLs it (or lets it go on).
// Like ChildProcess, the destructor kills and reaps whatever still runs.

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "child_process.hpp"

namespace colony::test {

class FailpointChild {
 public:
  // This test binary as `--child scenario args...`, stopping at failpoint
  // (the COLONY_FAILPOINT value: NAME[@N][,once=PATH]).
  static FailpointChild start(const std::string& failpoint, const std::string& scenario,
                              const std::vector<std::string>& args = {});

  FailpointChild(FailpointChild&& other) noexcept = default;
  FailpointChild& operator=(FailpointChild&&) = delete;
  ~FailpointChild() = default;  // kills and reaps the child if it still runs

  int pid() const noexcept { return child_.pid(); }
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
  explicit FailpointChild(subprocess::Child child) noexcept : child_(std::move(child)) {}
  subprocess::Child child_;
  bool stopped_ = false;
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

// For a process this one did not start (a broker's worker): true once the
// kernel shows it stopped, false at the timeout.
bool eventually_stopped(int pid, std::chrono::milliseconds timeout);

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
