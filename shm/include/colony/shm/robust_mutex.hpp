#pragma once
// Lock operations on a MutexCell: a robust, process-shared pthread mutex.
//
// Why pthread and not Boost.Interprocess: Boost 1.74's interprocess_mutex is
// not robust; when its owner is SIGKILLed, lock() hangs forever. A robust
// pthread mutex sits on the kernel's robust list of the owning thread, and the
// kernel hands it to the next locker with EOWNERDEAD when the owner dies.
// We then mark it consistent at once, so a dead owner never poisons the mutex
// (no ENOTRECOVERABLE), and report the death to the caller, who may need to
// repair the data the mutex protects.

#include <cstdint>
#include <string>

#include "colony/shm/deadline.hpp"
#include "colony/shm/error.hpp"
#include "colony/shm/layout.hpp"

namespace colony::shm {

enum class LockStatus {
  acquired,
  acquired_owner_died,  // acquired; the previous owner died holding it: repair the protected data
  timed_out,            // lock(deadline) only
  would_block,          // try_lock only: held by a live owner
  failed,               // not acquired: relocking from the holding thread, or a corrupt cell (error_number says which)
};

// "held by a live owner past the deadline", "the lock word is not a mutex
// (Invalid argument)"...: why a lock was not acquired, for a message that also
// names the segment.
std::string describe_lock_failure(LockStatus status, int error_number);

struct [[nodiscard]] LockResult {
  LockStatus status;
  int dead_owner_pid = 0;  // with acquired_owner_died: who died holding it, if known
  int error_number = 0;    // with failed: the errno pthread returned
  bool acquired() const noexcept {
    return status == LockStatus::acquired || status == LockStatus::acquired_owner_died;
  }
  bool owner_died() const noexcept { return status == LockStatus::acquired_owner_died; }
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
  LockResult on_acquired(int rc) noexcept;
  MutexCell* cell_;
};

}  // namespace colony::shm
