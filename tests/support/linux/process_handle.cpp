// A pidfd: it names the process it was opened for, not its pid, and polls
// readable once that process has ended.
#include "process_handle.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace colony::test {

ProcessHandle::ProcessHandle(int pid) : handle_(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))) {}

ProcessHandle::ProcessHandle(ProcessHandle&& other) noexcept : handle_(other.handle_) { other.handle_ = -1; }

ProcessHandle::~ProcessHandle() {
  if (handle_ >= 0) ::close(handle_);
}

bool ProcessHandle::ended() const {
  pollfd ready{handle_, POLLIN, 0};
  return ::poll(&ready, 1, 0) == 1;
}

}  // namespace colony::test
