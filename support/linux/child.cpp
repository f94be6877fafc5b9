// Child on Linux: fork then execve (so that the child can ask for a death
// signal before it runs anything, which posix_spawn cannot), a pidfd to wait
// on with a deadline, waitpid to reap.

#include "colony/subprocess/child.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <thread>

extern char** environ;

namespace colony::subprocess {
namespace {

// Exit codes of a child that could not become what was asked.
constexpr int kParentGone = 1;
constexpr int kCannotExecute = 127;

int open_pidfd(pid_t pid) noexcept {
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  return fd < 0 ? -1 : static_cast<int>(fd);
}

int death_signal(OnParentDeath on_parent_death) noexcept {
  switch (on_parent_death) {
    case OnParentDeath::kill:
      return SIGKILL;
    case OnParentDeath::terminate:
      return SIGTERM;
    case OnParentDeath::nothing:
      break;
  }
  return 0;
}

// In the new child, before anything else: the death signal, then whether the
// parent died before it was set (the child was then handed to init).
void watch_parent(OnParentDeath on_parent_death, pid_t parent) noexcept {
  const int signal_number = death_signal(on_parent_death);
  if (signal_number == 0) return;
  ::prctl(PR_SET_PDEATHSIG, signal_number);
  if (::getppid() != parent) ::_exit(kParentGone);
}

// Our environment with the given variables set over it.
std::vector<std::string> environment_with(const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::string> entries;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const bool replaced = std::any_of(overrides.begin(), overrides.end(), [&](const auto& variable) {
      return text.size() > variable.first.size() && text.compare(0, variable.first.size(), variable.first) == 0 &&
             text[variable.first.size()] == '=';
    });
    if (!replaced) entries.emplace_back(text);
  }
  for (const auto& [name, value] : overrides) entries.push_back(name + "=" + value);
  return entries;
}

std::vector<char*> pointers(std::vector<std::string>& words) {
  std::vector<char*> out;
  for (std::string& word : words) out.push_back(word.data());
  out.push_back(nullptr);
  return out;
}

// Only async-signal-safe calls from here to execve: the parent may have
// threads, whose locks the child's copy of memory may hold.
void give_descriptor(int fd, int target, int null_fd) noexcept {
  if (fd == kInherit) return;
  const int source = fd == kNull ? null_fd : fd;
  if (source < 0) ::_exit(kCannotExecute);
  if (source == target) {
    ::fcntl(target, F_SETFD, 0);  // dup2 onto itself would keep close-on-exec
  } else if (::dup2(source, target) < 0) {
    ::_exit(kCannotExecute);
  }
}

[[noreturn]] void exec_child(char* const* argv, char* const* envp, const SpawnOptions& options, pid_t parent,
                             int error_fd) noexcept {
  watch_parent(options.on_parent_death, parent);
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) ::signal(signal_number, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  const bool wants_null = options.stdin_fd == kNull || options.stdout_fd == kNull || options.stderr_fd == kNull;
  const int null_fd = wants_null ? ::open("/dev/null", O_RDWR | O_CLOEXEC) : -1;
  give_descriptor(options.stdin_fd, STDIN_FILENO, null_fd);
  give_descriptor(options.stdout_fd, STDOUT_FILENO, null_fd);
  give_descriptor(options.stderr_fd, STDERR_FILENO, null_fd);
  ::execve(argv[0], argv, envp);
  const int error = errno;
  [[maybe_unused]] const ssize_t ignored = ::write(error_fd, &error, sizeof(error));
  ::_exit(kCannotExecute);
}

}  // namespace

// ---------------------------------------------------------------------------
// ExitStatus

bool ExitStatus::killed_by_sigkill() const noexcept { return signaled && signal == SIGKILL; }

std::string ExitStatus::signal_name() const {
  const char* name = ::strsignal(signal);
  return name != nullptr ? name : "signal " + std::to_string(signal);
}

// ---------------------------------------------------------------------------
// Starting

