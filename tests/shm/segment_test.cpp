#include <catch2/catch.hpp>
#include <cstring>

#include "child_process.hpp"
#include "colony/shm/segment.hpp"
#include "foreign_mapping.hpp"
#include "test_session.hpp"

using namespace colony;
using namespace std::chrono_literals;
using shm::Errc;
using shm::SegmentKind;

namespace {

}  // namespace

TEST_CASE("segment names follow one scheme and reject bad user names", "[unit]") {
  auto name = shm::SegmentName::make("sess-1", SegmentKind::bytes, "frame_buffer");
  REQUIRE(name);
  CHECK(name->os_name() == "/colony.sess-1.bytes.frame_buffer");

  auto parsed = shm::SegmentName::parse("colony.sess-1.ring.in");
  REQUIRE(parsed);
  CHECK(parsed->session() == "sess-1");
  CHECK(parsed->kind() == SegmentKind::ring);
  CHECK(parsed->name() == "in");
  CHECK_FALSE(shm::SegmentName::parse("colony.sess.nokind.x"));
  CHECK_FALSE(shm::SegmentName::parse("other.sess.ring.x"));

  for (const char* bad : {"", "a.b", "a/b", "with space", "ü"}) {
    auto made = shm::SegmentName::make("s", SegmentKind::ring, bad);
    REQUIRE_FALSE(made);
    CHECK(made.error().code == Errc::invalid_name);
  }
  auto too_long = shm::SegmentName::make(std::string(shm::kMaxSessionLength + 1, 's'), SegmentKind::ring, "x");
  REQUIRE_FALSE(too_long);
  CHECK_THAT(too_long.error().message, Catch::Contains("the limit is"));
}

TEST_CASE("a created segment is exclusive, and opens once ready", "[unit]") {
  test::TestSession session;
  const auto name = session.segment(SegmentKind::bytes, "a");
  auto created = shm::Segment::create(name, 100);
  REQUIRE(created);
  CHECK(created->size() == shm::kDataOffset + 100);

  auto again = shm::Segment::create(name, 100);
  REQUIRE_FALSE(again);
  CHECK(again.error().code == Errc::already_exists);

  auto early = shm::Segment::open(name, shm::Deadline::after(30ms));
  REQUIRE_FALSE(early);
  CHECK(early.error().code == Errc::not_ready);

  created->mark_ready();
  std::memcpy(created->data(), "hello", 5);
  auto opened = shm::Segment::open(name, shm::Deadline::after(1s));
  REQUIRE(opened);
  CHECK(opened->data_size() == 100);
  CHECK(std::memcmp(opened->data(), "hello", 5) == 0);

}

TEST_CASE("a foreign, wrong-version or wrong-size segment is never adopted", "[unit]") {
  test::TestSession session;

  SECTION("foreign bytes: bad magic") {
    const auto name = session.segment(SegmentKind::ring, "foreign");
    const std::vector<std::byte> junk(8192, std::byte{0xAB});
    test::ForeignObject foreign(name.os_name(), junk, junk.size());
    auto opened = shm::Segment::open(name, shm::Deadline::after(1s));
    REQUIRE_FALSE(opened);
    CHECK(opened.error().code == Errc::bad_magic);
    CHECK_THAT(opened.error().message, Catch::Contains("not a Colony segment"));
  }
  SECTION("another layout version") {
    const auto name = session.segment(SegmentKind::ring, "v2");
    auto created = shm::Segment::create(name, 64);
    REQUIRE(created);
    created->header().layout_version = shm::kLayoutVersion + 1;
    created->mark_ready();
    auto opened = shm::Segment::open(name, shm::Deadline::after(1s));
    REQUIRE_FALSE(opened);
    CHECK(opened.error().code == Errc::bad_version);
  }
  SECTION("size disagrees with the header") {
    const auto name = session.segment(SegmentKind::bytes, "size");
    auto created = shm::Segment::create(name, 64);
    REQUIRE(created);
    created->header().total_size = 1u << 30;
    created->mark_ready();
    auto opened = shm::Segment::open(name, shm::Deadline::after(1s));
    REQUIRE_FALSE(opened);
    CHECK(opened.error().code == Errc::bad_size);
  }
}

COLONY_CHILD_SCENARIO("segment-create-never-ready") {
  auto name = shm::SegmentName::make(args.at(0), SegmentKind::bytes, "half");
  auto created = shm::Segment::create(*name, 64);
  if (!created) return 2;
  std::printf("created\n");
  std::fflush(stdout);
  test::wait_to_be_killed();  // killed by the test before marking ready
}

TEST_CASE("an opener whose creator died before READY gets creator_died, not an endless wait", "[crash]") {
  test::TestSession session;
  const auto name = session.segment(SegmentKind::bytes, "half");
  auto child = test::ChildProcess::start("segment-create-never-ready", {session.name()});
  // Wait for the creator to make the segment and write its header (not_ready,
  // and not because the header is still blank: under load the object can
  // exist a while before its header does), then kill it before READY.
  REQUIRE(test::eventually(
      [&] {
        auto opened = shm::Segment::open(name, shm::Deadline::now());
        return !opened && opened.error().code == Errc::not_ready &&
               opened.error().message.find("never written") == std::string::npos;
      },
      5000ms));
  child.kill_hard();
  REQUIRE(child.wait_for(5000ms));

  const auto started = std::chrono::steady_clock::now();
  auto opened = shm::Segment::open(name, shm::Deadline::after(10s));
  const auto waited = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code == test::after_creator_death());
  if (shm::Segment::outlives_its_processes()) CHECK_THAT(opened.error().message, Catch::Contains("died"));
  CHECK(waited < 1s);
}
