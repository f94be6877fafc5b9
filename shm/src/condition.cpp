#include "colony/shm/condition.hpp"

#include <cassert>
#include <new>
#include <string>
#include <utility>

#include "colony/shm/failpoint.hpp"
#include "colony/shm/process.hpp"
#include "colony/shm/wait_word.hpp"

// The protocol, on ConditionCell's two words:
//
//   waiter (holds the mutex)                notifier
//   W1 seen = sequence                      N1 sequence += 1           (seq_cst)
//   W2 waiters += 1          (seq_cst)      N2 if waiters != 0: wake_waiters(sequence)
//   W3 unlock the mutex
//   W4 wait_while_equal(sequence, seen): sleeps only while sequence == seen
//   W5 waiters -= 1, lock the mutex
//
// No lost wakeup: the notifier changed the waited-for state under the mutex,
// so either the waiter saw that state and never waited, or W1..W3 happened
// before the notifier took the mutex, hence before N1. Then at W4 either the
// wait word sees sequence != seen and returns at once, or the waiter sleeps
// on it before N1 and N2 wakes it (wait_word.hpp: no lost wakeup). N2 may skip the syscall only if no
// waiter can be queued: W2 and N1 are stores each followed by a load of the
// other's word (W4's compare, N2), the store-load pattern only seq_cst orders;
// with acquire/release both loads could miss both stores, the waiter would
// sleep on the old sequence and the notifier would skip the wake. seq_cst
// guarantees one of them sees the other, so skipping is safe.
//
// Killed waiters: a sleeper killed on the wait word leaves nothing there
// (wait_word.hpp), so no notifier or other waiter ever waits for it. It leaves
// waiters one too high for good: later notifiers make a wake syscall for
// nobody, nothing worse.
//
// The sequence wraps after 2^32 notifications; a waiter would miss a wakeup
// only if exactly 2^32 of them happened between its W1 and W4.

namespace colony::shm {
namespace {

static_assert(kControlOffset + sizeof(ConditionCell) <= kDataOffset,
              "a condition segment holds its cell before kDataOffset");

ConditionCell* cell_of(const Segment& segment) noexcept {
  return std::launder(static_cast<ConditionCell*>(static_cast<void*>(segment.control())));
}

}  // namespace

Condition::Condition(Segment segment) noexcept : segment_(std::move(segment)), cell_(cell_of(segment_)) {}

Expected<Condition> Condition::create(const SegmentName& name) {
  if (auto kind = require_kind(name, SegmentKind::condition); !kind) return kind.error();
  auto segment = Segment::create(name, 0);
  if (!segment) return segment.error();
  // All zero is the initial state: sequence 0, no waiters.
  new (segment->control()) ConditionCell{};
  // If we die before mark_ready, openers get creator_died and never use the cell.
  COLONY_FAILPOINT("condition.create.before_ready");
  segment->mark_ready();
  return Condition(std::move(segment).value());
}

Expected<Condition> Condition::open(const SegmentName& name, Deadline ready_deadline) {
  if (auto kind = require_kind(name, SegmentKind::condition); !kind) return kind.error();
  auto segment = Segment::open(name, ready_deadline);
  if (!segment) return segment.error();
  // Every value of sequence and waiters is valid, so there is nothing to check.
  return Condition(std::move(segment).value());
}

ConditionWait Condition::wait(Mutex& mutex, Deadline deadline) noexcept {
  // Catches waiting without the mutex from another process (not another thread of ours).
  assert(mutex.holder_pid() == current_pid() && "Condition::wait needs the mutex held");
  ConditionCell& shared = cell();
  const std::uint32_t seen = shared.sequence.load(std::memory_order_seq_cst);
  shared.waiters.fetch_add(1, std::memory_order_seq_cst);
  // If we die from here to the decrement below, waiters stays one too high:
  // notifiers see a waiter and make a wake syscall that wakes nobody.
  mutex.unlock();
  COLONY_FAILPOINT("condition.wait.before_sleep");

  Outcome status = Outcome::timed_out;
  for (;;) {
    (void)wait_while_equal(shared.sequence, seen, deadline);
    // Re-checked rather than trusting wait_while_equal's result: a signal
    // also ends the sleep, and only a change of sequence is a notification.
    if (shared.sequence.load(std::memory_order_acquire) != seen) {
      status = Outcome::ok;
      break;
    }
    if (deadline.passed()) break;
  }

  shared.waiters.fetch_sub(1, std::memory_order_relaxed);
  // Bounded by the same deadline: a holder that died is recovered by the
  // robust mutex and reported in relock; one that is stopped makes the
  // retake time out, and the caller learns that it does not hold the mutex.
  const LockResult relock = mutex.lock_until(deadline);
  return ConditionWait{status, relock};
}

ConditionWait Condition::wait(MutexLock& held, Deadline deadline) noexcept {
  assert(held.owns_lock() && "Condition::wait needs the mutex held");
  ConditionWait waited = wait(held.mutex(), deadline);
  held.set_relocked(waited.relock);
  return waited;
}

void Condition::notify(int count) noexcept {
  ConditionCell& shared = cell();
  shared.notifications.fetch_add(1, std::memory_order_relaxed);
  shared.sequence.fetch_add(1, std::memory_order_seq_cst);
  // If we die here, waiters not yet asleep see the new sequence and return;
  // those already asleep stay asleep until another notification or their
  // deadline, as if we had died just before notifying.
  COLONY_FAILPOINT("condition.notify.before_wake");
  if (shared.waiters.load(std::memory_order_seq_cst) == 0) return;  // see the protocol above
  wake_waiters(shared.sequence, count);
}

void Condition::notify_all() noexcept { notify(kWakeAll); }

std::uint32_t Condition::waiters() const noexcept { return cell().waiters.load(std::memory_order_relaxed); }

std::uint64_t Condition::notifications() const noexcept {
  return cell().notifications.load(std::memory_order_relaxed);
}

}  // namespace colony::shm
