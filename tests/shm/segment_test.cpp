#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "child_process.hpp"
#include "colony/shm/segment.hpp"
#include "test_session.hpp"

using namespace colony;
using namespace std::chrono_literals;
using shm::Errc;
using shm::SegmentKind;

namespace {

mode_t mode_of(const std::string& os_name) {
  struct stat info {};
  REQUIRE(::stat(("/dev/shm" + os_name).c_str(), &info) == 0);
  return info.st_mode & 07777;
}

// Writes a raw OS object, as a foreign program would.
void write_foreign_object(const std::string& os_name, mode_t mode, const void* bytes, std::size_t size) {
  const int fd = ::shm_open(os_name.c_str(), O_CREAT | O_EXCL | O_RDWR, mode);
  REQUIRE(fd >= 0);
  ::fchmod(fd, mode);
  REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
  if (bytes != nullptr) REQUIRE(::pwrite(fd, bytes, size, 0) == static_cast<ssize_t>(size));
  ::close(fd);
}

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

TEST_CASE("a created segment is 0600 whatever the umask, exclusive, and opens once ready", "[unit]") {
  test::TestSession session;
  // 0 would let a creator asking for too much (0644, 0666) show it; 0277 and
  // 0777 clear the owner's own bits from what shm_open is asked for.
  for (const mode_t mask : {mode_t{0}, mode_t{022}, mode_t{077}, mode_t{0277}, mode_t{0777}}) {
    const auto masked = session.segment(SegmentKind::bytes, "umask" + std::to_string(mask));
    const mode_t old_umask = ::umask(mask);
    auto made = shm::Segment::create(masked, 100);
    ::umask(old_umask);
    INFO("umask 0" << std::oct << mask);
    REQUIRE(made);
    CHECK(mode_of(masked.os_name()) == 0600);
    CHECK(shm::Segment::remove(masked));
  }
  const auto name = session.segment(SegmentKind::bytes, "a");
  auto created = shm::Segment::create(name, 100);
  REQUIRE(created);
  CHECK(mode_of(name.os_name()) == 0600);
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

  CHECK(shm::Segment::remove(name));
  CHECK_FALSE(shm::Segment::remove(name));  // nothing left: false, no throw
  auto gone = shm::Segment::open(name, shm::Deadline::now());
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code == Errc::not_found);
}

TEST_CASE("a foreign, wrong-version, wrong-kind or wrong-mode segment is never adopted", "[unit]") {
  test::TestSession session;

  SECTION("foreign bytes: bad magic") {
    const auto name = session.segment(SegmentKind::ring, "foreign");
    std::vector<unsigned char> junk(8192, 0xAB);
    write_foreign_object(name.os_name(), 0600, junk.data(), junk.size());
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
  SECTION("another kind under a forged name") {
    const auto bytes_name = session.segment(SegmentKind::bytes, "k");
    auto created = shm::Segment::create(bytes_name, 64);
    REQUIRE(created);
    created->mark_ready();
    // Rename the object so that it sits under a ring's name.
    const auto ring_name = session.segment(SegmentKind::ring, "k");
    REQUIRE(::rename(("/dev/shm" + bytes_name.os_name()).c_str(), ("/dev/shm" + ring_name.os_name()).c_str()) == 0);
    auto opened = shm::Segment::open(ring_name, shm::Deadline::after(1s));
    REQUIRE_FALSE(opened);
    CHECK(opened.error().code == Errc::wrong_kind);
  }
  SECTION("group- or world-accessible mode") {
    const auto name = session.segment(SegmentKind::bytes, "open");
    write_foreign_object(name.os_name(), 0644, nullptr, 8192);
    auto opened = shm::Segment::open(name, shm::Deadline::after(1s));
    REQUIRE_FALSE(opened);
    CHECK(opened.error().code == Errc::bad_mode);
    CHECK_THAT(opened.error().message, Catch::Contains("0644"));
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
  for (;;) ::pause();  // killed by the test before marking ready
}

TEST_CASE("an opener whose creator died before READY gets creator_died, not an endless wait", "[crash]") {
  test::TestSession session;
  const auto name = session.segment(SegmentKind::bytes, "half");
  auto child = test::ChildProcess::start("segment-create-never-ready", {session.name()});
  REQUIRE(test::eventually([&] { return !session.leftover_segments().empty(); }, 5000ms));
  // Give the creator time to write its header (not_ready, and not because
  // the header is still blank: under load the file can exist a while before
  // its header does), then kill it before READY.
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
  CHECK(opened.error().code == Errc::creator_died);
  CHECK_THAT(opened.error().message, Catch::Contains("died"));
  CHECK(waited < 1s);
}
