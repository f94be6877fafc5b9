// Messages used where they lie in the ring (in_place.hpp): a view for the
// reader, a loan for the writer; the same records as the copying typed
// layer, and the same crash guarantees, with real processes killed inside.
#include <catch2/catch.hpp>
#include <numeric>

#include "colony/shm/failpoint.hpp"
#include "colony/shm/in_place.hpp"
#include "failpoint_child.hpp"
#include "test_session.hpp"

// Flat arrays of numbers, as an application would register them.
COLONY_REGISTER_TYPE(std::vector<double>, "test.in_place.f64s")
COLONY_REGISTER_TYPE(std::vector<std::int32_t>, "test.in_place.i32s")

using namespace colony;
using namespace std::chrono_literals;
using shm::Deadline;
using shm::Outcome;

namespace {

using Bytes = std::vector<std::byte>;

shm::SegmentName view_ring(const std::string& session) {
  return std::move(shm::SegmentName::make(session, shm::SegmentKind::ring, "in-place")).value();
}

Bytes numbered_bytes(std::size_t size, std::uint8_t first) {
  Bytes bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = std::byte(static_cast<std::uint8_t>(first + i));
  return bytes;
}

// A ring of the test's own; its writer and reader are attached by each test
// (one of each at a time: a child process may be the other).
struct Rings {
  test::TestSession session;
  shm::Ring ring = std::move(shm::Ring::create(view_ring(session.name()), {1 << 16, 1 << 14})).value();
  shm::TypedWriter writer() { return shm::TypedWriter(std::move(shm::RingWriter::attach(ring)).value()); }
  shm::TypedReader reader() { return shm::TypedReader(std::move(shm::RingReader::attach(ring)).value()); }
  // Whether bytes lie in the ring's data area: a view, not a copy.
  bool in_ring(std::span<const std::byte> bytes) const {
    return bytes.data() >= ring.data() && bytes.data() + bytes.size() <= ring.data() + ring.capacity();
  }
};

}  // namespace

