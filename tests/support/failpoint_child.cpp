#include "failpoint_child.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

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
  ::setenv(kVariable, failpoint.c_str(), 1);
}
FailpointEnvironment::~FailpointEnvironment() { ::unsetenv(kVariable); }

bool eventually_stopped(pid_t pid, std::chrono::milliseconds timeout) {
  return eventually([pid] { return subprocess::run_state(pid) == subprocess::RunState::stopped; }, timeout);
}

OncePath::OncePath() {
  static std::atomic<int> counter{0};
  const char* directory = std::getenv("TMPDIR");
  path_ = std::string(directory != nullptr && *directory != '\0' ? directory : "/tmp") + "/colony-failpoint-" +
          std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  ::unlink(path_.c_str());
}
OncePath::~OncePath() { ::unlink(path_.c_str()); }

}  // namespace colony::test
