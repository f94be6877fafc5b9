// The robust mutex on Linux: a robust, process-shared, error-checking pthread
// mutex in MutexCell::native (native_mutex below).
//
// Why pthread and not Boost.Interprocess: Boost 1.74's interprocess_mutex is
// not robust; when its owner is SIGKILLed, lock() hangs forever. A robust
// pthread mutex sits on the kernel's robust list of the owning thread, and the
// kernel hands it to the next locker with EOWNERDEAD when the owner dies.
// We then mark it consistent at once, so a dead owner never poisons the mutex
// (no ENOTRECOVERABLE), and report the death to the caller.
#include "colony/shm/robust_mutex.hpp"

#include <pthread.h>

#include <cerrno>
#include <ctime>
#include <new>

#include "mutex_holder.hpp"

namespace colony::shm {
namespace {

static_assert(sizeof(pthread_mutex_t) <= kNativeLockBytes, "pthread_mutex_t outgrew MutexCell::native");
static_assert(alignof(pthread_mutex_t) <= alignof(MutexCell), "MutexCell::native is under-aligned for pthread_mutex_t");

pthread_mutex_t& native_mutex(MutexCell& cell) noexcept {
  return *std::launder(reinterpret_cast<pthread_mutex_t*>(cell.native));
}

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

// rc is 0 or EOWNERDEAD: the mutex is ours.
LockResult on_acquired(MutexCell& cell, int rc) noexcept {
  const bool owner_died = rc == EOWNERDEAD;
  if (owner_died) pthread_mutex_consistent(&native_mutex(cell));
  return detail::record_acquisition(cell, owner_died);
}

}  // namespace

Expected<void> RobustMutexCell::initialize(MutexCell& cell) {
  pthread_mutexattr_t attributes;
  if (int rc = pthread_mutexattr_init(&attributes); rc != 0) return os_error("pthread_mutexattr_init", rc);
  int rc = pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
  if (rc == 0) rc = pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
  // Error-checking type: unlocking a mutex this thread does not hold is
  // reported instead of corrupting the owner's critical section.
  if (rc == 0) rc = pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_ERRORCHECK);
  if (rc == 0) rc = pthread_mutex_init(&native_mutex(cell), &attributes);
  pthread_mutexattr_destroy(&attributes);
  if (rc != 0) return os_error("initializing a robust process-shared mutex", rc);
  cell.owner_pid.store(0, std::memory_order_relaxed);
  return {};
}

LockResult RobustMutexCell::lock_until(Deadline deadline) noexcept {
  const int rc = deadline.is_never() ? pthread_mutex_lock(&native_mutex(*cell_)) : timed_lock(native_mutex(*cell_), deadline);
  if (rc == 0 || rc == EOWNERDEAD) return on_acquired(*cell_, rc);
  if (rc == ETIMEDOUT) return LockResult{Outcome::timed_out};
  // EDEADLK (this thread holds it already), ENOTRECOVERABLE or EINVAL (a cell
  // overwritten by someone): not acquired, and not a timeout either.
  return LockResult{Outcome::failed, 0, rc};
}

LockResult RobustMutexCell::try_lock() noexcept {
  const int rc = pthread_mutex_trylock(&native_mutex(*cell_));
  if (rc == 0 || rc == EOWNERDEAD) return on_acquired(*cell_, rc);
  // EDEADLK: the calling thread holds it, which for a try is simply "held".
  if (rc == EBUSY || rc == EDEADLK) return LockResult{Outcome::would_block};
  return LockResult{Outcome::failed, 0, rc};
}

bool RobustMutexCell::unlock() noexcept {
  const detail::HolderRelease release = detail::begin_release(*cell_);
  if (pthread_mutex_unlock(&native_mutex(*cell_)) == 0) return true;
  detail::undo_release(*cell_, release);  // EPERM: not this thread's lock after all
  return false;
}

}  // namespace colony::shm
