// The robust mutex on Windows: not yet ported (issue 13). Every lock fails
// with ENOSYS, so rings of many writers, mutexes and conditions report the
// failure instead of running unlocked. The port keeps its native lock in
// MutexCell::native and calls mutex_holder.hpp around it, as Linux does.
#include <cerrno>

#include "colony/shm/robust_mutex.hpp"

namespace colony::shm {

Expected<void> RobustMutexCell::initialize(MutexCell&) {
  return os_error("robust process-shared mutexes are not yet ported to Windows", ENOSYS);
}

LockResult RobustMutexCell::lock_until(Deadline) noexcept { return LockResult{Outcome::failed, 0, ENOSYS}; }

LockResult RobustMutexCell::try_lock() noexcept { return LockResult{Outcome::failed, 0, ENOSYS}; }

bool RobustMutexCell::unlock() noexcept { return false; }

}  // namespace colony::shm
