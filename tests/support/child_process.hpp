#pragma once
// Multi-process tests re-run the test binary as a child that plays one named
// scenario:  colony_shm_tests --child <scenario> [args...]
// A ChildProcess is owned RAII-style: if a test fails before waiting for it,
// the destructor SIGKILLs and reaps it, so no test leaves a process behind.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace colony::test {

using ScenarioFunction = std::function<int(const std::vector<std::string>& args)>;

// Registers a scenario at static-initialization time; see COLONY_CHILD_SCENARIO.
struct ScenarioRegistrar {
  ScenarioRegistrar(const char* name, ScenarioFunction function);
};

// Runs the scenario named in argv if argv asks for one; returns its exit code,
// or nullopt when this is not a child invocation.
std::optional<int> run_child_scenario_if_requested(int argc, char** argv);

struct ExitStatus {
  bool exited = false;  // exited normally with code
  int code = -1;
  bool signaled = false;  // killed by signal
  int signal = 0;
  bool ok() const noexcept { return exited && code == 0; }
  std::string describe() const;
};

class ChildProcess {
 public:
  // Starts this test binary as `--child scenario args...`.
  static ChildProcess start(const std::string& scenario, const std::vector<std::string>& args = {});

  ChildProcess(ChildProcess&& other) noexcept;
  // Kills and reaps the process this one held, if it still runs.
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ~ChildProcess();

  pid_t pid() const noexcept { return pid_; }
  void kill_hard();  // SIGKILL, does not reap
  // Waits until the child ends or the timeout passes; nullopt on timeout.
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout);
  // Waits; on timeout kills the child and returns a status with exited=false.
  ExitStatus wait_or_kill(std::chrono::milliseconds timeout);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  void end_if_running() noexcept;
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// True once the process sleeps in the kernel (state S in /proc/<pid>/stat):
// for a process that has nothing else to wait for, asleep in a futex.
bool is_asleep(int pid);

// Polls predicate every millisecond until it is true or the timeout passes.
bool eventually(const std::function<bool()>& predicate, std::chrono::milliseconds timeout);

}  // namespace colony::test

#define COLONY_SCENARIO_CONCAT2(a, b) a##b
#define COLONY_SCENARIO_CONCAT(a, b) COLONY_SCENARIO_CONCAT2(a, b)
// Defines a child scenario: a function of the arguments that returns an exit code.
#define COLONY_CHILD_SCENARIO(name)                                                                  \
  static int COLONY_SCENARIO_CONCAT(colony_scenario_, __LINE__)(const std::vector<std::string>& args); \
  static const ::colony::test::ScenarioRegistrar COLONY_SCENARIO_CONCAT(colony_registrar_, __LINE__)(  \
      name, &COLONY_SCENARIO_CONCAT(colony_scenario_, __LINE__));                                      \
  static int COLONY_SCENARIO_CONCAT(colony_scenario_, __LINE__)([[maybe_unused]] const std::vector<std::string>& args)
