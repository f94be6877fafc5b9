// Rings whose pages are reserved as their writers first reach them
// (RingPages::reserved_as_written): what they cost /dev/shm before and after
// they are written, and what a writer gets when /dev/shm has no room for the
// next pages: no_space, nothing written, nothing lost, no SIGBUS, and sends
// again once room is made.
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <string>

#include "child_process.hpp"
#include "colony/shm/ring.hpp"
#include "small_shm.hpp"
#include "test_session.hpp"

using namespace colony;
using namespace std::chrono_literals;
using shm::Outcome;

namespace {

constexpr std::uint32_t kTag = 9;

shm::Ring make_ring(const test::TestSession& session, const std::string& object, std::size_t capacity,
                    std::size_t max_message, shm::RingVariant variant, shm::RingPages pages) {
  shm::RingOptions options{capacity, max_message, variant};
  options.pages = pages;
  auto ring = shm::Ring::create(session.segment(shm::SegmentKind::ring, object), options);
  if (!ring) throw std::runtime_error(ring.error().message);
  return std::move(ring).value();
}

// Bytes of /dev/shm the ring's segment holds (allocated, not its apparent size).
std::uint64_t held_bytes(const shm::Ring& ring) { return shm::Segment::owner_of(ring.name().os_name()).bytes; }

std::vector<std::byte> numbered(std::uint64_t number, std::size_t size) {
  std::vector<std::byte> payload(size, std::byte(number & 0xff));
  std::memcpy(payload.data(), &number, sizeof number);
  return payload;
}

bool is_numbered(std::span<const std::byte> payload, std::uint64_t number, std::size_t size) {
  if (payload.size() != size) return false;
  std::uint64_t value = 0;
  std::memcpy(&value, payload.data(), sizeof value);
  if (value != number) return false;
  for (std::size_t i = sizeof value; i < size; ++i) {
    if (payload[i] != std::byte(number & 0xff)) return false;
  }
  return true;
}

// The child's checks: a failed one prints what it found and ends the child
// with a code the parent reports.
int fail(int code, const std::string& what) {
  std::fprintf(stderr, "ring-pages child: %s\n", what.c_str());
  return code;
}

}  // namespace

TEST_CASE("a ring reserved as written holds one page of data until written, then stays whole over many laps",
          "[unit][ring]") {
  test::TestSession session;
  constexpr std::size_t kCapacity = 256 << 10;
  constexpr std::size_t kSize = 1000;
  for (auto variant : {shm::RingVariant::single_writer, shm::RingVariant::many_writers}) {
    shm::Ring eager = make_ring(session, "eager", kCapacity, 4096, variant, shm::RingPages::reserved_at_creation);
    CHECK(eager.pages() == shm::RingPages::reserved_at_creation);
    CHECK(held_bytes(eager) == shm::kDataOffset + kCapacity);

    shm::Ring ring = make_ring(session, "lazy", kCapacity, 4096, variant, shm::RingPages::reserved_as_written);
    INFO("Linux 5.14 and later reserve pages with MADV_POPULATE_WRITE; before it every page is reserved at creation");
    REQUIRE(ring.pages() == shm::RingPages::reserved_as_written);
    CHECK(held_bytes(ring) == shm::kDataOffset + shm::kRingDataReservedAtCreation);

    auto reader = shm::RingReader::attach(ring, shm::WaitPolicy{1000});
    REQUIRE(reader);
    // Three laps, the reader taking each record as it comes: every record
    // whole, in order.
    const std::uint64_t records = 3 * kCapacity / kSize;
    {
      auto writer = shm::RingWriter::attach(ring);
      REQUIRE(writer);
      bool all_whole = true;
      for (std::uint64_t number = 0; number < records && all_whole; ++number) {
        REQUIRE(writer->try_send(kTag, numbered(number, kSize)) == Outcome::ok);
        const auto got = reader->try_receive();
        REQUIRE(got.ok());
        all_whole = is_numbered(got.record.payload, number, kSize);
        reader->commit();
      }
      CHECK(all_whole);
      CHECK(ring.records_read() == records);
      CHECK(held_bytes(ring) == shm::kDataOffset + kCapacity);
    }
    // A writer attached anew (as after a restart) knows nothing of what was
    // reserved before it, and goes on.
    auto again = shm::RingWriter::attach(ring);
    REQUIRE(again);
    REQUIRE(again->try_send(kTag, numbered(records, kSize)) == Outcome::ok);
    const auto last = reader->try_receive();
    REQUIRE(last.ok());
    CHECK(is_numbered(last.record.payload, records, kSize));
    reader->commit();
    shm::Segment::remove(ring.name());
    shm::Segment::remove(eager.name());
  }
}

