// broker/src/linux: the Linux side of the broker's platform layer
// (launcher.hpp, pipes.hpp, session_processes.hpp). Here: vfork + execve
// (the child arms PR_SET_PDEATHSIG before exec, which posix_spawn cannot),
// a pidfd per process for signals and for the reaper thread's poll, and
// the copying of named workers' stderr.
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <mutex>
#include <span>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include "../launcher.hpp"
#include "../stderr_tail.hpp"
#include "colony/shm/failpoint.hpp"
#include "colony/worker/named.hpp"

extern char** environ;

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace colony::broker_detail {
namespace {

int pidfd_open(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

std::vector<char*> pointers(const std::vector<std::string>& strings) {
  std::vector<char*> result;
  result.reserve(strings.size() + 1);
  for (const auto& s : strings) result.push_back(const_cast<char*>(s.c_str()));
  result.push_back(nullptr);
  return result;
}

// What the child needs between vfork and exec, prepared by the parent: the
// child shares our memory there and may only make system calls.
struct ChildPlan {
  const char* path;  // what to execute: PATH was searched by the parent
  char* const* argv;
  char* const* envp;
  const char* directory;  // nullptr: stay
  pid_t parent;
  int report_fd;  // the child writes errno here if it cannot exec
  int stdin_fd;   // -1: inherit
  int stdout_fd;  // -1: inherit
  int stderr_fd;  // -1: inherit
};

[[noreturn]] void run_child(const ChildPlan& plan) noexcept {
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction action {};
    if (::sigaction(sig, nullptr, &action) != 0) continue;
    const bool handled = action.sa_handler != SIG_DFL && action.sa_handler != SIG_IGN;
    const bool reset_ignored =
        sig == SIGINT || sig == SIGTERM || sig == SIGPIPE || sig == SIGCHLD || sig == SIGHUP || sig == SIGQUIT;
    if (handled || (reset_ignored && action.sa_handler == SIG_IGN)) {
      action.sa_handler = SIG_DFL;
      action.sa_flags = 0;
      ::sigaction(sig, &action, nullptr);
    }
  }
  int failure = 0;
  // Dies with the broker's spawning thread, armed before the parent check so
  // that no instant is uncovered.
  COLONY_FAILPOINT("launcher.child.before_pdeathsig");
  const bool armed = ::prctl(PR_SET_PDEATHSIG, SIGKILL) == 0;
  COLONY_FAILPOINT("launcher.child.before_parent_check");
  if (!armed || ::getppid() != plan.parent) {
    failure = ECHILD;
  } else if (plan.directory != nullptr && ::chdir(plan.directory) != 0) {
    failure = errno;
  } else if ((plan.stdin_fd >= 0 && ::dup2(plan.stdin_fd, STDIN_FILENO) < 0) ||
             (plan.stdout_fd >= 0 && ::dup2(plan.stdout_fd, STDOUT_FILENO) < 0) ||
             (plan.stderr_fd >= 0 && ::dup2(plan.stderr_fd, STDERR_FILENO) < 0)) {
    failure = errno;  // dup2 clears close-on-exec on the copies: they survive exec
  } else {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(plan.path, plan.argv, plan.envp);
    failure = errno;
  }
  (void)!::write(plan.report_fd, &failure, sizeof failure);
  ::_exit(127);
}

// Only the plan and the result live across vfork here, so nothing the child
// does to the shared stack can clobber what the parent reads afterwards.
pid_t vfork_and_exec(const ChildPlan& plan) noexcept {
  const pid_t pid = ::vfork();
  if (pid == 0) run_child(plan);
  return pid;
}

}  // namespace

shm::Expected<Spawned> spawn_process(const std::string& executable, const std::vector<std::string>& arguments,
                                     const std::vector<std::string>& environment,
                                     const std::string& working_directory, int stdin_fd, int stdout_fd,
                                     int stderr_fd) {
  std::vector<std::string> argv_strings{executable};
  argv_strings.insert(argv_strings.end(), arguments.begin(), arguments.end());
  auto argv = pointers(argv_strings);
  auto envp = pointers(environment);

  // A name without '/' is looked up here, before the fork, by the same
  // search that checks a definition; a path with '/' is the child's to
  // resolve, from its working directory.
  std::string path = executable;
  if (executable.find('/') == std::string::npos) {
    ExecutableLookup found = find_executable(executable);
    if (found.path.empty()) {
      const int why = found.found_but_not_runnable ? EACCES : ENOENT;
      return shm::os_error("cannot execute '" + executable + "' (" + found.why_not + ")", why);
    }
    path = std::move(found.path);
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return shm::os_error("pipe2", errno);
  const ChildPlan plan{path.c_str(),
                       argv.data(),
                       envp.data(),
                       working_directory.empty() ? nullptr : working_directory.c_str(),
                       ::getpid(),
                       report[1],
                       stdin_fd,
                       stdout_fd,
                       stderr_fd};
  // No handler of ours may run in the child: everything stays blocked until
  // it has reset the dispositions.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  const pid_t pid = vfork_and_exec(plan);
  const int vfork_error = errno;
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ::close(report[1]);
  if (pid < 0) {
    ::close(report[0]);
    return shm::os_error("vfork", vfork_error);
  }
  int child_error = 0;
  ssize_t got = 0;
  while ((got = ::read(report[0], &child_error, sizeof child_error)) < 0 && errno == EINTR) {
  }
  ::close(report[0]);
  if (got == static_cast<ssize_t>(sizeof child_error)) {
    ::waitpid(pid, nullptr, 0);
    const std::string where = working_directory.empty() ? std::string() : " in " + working_directory;
    return shm::os_error("cannot execute '" + executable + "'" + where, child_error);
  }
  // The child cannot be reaped before we do, so the pid is still ours here.
  const int handle = pidfd_open(pid);
  if (handle < 0) {
    const int saved = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return shm::os_error("pidfd_open", saved);
  }
  return Spawned{pid, handle};
}

bool children_are_auto_reaped() noexcept {
  struct sigaction action {};
  if (::sigaction(SIGCHLD, nullptr, &action) != 0) return false;
  return action.sa_handler == SIG_IGN || (action.sa_flags & SA_NOCLDWAIT) != 0;
}

namespace {

// Through the pidfd: never to a process that reused the pid.
bool signal_process(const Spawned& process, int signal) noexcept {
  if (process.handle < 0) return false;
  return ::syscall(SYS_pidfd_send_signal, process.handle, signal, nullptr, 0) == 0;
}

}  // namespace

bool ask_to_stop(const Spawned& process) noexcept { return signal_process(process, SIGTERM); }
bool kill_process(const Spawned& process) noexcept { return signal_process(process, SIGKILL); }

std::vector<std::string> inherited_environment() {
  std::vector<std::string> environment;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) environment.emplace_back(*entry);
  return environment;
}

void name_this_thread(const char* name) noexcept { (void)::pthread_setname_np(::pthread_self(), name); }

void release_process(Spawned& process) noexcept {
  if (process.handle >= 0) ::close(process.handle);
  process.handle = -1;
}

void kill_and_reap(Spawned& process) noexcept {
  if (process.handle < 0) return;
  (void)kill_process(process);
  siginfo_t info{};
  while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(process.handle), &info, WEXITED) != 0 &&
         errno == EINTR) {
  }
  release_process(process);
}

