#include "failpoint_child.hpp"

#include <atomic>
#include <cstdlib>
#include <filesystem>

#include "colony/shm/process.hpp"

namespace colony::test {
namespace {

constexpr const char* kVariable = "COLONY_FAILPOINT";

}  // namespace

FailpointChild FailpointChild::start(const std::string& failpoint, const std::string& scenario,
                                     const std::vector<std::string>& args) {
  subprocess::SpawnOptions options;
  options.environment = {{kVariable, failpoint}};
  return FailpointChild(subprocess::Child::spawn(scenario_command(scenario, args), options));
}

bool FailpointChild::wait_until_stopped(std::chrono::milliseconds timeout) {
  stopped_ = child_.wait_until_stopped(std::chrono::steady_clock::now() + timeout);
  return stopped_;
}

bool FailpointChild::kill_and_reap() {
  if (!child_.running()) return false;
  stopped_ = false;
  return child_.kill_and_reap().killed_by_sigkill();
}

void FailpointChild::resume() {
  stopped_ = false;
  child_.resume();
}

std::optional<ExitStatus> FailpointChild::wait_for(std::chrono::milliseconds timeout) {
  return child_.wait_for(timeout);
}

std::string FailpointChild::describe() const {
  if (stopped_) return "stopped at its failpoint";
  if (child_.status()) return "ended: " + child_.status()->describe();
  return "still running, never stopped at its failpoint (are failpoints compiled in?)";
}

FailpointEnvironment::FailpointEnvironment(const std::string& failpoint) {
  subprocess::set_environment_variable(kVariable, failpoint);
}
FailpointEnvironment::~FailpointEnvironment() { subprocess::set_environment_variable(kVariable, std::nullopt); }

bool eventually_stopped(int pid, std::chrono::milliseconds timeout) {
  return eventually([pid] { return subprocess::run_state(pid) == subprocess::RunState::stopped; }, timeout);
}

OncePath::OncePath() {
  static std::atomic<int> counter{0};
  std::error_code ignored;
  path_ = (std::filesystem::temp_directory_path(ignored) /
           ("colony-failpoint-" + std::to_string(shm::current_pid()) + "-" + std::to_string(counter.fetch_add(1))))
              .string();
  std::filesystem::remove(path_, ignored);
}
OncePath::~OncePath() {
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

}  // namespace colony::test
