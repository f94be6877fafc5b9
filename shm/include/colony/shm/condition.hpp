#pragma once
// A named condition variable shared between processes: a segment of kind
// condition whose control block is a ConditionCell (see layout.hpp).
//
// Why not pthread_cond_t: glibc's process-shared condvar keeps waiter state in
// the shared object, and a waiter killed at the wrong moment leaves it
// inconsistent, so later waits or signals hang. Here the only shared state is
// a sequence word that waiters sleep on (a wait word, wait_word.hpp) and a
// waiter count: a dead waiter leaves nothing on the wait word and at worst
// leaves the count too high, which
// costs later notifiers one syscall each, never a hang.
//
// It works with any Mutex, from any segment. As with std::condition_variable,
// change the waited-for state while holding that mutex (notifying may happen
// after unlocking), and re-check the state after every wait: a wait may return
// notified for a notification meant for another waiter.
//
// A notifier that dies between changing the state and notifying leaves the
// sleeping waiters asleep until another notification or their deadline, which
// is why long waits should carry a deadline and re-check.

#include <cstdint>

#include "colony/shm/deadline.hpp"
#include "colony/shm/error.hpp"
#include "colony/shm/mutex.hpp"
#include "colony/shm/names.hpp"
#include "colony/shm/robust_mutex.hpp"
#include "colony/shm/segment.hpp"
#include "colony/shm/outcome.hpp"

namespace colony::shm {

// What a wait returns: status ok (a notification arrived since the wait
// began, possibly for another waiter) or timed_out (none came by the
// deadline). relock says how the mutex was retaken: ok, or
// owner_died (its previous holder died while we waited: repair the
// data it protects, as after Mutex::lock_until); timed_out or failed when it
// could not be retaken by the wait's deadline, and then the caller does NOT
// hold the mutex.
struct [[nodiscard]] ConditionWait {
  Outcome status;
  LockResult relock;
  bool notified() const noexcept { return status == Outcome::ok; }
  bool timed_out() const noexcept { return status == Outcome::timed_out; }
  bool owner_died() const noexcept { return relock.owner_died(); }
  bool holds_mutex() const noexcept { return relock.acquired(); }
};

class Condition {
 public:
  // Creates the segment exclusively (already_exists if the name is taken).
  // The name's kind must be SegmentKind::condition.
  static Expected<Condition> create(const SegmentName& name);
  // Opens a condition made by create, waiting up to ready_deadline for its creator.
  static Expected<Condition> open(const SegmentName& name, Deadline ready_deadline);
  // Unlinks the name; handles already open keep working. False if nothing was there.
  static bool remove(const SegmentName& name) noexcept { return Segment::remove(name); }

  Condition(Condition&&) noexcept = default;
  Condition& operator=(Condition&&) noexcept = default;
  ~Condition() = default;

  // The caller holds the mutex through held. Releases it, sleeps until
  // notified or the deadline, and retakes it with the same deadline: a dead
  // holder cannot block the retake (the mutex is robust), and a stopped one
  // cannot make the wait overrun its deadline. held.owns_lock() then says
  // whether the mutex is held again (see ConditionWait).
  ConditionWait wait(MutexLock& held, Deadline deadline) noexcept;
  // The same for a mutex held without a MutexLock: check holds_mutex().
  ConditionWait wait(Mutex& mutex, Deadline deadline) noexcept;

  // Wakes one sleeping waiter (waiters that have not fallen asleep yet also
  // return). If the woken waiter dies before acting, the notification is lost
  // with it: use notify_all when waiters may be killed.
  void notify_one() noexcept { notify(1); }
  void notify_all() noexcept;

  // Waiters now, for introspection; over-counts after a waiter died while waiting.
  std::uint32_t waiters() const noexcept;
  std::uint64_t notifications() const noexcept;
  const SegmentName& name() const noexcept { return segment_.name(); }

 private:
  explicit Condition(Segment segment) noexcept;
  void notify(int count) noexcept;
  ConditionCell& cell() const noexcept { return *cell_; }

  Segment segment_;
  ConditionCell* cell_;  // into segment_'s mapping, which a move does not change
};

}  // namespace colony::shm
