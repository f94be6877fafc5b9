// A lock whose holder does not die must not make anyone overrun a deadline:
// a holder stopped with SIGSTOP (as a debugger stops it), and lock words
// forged to name a thread that does not exist or to be no mutex at all.
// A robust mutex only helps when its holder dies; these are the other cases.

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "child_process.hpp"
#include "colony/shm/condition.hpp"
#include "colony/shm/mutex.hpp"
#include "colony/shm/ring.hpp"
#include "colony/shm/robust_mutex.hpp"
#include "lock_forgery.hpp"
#include "test_session.hpp"

using namespace colony;
using namespace std::chrono_literals;
using shm::Deadline;
using shm::Outcome;
using shm::SegmentKind;

namespace {

constexpr std::uint32_t kTag = 7;

shm::SegmentName ring_name(const std::string& session) {
  return *shm::SegmentName::make(session, SegmentKind::ring, "shared");
}
shm::SegmentName mutex_name(const std::string& session) {
  return *shm::SegmentName::make(session, SegmentKind::mutex, "m");
}
shm::SegmentName condition_name(const std::string& session) {
  return *shm::SegmentName::make(session, SegmentKind::condition, "c");
}

std::span<const std::byte> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

// Waits until the child stopped itself while holding what it took.
void wait_until_stopped(const test::ChildProcess& child) {
  REQUIRE(
      test::eventually([&] { return subprocess::run_state(child.pid()) == subprocess::RunState::stopped; }, 5000ms));
}

// A pid that names no process: a child that has exited and been reaped.
int pid_of_nobody() {
  auto gone = test::ChildProcess::start("stuck-lock-exit");
  const int pid = gone.pid();
  REQUIRE(gone.wait_for(5s));
  REQUIRE(subprocess::run_state(pid) == subprocess::RunState::gone);
  return pid;
}

shm::Ring make_many_writer_ring(const test::TestSession& session) {
  auto ring = shm::Ring::create(ring_name(session.name()), {4096, 512, shm::RingVariant::many_writers});
  REQUIRE(ring);
  return std::move(ring).value();
}

template <class F>
std::chrono::milliseconds time_of(F&& f) {
  const auto started = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
}

COLONY_CHILD_SCENARIO("stuck-lock-exit") { return 0; }

// Takes the claim lock of the test's many-writer ring and stops, holding it.
COLONY_CHILD_SCENARIO("stuck-lock-hold-claim-lock") {
  auto ring = shm::Ring::open(ring_name(args.at(0)), Deadline::after(5s));
  if (!ring) return 2;
  shm::RobustMutexCell lock(ring->control().claim_lock);
  if (!lock.lock_until(Deadline::after(5s)).acquired()) return 3;
  subprocess::stop_self();
  return 0;
}

// Takes the test's mutex and stops, holding it.
COLONY_CHILD_SCENARIO("stuck-lock-hold-mutex") {
  auto mutex = shm::Mutex::open(mutex_name(args.at(0)), Deadline::after(5s));
  if (!mutex) return 2;
  if (!mutex->lock_until(Deadline::after(10s)).acquired()) return 3;
  subprocess::stop_self();
  return 0;
}

// Takes the mutex and is killed holding it: a locker that ignores the robust
// protocol can then leave it unrecoverable.
COLONY_CHILD_SCENARIO("stuck-lock-hold-and-wait") {
  auto mutex = shm::Mutex::open(mutex_name(args.at(0)), Deadline::after(5s));
  if (!mutex) return 2;
  if (!mutex->lock_until(Deadline::after(5s)).acquired()) return 3;
  test::wait_to_be_killed();
}

}  // namespace

TEST_CASE("a stopped holder of a many-writer ring's claim lock makes sends time out at their deadline",
          "[ipc][ring][lock]") {
  test::TestSession session;
  shm::Ring ring = make_many_writer_ring(session);
  auto writer = shm::RingWriter::attach(ring);
  auto reader = shm::RingReader::attach(ring);
  REQUIRE(writer);
  REQUIRE(reader);
  auto holder = test::ChildProcess::start("stuck-lock-hold-claim-lock", {session.name()});
  wait_until_stopped(holder);

  Outcome sent = Outcome::ok;
  const auto waited = time_of([&] { sent = writer->send(kTag, bytes_of("late"), Deadline::after(300ms)); });
  CHECK(sent == Outcome::timed_out);
  CHECK(waited >= 300ms);
  CHECK(waited < 3s);
  CHECK_THAT(writer->describe(sent), Catch::Contains(ring.name().os_name()) &&
                                         Catch::Contains("claim lock stayed held by pid " + std::to_string(holder.pid())));

  // A try waits for no space and only briefly for the lock.
  const auto tried = time_of([&] { sent = writer->try_send(kTag, bytes_of("late")); });
  CHECK(sent == Outcome::timed_out);
  CHECK(tried < 2s);

  // Once the holder is dead the kernel hands the lock on, and sends flow.
  holder.kill_hard();
  REQUIRE(holder.wait_for(5s));
  REQUIRE(writer->send(kTag, bytes_of("after"), Deadline::after(2s)) == Outcome::ok);
  auto got = reader->receive(Deadline::after(2s));
  REQUIRE(got.ok());
  CHECK(std::string(reinterpret_cast<const char*>(got.record.payload.data()), got.record.payload.size()) == "after");
}

