#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <mutex>
#include <thread>
#include <utility>

#include "../launcher.hpp"

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

}  // namespace

shm::Expected<Spawned> spawn_process(const std::string& executable, const std::vector<std::string>& arguments,
                                     const std::vector<std::string>& environment,
                                     const std::string& working_directory) {
  std::vector<std::string> argv_strings{executable};
  argv_strings.insert(argv_strings.end(), arguments.begin(), arguments.end());
  auto argv = pointers(argv_strings);
  auto envp = pointers(environment);

  posix_spawnattr_t attributes;
  ::posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (const int sig : {SIGINT, SIGTERM, SIGPIPE, SIGCHLD, SIGHUP, SIGQUIT}) sigaddset(&defaults, sig);
  ::posix_spawnattr_setsigmask(&attributes, &none);
  ::posix_spawnattr_setsigdefault(&attributes, &defaults);
  ::posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  if (!working_directory.empty()) ::posix_spawn_file_actions_addchdir_np(&actions, working_directory.c_str());

  pid_t pid = 0;
  // glibc's posix_spawn reports exec failures (ENOENT, EACCES) as its result.
  const int error = executable.find('/') == std::string::npos
                        ? ::posix_spawnp(&pid, executable.c_str(), &actions, &attributes, argv.data(), envp.data())
                        : ::posix_spawn(&pid, executable.c_str(), &actions, &attributes, argv.data(), envp.data());
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attributes);
  if (error != 0) return shm::os_error("cannot execute '" + executable + "'", error);

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

bool signal_process(const Spawned& process, int signal) noexcept {
  if (process.handle < 0) return false;
  return ::syscall(SYS_pidfd_send_signal, process.handle, signal, nullptr, 0) == 0;
}

void release_process(Spawned& process) noexcept {
  if (process.handle >= 0) ::close(process.handle);
  process.handle = -1;
}

struct Reaper::Impl {
  std::function<void(const ProcessEnd&)> on_end;
  int wakeup = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  std::mutex mutex;
  std::vector<std::pair<int, int>> added;  // pid, own dup of the pidfd; guarded by mutex
  std::atomic<bool> stopping{false};
  std::thread thread;

  void loop() {
    std::vector<std::pair<int, int>> watched;
    std::vector<pollfd> fds;
    while (!stopping.load()) {
      {
        std::lock_guard lock(mutex);
        watched.insert(watched.end(), added.begin(), added.end());
        added.clear();
      }
      fds.assign(1, pollfd{wakeup, POLLIN, 0});
      for (const auto& [pid, fd] : watched) fds.push_back(pollfd{fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
      if (fds[0].revents & POLLIN) {
        std::uint64_t drained = 0;
        (void)::read(wakeup, &drained, sizeof(drained));
      }
      for (std::size_t i = fds.size(); i-- > 1;) {
        if (fds[i].revents == 0) continue;
        const auto [pid, fd] = watched[i - 1];
        siginfo_t info{};
        if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(fd), &info, WEXITED | WNOHANG) != 0 ||
            info.si_pid == 0) {
          continue;  // not ended yet (or already reaped): look again
        }
        ::close(fd);
        watched.erase(watched.begin() + static_cast<std::ptrdiff_t>(i - 1));
        ProcessEnd end{pid, info.si_code != CLD_EXITED, 0, 0};
        if (end.signaled) {
          end.signal = info.si_status;
        } else {
          end.code = info.si_status;
        }
        on_end(end);
      }
    }
    for (const auto& [pid, fd] : watched) ::close(fd);
  }
};

Reaper::Reaper(std::function<void(const ProcessEnd&)> on_end) : impl_(std::make_unique<Impl>()) {
  impl_->on_end = std::move(on_end);
  impl_->thread = std::thread([impl = impl_.get()] { impl->loop(); });
}

Reaper::~Reaper() {
  impl_->stopping.store(true);
  const std::uint64_t one = 1;
  (void)::write(impl_->wakeup, &one, sizeof(one));
  impl_->thread.join();
  std::lock_guard lock(impl_->mutex);
  for (const auto& [pid, fd] : impl_->added) ::close(fd);
  ::close(impl_->wakeup);
}

void Reaper::watch(const Spawned& process) {
  const int fd = ::fcntl(process.handle, F_DUPFD_CLOEXEC, 0);
  {
    std::lock_guard lock(impl_->mutex);
    impl_->added.emplace_back(process.pid, fd);
  }
  const std::uint64_t one = 1;
  (void)::write(impl_->wakeup, &one, sizeof(one));
}

}  // namespace colony::broker_detail
