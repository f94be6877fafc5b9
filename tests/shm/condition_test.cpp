#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "colony/shm/condition.hpp"
#include "colony/shm/mutex.hpp"
#include "colony/shm/process.hpp"
#include "colony/shm/segment.hpp"
#include "test_session.hpp"

using namespace colony;
using namespace std::chrono_literals;
using shm::Deadline;
using shm::Errc;
using shm::Outcome;
using shm::SegmentKind;

namespace {

// A one-item buffer; every field is protected by the mutex.
struct Slot {
  std::uint32_t full;
  std::uint64_t value;
  std::uint64_t received;
};

// What waiters wait for; protected by the mutex.
struct Flag {
  std::uint32_t set;
  std::uint32_t waiting;
};

// A mutex, a condition and a shared area, as every process of a test opens them.
struct Shared {
  shm::Mutex mutex;
  shm::Condition condition;
  shm::Segment area;
};

shm::SegmentName name_of(const std::string& session, SegmentKind kind, const std::string& object) {
  return *shm::SegmentName::make(session, kind, object);
}

Shared create_shared(const test::TestSession& session, const std::string& condition, std::size_t area_size) {
  auto mutex = shm::Mutex::create(name_of(session.name(), SegmentKind::mutex, "m"));
  auto cond = shm::Condition::create(name_of(session.name(), SegmentKind::condition, condition));
  auto area = shm::Segment::create(name_of(session.name(), SegmentKind::bytes, "area"), area_size);
  REQUIRE(mutex);
  REQUIRE(cond);
  REQUIRE(area);
  area->mark_ready();
  return Shared{std::move(mutex).value(), std::move(cond).value(), std::move(area).value()};
}

std::optional<Shared> open_shared(const std::string& session, const std::string& condition) {
  auto mutex = shm::Mutex::open(name_of(session, SegmentKind::mutex, "m"), Deadline::after(5s));
  auto cond = shm::Condition::open(name_of(session, SegmentKind::condition, condition), Deadline::after(5s));
  auto area = shm::Segment::open(name_of(session, SegmentKind::bytes, "area"), Deadline::after(5s));
  if (!mutex || !cond || !area) return std::nullopt;
  return Shared{std::move(mutex).value(), std::move(cond).value(), std::move(area).value()};
}

template <class T>
T* area_as(const shm::Segment& area) {
  return std::launder(static_cast<T*>(static_cast<void*>(area.data())));
}

// Exit codes shared by the scenarios below.
constexpr int kTimedOut = 3;
constexpr int kOutOfOrder = 4;
constexpr int kUnexpectedOwnerDeath = 5;

// Puts 1..count into the slot, one at a time. Uses the "not_empty" condition
// to tell the consumer, and waits on "not_full" for the slot to drain.
COLONY_CHILD_SCENARIO("condition-producer") {
  const std::uint64_t count = std::stoull(args.at(1));
  auto not_empty = open_shared(args.at(0), "not_empty");
  auto not_full = shm::Condition::open(name_of(args.at(0), SegmentKind::condition, "not_full"), Deadline::after(5s));
  if (!not_empty || !not_full) return 2;
  auto& mutex = not_empty->mutex;
  auto* slot = area_as<Slot>(not_empty->area);
  const auto deadline = Deadline::after(30s);
  for (std::uint64_t item = 1; item <= count; ++item) {
    shm::MutexLock guard(mutex, deadline);
    if (!guard) return kTimedOut;
    if (guard.owner_died()) return kUnexpectedOwnerDeath;
    while (slot->full != 0) {
      const auto waited = not_full->wait(guard, deadline);
      if (!waited.holds_mutex()) return kTimedOut;
      if (waited.owner_died()) return kUnexpectedOwnerDeath;
      if (waited.timed_out() && slot->full != 0) return kTimedOut;
    }
    slot->value = item;
    slot->full = 1;
    guard.unlock();
    not_empty->condition.notify_one();
  }
  return 0;
}

// Takes count items from the slot and checks they arrive as 1, 2, 3...
COLONY_CHILD_SCENARIO("condition-consumer") {
  const std::uint64_t count = std::stoull(args.at(1));
  auto not_empty = open_shared(args.at(0), "not_empty");
  auto not_full = shm::Condition::open(name_of(args.at(0), SegmentKind::condition, "not_full"), Deadline::after(5s));
  if (!not_empty || !not_full) return 2;
  auto& mutex = not_empty->mutex;
  auto* slot = area_as<Slot>(not_empty->area);
  const auto deadline = Deadline::after(30s);
  for (std::uint64_t expected = 1; expected <= count; ++expected) {
    shm::MutexLock guard(mutex, deadline);
    if (!guard) return kTimedOut;
    if (guard.owner_died()) return kUnexpectedOwnerDeath;
    while (slot->full == 0) {
      const auto waited = not_empty->condition.wait(guard, deadline);
      if (!waited.holds_mutex()) return kTimedOut;
      if (waited.owner_died()) return kUnexpectedOwnerDeath;
      if (waited.timed_out() && slot->full == 0) return kTimedOut;
    }
    if (slot->value != expected) return kOutOfOrder;
    slot->full = 0;
    slot->received = expected;
    guard.unlock();
    not_full->notify_one();
  }
  return 0;
}

// Waits until the flag is set; exits 0 then, kTimedOut if nobody set it.
COLONY_CHILD_SCENARIO("condition-wait-for-flag") {
  auto shared = open_shared(args.at(0), "c");
  if (!shared) return 2;
  auto* flag = area_as<Flag>(shared->area);
  const auto deadline = Deadline::after(10s);
  shm::MutexLock guard(shared->mutex, deadline);
  if (!guard) return kTimedOut;
  ++flag->waiting;
  while (flag->set == 0) {
    const auto waited = shared->condition.wait(guard, deadline);
    if (!waited.holds_mutex() || (waited.timed_out() && flag->set == 0)) return kTimedOut;
  }
  return 0;
}

// Waits once, with no predicate: exits 0 when that one wait was notified,
// kTimedOut when its deadline passed first.
COLONY_CHILD_SCENARIO("condition-wait-once") {
  auto shared = open_shared(args.at(0), "c");
  if (!shared) return 2;
  const auto deadline = Deadline::after(30s);
  shm::MutexLock guard(shared->mutex, deadline);
  if (!guard) return kTimedOut;
  const auto waited = shared->condition.wait(guard, deadline);
  return waited.notified() ? 0 : kTimedOut;
}

// Takes the mutex the test released by waiting, notifies, and hangs holding
// it until killed, so the waiter's re-lock meets a dead owner.
COLONY_CHILD_SCENARIO("condition-notify-then-die-holding-mutex") {
  auto shared = open_shared(args.at(0), "c");
  if (!shared) return 2;
  if (!shared->mutex.lock_until(Deadline::after(5s)).acquired()) return kTimedOut;
  shared->condition.notify_all();
  // Tells the test it may kill us now: holding the mutex, after the notify.
  std::atomic_ref<std::uint32_t>(*area_as<std::uint32_t>(shared->area)).store(1, std::memory_order_release);
  test::wait_to_be_killed();
}

}  // namespace