COLONY_CHILD_SCENARIO("ring-pages-no-space") {
  if (const std::string why = test::use_small_shm(256 << 10); !why.empty()) return fail(10, why);
  test::TestSession session;
  constexpr std::size_t kSize = 1000;
  for (auto variant : {shm::RingVariant::single_writer, shm::RingVariant::many_writers}) {
    // The filler takes a quarter of /dev/shm; the ring, of four times its
    // size, then runs out of room long before it is full.
    const shm::SegmentName filler_name = session.segment(shm::SegmentKind::bytes, "filler");
    if (auto filler = shm::Segment::create(filler_name, 60 << 10); !filler) return fail(11, filler.error().message);
    shm::Ring ring = make_ring(session, "lazy", 1 << 20, 2048, variant, shm::RingPages::reserved_as_written);
    if (ring.pages() != shm::RingPages::reserved_as_written) return fail(12, "the ring's pages were all reserved");
    auto writer = shm::RingWriter::attach(ring);
    auto reader = shm::RingReader::attach(ring);
    if (!writer || !reader) return fail(13, "cannot attach to the ring");

    std::uint64_t sent = 0;
    Outcome status = Outcome::ok;
    while (sent < 1000 && (status = writer->try_send(kTag, numbered(sent, kSize))) == Outcome::ok) ++sent;
    if (status != Outcome::no_space) {
      return fail(14, "after " + std::to_string(sent) + " records the send said " + std::string(to_string(status)));
    }
    if (sent < 50) return fail(15, "only " + std::to_string(sent) + " records fit");
    const std::string described = writer->describe(status);
    if (described.find("does not fit in shared memory") == std::string::npos ||
        described.find("/dev/shm has") == std::string::npos) {
      return fail(16, "the failure reads: " + described);
    }
    if (writer->try_send(kTag, numbered(sent, kSize)) != Outcome::no_space) {
      return fail(17, "a send with still no room did not say no_space");
    }
    // Everything sent before is there, whole, and nothing else.
    for (std::uint64_t number = 0; number < sent; ++number) {
      const auto got = reader->try_receive();
      if (!got.ok() || !is_numbered(got.record.payload, number, kSize)) {
        return fail(18, "record " + std::to_string(number) + " of " + std::to_string(sent) + " is not whole");
      }
    }
    if (reader->try_receive().status != Outcome::empty) return fail(19, "a refused send left a record");
    reader->commit();
    // Room made, the same writer sends again.
    shm::Segment::remove(filler_name);
    if (const Outcome resumed = writer->try_send(kTag, numbered(sent, kSize)); resumed != Outcome::ok) {
      return fail(20, "with room again the send said " + std::string(to_string(resumed)));
    }
    const auto got = reader->try_receive();
    if (!got.ok() || !is_numbered(got.record.payload, sent, kSize)) return fail(21, "the resumed record is not whole");
    reader->commit();
    shm::Segment::remove(ring.name());
  }
  return 0;
}

TEST_CASE("a writer out of /dev/shm gets no_space with nothing written, loses nothing, and resumes when room is made",
          "[ipc][ring]") {
  auto child = test::ChildProcess::start("ring-pages-no-space");
  const auto status = child.wait_or_kill(60'000ms);
  INFO("the child " << status.describe() << " (its stderr says which check failed; 10: not root)");
  CHECK(status.ok());
}