namespace {

// Where the workers' standard error is copied, and how, so that the reaper
// never blocks on it: a pipe or a terminal is opened again without blocking;
// a socket (journald) is sent to without waiting; a regular file shares our
// own descriptor, and its offset (it does not block).
struct ForwardTarget {
  int fd = -1;
  bool socket = false;
};

ForwardTarget open_forward_target() {
  struct stat info {};
  if (::fstat(STDERR_FILENO, &info) != 0) return {};
  if (S_ISREG(info.st_mode)) return {::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0), false};
  if (S_ISSOCK(info.st_mode)) return {::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0), true};
  // Pipes, FIFOs and terminals: a description of our own, non-blocking; none
  // at all if that cannot be had.
  return {::open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC), false};
}

std::uint64_t steady_ns() {
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

}  // namespace

struct Reaper::Impl {
  std::function<void(const ProcessEnd&)> on_end;
  int wakeup = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int ready_set = ::epoll_create1(EPOLL_CLOEXEC);
  ForwardTarget forward = open_forward_target();
  std::mutex mutex;
  struct Watched {
    std::uint64_t serial;  // its key in the epoll set (see watch_fd)
    int pid;
    int fd;  // our own dup of the pidfd
    std::uint64_t token;
    int stderr_fd;  // -1: not watched, or at its end
    std::shared_ptr<StderrTail> tail;
  };
  std::vector<Watched> added;  // guarded by mutex
  std::uint64_t next_serial = 1;  // guarded by mutex
  std::atomic<bool> stopping{false};
  std::thread thread;