TEST_CASE("a condition name is exclusive and must name a condition", "[unit][condition]") {
  test::TestSession session;
  const auto name = name_of(session.name(), SegmentKind::condition, "c");
  auto first = shm::Condition::create(name);
  REQUIRE(first);
  CHECK(first->name().name() == "c");

  auto second = shm::Condition::create(name);
  REQUIRE_FALSE(second);
  CHECK(second.error().code == Errc::already_exists);

  auto wrong_kind = shm::Condition::open(name_of(session.name(), SegmentKind::mutex, "c"), Deadline::now());
  REQUIRE_FALSE(wrong_kind);
  CHECK(wrong_kind.error().code == Errc::invalid_argument);
  CHECK_THAT(wrong_kind.error().message, Catch::Contains("not a condition name"));

  auto opened = shm::Condition::open(name, Deadline::after(1s));
  REQUIRE(opened);
  CHECK(opened->waiters() == 0);
}

TEST_CASE("a wait with a deadline times out when nobody notifies and returns holding the mutex",
          "[unit][condition]") {
  test::TestSession session;
  auto shared = create_shared(session, "c", 64);
  REQUIRE(shared.mutex.lock_until(Deadline::after(5s)).acquired());

  const auto started = std::chrono::steady_clock::now();
  const auto waited = shared.condition.wait(shared.mutex, Deadline::after(50ms));
  const auto elapsed = std::chrono::steady_clock::now() - started;

  CHECK(waited.timed_out());
  CHECK(waited.relock.status == Outcome::ok);
  CHECK(elapsed >= 50ms);
  CHECK(elapsed < 2s);
  CHECK(shared.mutex.holder_pid() == shm::current_pid());
  CHECK(shared.condition.waiters() == 0);
  shared.mutex.unlock();
}