TEST_CASE("a viewed message holds the bytes that were sent, and copying readers get the same records", "[unit][typed]") {
  Rings rings;
  auto writer = rings.writer();
  auto reader = rings.reader();
  const Bytes sent = numbered_bytes(10'000, 7);
  REQUIRE(writer.send(sent, Deadline::after(1s)) == Outcome::ok);
  REQUIRE(writer.send(std::string("text in place"), Deadline::after(1s)) == Outcome::ok);
  REQUIRE(writer.send(std::vector<double>{1.5, -2.25, 1e300}, Deadline::after(1s)) == Outcome::ok);

  Bytes seen;
  const auto bytes = shm::receive_view<Bytes>(reader, Deadline::after(1s), [&](std::span<const std::byte> view) {
    CHECK(rings.in_ring(view));  // shown where it lies: no copy was made
    seen.assign(view.begin(), view.end());
  });
  REQUIRE(bytes.ok());
  CHECK(seen == sent);
  std::string text;
  REQUIRE(shm::receive_view<std::string>(reader, Deadline::after(1s), [&](std::span<const char> view) {
            text.assign(view.begin(), view.end());
          }).ok());
  CHECK(text == "text in place");
  std::vector<double> numbers;
  REQUIRE(shm::receive_view<std::vector<double>>(reader, Deadline::after(1s), [&](std::span<const double> view) {
            numbers.assign(view.begin(), view.end());
          }).ok());
  CHECK(numbers == std::vector<double>{1.5, -2.25, 1e300});
  CHECK(rings.ring.bytes_used() == 0);  // each record was freed once its handler returned

  // Written in place, read by a copying reader: the same record as send() makes.
  REQUIRE(shm::send_in_place<std::vector<std::int32_t>>(writer, 5, Deadline::after(1s), [](std::span<std::int32_t> out) {
            std::iota(out.begin(), out.end(), 40);
          }) == Outcome::ok);
  const auto copied = reader.receive<std::vector<std::int32_t>>(Deadline::after(1s));
  REQUIRE(copied.ok());
  CHECK(*copied.value == std::vector<std::int32_t>{40, 41, 42, 43, 44});
}

TEST_CASE("a view of another type or of a forged count is refused and freed, and the next message is viewed", "[unit][typed]") {
  Rings rings;
  auto writer = rings.writer();
  auto reader = rings.reader();
  REQUIRE(writer.send(std::string("not bytes"), Deadline::after(1s)) == Outcome::ok);
  // A count that claims more elements than the record holds.
  const std::uint64_t forged_count = 1'000'000;
  Bytes forged(sizeof forged_count + 16);
  std::memcpy(forged.data(), &forged_count, sizeof forged_count);
  REQUIRE(writer.raw().send(shm::TypeAlias<Bytes>::tag, forged, Deadline::after(1s)) == Outcome::ok);
  REQUIRE(writer.send(numbered_bytes(3, 1), Deadline::after(1s)) == Outcome::ok);

  int handled = 0;
  const auto count_calls = [&](std::span<const std::byte>) { ++handled; };
  const auto wrong = shm::receive_view<Bytes>(reader, Deadline::after(1s), count_calls);
  CHECK(wrong.status == Outcome::wrong_type);
  CHECK(wrong.error.find("expected 'colony.bytes'") != std::string::npos);
  const auto bad = shm::receive_view<Bytes>(reader, Deadline::after(1s), count_calls);
  CHECK(bad.status == Outcome::undecodable);
  CHECK(bad.error.find("element count") != std::string::npos);
  CHECK(handled == 0);
  CHECK(shm::receive_view<Bytes>(reader, Deadline::after(1s), count_calls).ok());
  CHECK(handled == 1);
  CHECK(shm::receive_view<Bytes>(reader, Deadline::now(), count_calls).status == Outcome::timed_out);
}

TEST_CASE("a handler that throws frees its message, and a writer that throws publishes nothing", "[unit][typed]") {
  Rings rings;
  auto writer = rings.writer();
  auto reader = rings.reader();
  REQUIRE(writer.send(numbered_bytes(100, 0), Deadline::after(1s)) == Outcome::ok);
  CHECK_THROWS_AS(shm::receive_view<Bytes>(reader, Deadline::after(1s),
                                           [](std::span<const std::byte>) { throw std::runtime_error("handler"); }),
                  std::runtime_error);
  CHECK(rings.ring.bytes_used() == 0);

  CHECK_THROWS_AS(shm::send_in_place<Bytes>(writer, 64, Deadline::after(1s),
                                            [](std::span<std::byte>) { throw std::runtime_error("writer"); }),
                  std::runtime_error);
  REQUIRE(writer.send(numbered_bytes(2, 9), Deadline::after(1s)) == Outcome::ok);
  Bytes next;
  REQUIRE(shm::receive_view<Bytes>(reader, Deadline::after(1s), [&](std::span<const std::byte> view) {
            next.assign(view.begin(), view.end());
          }).ok());
  CHECK(next == numbered_bytes(2, 9));  // the dropped loan left nothing in between
  CHECK(shm::send_in_place<Bytes>(writer, 1 << 20, Deadline::now(), [](std::span<std::byte>) {}) ==
        Outcome::too_large);
}

// args: session — views the first message and stops inside its handler (the
// test kills it there).
COLONY_CHILD_SCENARIO("ip-view") {
  auto ring = shm::Ring::open(view_ring(args.at(0)), Deadline::after(5s));
  if (!ring) return 10;
  auto attached = shm::RingReader::attach(*ring);
  if (!attached) return 11;
  shm::TypedReader reader(std::move(*attached));
  const auto viewed = shm::receive_view<Bytes>(reader, Deadline::after(10s), [](std::span<const std::byte>) {
    COLONY_FAILPOINT("test.in_place.inside_view");
  });
  return viewed.ok() ? 0 : 12;
}

// args: session size — writes one message of size bytes in place, stopping halfway.
COLONY_CHILD_SCENARIO("ip-loan") {
  auto ring = shm::Ring::open(view_ring(args.at(0)), Deadline::after(5s));
  if (!ring) return 10;
  auto attached = shm::RingWriter::attach(*ring);
  if (!attached) return 11;
  shm::TypedWriter writer(std::move(*attached));
  const auto status =
      shm::send_in_place<Bytes>(writer, std::stoul(args.at(1)), Deadline::after(10s), [](std::span<std::byte> out) {
        std::fill(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(out.size() / 2), std::byte{0xEE});
        COLONY_FAILPOINT("test.in_place.inside_loan");
        std::fill(out.begin() + static_cast<std::ptrdiff_t>(out.size() / 2), out.end(), std::byte{0xEE});
      });
  return status == Outcome::ok ? 0 : 12;
}

TEST_CASE("a reader killed inside a view leaves the message for the next reader", "[crash][typed][failpoint]") {
  Rings rings;
  auto writer = rings.writer();
  const Bytes sent = numbered_bytes(4096, 3);
  REQUIRE(writer.send(sent, Deadline::after(1s)) == Outcome::ok);
  auto doomed = test::FailpointChild::start("test.in_place.inside_view", "ip-view", {rings.session.name()});
  const bool stopped = doomed.wait_until_stopped(10s);
  INFO("the reader " << doomed.describe());
  REQUIRE(stopped);
  REQUIRE(doomed.kill_and_reap());

  auto successor = rings.reader();
  Bytes seen;
  REQUIRE(shm::receive_view<Bytes>(successor, Deadline::after(5s), [&](std::span<const std::byte> view) {
            seen.assign(view.begin(), view.end());
          }).ok());
  CHECK(seen == sent);
}

TEST_CASE("a writer killed while it writes in place publishes nothing, and the next message flows", "[crash][typed][failpoint]") {
  Rings rings;
  auto reader = rings.reader();
  auto doomed = test::FailpointChild::start("test.in_place.inside_loan", "ip-loan", {rings.session.name(), "8192"});
  const bool stopped = doomed.wait_until_stopped(10s);
  INFO("the writer " << doomed.describe());
  REQUIRE(stopped);
  REQUIRE(doomed.kill_and_reap());

  auto writer = rings.writer();  // the dead writer's place, taken over
  REQUIRE(writer.send(numbered_bytes(16, 5), Deadline::after(1s)) == Outcome::ok);
  std::vector<Bytes> seen;
  const auto collect = [&](std::span<const std::byte> view) { seen.emplace_back(view.begin(), view.end()); };
  REQUIRE(shm::receive_view<Bytes>(reader, Deadline::after(5s), collect).ok());
  CHECK(shm::receive_view<Bytes>(reader, Deadline::after(100ms), collect).status == Outcome::timed_out);
  REQUIRE(seen.size() == 1);
  CHECK(seen.front() == numbered_bytes(16, 5));  // never a half-written 0xEE message
}
