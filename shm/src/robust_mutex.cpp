#include "colony/shm/robust_mutex.hpp"

#include <pthread.h>

#include <cerrno>
#include <ctime>

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
  // If we die on the next line, the next locker gets EOWNERDEAD and reads our pid.
  cell_->owner_pid.store(current_pid(), std::memory_order_relaxed);
  cell_->acquisitions.fetch_add(1, std::memory_order_relaxed);
  return result;
}

LockResult RobustMutexCell::lock_until(Deadline deadline) noexcept {
  int rc = 0;
  if (deadline.is_never()) {
    rc = pthread_mutex_lock(&cell_->native);
  } else {
    const auto since_epoch = deadline.when().time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const timespec until{static_cast<time_t>(seconds.count()),
                         static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds).count())};
    rc = pthread_mutex_clocklock(&cell_->native, CLOCK_MONOTONIC, &until);
  }
  if (rc == 0 || rc == EOWNERDEAD) return on_acquired(rc);
  return LockResult{LockStatus::timed_out};  // ETIMEDOUT; EDEADLK cannot reach here with a correct caller
}

LockResult RobustMutexCell::try_lock() noexcept {
  const int rc = pthread_mutex_trylock(&cell_->native);
  if (rc == 0 || rc == EOWNERDEAD) return on_acquired(rc);
  return LockResult{LockStatus::would_block};
}

void RobustMutexCell::unlock() noexcept {
  // If we die after this store but before the unlock, the next locker gets
  // EOWNERDEAD with owner_pid 0: "an owner died", without a name.
  cell_->owner_pid.store(0, std::memory_order_relaxed);
  pthread_mutex_unlock(&cell_->native);
}

}  // namespace colony::shm
