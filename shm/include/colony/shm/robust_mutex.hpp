#pragma once
// Lock operations on a MutexCell: the robust lock, a mutex shared between
// processes that the OS hands to the next locker when its holder dies.
// It is made usable again at once, so a dead owner never poisons the mutex,
// and the death is reported to the caller, who may need to repair the data
// the mutex protects.
//
// One implementation per platform of the lock itself (src/linux/robust_mutex.cpp:
// a robust pthread mutex; src/windows/robust_mutex.cpp), around the same
// bookkeeping of who holds it (src/mutex_holder.hpp). Error numbers are
// <cerrno>'s on every platform.

#include <cstdint>
#include <string>

#include "colony/shm/deadline.hpp"
#include "colony/shm/error.hpp"
#include "colony/shm/layout.hpp"
#include "colony/shm/outcome.hpp"

namespace colony::shm {

// "held by a live owner past the deadline", "the lock word is not a mutex
// (Invalid argument)"...: why a lock was not acquired, for a message that also
// names the segment.
std::string describe_lock_failure(Outcome status, int error_number);

// A lock's outcome: ok (acquired), owner_died (acquired; the previous owner
// died holding it: repair the protected data), timed_out (lock_until only),
// would_block (try_lock only: held by a live owner) or failed (not acquired:
// relocking from the holding thread, or a corrupt cell; error_number says which).
struct [[nodiscard]] LockResult {
  Outcome status;
  int dead_owner_pid = 0;  // with owner_died: who died holding it, if known
  int error_number = 0;    // with failed: why, as an errno value (EDEADLK, ENOTRECOVERABLE, EINVAL...)
  bool acquired() const noexcept {
    return status == Outcome::ok || status == Outcome::owner_died;
  }
  bool owner_died() const noexcept { return status == Outcome::owner_died; }
};

class RobustMutexCell {
 public:
  // Initializes a zero-filled cell in a segment that is not yet READY.
  static Expected<void> initialize(MutexCell& cell);

  explicit RobustMutexCell(MutexCell& cell) noexcept : cell_(&cell) {}

  // Every lock takes a deadline: a robust mutex only helps when its holder
  // dies, and a holder that is stopped (SIGSTOP, a debugger) or a lock word
  // overwritten with a thread that does not exist would otherwise block the
  // caller for ever. Deadline::never() is there for a caller who knows better.
  LockResult lock_until(Deadline deadline) noexcept;
  LockResult try_lock() noexcept;
  // Returns false (and changes nothing) when the calling thread does not hold it.
  bool unlock() noexcept;

  // The pid holding the mutex now, or 0. For introspection; racy by nature.
  int holder_pid() const noexcept { return cell_->owner_pid.load(std::memory_order_relaxed); }
  std::uint32_t owner_died_count() const noexcept { return cell_->owner_died_count.load(std::memory_order_relaxed); }
  std::uint64_t acquisitions() const noexcept { return cell_->acquisitions.load(std::memory_order_relaxed); }

 private:
  MutexCell* cell_;
};

}  // namespace colony::shm
