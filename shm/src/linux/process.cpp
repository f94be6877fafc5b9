#include "colony/shm/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace colony::shm {
namespace {

struct ProcStat {
  bool readable = false;  // false: no such process, or no procfs
  char state = '?';
  std::uint64_t start_ticks = 0;
};

// /proc/<pid>/stat without allocating: "pid (comm) state ppid ... starttime ...".
// The command may hold spaces and parentheses, so fields count from the last ')'.
ProcStat read_proc_stat(int pid) noexcept {
  ProcStat stat;
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return stat;
  char text[1024];
  const ssize_t length = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  if (length <= 0) return stat;
  text[length] = '\0';
  const char* close_paren = std::strrchr(text, ')');
  if (close_paren == nullptr || close_paren[1] != ' ') return stat;
  stat.readable = true;
  stat.state = close_paren[2];
  // The state is field 3; starttime is field 22.
  const char* field = close_paren + 2;
  for (int index = 3; index < 22 && field != nullptr; ++index) {
    field = std::strchr(field, ' ');
    if (field != nullptr) ++field;
  }
  if (field != nullptr) stat.start_ticks = std::strtoull(field, nullptr, 10);
  return stat;
}

std::uint32_t start_word(std::uint64_t ticks) noexcept {
  const auto low = static_cast<std::uint32_t>(ticks);
  return low == 0 ? 1 : low;  // 0 is reserved for "unknown"
}

bool is_running(char state) noexcept { return state != 'Z' && state != 'X' && state != 'x'; }

}  // namespace

int current_pid() noexcept {
  // Not cached across fork: a forked child must see its own pid.
  return static_cast<int>(::getpid());
}

ProcessIdentity current_identity() noexcept {
  // Cached with the pid it belongs to, so that a forked child reads its own.
  static std::atomic<std::uint64_t> cached{0};
  const int self = current_pid();
  const ProcessIdentity known = unpack_identity(cached.load(std::memory_order_relaxed));
  if (known.pid == self && known.start != 0) return known;
  const ProcessIdentity fresh = identity_of(self);
  cached.store(pack(fresh), std::memory_order_relaxed);
  return fresh;
}

ProcessIdentity identity_of(int pid) noexcept {
  if (pid <= 0) return {};
  const ProcStat stat = read_proc_stat(pid);
  if (!stat.readable || stat.start_ticks == 0) return {pid, 0};
  return {pid, start_word(stat.start_ticks)};
}

bool process_is_alive(int pid) noexcept {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  // kill() succeeds on a zombie; /proc tells its state (Z: zombie, X: dead).
  const ProcStat stat = read_proc_stat(pid);
  if (!stat.readable) return true;  // no procfs (or gone this instant): trust kill()
  return is_running(stat.state);
}

bool is_alive(ProcessIdentity identity) noexcept {
  if (identity.pid <= 0) return false;
  if (::kill(identity.pid, 0) != 0 && errno == ESRCH) return false;
  const ProcStat stat = read_proc_stat(identity.pid);
  if (!stat.readable) return true;
  if (!is_running(stat.state)) return false;
  // Another process that got the pid after ours ended started at another time.
  return identity.start == 0 || stat.start_ticks == 0 || start_word(stat.start_ticks) == identity.start;
}

ProcessWatch::ProcessWatch(ProcessIdentity identity) noexcept : identity_(identity) {
  if (identity.pid <= 0) return;
  const long fd = ::syscall(SYS_pidfd_open, identity.pid, 0);
  if (fd < 0) {
    // ESRCH: no such process. Anything else (no pidfds here, a seccomp
    // filter): judged by identity at each look.
    if (errno != ESRCH) how_ = How::by_identity;
    return;
  }
  // Opened first, checked second: the pidfd may name a process that got the
  // pid after ours ended, and then the identity says so now.
  if (!is_alive(identity)) {
    ::close(static_cast<int>(fd));
    return;
  }
  handle_ = fd;
  how_ = How::handle;
}

ProcessWatch::ProcessWatch(ProcessWatch&& other) noexcept
    : identity_(other.identity_), how_(std::exchange(other.how_, How::none)), handle_(std::exchange(other.handle_, -1)) {}

ProcessWatch& ProcessWatch::operator=(ProcessWatch&& other) noexcept {
  if (this != &other) {
    if (handle_ >= 0) ::close(static_cast<int>(handle_));
    identity_ = other.identity_;
    how_ = std::exchange(other.how_, How::none);
    handle_ = std::exchange(other.handle_, -1);
  }
  return *this;
}

ProcessWatch::~ProcessWatch() {
  if (handle_ >= 0) ::close(static_cast<int>(handle_));
}

bool ProcessWatch::alive() const noexcept {
  switch (how_) {
    case How::none: return false;
    case How::by_identity: return is_alive(identity_);
    case How::handle: break;
  }
  // A pidfd reads as ready once its process has ended (a zombie included).
  pollfd ready{static_cast<int>(handle_), POLLIN, 0};
  int result = 0;
  while ((result = ::poll(&ready, 1, 0)) < 0 && errno == EINTR) {
  }
  return result == 0;
}

}  // namespace colony::shm
