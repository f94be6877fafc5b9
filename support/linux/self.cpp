// This process and others by pid, on Linux: /proc, prctl, kill.

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "colony/subprocess/child.hpp"

namespace colony::subprocess {

bool kill_process(int pid) noexcept { return pid > 0 && ::kill(pid, SIGKILL) == 0; }
bool ask_to_end(int pid) noexcept { return pid > 0 && ::kill(pid, SIGTERM) == 0; }
bool interrupt(int pid) noexcept { return pid > 0 && ::kill(pid, SIGINT) == 0; }
bool resume(int pid) noexcept { return pid > 0 && ::kill(pid, SIGCONT) == 0; }
void stop_self() noexcept { ::raise(SIGSTOP); }

bool die_with_parent() noexcept {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  return ::getppid() != 1;
}

void set_environment_variable(const std::string& name, const std::optional<std::string>& value) {
  if (value) {
    ::setenv(name.c_str(), value->c_str(), 1);
  } else {
    ::unsetenv(name.c_str());
  }
}

std::string self_executable() {
  char path[4096];
  const ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (length <= 0) throw std::system_error(errno, std::generic_category(), "cannot resolve /proc/self/exe");
  path[length] = '\0';
  return path;
}

std::optional<std::string> find_in_path(std::string_view program) {
  const char* path = std::getenv("PATH");
  std::string_view directories = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!directories.empty()) {
    const auto colon = directories.find(':');
    const std::string directory(directories.substr(0, colon));
    const std::string candidate = (directory.empty() ? std::string(".") : directory) + "/" + std::string(program);
    std::error_code error;
    if (std::filesystem::is_regular_file(candidate, error) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string_view::npos) break;
    directories.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

RunState run_state(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  // One line (istreambuf_iterator trips -Wnull-dereference in the TSan build).
  if (!std::getline(stat, line)) return RunState::gone;
  // pid (comm) STATE ...: comm may hold spaces and parentheses, the last ')' ends it.
  const auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return RunState::other;
  switch (line[close + 2]) {
    case 'R':
      return RunState::running;
    case 'S':
      return RunState::sleeping;
    case 'T':
      return RunState::stopped;
    default:
      return RunState::other;
  }
}

}  // namespace colony::subprocess
