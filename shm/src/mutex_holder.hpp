#pragma once
// Who holds a MutexCell, and how often it was taken or recovered from a dead
// owner: the bookkeeping around the native lock, the same on every platform.
// Each platform's RobustMutexCell (linux/robust_mutex.cpp,
// windows/robust_mutex.cpp) calls it right after taking its native lock and
// right before releasing it. Inline: it runs on every claim of a many-writer
// ring.

#include <atomic>

#include "colony/shm/failpoint.hpp"
#include "colony/shm/layout.hpp"
#include "colony/shm/process.hpp"
#include "colony/shm/robust_mutex.hpp"

namespace colony::shm::detail {

// Right after the native lock was taken. previous_owner_died: the platform
// took it from a holder that died holding it, and made it usable again.
inline LockResult record_acquisition(MutexCell& cell, bool previous_owner_died) noexcept {
  LockResult result{Outcome::ok};
  if (previous_owner_died) {
    // owner_pid still names the dead owner unless it died between its native
    // lock and its owner_pid store.
    result = LockResult{Outcome::owner_died, cell.owner_pid.load(std::memory_order_relaxed)};
    cell.owner_died_count.fetch_add(1, std::memory_order_relaxed);
  }
  COLONY_FAILPOINT("robust_mutex.lock.before_owner_store");
  // If we die on the next line, the next locker is told its owner died and reads our pid.
  cell.owner_pid.store(current_pid(), std::memory_order_relaxed);
  cell.acquisitions.fetch_add(1, std::memory_order_relaxed);
  COLONY_FAILPOINT("robust_mutex.lock.after_owner_store");
  return result;
}

struct HolderRelease {
  int self;
  bool was_ours;  // owner_pid named this process, and is now 0
};

// Right before the native unlock. Only the holder clears owner_pid: a stray
// unlock from another process must not erase the name of the process that
// really holds the lock. (Threads of one process share a pid; the native
// lock's own check still refuses a wrong-thread unlock.)
inline HolderRelease begin_release(MutexCell& cell) noexcept {
  HolderRelease release{current_pid(), false};
  int expected = release.self;
  // If we die after this exchange but before the native unlock, the next
  // locker is told an owner died, with owner_pid 0: without a name.
  release.was_ours = cell.owner_pid.compare_exchange_strong(expected, 0, std::memory_order_relaxed);
  COLONY_FAILPOINT("robust_mutex.unlock.before_release");
  return release;
}

// The native unlock refused: the lock was not this thread's after all.
inline void undo_release(MutexCell& cell, const HolderRelease& release) noexcept {
  if (release.was_ours) cell.owner_pid.store(release.self, std::memory_order_relaxed);
}

}  // namespace colony::shm::detail
