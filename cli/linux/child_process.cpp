// Running another program with posix_spawn, signals passed on while it runs.
#include "child_process.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

extern char** environ;

namespace colony::cli {
namespace {

// The running child, for the signal forwarder.
std::atomic<pid_t> g_child_pid{-1};

extern "C" void forward_to_child(int signal_number) {
  const pid_t pid = g_child_pid.load();
  if (pid > 0) ::kill(pid, signal_number);
}

// While the child runs: SIGINT and SIGQUIT ignored, SIGTERM and SIGHUP
// forwarded. Restored when the scope ends.
class SignalsToChild {
 public:
  SignalsToChild() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    struct sigaction forward {};
    forward.sa_handler = forward_to_child;
    sigemptyset(&forward.sa_mask);
    ::sigaction(SIGINT, &ignore, &saved_[0]);
    ::sigaction(SIGQUIT, &ignore, &saved_[1]);
    ::sigaction(SIGTERM, &forward, &saved_[2]);
    ::sigaction(SIGHUP, &forward, &saved_[3]);
  }
  SignalsToChild(const SignalsToChild&) = delete;
  SignalsToChild& operator=(const SignalsToChild&) = delete;
  ~SignalsToChild() {
    ::sigaction(SIGINT, &saved_[0], nullptr);
    ::sigaction(SIGQUIT, &saved_[1], nullptr);
    ::sigaction(SIGTERM, &saved_[2], nullptr);
    ::sigaction(SIGHUP, &saved_[3], nullptr);
  }

 private:
  struct sigaction saved_[4] {};
};

}  // namespace

std::string this_executable_path() {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string() : self.string();
}

bool is_executable_file(const std::string& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error) && ::access(path.c_str(), X_OK) == 0;
}

int run_in_foreground(const std::string& executable, const std::vector<std::string>& arguments) {
  std::vector<std::string> words;
  words.push_back(executable);
  words.insert(words.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);

  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (const int signal_number : {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE}) sigaddset(&defaults, signal_number);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::fflush(nullptr);
  const SignalsToChild signals;
  // A SIGTERM or SIGHUP that comes before the pid is known waits for it.
  sigset_t forwarded;
  sigemptyset(&forwarded);
  sigaddset(&forwarded, SIGTERM);
  sigaddset(&forwarded, SIGHUP);
  sigset_t previous;
  ::pthread_sigmask(SIG_BLOCK, &forwarded, &previous);
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, executable.c_str(), nullptr, &attributes, argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  if (spawned == 0) g_child_pid.store(pid);
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (spawned != 0) throw std::runtime_error("cannot run " + executable + ": " + std::strerror(spawned));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      const int error = errno;
      g_child_pid.store(-1);
      throw std::runtime_error("waiting for " + executable + ": " + std::strerror(error));
    }
  }
  g_child_pid.store(-1);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace colony::cli
