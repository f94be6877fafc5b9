#include "child_process.hpp"

#include <cstdio>
#include <cstring>
#include <map>
#include <thread>

namespace colony::test {
namespace {

std::map<std::string, ScenarioFunction>& scenarios() {
  static std::map<std::string, ScenarioFunction> registry;
  return registry;
}

}  // namespace

ScenarioRegistrar::ScenarioRegistrar(const char* name, ScenarioFunction function) {
  scenarios().emplace(name, std::move(function));
}

std::optional<int> run_child_scenario_if_requested(int argc, char** argv) {
  if (argc < 3 || std::strcmp(argv[1], "--child") != 0) return std::nullopt;
  // A child never outlives the test that started it, whoever spawned it (a
  // ChildProcess, or a broker running the test binary as a worker).
  if (!subprocess::die_with_parent()) return 70;
  const auto found = scenarios().find(argv[2]);
  if (found == scenarios().end()) {
    std::fprintf(stderr, "unknown child scenario '%s'\n", argv[2]);
    return 64;
  }
  std::vector<std::string> args(argv + 3, argv + argc);
  try {
    return found->second(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child scenario '%s' threw: %s\n", argv[2], e.what());
    return 65;
  }
}

std::vector<std::string> scenario_command(const std::string& scenario, const std::vector<std::string>& args) {
  std::vector<std::string> argv{subprocess::self_executable(), "--child", scenario};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

ChildProcess ChildProcess::start(const std::string& scenario, const std::vector<std::string>& args) {
  return ChildProcess(subprocess::Child::spawn(scenario_command(scenario, args)));
}

ExitStatus ChildProcess::wait_or_kill(std::chrono::milliseconds timeout) {
  if (auto status = wait_for(timeout)) return *status;
  kill_hard();
  (void)wait_for(std::chrono::seconds(5));
  return ExitStatus{};
}

void wait_to_be_killed() {
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

bool is_asleep(int pid) { return subprocess::run_state(pid) == subprocess::RunState::sleeping; }

bool eventually(const std::function<bool()>& predicate, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace colony::test
