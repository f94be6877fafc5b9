// Liveness that a reused pid cannot fool: a process is recorded with its
// start time, and a live process that merely has the same pid is not it.
// The reuse is forged by writing a live process's pid with another start
// time where the dead peer was recorded (a real pid reuse cannot be forced).

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "child_process.hpp"
#include "colony/shm/process.hpp"
#include "colony/shm/ring.hpp"
#include "colony/shm/segment.hpp"
#include "test_session.hpp"

using namespace colony;
using namespace std::chrono_literals;
using shm::Outcome;

namespace {

constexpr std::uint32_t kTag = 7;

std::span<const std::byte> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

// A start that is not this process's own: what a reused pid looks like.
shm::ProcessIdentity reused(shm::ProcessIdentity identity) {
  identity.start = identity.start == 7 ? 8 : 7;
  return identity;
}

COLONY_CHILD_SCENARIO("identity-report") {
  // The child's own view of its identity, for the parent to compare.
  return shm::current_identity().start == shm::identity_of(shm::current_pid()).start ? 0 : 1;
}

COLONY_CHILD_SCENARIO("identity-sleep") {
  std::this_thread::sleep_for(30s);
  return 0;
}

}  // namespace

TEST_CASE("a process is alive by its identity, and its pid with another start time is not it", "[unit][identity]") {
  const shm::ProcessIdentity self = shm::current_identity();
  CHECK(self.pid == shm::current_pid());
  CHECK(self.start != 0);
  CHECK(shm::identity_of(shm::current_pid()) == self);
  CHECK(shm::is_alive(self));
  CHECK_FALSE(shm::is_alive(reused(self)));
  CHECK(shm::is_alive({self.pid, 0}));  // unknown start: judged by pid alone
  CHECK(shm::unpack_identity(shm::pack(self)) == self);

  auto child = test::ChildProcess::start("identity-report");
  const shm::ProcessIdentity child_identity = shm::identity_of(child.pid());
  const auto status = child.wait_or_kill(10s);
  CHECK(status.ok());
  CHECK_FALSE(shm::is_alive(child_identity));  // gone once reaped
}

TEST_CASE("a process watch tells a live process from one that ended, a zombie included, and from a reused pid",
          "[unit][identity]") {
  const shm::ProcessWatch self(shm::current_identity());
  CHECK(self.alive());
  CHECK(self.identity() == shm::current_identity());
  CHECK_FALSE(shm::ProcessWatch(reused(shm::current_identity())).alive());
  CHECK_FALSE(shm::ProcessWatch().alive());

  auto child = test::ChildProcess::start("identity-sleep");
  const shm::ProcessIdentity child_identity = shm::identity_of(child.pid());
  shm::ProcessWatch watch(child_identity);
  CHECK(watch.alive());
  shm::ProcessWatch moved = std::move(watch);
  CHECK(moved.alive());
  CHECK_FALSE(watch.alive());  // NOLINT(bugprone-use-after-move): a moved-from watch watches nothing
  child.kill_hard();
  // Killed, not yet reaped: a zombie has ended.
  REQUIRE(test::eventually([&] { return !moved.alive(); }, 10s));
  CHECK(child.wait_or_kill(10s).killed_by_sigkill());
  CHECK_FALSE(moved.alive());
  CHECK_FALSE(shm::ProcessWatch(child_identity).alive());  // made after the end
}

TEST_CASE("a record in progress whose writer's pid now names another process is padded over", "[unit][identity]") {
  test::TestSession session;
  auto ring = shm::Ring::create(session.segment(shm::SegmentKind::ring, "r"), {4096, 100, shm::RingVariant::many_writers});
  REQUIRE(ring);
  auto writer = shm::RingWriter::attach(*ring);
  auto reader = shm::RingReader::attach(*ring);
  REQUIRE(writer);
  REQUIRE(reader);

  const auto claimed = writer->try_claim(kTag, 40);
  REQUIRE(claimed.ok());
  auto& header = *reinterpret_cast<shm::RecordHeader*>(claimed.payload.data() - sizeof(shm::RecordHeader));
  // This process (alive) has the pid; the writer that claimed started at another time.
  const auto forged = reused(shm::current_identity());
  header.writer_pid = forged.pid;
  header.writer_start = forged.start;
  REQUIRE(writer->try_send(kTag, bytes_of("survivor")) == Outcome::ok);

  auto got = reader->receive(shm::Deadline::after(2s));
  REQUIRE(got.ok());
  CHECK(std::string(reinterpret_cast<const char*>(got.record.payload.data()), got.record.payload.size()) == "survivor");
}

TEST_CASE("a reader or writer slot held by a reused pid is taken over; one held by the live holder is busy",
          "[unit][identity]") {
  test::TestSession session;
  auto ring = shm::Ring::create(session.segment(shm::SegmentKind::ring, "r"), {4096, 100, shm::RingVariant::single_writer});
  REQUIRE(ring);
  // A live process's pid with another start time: its holder is gone.
  auto child = test::ChildProcess::start("identity-sleep");
  const auto child_identity = shm::identity_of(child.pid());
  REQUIRE(shm::is_alive(child_identity));
  ring->control().reader.store(shm::pack(reused(child_identity)));
  ring->control().writer.store(shm::pack(reused(child_identity)));
  {
    auto reader = shm::RingReader::attach(*ring);
    auto writer = shm::RingWriter::attach(*ring);
    CHECK(reader);
    CHECK(writer);
  }
  // The same pid with its true start time: that holder lives, the slot is busy.
  ring->control().reader.store(shm::pack(child_identity));
  auto busy = shm::RingReader::attach(*ring);
  REQUIRE_FALSE(busy);
  CHECK(busy.error().code == shm::Errc::busy);
  ring->control().reader.store(0);
  child.kill_hard();
  CHECK(child.wait_for(5s));
}

TEST_CASE("a segment whose creator's pid now names another process is refused as creator_died", "[unit][identity]") {
  test::TestSession session;
  const auto name = session.segment(shm::SegmentKind::bytes, "half");
  auto segment = shm::Segment::create(name, 64);  // never marked READY: its creator "died" making it
  REQUIRE(segment);
  const auto forged = reused(shm::current_identity());
  std::atomic_ref<std::uint32_t>(segment->header().creator_start).store(forged.start);

  const auto opened = shm::Segment::open(name, shm::Deadline::after(2s));
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code == shm::Errc::creator_died);
}
