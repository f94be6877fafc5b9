// Linux pipes: pipe2 with O_CLOEXEC, poll for readiness, SIGPIPE blocked per thread.
#include "../pipes.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace colony::broker_detail {

std::optional<Pipe> make_pipe() noexcept {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) return std::nullopt;
  return Pipe{ends[0], ends[1]};
}

int open_empty_input() noexcept { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

void close_end(int end) noexcept {
  if (end >= 0) ::close(end);
}

Readiness wait_readable(int end, std::chrono::milliseconds timeout) noexcept {
  pollfd readable{end, POLLIN, 0};
  const int ready = ::poll(&readable, 1, static_cast<int>(timeout.count()));
  if (ready < 0) return errno == EINTR ? Readiness::timed_out : Readiness::failed;
  return ready == 0 ? Readiness::timed_out : Readiness::readable;
}

long read_some(int end, char* buffer, std::size_t size) noexcept {
  for (;;) {
    const ssize_t n = ::read(end, buffer, size);
    if (n < 0 && errno == EINTR) continue;
    return static_cast<long>(n);
  }
}

bool write_all(int end, const void* data, std::size_t size) noexcept {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(end, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // EPIPE: the process stopped reading
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

namespace {

sigset_t broken_pipe_signal() noexcept {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  return set;
}

}  // namespace

BrokenPipeGuard::BrokenPipeGuard() noexcept {
  const sigset_t set = broken_pipe_signal();
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

BrokenPipeGuard::~BrokenPipeGuard() {
  const sigset_t set = broken_pipe_signal();
  const timespec none{0, 0};
  while (::sigtimedwait(&set, nullptr, &none) > 0) {
  }
}

}  // namespace colony::broker_detail
