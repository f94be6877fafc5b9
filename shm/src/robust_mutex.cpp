#include "colony/shm/robust_mutex.hpp"

#include <pthread.h>

#include <cerrno>
#include <ctime>

#include "colony/shm/failpoint.hpp"
#include "colony/shm/process.hpp"

namespace colony::shm {

Expected<void> RobustMutexCell::initialize(MutexCell& cell) {
  pthread_mutexattr_t attributes;
  if (int rc = pthread_mutexattr_init(&attributes); rc != 0) return os_error("pthread_mutexattr_init", rc);
  int rc = pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
  if (rc == 0) rc = pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
  // Error-checking type: unlocking a mutex this thread does not hold is
  // reported instead of corrupting the owner's critical section.
  if (rc == 0) rc = pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_ERRORCHECK);
  if (rc == 0) rc = pthread_mutex_init(&cell.native, &attributes);
  pthread_mutexattr_destroy(&attributes);
  if (rc != 0) return os_error("initializing a robust process-shared mutex", rc);
  cell.owner_pid.store(0, std::memory_order_relaxed);
  return {};
}

LockResult RobustMutexCell::on_acquired(int rc) noexcept {
  LockResult result{LockStatus::acquired};
  if (rc == EOWNERDEAD) {
    // The owner died between its lock and its unlock. owner_pid still names it
    // unless it died between pthread's lock and its owner_pid store.
    result = LockResult{LockStatus::acquired_owner_died, cell_->owner_pid.load(std::memory_order_relaxed)};
    pthread_mutex_consistent(&cell_->native);
    cell_->owner_died_count.fetch_add(1, std::memory_order_relaxed);
  }
  COLONY_FAILPOINT("robust_mutex.lock.before_owner_store");
  // If we die on the next line, the next locker gets EOWNERDEAD and reads our pid.
  cell_->owner_pid.store(current_pid(), std::memory_order_relaxed);
  cell_->acquisitions.fetch_add(1, std::memory_order_relaxed);
  COLONY_FAILPOINT("robust_mutex.lock.after_owner_store");
  return result;
}

namespace {

timespec to_timespec(std::chrono::nanoseconds since_epoch) noexcept {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  return timespec{static_cast<time_t>(seconds.count()), static_cast<long>((since_epoch - seconds).count())};
}

int timed_lock(pthread_mutex_t& mutex, Deadline deadline) noexcept {
#if defined(__SANITIZE_THREAD__)
  // g++ 12's TSan does not intercept pthread_mutex_clocklock and would then
  // report every unlock as "unlock of an unlocked mutex": under TSan take the
  // realtime variant, which it does intercept. Only the clock differs.
  const auto realtime_deadline = std::chrono::system_clock::now() + deadline.remaining();
  const timespec until = to_timespec(realtime_deadline.time_since_epoch());
  return pthread_mutex_timedlock(&mutex, &until);
#else
  const timespec until = to_timespec(deadline.when().time_since_epoch());
  return pthread_mutex_clocklock(&mutex, CLOCK_MONOTONIC, &until);
#endif
}

}  // namespace

LockResult RobustMutexCell::lock_until(Deadline deadline) noexcept {
  const int rc = deadline.is_never() ? pthread_mutex_lock(&cell_->native) : timed_lock(cell_->native, deadline);
  if (rc == 0 || rc == EOWNERDEAD) return on_acquired(rc);
  if (rc == ETIMEDOUT) return LockResult{LockStatus::timed_out};
  // EDEADLK (this thread holds it already), ENOTRECOVERABLE or EINVAL (a cell
  // overwritten by someone): not acquired, and not a timeout either.
  return LockResult{LockStatus::failed, 0, rc};
}

std::string describe_lock_failure(LockStatus status, int error_number) {
  switch (status) {
    case LockStatus::acquired:
    case LockStatus::acquired_owner_died: return "acquired";
    case LockStatus::timed_out: return "it stayed held past the deadline (its holder is stopped, hung or not a live thread)";
    case LockStatus::would_block: return "it is held";
    case LockStatus::failed: break;
  }
  if (error_number == EDEADLK) return "this thread holds it already";
  if (error_number == ENOTRECOVERABLE) return "it is not recoverable (a holder died and it was never made consistent)";
  if (error_number == EINVAL) return "its lock word is not a robust mutex (overwritten?)";
  return os_error("it cannot be locked", error_number).message;
}

LockResult RobustMutexCell::try_lock() noexcept {
  const int rc = pthread_mutex_trylock(&cell_->native);
  if (rc == 0 || rc == EOWNERDEAD) return on_acquired(rc);
  // EDEADLK: the calling thread holds it, which for a try is simply "held".
  if (rc == EBUSY || rc == EDEADLK) return LockResult{LockStatus::would_block};
  return LockResult{LockStatus::failed, 0, rc};
}

bool RobustMutexCell::unlock() noexcept {
  // Only the holder clears owner_pid: a stray unlock from another process
  // must not erase the name of the process that really holds the lock.
  // (Threads of one process share a pid; pthread's error check below still
  // refuses a wrong-thread unlock.)
  const int self = current_pid();
  int expected = self;
  // If we die after this exchange but before the unlock, the next locker
  // gets EOWNERDEAD with owner_pid 0: "an owner died", without a name.
  const bool was_ours = cell_->owner_pid.compare_exchange_strong(expected, 0, std::memory_order_relaxed);
  COLONY_FAILPOINT("robust_mutex.unlock.before_release");
  if (pthread_mutex_unlock(&cell_->native) == 0) return true;
  if (was_ours) cell_->owner_pid.store(self, std::memory_order_relaxed);  // EPERM: not this thread's lock after all
  return false;
}

}  // namespace colony::shm
