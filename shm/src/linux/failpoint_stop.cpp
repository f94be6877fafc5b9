// A failpoint's stop on Linux: SIGSTOP, which the parent sees with waitpid
// (WUNTRACED) or as state T in /proc/PID/stat, and ends with SIGCONT or SIGKILL.
#include "failpoint/failpoint_stop.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <csignal>

namespace colony::shm::failpoint::platform {

bool claim_once(const char* path) noexcept {
  const int claimed = ::open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (claimed < 0) return false;
  ::close(claimed);
  return true;
}

void stop_this_process() noexcept { ::raise(SIGSTOP); }

}  // namespace colony::shm::failpoint::platform
