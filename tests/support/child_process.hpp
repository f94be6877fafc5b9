#pragma once
// Multi-process tests re-run the test binary as a child that plays one named
// scenario:  colony_shm_tests --child <scenario> [args...]
// A ChildProcess is owned RAII-style (a colony::subprocess::Child): if a test
// fails before waiting for it, the destructor SIGKILLs and reaps it, so no
// test leaves a process behind.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "colony/subprocess/child.hpp"

namespace colony::test {

using ScenarioFunction = std::function<int(const std::vector<std::string>& args)>;

// Registers a scenario at static-initialization time; see COLONY_CHILD_SCENARIO.
struct ScenarioRegistrar {
  ScenarioRegistrar(const char* name, ScenarioFunction function);
};

// Runs the scenario named in argv if argv asks for one; returns its exit code,
// or nullopt when this is not a child invocation.
std::optional<int> run_child_scenario_if_requested(int argc, char** argv);

using ExitStatus = subprocess::ExitStatus;

class ChildProcess {
 public:
  // Starts this test binary as `--child scenario args...`; it dies with the
  // test process.
  static ChildProcess start(const std::string& scenario, const std::vector<std::string>& args = {});

  ChildProcess(ChildProcess&& other) noexcept = default;
  // Kills and reaps the process this one held, if it still runs.
  ChildProcess& operator=(ChildProcess&& other) noexcept = default;
  ~ChildProcess() = default;  // kills and reaps the child if it still runs

  int pid() const noexcept { return child_.pid(); }
  void kill_hard() { child_.kill(); }  // SIGKILL, does not reap
  // Waits until the child ends or the timeout passes; nullopt on timeout.
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout) { return child_.wait_for(timeout); }
  // Waits; on timeout kills the child and returns a status with exited=false.
  ExitStatus wait_or_kill(std::chrono::milliseconds timeout);

 private:
  explicit ChildProcess(subprocess::Child child) noexcept : child_(std::move(child)) {}
  subprocess::Child child_;
};

// The argument vector of this test binary as `--child scenario args...`.
std::vector<std::string> scenario_command(const std::string& scenario, const std::vector<std::string>& args);

// True once the process sleeps in the kernel: for a process that has
// nothing else to wait for, asleep in the wait under test.
bool is_asleep(int pid);

// For a scenario that has done its part and waits for the test to kill it.
[[noreturn]] void wait_to_be_killed();

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
