// A robust pthread mutex's own failure: left unrecoverable by a locker that
// ignores the robust protocol. A Windows mutex has no such state (an
// abandoned one is handed on, usable, to the next locker).
#include <catch2/catch.hpp>
#include <cerrno>

#include "child_process.hpp"
#include "colony/shm/mutex.hpp"
#include "colony/shm/robust_mutex.hpp"
#include "lock_forgery.hpp"
#include "test_session.hpp"

using namespace colony;
using namespace std::chrono_literals;
using shm::Deadline;
using shm::Outcome;
using shm::SegmentKind;

namespace {

shm::SegmentName mutex_name(const std::string& session) {
  return *shm::SegmentName::make(session, SegmentKind::mutex, "m");
}

}  // namespace

// The child scenario "stuck-lock-hold-and-wait" is stuck_lock_test.cpp's.
TEST_CASE("a mutex left unrecoverable by a foreign locker fails with ENOTRECOVERABLE, never hangs",
          "[crash][mutex][lock]") {
  test::TestSession session;
  auto sut = shm::Mutex::create(mutex_name(session.name()));
  REQUIRE(sut);
  auto holder = test::ChildProcess::start("stuck-lock-hold-and-wait", {session.name()});
  REQUIRE(test::eventually([&] { return sut->holder_pid() == holder.pid(); }, 5000ms));
  holder.kill_hard();
  REQUIRE(holder.wait_for(5s));
  // A locker that does not follow the robust protocol: takes the dead
  // owner's mutex and releases it without marking it consistent.
  auto segment = shm::Segment::open(mutex_name(session.name()), Deadline::now());
  REQUIRE(segment);
  const auto abandoned =
      test::take_dead_owners_lock_and_abandon_it(*reinterpret_cast<shm::MutexCell*>(segment->control()));
  REQUIRE(abandoned.owner_was_dead);
  REQUIRE(abandoned.released);

  const auto locked = sut->lock_until(Deadline::after(1s));
  CHECK(locked.status == Outcome::failed);
  CHECK(locked.error_number == ENOTRECOVERABLE);
  CHECK_THAT(shm::describe_lock_failure(locked.status, locked.error_number), Catch::Contains("not recoverable"));
}