  // Copies a worker's stderr to ours; what would block is dropped (the tail
  // keeps it for the report). A reader gone for good ends the copying.
  void copy_on(const char* data, std::size_t size) {
    if (forward.fd < 0) return;
    const ssize_t n = forward.socket ? ::send(forward.fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL)
                                     : ::write(forward.fd, data, size);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      ::close(forward.fd);
      forward.fd = -1;
    }
  }

  // Reads what is there (the fd does not block); false at its end.
  bool drain(Watched& entry) {
    char buffer[16 << 10];
    for (;;) {
      const ssize_t n = ::read(entry.stderr_fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      if (n <= 0) {
        unwatch_and_close(entry.stderr_fd);
        entry.stderr_fd = -1;
        return false;
      }
      entry.tail->append(std::string_view(buffer, static_cast<std::size_t>(n)));
      copy_on(buffer, static_cast<std::size_t>(n));
    }
  }

  // One epoll set holds every watched descriptor, so a wake costs what is
  // ready, not what is watched: poll() over a thousand workers' pidfds and
  // pipes at each spawn and each end made starting and ending them
  // quadratic. Data: 0 the wakeup, else (serial << 1) | is_stderr.
  bool watch_fd(int fd, std::uint64_t data) const {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = data;
    return ::epoll_ctl(ready_set, EPOLL_CTL_ADD, fd, &event) == 0;
  }
  // Our pidfd is a dup of the broker's, whose description stays open: it
  // must leave the set by hand (closing it alone would not), or epoll would
  // report it ready for ever.
  void unwatch_and_close(int fd) const {
    (void)::epoll_ctl(ready_set, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
  }

  void loop() {
    // A closed stderr must cost a write's EPIPE, never the process: SIGPIPE
    // is blocked on this thread, where the copying happens.
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
    std::unordered_map<std::uint64_t, Watched> watched;
    std::vector<epoll_event> ready(64);
    while (!stopping.load()) {
      {
        std::lock_guard lock(mutex);
        for (Watched& entry : added) {
          const std::uint64_t serial = entry.serial;
          watched.emplace(serial, std::move(entry));
        }
        added.clear();
      }
      const int count = ::epoll_wait(ready_set, ready.data(), static_cast<int>(ready.size()), -1);
      if (count < 0) {
        if (errno == EINTR) continue;
        break;
      }
      const std::span<const epoll_event> events(ready.data(), static_cast<std::size_t>(count));
      // Output first: all a process wrote is read before its end is told.
      for (const epoll_event& event : events) {
        const std::uint64_t data = event.data.u64;
        if (data == 0) {
          std::uint64_t drained = 0;
          (void)::read(wakeup, &drained, sizeof(drained));
          continue;
        }
        if ((data & 1) == 0) continue;
        const auto found = watched.find(data >> 1);
        if (found == watched.end() || found->second.stderr_fd < 0) continue;
        (void)drain(found->second);
      }
      for (const epoll_event& event : events) {
        const std::uint64_t data = event.data.u64;
        if (data == 0 || (data & 1) != 0) continue;
        const auto found = watched.find(data >> 1);
        if (found == watched.end()) continue;
        Watched& entry = found->second;
        siginfo_t info{};
        ProcessEnd end{entry.token, entry.pid, true, false, 0, 0, steady_ns(), {}};
        if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(entry.fd), &info, WEXITED | WNOHANG) != 0) {
          if (errno == EINTR) continue;  // still ready: looked at again at the next wait
          // ECHILD: reaped by someone else (a waitpid(-1) in the host): it
          // ended, how is lost. Stop watching, or the wait would spin on it.
          end.known = false;
        } else if (info.si_pid == 0) {
          continue;  // readable but not ended yet: look again
        } else if (info.si_code == CLD_EXITED) {
          end.code = info.si_status;
        } else {
          end.signaled = true;
          end.signal = info.si_status;
        }
        // All it wrote is in the pipe now: read the rest before telling.
        if (entry.stderr_fd >= 0) {
          (void)drain(entry);
          if (entry.stderr_fd >= 0) unwatch_and_close(entry.stderr_fd);  // a child of it may hold the pipe: stop here
          entry.stderr_fd = -1;
        }
        if (entry.tail) end.stderr_tail = entry.tail->lines();
        unwatch_and_close(entry.fd);
        watched.erase(found);
        on_end(end);
      }
    }
    for (const auto& [serial, entry] : watched) {
      ::close(entry.fd);
      if (entry.stderr_fd >= 0) ::close(entry.stderr_fd);
    }
    // A SIGPIPE our writes raised stays pending on this thread: discard it.
    const timespec none{0, 0};
    while (::sigtimedwait(&pipe_signal, nullptr, &none) > 0) {
    }
  }
};

