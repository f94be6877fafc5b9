#include "colony/shm/byte_array.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "byte_array_support.hpp"
#include "child_process.hpp"
#include "test_session.hpp"

using namespace colony;
using namespace std::chrono_literals;
using shm::ByteArray;
using shm::Deadline;
using shm::Errc;
using shm::SegmentKind;
using shm::Outcome;

using namespace test::bytes;

// ---------------------------------------------------------------------------
// In-process behaviour

TEST_CASE("a byte array opens by name with the capacity, length and bytes its creator gave it", "[unit][bytes]") {
  test::TestSession session;
  const auto name = session.segment(SegmentKind::bytes, "frame");
  auto created = ok(ByteArray::create(name, 64, 16));
  ok(created.write(3, bytes_of("hello")));

  auto opened = ok(ByteArray::open(name, Deadline::after(1s)));
  CHECK(opened.capacity() == 64);
  CHECK(ok(opened.length()) == 16);
  CHECK(opened.bytes().size() == 64);
  std::vector<std::byte> out(5);
  ok(opened.read(3, out));
  CHECK(text_of(out) == "hello");
  CHECK(opened.os_name() == name.os_name());

  // The documented offset, seen without any Colony code.
  test::ForeignMapping raw(name.os_name());
  CHECK(ByteArray::data_offset() == 4096);
  CHECK(text_of({raw.at(ByteArray::data_offset() + 3), 5}) == "hello");

  CHECK(error_of(ByteArray::create(name, 64)).code == Errc::already_exists);
  CHECK(error_of(ByteArray::open(session.segment(SegmentKind::ring, "frame"), Deadline::now())).code ==
        Errc::invalid_argument);
  const auto too_long = error_of(ByteArray::create(session.segment(SegmentKind::bytes, "other"), 8, 9));
  CHECK(too_long.code == Errc::invalid_argument);
  CHECK_THAT(too_long.message, Catch::Contains("initial length 9") && Catch::Contains("capacity 8"));
}

TEST_CASE("compare_and_swap_length swaps only from the expected length and never beyond capacity", "[unit][bytes]") {
  test::TestSession session;
  const auto name = session.segment(SegmentKind::bytes, "len");
  auto sut = ok(ByteArray::create(name, 32, 8));
  auto other = ok(ByteArray::open(name, Deadline::after(1s)));

  CHECK(ok(sut.compare_and_swap_length(8, 20)) == 8);  // swapped: returns the expected length
  CHECK(ok(other.length()) == 20);
  CHECK(ok(sut.compare_and_swap_length(8, 4)) == 20);  // not swapped: returns what it found
  CHECK(ok(sut.length()) == 20);
  CHECK(ok(sut.compare_and_swap_length(33, 4)) == 20);  // no length can be 33
  CHECK(ok(sut.length()) == 20);

  const auto beyond = error_of(sut.compare_and_swap_length(20, 33));
  CHECK(beyond.code == Errc::invalid_argument);
  CHECK_THAT(beyond.message, Catch::Contains("33") && Catch::Contains("capacity 32"));
  CHECK(ok(sut.length()) == 20);

  CHECK(ok(other.compare_and_swap_length(20, 32)) == 20);
  CHECK(ok(sut.compare_and_swap_length(32, 0)) == 32);
  CHECK(ok(sut.length()) == 0);
  CHECK(sut.capacity() == 32);
}

TEST_CASE("reads and writes stay within the length, and offset plus size never wraps around", "[unit][bytes]") {
  test::TestSession session;
  auto sut = ok(ByteArray::create(session.segment(SegmentKind::bytes, "bounds"), 64, 16));
  std::vector<std::byte> four(4);

  ok(sut.write(12, four));  // ends exactly at the length
  ok(sut.read(16, std::span<std::byte>{}));  // empty, at the end: allowed
  const auto past = error_of(sut.write(13, four));
  CHECK(past.code == Errc::invalid_argument);
  CHECK_THAT(past.message, Catch::Contains("4 bytes") && Catch::Contains("offset 13") && Catch::Contains("length 16"));
  CHECK(error_of(sut.read(17, std::span<std::byte>{})).code == Errc::invalid_argument);

  // A naive `offset + size <= length` accepts these: the sum wraps to 1 and to 0.
  std::vector<std::byte> two(2);
  CHECK(error_of(sut.read(SIZE_MAX, two)).code == Errc::invalid_argument);
  CHECK(error_of(sut.write(SIZE_MAX, two)).code == Errc::invalid_argument);
  CHECK(error_of(sut.load<std::uint64_t>(SIZE_MAX - 7)).code == Errc::invalid_argument);

  // The bound is the length, not the capacity.
  REQUIRE(ok(sut.compare_and_swap_length(16, 4)) == 16);
  CHECK(error_of(sut.read(4, four)).code == Errc::invalid_argument);
  ok(sut.read(0, four));
}

