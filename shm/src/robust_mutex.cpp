// What every platform's robust mutex shares: the words for why a lock was not
// taken. The lock itself is in linux/robust_mutex.cpp and windows/robust_mutex.cpp.
#include "colony/shm/robust_mutex.hpp"

#include <cerrno>

namespace colony::shm {

std::string describe_lock_failure(Outcome status, int error_number) {
  switch (status) {
    case Outcome::ok:
    case Outcome::owner_died: return "acquired";
    case Outcome::timed_out: return "it stayed held past the deadline (its holder is stopped, hung or not a live thread)";
    case Outcome::would_block: return "it is held";
    default: break;  // failed: error_number says why
  }
  if (error_number == EDEADLK) return "this thread holds it already";
  if (error_number == ENOTRECOVERABLE) return "it is not recoverable (a holder died and it was never made consistent)";
  if (error_number == EINVAL) return "its lock word is not a robust mutex (overwritten?)";
  return os_error("it cannot be locked", error_number).message;
}

}  // namespace colony::shm