Reaper::Reaper(std::function<void(const ProcessEnd&)> on_end) : impl_(std::make_unique<Impl>()) {
  if (impl_->wakeup < 0 || impl_->ready_set < 0 || !impl_->watch_fd(impl_->wakeup, 0)) {
    const int error = errno;
    if (impl_->wakeup >= 0) ::close(impl_->wakeup);
    if (impl_->ready_set >= 0) ::close(impl_->ready_set);
    if (impl_->forward.fd >= 0) ::close(impl_->forward.fd);
    throw std::system_error(error, std::generic_category(), "colony broker: the reaper's eventfd or epoll set");
  }
  impl_->on_end = std::move(on_end);
  impl_->thread = std::thread([impl = impl_.get()] {
    name_this_thread("colony-reaper");
    impl->loop();
  });
}

Reaper::~Reaper() {
  impl_->stopping.store(true);
  const std::uint64_t one = 1;
  (void)::write(impl_->wakeup, &one, sizeof(one));
  impl_->thread.join();
  std::lock_guard lock(impl_->mutex);
  for (const auto& entry : impl_->added) {
    ::close(entry.fd);
    if (entry.stderr_fd >= 0) ::close(entry.stderr_fd);
  }
  ::close(impl_->wakeup);
  ::close(impl_->ready_set);
  if (impl_->forward.fd >= 0) ::close(impl_->forward.fd);
}

std::optional<shm::Error> Reaper::watch(const Spawned& process, std::uint64_t token, int stderr_fd) {
  const int fd = ::fcntl(process.handle, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) {
    const int error = errno;
    if (stderr_fd >= 0) ::close(stderr_fd);
    return shm::os_error("cannot watch the new process (dup of its pidfd)", error);
  }
  std::shared_ptr<StderrTail> tail;
  std::lock_guard lock(impl_->mutex);
  // Into the set here, where a failure can still be told: an end the set
  // reports before the reaper's thread has taken the entry from added is
  // reported again (level-triggered) once it has.
  const std::uint64_t serial = impl_->next_serial++;
  if (!impl_->watch_fd(fd, serial << 1)) {
    const int error = errno;
    ::close(fd);
    if (stderr_fd >= 0) ::close(stderr_fd);
    return shm::os_error("cannot watch the new process (epoll_ctl)", error);
  }
  if (stderr_fd >= 0) {
    ::fcntl(stderr_fd, F_SETFL, ::fcntl(stderr_fd, F_GETFL) | O_NONBLOCK);
    if (impl_->watch_fd(stderr_fd, (serial << 1) | 1)) {
      tail = std::make_shared<StderrTail>();
    } else {
      ::close(stderr_fd);  // not watchable: its tail is lost, its process still is watched
      stderr_fd = -1;
    }
  }
  impl_->added.push_back(Impl::Watched{serial, process.pid, fd, token, stderr_fd, std::move(tail)});
  const std::uint64_t one = 1;
  (void)::write(impl_->wakeup, &one, sizeof(one));
  return std::nullopt;
}

}  // namespace colony::broker_detail
