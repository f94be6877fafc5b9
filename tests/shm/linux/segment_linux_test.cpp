// Segments with what only Linux has: /dev/shm's files, their modes, the
// umask, and objects renamed under another segment's name.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

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

TEST_CASE("a created segment is 0600 whatever the umask, and removing it leaves nothing", "[unit]") {
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
  CHECK(shm::Segment::remove(name));
  CHECK_FALSE(shm::Segment::remove(name));  // nothing left: false, no throw
  auto gone = shm::Segment::open(name, shm::Deadline::now());
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code == Errc::not_found);
}

TEST_CASE("a wrong-kind or wrong-mode segment is never adopted", "[unit]") {
  test::TestSession session;

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
}