Child Child::spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
  if (argv.empty()) throw std::invalid_argument("Child::spawn: no program");
  std::vector<std::string> words = argv;
  std::vector<std::string> environment = environment_with(options.environment);
  const std::vector<char*> argv_pointers = pointers(words);
  const std::vector<char*> envp = pointers(environment);

  int error_pipe[2];
  if (::pipe2(error_pipe, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(error_pipe[0]);
    exec_child(argv_pointers.data(), envp.data(), options, parent, error_pipe[1]);
  }
  const int fork_error = errno;
  ::close(error_pipe[1]);
  if (pid < 0) {
    ::close(error_pipe[0]);
    throw std::system_error(fork_error, std::generic_category(), "fork");
  }
  // The write end closes at execve: nothing to read means the program runs.
  int exec_error = 0;
  ssize_t n = -1;
  do {
    n = ::read(error_pipe[0], &exec_error, sizeof(exec_error));
  } while (n < 0 && errno == EINTR);
  ::close(error_pipe[0]);
  Child child(pid, open_pidfd(pid));
  if (n == static_cast<ssize_t>(sizeof(exec_error))) {
    child.kill_and_reap();
    throw std::system_error(exec_error, std::generic_category(), "cannot execute " + argv[0]);
  }
  return child;
}

Child Child::run(const std::function<int()>& body, OnParentDeath on_parent_death, Ending ending) {
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) {
    watch_parent(on_parent_death, parent);
    int code = 1;
    try {
      code = body();
    } catch (...) {
      code = 1;
    }
    if (ending == Ending::normal) {
      std::fflush(nullptr);
      std::exit(code);
    }
    ::_exit(code);
  }
  return Child(pid, open_pidfd(pid));
}

// ---------------------------------------------------------------------------
// Ownership

void Child::release() noexcept {
  if (running()) kill_and_reap();
  if (handle_ >= 0) ::close(handle_);
  handle_ = -1;
}

void Child::reaped(int wait_status) noexcept {
  ExitStatus status;
  if (WIFEXITED(wait_status)) {
    status.exited = true;
    status.code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    status.signaled = true;
    status.signal = WTERMSIG(wait_status);
  }
  status_ = status;
}

// ---------------------------------------------------------------------------
// Waiting

std::optional<ExitStatus> Child::try_wait() {
  if (!running()) return status_;
  int wait_status = 0;
  const pid_t done = ::waitpid(pid_, &wait_status, WNOHANG);
  if (done == pid_) {
    reaped(wait_status);
  } else if (done < 0 && errno != EINTR) {
    status_ = ExitStatus{};  // not ours to wait for any more (ECHILD): how it ended is unknown
  }
  return status_;
}

std::optional<ExitStatus> Child::wait_until(Clock::time_point deadline) {
  for (;;) {
    if (auto status = try_wait()) return status;
    const auto now = Clock::now();
    if (now >= deadline) return std::nullopt;
    if (handle_ < 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(500));
      continue;
    }
    // Readable once the child has ended; a signal or the timeout just loops.
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    pollfd ended{handle_, POLLIN, 0};
    ::poll(&ended, 1, static_cast<int>(std::min<long long>(left, 1000)));
  }
}

bool Child::wait_until_stopped(Clock::time_point deadline) {
  while (running()) {
    int wait_status = 0;
    const pid_t changed = ::waitpid(pid_, &wait_status, WNOHANG | WUNTRACED);
    if (changed == pid_) {
      if (WIFSTOPPED(wait_status)) {
        if (WSTOPSIG(wait_status) == SIGSTOP) return true;
      } else {
        reaped(wait_status);
        return false;
      }
    }
    // A pidfd tells of the end only, not of a stop: poll the state.
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return false;
}

// ---------------------------------------------------------------------------
// Signals

void Child::kill() noexcept {
  if (running()) ::kill(pid_, SIGKILL);
}

void Child::terminate() noexcept {
  if (running()) ::kill(pid_, SIGTERM);
}

void Child::resume() noexcept {
  if (running()) ::kill(pid_, SIGCONT);
}

ExitStatus Child::kill_and_reap() noexcept {
  if (running()) {
    ::kill(pid_, SIGKILL);
    int wait_status = 0;
    pid_t done = -1;
    do {
      done = ::waitpid(pid_, &wait_status, 0);
    } while (done < 0 && errno == EINTR);
    if (done == pid_) {
      reaped(wait_status);
    } else {
      status_ = ExitStatus{};
    }
  }
  return status_.value_or(ExitStatus{});
}

}  // namespace colony::subprocess
