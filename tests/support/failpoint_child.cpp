#include "failpoint_child.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace colony::test {
namespace {

constexpr const char* kVariable = "COLONY_FAILPOINT";

std::string self_executable() {
  char path[4096];
  const ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (length <= 0) throw std::runtime_error("cannot resolve /proc/self/exe");
  path[length] = '\0';
  return path;
}

}  // namespace

FailpointChild FailpointChild::start(const std::string& failpoint, const std::string& scenario,
                                     const std::vector<std::string>& args) {
  const std::string executable = self_executable();
  std::vector<std::string> argv_storage{executable, "--child", scenario};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<std::string> env_storage;
  const std::string prefix = std::string(kVariable) + "=";
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (std::strncmp(*entry, prefix.c_str(), prefix.size()) != 0) env_storage.emplace_back(*entry);
  }
  env_storage.push_back(prefix + failpoint);
  std::vector<char*> argv;
  for (auto& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& entry : env_storage) envp.push_back(entry.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, executable.c_str(), nullptr, nullptr, argv.data(), envp.data());
  if (rc != 0) throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(rc));
  return FailpointChild(pid);
}

FailpointChild::FailpointChild(FailpointChild&& other) noexcept
    : pid_(other.pid_), reaped_(other.reaped_), stopped_(other.stopped_), ended_(other.ended_) {
  other.pid_ = -1;
  other.reaped_ = true;
}

FailpointChild::~FailpointChild() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

bool FailpointChild::wait_until_stopped(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!reaped_) {
    int status = 0;
    const pid_t changed = ::waitpid(pid_, &status, WNOHANG | WUNTRACED);
    if (changed == pid_) {
      if (WIFSTOPPED(status)) {
        stopped_ = WSTOPSIG(status) == SIGSTOP;
        if (stopped_) return true;
      } else if (WIFEXITED(status) || WIFSIGNALED(status)) {
        reaped_ = true;
        ended_.exited = WIFEXITED(status);
        ended_.code = ended_.exited ? WEXITSTATUS(status) : -1;
        ended_.signaled = WIFSIGNALED(status);
        ended_.signal = ended_.signaled ? WTERMSIG(status) : 0;
        return false;
      }
    }
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return false;
}

bool FailpointChild::kill_and_reap() {
  if (reaped_) return false;
  ::kill(pid_, SIGKILL);
  int status = 0;
  // SIGKILL ends a stopped process too; the wait is bounded by the kernel.
  if (::waitpid(pid_, &status, 0) != pid_) return false;
  reaped_ = true;
  stopped_ = false;
  ended_.signaled = WIFSIGNALED(status);
  ended_.signal = ended_.signaled ? WTERMSIG(status) : 0;
  return ended_.signaled && ended_.signal == SIGKILL;
}

void FailpointChild::resume() {
  stopped_ = false;
  if (!reaped_) ::kill(pid_, SIGCONT);
}

std::optional<ExitStatus> FailpointChild::wait_for(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!reaped_) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      ended_.exited = WIFEXITED(status);
      ended_.code = ended_.exited ? WEXITSTATUS(status) : -1;
      ended_.signaled = WIFSIGNALED(status);
      ended_.signal = ended_.signaled ? WTERMSIG(status) : 0;
      break;
    }
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return ended_;
}

std::string FailpointChild::describe() const {
  if (stopped_) return "stopped at its failpoint";
  if (reaped_) return "ended: " + ended_.describe();
  return "still running, never stopped at its failpoint (are failpoints compiled in?)";
}

FailpointEnvironment::FailpointEnvironment(const std::string& failpoint) {
  ::setenv(kVariable, failpoint.c_str(), 1);
}
FailpointEnvironment::~FailpointEnvironment() { ::unsetenv(kVariable); }

bool eventually_stopped(pid_t pid, std::chrono::milliseconds timeout) {
  return eventually(
      [pid] {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string text;
        std::getline(stat, text);  // one line (istreambuf_iterator trips -Wnull-dereference in the TSan build)
        // pid (comm) STATE ...: comm may hold spaces and parentheses, the last ')' ends it.
        const auto close = text.rfind(')');
        return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'T';
      },
      timeout);
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
