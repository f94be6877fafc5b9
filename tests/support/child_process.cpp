#include "child_process.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace colony::test {
namespace {

std::map<std::string, ScenarioFunction>& scenarios() {
  static std::map<std::string, ScenarioFunction> registry;
  return registry;
}

std::string self_executable() {
  char path[4096];
  const ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (length <= 0) throw std::runtime_error("cannot resolve /proc/self/exe");
  path[length] = '\0';
  return path;
}

ExitStatus decode(int status) {
  ExitStatus result;
  if (WIFEXITED(status)) {
    result.exited = true;
    result.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signaled = true;
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace

ScenarioRegistrar::ScenarioRegistrar(const char* name, ScenarioFunction function) {
  scenarios().emplace(name, std::move(function));
}

std::optional<int> run_child_scenario_if_requested(int argc, char** argv) {
  if (argc < 3 || std::strcmp(argv[1], "--child") != 0) return std::nullopt;
  // A child never outlives the test that started it.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() == 1) return 70;
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

std::string ExitStatus::describe() const {
  if (exited) return "exited with code " + std::to_string(code);
  if (signaled) return std::string("killed by signal ") + strsignal(signal);
  return "still running (timed out)";
}

ChildProcess ChildProcess::start(const std::string& scenario, const std::vector<std::string>& args) {
  const std::string executable = self_executable();
  std::vector<std::string> argv_storage{executable, "--child", scenario};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, executable.c_str(), nullptr, nullptr, argv.data(), environ);
  if (rc != 0) throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(rc));
  return ChildProcess(pid);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept : pid_(other.pid_), reaped_(other.reaped_) {
  other.pid_ = -1;
  other.reaped_ = true;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    end_if_running();
    pid_ = other.pid_;
    reaped_ = other.reaped_;
    other.pid_ = -1;
    other.reaped_ = true;
  }
  return *this;
}

ChildProcess::~ChildProcess() { end_if_running(); }

void ChildProcess::end_if_running() noexcept {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
  }
}

void ChildProcess::kill_hard() {
  if (pid_ > 0 && !reaped_) ::kill(pid_, SIGKILL);
}

std::optional<ExitStatus> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      reaped_ = true;
      return decode(status);
    }
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
}

ExitStatus ChildProcess::wait_or_kill(std::chrono::milliseconds timeout) {
  if (auto status = wait_for(timeout)) return *status;
  kill_hard();
  (void)wait_for(std::chrono::seconds(5));
  return ExitStatus{};
}

bool is_asleep(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto close_paren = line.rfind(')');
  return close_paren != std::string::npos && close_paren + 2 < line.size() && line[close_paren + 2] == 'S';
}

bool eventually(const std::function<bool()>& predicate, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace colony::test