TEMPLATE_TEST_CASE("atomic operations return the previous value, like JavaScript Atomics", "[unit][bytes]",
                   std::uint32_t, std::int32_t, std::uint64_t, std::int64_t) {
  using T = TestType;
  test::TestSession session;
  const auto name = session.segment(SegmentKind::bytes, "atomics");
  auto sut = ok(ByteArray::create(name, 64, 64));
  auto other = ok(ByteArray::open(name, Deadline::after(1s)));
  constexpr std::size_t at = 2 * sizeof(T);

  ok(sut.store<T>(at, T{12}));
  CHECK(ok(other.load<T>(at)) == T{12});
  CHECK(ok(sut.fetch_add<T>(at, T{5})) == T{12});
  CHECK(ok(sut.fetch_sub<T>(at, T{3})) == T{17});
  CHECK(ok(sut.fetch_and<T>(at, T{0b0110})) == T{14});
  CHECK(ok(sut.fetch_or<T>(at, T{0b1001})) == T{0b0110});
  CHECK(ok(sut.fetch_xor<T>(at, T{0b0011})) == T{0b1111});
  CHECK(ok(sut.exchange<T>(at, T{40})) == T{0b1100});
  CHECK(ok(sut.compare_exchange<T>(at, T{40}, T{41})) == T{40});  // swapped
  CHECK(ok(sut.compare_exchange<T>(at, T{40}, T{99})) == T{41});  // not swapped: returns what it found
  CHECK(ok(other.load<T>(at)) == T{41});

  // Arithmetic wraps, as on a typed array; every byte of the word is written.
  ok(sut.store<T>(at, std::numeric_limits<T>::max()));
  CHECK(ok(sut.fetch_add<T>(at, T{1})) == std::numeric_limits<T>::max());
  CHECK(ok(sut.load<T>(at)) == std::numeric_limits<T>::min());
  CHECK(ok(sut.load<T>(at - sizeof(T))) == T{0});  // the neighbours are untouched
  CHECK(ok(sut.load<T>(at + sizeof(T))) == T{0});
}

TEST_CASE("misaligned or out-of-range atomic offsets are refused with a message that names them",
          "[unit][bytes]") {
  test::TestSession session;
  auto sut = ok(ByteArray::create(session.segment(SegmentKind::bytes, "align"), 64, 32));

  const auto misaligned = error_of(sut.load<std::uint64_t>(4));
  CHECK(misaligned.code == Errc::invalid_argument);
  CHECK_THAT(misaligned.message, Catch::Contains("offset 4") && Catch::Contains("multiple of 8"));
  CHECK(error_of(sut.fetch_add<std::uint32_t>(2, 1u)).code == Errc::invalid_argument);
  CHECK(error_of(sut.store<std::int64_t>(12, 1)).code == Errc::invalid_argument);
  CHECK(error_of(sut.wait<std::uint32_t>(6, 0u, Deadline::now())).code == Errc::invalid_argument);
  CHECK(error_of(sut.notify(1)).code == Errc::invalid_argument);

  const auto beyond = error_of(sut.exchange<std::uint64_t>(32, 1u));  // capacity allows it, length does not
  CHECK(beyond.code == Errc::invalid_argument);
  CHECK_THAT(beyond.message, Catch::Contains("exchange") && Catch::Contains("length 32"));
  CHECK(error_of(sut.wait<std::int32_t>(32, 0, Deadline::now())).code == Errc::invalid_argument);
  CHECK(error_of(sut.notify(28, -1)).code == Errc::invalid_argument);
  ok(sut.store<std::uint64_t>(24, 7u));  // the last whole word
}