TEST_CASE("a notify with no waiter is harmless and not remembered by a later wait", "[unit][condition]") {
  test::TestSession session;
  auto shared = create_shared(session, "c", 64);
  shared.condition.notify_one();
  shared.condition.notify_all();
  CHECK(shared.condition.notifications() == 2);

  REQUIRE(shared.mutex.lock_until(Deadline::after(5s)).acquired());
  CHECK(shared.condition.wait(shared.mutex, Deadline::after(30ms)).timed_out());
  CHECK(shared.condition.wait(shared.mutex, Deadline::now()).timed_out());
  shared.mutex.unlock();
}

TEST_CASE("a producer and a consumer process pass 2000 items in order through a one-slot buffer",
          "[ipc][condition][mutex]") {
  constexpr std::uint64_t kItems = 2'000;
  test::TestSession session;
  auto shared = create_shared(session, "not_empty", sizeof(Slot));
  auto not_full = shm::Condition::create(name_of(session.name(), SegmentKind::condition, "not_full"));
  REQUIRE(not_full);
  auto* slot = new (shared.area.data()) Slot{};

  auto consumer = test::ChildProcess::start("condition-consumer", {session.name(), std::to_string(kItems)});
  auto producer = test::ChildProcess::start("condition-producer", {session.name(), std::to_string(kItems)});
  const auto consumer_status = consumer.wait_or_kill(60s);
  const auto producer_status = producer.wait_or_kill(60s);
  INFO("consumer " << consumer_status.describe() << ", producer " << producer_status.describe());
  CHECK(consumer_status.ok());
  CHECK(producer_status.ok());

  shm::MutexLock guard(shared.mutex, Deadline::after(5s));
  REQUIRE(guard);
  CHECK(slot->received == kItems);
  CHECK(slot->full == 0);
}

TEST_CASE("a waiter killed while waiting blocks neither the notifier nor the other waiter",
          "[crash][ipc][condition]") {
  test::TestSession session;
  auto shared = create_shared(session, "c", sizeof(Flag));
  auto* flag = new (shared.area.data()) Flag{};

  auto doomed = test::ChildProcess::start("condition-wait-for-flag", {session.name()});
  auto survivor = test::ChildProcess::start("condition-wait-for-flag", {session.name()});
  REQUIRE(test::eventually(
      [&] { return shared.condition.waiters() == 2 && test::is_asleep(doomed.pid()) && test::is_asleep(survivor.pid()); },
      5000ms));
  doomed.kill_hard();
  REQUIRE(doomed.wait_for(5000ms));

  {
    shm::MutexLock guard(shared.mutex, Deadline::after(2s));
    REQUIRE(guard.owns_lock());
    CHECK_FALSE(guard.owner_died());  // the doomed waiter died asleep, not holding the mutex
    CHECK(flag->waiting == 2);
    flag->set = 1;
  }
  const auto started = std::chrono::steady_clock::now();
  shared.condition.notify_all();
  CHECK(std::chrono::steady_clock::now() - started < 1s);

  const auto survivor_status = survivor.wait_or_kill(5s);
  INFO("survivor " << survivor_status.describe());
  CHECK(survivor_status.ok());
}