TEST_CASE("a claim lock word naming a thread that does not exist makes sends time out, not hang",
          "[unit][ring][lock]") {
  test::TestSession session;
  shm::Ring ring = make_many_writer_ring(session);
  auto writer = shm::RingWriter::attach(ring);
  REQUIRE(writer);
  test::forge_lock_holder(ring.control().claim_lock, pid_of_nobody());

  Outcome sent = Outcome::ok;
  const auto waited = time_of([&] { sent = writer->send(kTag, bytes_of("x"), Deadline::after(200ms)); });
  CHECK(sent == Outcome::timed_out);
  CHECK(waited < 3s);
  CHECK(writer->try_send(kTag, bytes_of("x")) == Outcome::timed_out);
  CHECK_THAT(writer->describe(Outcome::timed_out), Catch::Contains("claim lock"));
}

TEST_CASE("a claim lock that is not a mutex any more is a clear error naming the ring", "[unit][ring][lock]") {
  test::TestSession session;
  shm::Ring ring = make_many_writer_ring(session);
  auto writer = shm::RingWriter::attach(ring);
  REQUIRE(writer);
  test::forge_not_a_lock(ring.control().claim_lock);

  const auto sent = writer->send(kTag, bytes_of("x"), Deadline::after(200ms));
  CHECK(sent == Outcome::corrupt);
  CHECK_THAT(writer->describe(sent), Catch::Contains(ring.name().os_name()) &&
                                         Catch::Contains("claim lock cannot be taken") &&
                                         Catch::Contains("not a robust mutex"));
}

TEST_CASE("a stopped mutex holder makes a timed lock time out; a forged one times out or fails clearly",
          "[ipc][mutex][lock]") {
  test::TestSession session;
  auto sut = shm::Mutex::create(mutex_name(session.name()));
  REQUIRE(sut);

  SECTION("a holder stopped with SIGSTOP") {
    auto holder = test::ChildProcess::start("stuck-lock-hold-mutex", {session.name()});
    wait_until_stopped(holder);
    shm::LockResult locked{Outcome::ok};
    const auto waited = time_of([&] { locked = sut->lock_until(Deadline::after(200ms)); });
    CHECK(locked.status == Outcome::timed_out);
    CHECK(waited < 3s);
    CHECK(sut->holder_pid() == holder.pid());
    shm::MutexLock guard(*sut, Deadline::after(100ms));
    CHECK_FALSE(guard.owns_lock());
    CHECK(guard.result().status == Outcome::timed_out);
  }
  SECTION("a lock word naming a thread that does not exist") {
    auto segment = shm::Segment::open(mutex_name(session.name()), Deadline::now());
    REQUIRE(segment);
    test::forge_lock_holder(*reinterpret_cast<shm::MutexCell*>(segment->control()), pid_of_nobody());
    CHECK(sut->lock_until(Deadline::after(100ms)).status == Outcome::timed_out);
  }
  SECTION("a lock word that is no mutex") {
    auto segment = shm::Segment::open(mutex_name(session.name()), Deadline::now());
    REQUIRE(segment);
    test::forge_not_a_lock(*reinterpret_cast<shm::MutexCell*>(segment->control()));
    const auto locked = sut->lock_until(Deadline::after(100ms));
    CHECK(locked.status == Outcome::failed);
    CHECK(locked.error_number == EINVAL);
    CHECK_THAT(shm::describe_lock_failure(locked.status, locked.error_number), Catch::Contains("not a robust mutex"));
  }
}

TEST_CASE("a condition wait whose mutex a stopped process holds returns at its deadline without the mutex",
          "[ipc][condition][lock]") {
  test::TestSession session;
  auto mutex = shm::Mutex::create(mutex_name(session.name()));
  auto condition = shm::Condition::create(condition_name(session.name()));
  REQUIRE(mutex);
  REQUIRE(condition);
  shm::MutexLock guard(*mutex, Deadline::after(1s));
  REQUIRE(guard);
  // The child takes the mutex while we wait (the wait releases it) and stops.
  auto holder = test::ChildProcess::start("stuck-lock-hold-mutex", {session.name()});

  shm::ConditionWait waited{shm::Outcome::ok, {Outcome::ok}};
  const auto elapsed = time_of([&] { waited = condition->wait(guard, Deadline::after(2s)); });
  CHECK(waited.timed_out());
  CHECK_FALSE(waited.holds_mutex());
  CHECK(waited.relock.status == Outcome::timed_out);
  CHECK_FALSE(guard.owns_lock());  // the guard knows: its destructor unlocks nothing
  CHECK(elapsed >= 2s);
  CHECK(elapsed < 5s);
  CHECK(subprocess::run_state(holder.pid()) == subprocess::RunState::stopped);
  CHECK(mutex->holder_pid() == holder.pid());
}