TEST_CASE("wait returns not_equal at once when the word differs, and timed_out after its deadline",
          "[unit][bytes]") {
  test::TestSession session;
  auto sut = ok(ByteArray::create(session.segment(SegmentKind::bytes, "wait"), 16, 16));
  ok(sut.store<std::int32_t>(4, -3));

  const auto started = std::chrono::steady_clock::now();
  CHECK(ok(sut.wait<std::int32_t>(4, 5, Deadline::after(10s))) == Outcome::not_equal);
  CHECK(std::chrono::steady_clock::now() - started < 5s);

  const auto before = std::chrono::steady_clock::now();
  CHECK(ok(sut.wait<std::int32_t>(4, -3, Deadline::after(100ms))) == Outcome::timed_out);
  const auto waited = std::chrono::steady_clock::now() - before;
  CHECK(waited >= 100ms);
  CHECK(waited < 5s);

  CHECK(ok(sut.notify(4)) == 0);  // nobody waits
}

TEST_CASE("a length beyond capacity written into shared memory is reported as corrupt, never used",
          "[unit][bytes]") {
  test::TestSession session;
  const auto name = session.segment(SegmentKind::bytes, "corrupt");
  auto sut = ok(ByteArray::create(name, 64, 64));
  test::ForeignMapping raw(name.os_name());

  SECTION("the length") {
    control_of(raw).length.store(1u << 20);
    const auto corrupt = error_of(sut.length());
    CHECK(corrupt.code == Errc::corrupt);
    CHECK_THAT(corrupt.message, Catch::Contains("1048576") && Catch::Contains("capacity 64"));
    std::vector<std::byte> big(4096);
    CHECK(error_of(sut.read(64, big)).code == Errc::corrupt);
    CHECK(error_of(sut.write(64, big)).code == Errc::corrupt);
    CHECK(error_of(sut.load<std::uint64_t>(4096)).code == Errc::corrupt);
    CHECK(error_of(sut.fetch_add<std::uint32_t>(0, 1u)).code == Errc::corrupt);
    CHECK(error_of(sut.wait<std::uint32_t>(0, 0u, Deadline::after(10s))).code == Errc::corrupt);
    CHECK(error_of(sut.notify(0)).code == Errc::corrupt);
    CHECK(error_of(sut.compare_and_swap_length(64, 0)).code == Errc::corrupt);
    CHECK(error_of(ByteArray::open(name, Deadline::after(1s))).code == Errc::corrupt);
  }
  SECTION("the capacity") {
    control_of(raw).capacity = 1u << 20;
    const auto corrupt = error_of(ByteArray::open(name, Deadline::after(1s)));
    CHECK(corrupt.code == Errc::corrupt);
    CHECK_THAT(corrupt.message, Catch::Contains("capacity 1048576"));
    CHECK(sut.capacity() == 64);  // an open handle keeps the value it validated
    CHECK(error_of(sut.load<std::uint64_t>(64)).code == Errc::invalid_argument);
  }
}

// ---------------------------------------------------------------------------
// Across processes

COLONY_CHILD_SCENARIO("bytes-add") {  // args: session, bits (32 or 64)
  auto array = open_scenario_array(args.at(0));
  const bool wide = args.at(1) == "64";
  if (!array.fetch_add<std::uint32_t>(kReadyWord, 1u)) return 2;
  // Start together, so that the adds really contend.
  auto go = array.wait<std::uint32_t>(kGoWord, 0u, Deadline::after(20s));
  if (!go || *go == Outcome::timed_out) return 3;
  for (int i = 0; i < kAddsPerChild; ++i) {
    const bool added = wide ? array.fetch_add<std::uint64_t>(kCounter64, 1u).has_value()
                            : array.fetch_add<std::uint32_t>(kCounter32, 1u).has_value();
    if (!added) return 4;
  }
  return 0;
}

