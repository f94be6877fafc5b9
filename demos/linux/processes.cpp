// The demos' processes on Linux: /proc/self/exe, posix_spawn, waitpid,
// SIGKILL, PR_SET_PDEATHSIG, sigaction.
#include "processes.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <stdexcept>

extern char** environ;

namespace demo {

std::optional<std::string> this_executable() {
  std::vector<char> path(4096);
  const ssize_t length = ::readlink("/proc/self/exe", path.data(), path.size() - 1);
  if (length <= 0) return std::nullopt;
  return std::string(path.data(), static_cast<std::size_t>(length));
}

std::string sibling_executable(const std::string& name) {
  return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / name).string();
}

std::string ChildExit::describe() const {
  if (exited) return "exited with code " + std::to_string(code);
  if (signal != 0) return "was killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
  return "stopped";
}

int start_process(const std::vector<std::string>& argv, std::string& error) {
  std::vector<std::string> storage(argv);
  std::vector<char*> pointers;
  for (auto& argument : storage) pointers.push_back(argument.data());
  pointers.push_back(nullptr);
  pid_t pid = -1;
  if (const int rc = ::posix_spawn(&pid, storage.at(0).c_str(), nullptr, nullptr, pointers.data(), environ); rc != 0) {
    error = "posix_spawn " + storage[0] + ": " + std::strerror(rc);
    return -1;
  }
  return pid;
}

std::optional<ChildExit> try_reap(int pid) {
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) != pid) return std::nullopt;
  ChildExit exit;
  exit.exited = WIFEXITED(status);
  if (exit.exited) exit.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) exit.signal = WTERMSIG(status);
  return exit;
}

bool kill_process(int pid) { return ::kill(pid, SIGKILL) == 0; }

bool die_with_parent(int parent_pid) {
  // The kernel sends SIGKILL when the parent ends; checked after arming, so a
  // parent that died first is seen too.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  return ::getppid() == parent_pid;
}

void on_interrupt(void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);  // no SA_RESTART
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) != 0; }

}  // namespace demo
