#pragma once
// A named, robust, process-shared mutex: a segment of kind mutex whose control
// block is a MutexCell (see layout.hpp, robust_mutex.hpp).
//
// Why robust: any process may die at any instruction, including inside a
// critical section. The kernel hands a mutex whose owner died to the next
// locker, and that locker is told (LockResult::owner_died(), dead_owner_pid),
// because the data the mutex protects may be half-updated and only the caller
// knows how to repair it. The mutex itself is usable again at once: a dead
// owner never hangs a locker and never poisons the mutex.
//
// Ownership is per thread (the lock is error-checking): unlock from
// the thread that locked. Relocking from the holding thread is a caller bug;
// the error-checking mutex refuses it (the lock returns without acquiring)
// instead of deadlocking.
//
// A Mutex handle must not be destroyed while its thread holds the lock: on
// Linux, glibc keeps the held robust mutexes of a thread in a list linked
// through the mutexes themselves, so unmapping a held one corrupts that list.

#include <cstdint>
#include <mutex>

#include "colony/shm/deadline.hpp"
#include "colony/shm/error.hpp"
#include "colony/shm/names.hpp"
#include "colony/shm/robust_mutex.hpp"
#include "colony/shm/segment.hpp"

namespace colony::shm {

class Mutex {
 public:
  // Creates the segment exclusively (already_exists if the name is taken) and
  // initializes the mutex, unlocked. The name's kind must be SegmentKind::mutex.
  static Expected<Mutex> create(const SegmentName& name);
  // Opens a mutex made by create, waiting up to ready_deadline for its creator.
  static Expected<Mutex> open(const SegmentName& name, Deadline ready_deadline);
  // Unlinks the name; handles already open keep working. False if nothing was there.
  static bool remove(const SegmentName& name) noexcept { return Segment::remove(name); }

  Mutex(Mutex&&) noexcept = default;
  Mutex& operator=(Mutex&&) noexcept = default;
  ~Mutex() = default;

  // ok (acquired), owner_died, timed_out once the deadline passed, or
  // failed (see describe_lock_failure). Never hangs on a dead owner: reports
  // it instead. There is no lock() without a deadline: a holder that is
  // stopped, not dead, would make it wait for ever.
  LockResult lock_until(Deadline deadline) noexcept { return cell_.lock_until(deadline); }
  // ok (acquired), owner_died, or would_block while a live owner holds it.
  LockResult try_lock() noexcept { return cell_.try_lock(); }
  bool unlock() noexcept { return cell_.unlock(); }

  // The pid holding the mutex now, or 0. For introspection; stale by the time it is read.
  int holder_pid() const noexcept { return cell_.holder_pid(); }
  // How many times a locker recovered the mutex from a dead owner, ever.
  std::uint32_t owner_died_count() const noexcept { return cell_.owner_died_count(); }
  std::uint64_t acquisitions() const noexcept { return cell_.acquisitions(); }
  const SegmentName& name() const noexcept { return segment_.name(); }

 private:
  explicit Mutex(Segment segment) noexcept;

  Segment segment_;
  RobustMutexCell cell_;  // points into segment_'s mapping, which a move does not change
};

// Holds a Mutex for a scope and keeps the report of how it was acquired, so a
// caller cannot miss that the previous owner died:
//
//   MutexLock guard(mutex, Deadline::after(1s));
//   if (!guard) return give_up(guard.result());
//   if (guard.owner_died()) repair(shared_data);
//
// Mutex::lock returns a LockResult rather than void, so std::lock_guard and
// std::unique_lock would drop that report; this is their replacement.
class [[nodiscard]] MutexLock {
 public:
  // Check owns_lock(): false when the deadline passed first (or the lock failed).
  MutexLock(Mutex& mutex, Deadline deadline) noexcept : mutex_(&mutex), result_(mutex.lock_until(deadline)) {}
  // Check owns_lock(): false while a live owner holds the mutex.
  MutexLock(Mutex& mutex, std::try_to_lock_t) noexcept : mutex_(&mutex), result_(mutex.try_lock()) {}

  MutexLock(MutexLock&& other) noexcept : mutex_(other.mutex_), result_(other.result_), owns_(other.owns_) {
    other.owns_ = false;
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;
  MutexLock& operator=(MutexLock&&) = delete;
  ~MutexLock() { unlock(); }

  bool owns_lock() const noexcept { return owns_; }
  explicit operator bool() const noexcept { return owns_; }
  // How the lock was taken: ok (acquired), owner_died, timed_out or would_block.
  const LockResult& result() const noexcept { return result_; }
  bool owner_died() const noexcept { return result_.owner_died(); }
  int dead_owner_pid() const noexcept { return result_.dead_owner_pid; }

  // Releases early; the destructor then does nothing.
  void unlock() noexcept {
    if (owns_) {
      owns_ = false;
      mutex_->unlock();
    }
  }
  Mutex& mutex() const noexcept { return *mutex_; }

 private:
  friend class Condition;  // releases and retakes the mutex around a wait
  void set_relocked(const LockResult& relock) noexcept {
    result_ = relock;
    owns_ = relock.acquired();
  }

  Mutex* mutex_;
  LockResult result_;
  bool owns_ = result_.acquired();
};

}  // namespace colony::shm