TEST_CASE("atomic adds from two processes on the same word sum exactly", "[ipc][bytes]") {
  const std::string bits = GENERATE(as<std::string>{}, "32", "64");
  test::TestSession session;
  auto sut = create_scenario_array(session);
  auto first = test::ChildProcess::start("bytes-add", {session.name(), bits});
  auto second = test::ChildProcess::start("bytes-add", {session.name(), bits});
  REQUIRE(test::eventually([&] { return ok(sut.load<std::uint32_t>(kReadyWord)) == 2; }, 10'000ms));
  ok(sut.store<std::uint32_t>(kGoWord, 1u));
  ok(sut.notify(kGoWord));

  const auto first_status = first.wait_or_kill(60'000ms);
  const auto second_status = second.wait_or_kill(60'000ms);
  INFO("first child " << first_status.describe() << ", second child " << second_status.describe());
  REQUIRE(first_status.ok());
  REQUIRE(second_status.ok());
  if (bits == "64") {
    CHECK(ok(sut.load<std::uint64_t>(kCounter64)) == 2u * kAddsPerChild);
  } else {
    CHECK(ok(sut.load<std::uint32_t>(kCounter32)) == 2u * kAddsPerChild);
  }
}

COLONY_CHILD_SCENARIO("bytes-wait") {  // args: session; exits 0 only if notify woke it
  auto array = open_scenario_array(args.at(0));
  if (!array.fetch_add<std::uint32_t>(kReadyWord, 1u)) return 2;
  auto status = array.wait<std::uint32_t>(kGoWord, 0u, Deadline::after(20s));
  if (!status) return 3;
  return *status == Outcome::ok ? 0 : 10 + static_cast<int>(*status);
}

TEST_CASE("a waiter killed in its sleep is not counted by notify and takes no wake from a live one",
          "[crash][bytes]") {
  test::TestSession session;
  auto sut = create_scenario_array(session);
  auto doomed = test::ChildProcess::start("bytes-wait", {session.name()});
  REQUIRE(test::eventually(
      [&] { return ok(sut.load<std::uint32_t>(kReadyWord)) == 1u && test::is_asleep(doomed.pid()); }, 10'000ms));
  doomed.kill_hard();
  REQUIRE(doomed.wait_for(10'000ms));

  auto survivor = test::ChildProcess::start("bytes-wait", {session.name()});
  REQUIRE(test::eventually(
      [&] { return ok(sut.load<std::uint32_t>(kReadyWord)) == 2u && test::is_asleep(survivor.pid()); }, 10'000ms));
  // One wake: it must reach the survivor, the only sleeper left.
  int woken = 0;
  REQUIRE(test::eventually(
      [&] {
        woken += ok(sut.notify(kGoWord, 1));
        return woken >= 1;
      },
      10'000ms));
  CHECK(woken == 1);
  const auto status = survivor.wait_or_kill(10'000ms);
  INFO("survivor " << status.describe());
  CHECK(status.ok());
  CHECK(ok(sut.notify(kGoWord, shm::kWakeAll)) == 0);
}

TEST_CASE("notify wakes waiters in other processes and returns how many it woke, at most count",
          "[ipc][bytes]") {
  const int waiters = GENERATE(1, 3);
  test::TestSession session;
  auto sut = create_scenario_array(session);
  std::vector<test::ChildProcess> children;
  for (int i = 0; i < waiters; ++i) children.push_back(test::ChildProcess::start("bytes-wait", {session.name()}));
  REQUIRE(test::eventually(
      [&] { return ok(sut.load<std::uint32_t>(kReadyWord)) == static_cast<std::uint32_t>(waiters); }, 10'000ms));

  // A child bumps the ready word just before it sleeps: keep notifying until
  // the kernel reports every waiter woken. The word stays 0, as Atomics allows.
  int woken = 0;
  REQUIRE(test::eventually(
      [&] {
        const int now = ok(sut.notify(kGoWord, 2));
        CHECK(now <= 2);
        woken += now;
        return woken >= waiters;
      },
      10'000ms));
  CHECK(woken == waiters);
  for (auto& child : children) {
    const auto status = child.wait_or_kill(10'000ms);
    INFO("child " << status.describe());
    CHECK(status.ok());
  }
}