TEST_CASE("notify_one wakes exactly one of two waiting processes, and the next notify_one the other",
          "[ipc][condition]") {
  test::TestSession session;
  auto shared = create_shared(session, "c", 64);
  auto first = test::ChildProcess::start("condition-wait-once", {session.name()});
  auto second = test::ChildProcess::start("condition-wait-once", {session.name()});
  // Both asleep in the wait: none of them can return for a notification that came too early.
  REQUIRE(test::eventually(
      [&] { return shared.condition.waiters() == 2 && test::is_asleep(first.pid()) && test::is_asleep(second.pid()); }, 5000ms));

  shared.condition.notify_one();
  std::optional<test::ExitStatus> first_status;
  std::optional<test::ExitStatus> second_status;
  const auto one_ended = [&] {
    if (!first_status) first_status = first.wait_for(0ms);
    if (!second_status) second_status = second.wait_for(0ms);
    return first_status.has_value() || second_status.has_value();
  };
  REQUIRE(test::eventually(one_ended, 10s));
  // The other one stays asleep: a notify_one that woke both would show it by now.
  std::this_thread::sleep_for(300ms);
  (void)one_ended();
  REQUIRE(first_status.has_value() != second_status.has_value());
  auto& woken = first_status ? *first_status : *second_status;
  auto& sleeper = first_status ? second : first;
  INFO("woken waiter " << woken.describe());
  CHECK(woken.ok());  // notified, not timed out
  CHECK(test::is_asleep(sleeper.pid()));
  CHECK(shared.condition.waiters() == 1);

  shared.condition.notify_one();
  const auto last = sleeper.wait_or_kill(10s);
  INFO("second waiter " << last.describe());
  CHECK(last.ok());
}

TEST_CASE("a wait reports that the mutex holder died while the waiter was asleep", "[crash][ipc][condition]") {
  test::TestSession session;
  auto shared = create_shared(session, "c", 64);
  // Held before the child starts, so the child can take it only inside our wait.
  REQUIRE(shared.mutex.lock_until(Deadline::after(5s)).status == shm::Outcome::ok);
  auto child = test::ChildProcess::start("condition-notify-then-die-holding-mutex", {session.name()});
  // Kills the child once it has notified while holding the mutex, which it
  // can take only while we wait.
  auto* notified_flag = area_as<std::uint32_t>(shared.area);
  std::thread killer([&] {
    const auto has_notified = [&] {
      return std::atomic_ref<std::uint32_t>(*notified_flag).load(std::memory_order_acquire) == 1;
    };
    if (test::eventually(has_notified, 5000ms)) child.kill_hard();
  });

  const auto waited = shared.condition.wait(shared.mutex, Deadline::after(5s));
  killer.join();
  CHECK(waited.notified());
  CHECK(waited.owner_died());
  CHECK(waited.relock.dead_owner_pid == child.pid());
  CHECK(shared.mutex.holder_pid() == shm::current_pid());
  shared.mutex.unlock();
  CHECK(child.wait_for(5000ms));
}

TEST_CASE("threads of one process take turns through one mutex and condition", "[threads][condition][mutex]") {
  constexpr int kThreads = 4;
  constexpr int kRounds = 500;
  test::TestSession session;
  auto shared = create_shared(session, "c", 64);
  int turn = 0;  // protected by shared.mutex: thread t acts when turn % kThreads == t
  std::atomic<int> failures{0};

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const auto deadline = Deadline::after(30s);
      for (int round = 0; round < kRounds; ++round) {
        shm::MutexLock guard(shared.mutex, deadline);
        if (!guard) {
          failures.fetch_add(1);
          return;
        }
        while (turn % kThreads != t) {
          const auto waited = shared.condition.wait(guard, deadline);
          if (!waited.holds_mutex() || (waited.timed_out() && turn % kThreads != t)) {
            failures.fetch_add(1);
            return;
          }
        }
        ++turn;
        guard.unlock();
        shared.condition.notify_all();
      }
    });
  }
  for (auto& thread : threads) thread.join();

  CHECK(failures.load() == 0);
  CHECK(turn == kThreads * kRounds);
  CHECK(shared.condition.waiters() == 0);
}
