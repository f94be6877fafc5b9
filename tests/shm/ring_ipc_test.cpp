// Rings across real processes: volume, many writers, and real SIGKILLs of
// writers and readers at arbitrary points. A writer killed inside a record,
// at exactly that point, is in crash_window_test.cpp.

#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <thread>

#include "child_process.hpp"
#include "colony/shm/typed.hpp"
#include "test_session.hpp"

using namespace colony;
using namespace std::chrono_literals;
using shm::Outcome;

namespace ring_ipc {

// Every message says who sent it, its place in that sender's stream, and a
// checksum over both and the body, so the reader can prove it is whole.
struct Stamped {
  std::uint32_t writer = 0;
  std::uint64_t sequence = 0;
  std::vector<std::uint8_t> body;
  std::uint64_t checksum = 0;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(writer, sequence, body, checksum);
  }

  std::uint64_t compute_checksum() const {
    std::uint64_t hash = 1469598103934665603ull;
    const auto mix = [&](std::uint64_t value) {
      for (int i = 0; i < 8; ++i) {
        hash ^= (value >> (8 * i)) & 0xff;
        hash *= 1099511628211ull;
      }
    };
    mix(writer);
    mix(sequence);
    for (auto b : body) mix(b);
    return hash;
  }
  static Stamped make(std::uint32_t writer, std::uint64_t sequence, std::size_t max_body) {
    Stamped message{writer, sequence, {}, 0};
    message.body.resize(max_body == 0 ? 0 : (sequence * 7 + writer) % (max_body + 1));
    for (std::size_t i = 0; i < message.body.size(); ++i) {
      message.body[i] = static_cast<std::uint8_t>(sequence + i);
    }
    message.checksum = message.compute_checksum();
    return message;
  }
  bool whole() const { return checksum == compute_checksum(); }
};

}  // namespace ring_ipc

COLONY_REGISTER_TYPE(ring_ipc::Stamped, "test.stamped")

namespace {

using ring_ipc::Stamped;

shm::SegmentName ring_name(const std::string& session, const std::string& name = "r") {
  return std::move(shm::SegmentName::make(session, shm::SegmentKind::ring, name)).value();
}

// args: session writer_id count(0 = until killed) max_body
int run_writer(const std::vector<std::string>& args) {
  auto ring = shm::Ring::open(ring_name(args.at(0)), shm::Deadline::after(5s));
  if (!ring) return 10;
  auto raw = shm::RingWriter::attach(*ring);
  if (!raw) return 11;
  shm::TypedWriter writer(std::move(raw).value());
  const auto writer_id = static_cast<std::uint32_t>(std::stoul(args.at(1)));
  const std::uint64_t count = std::stoull(args.at(2));
  const std::size_t max_body = std::stoul(args.at(3));
  for (std::uint64_t sequence = 0; count == 0 || sequence < count; ++sequence) {
    if (writer.send(Stamped::make(writer_id, sequence, max_body), shm::Deadline::after(30s)) != Outcome::ok) {
      return 12;
    }
  }
  return 0;
}

// Receives until count messages arrived or a receive times out; checks
// per-writer order and every checksum. Returns the count per writer.
struct Tally {
  std::map<std::uint32_t, std::uint64_t> next_sequence;
  std::uint64_t received = 0;
  std::uint64_t broken = 0;     // checksum mismatch or undecodable
  std::uint64_t reordered = 0;  // a writer's sequence not the next one expected
};

void receive_into(shm::TypedReader& reader, Tally& tally, std::uint64_t count, std::chrono::milliseconds patience) {
  while (tally.received < count) {
    auto got = reader.receive<Stamped>(shm::Deadline::after(patience));
    if (got.status == shm::Outcome::timed_out) return;
    ++tally.received;
    if (!got.ok() || !got.value->whole()) {
      ++tally.broken;
      continue;
    }
    auto& expected = tally.next_sequence[got.value->writer];
    if (got.value->sequence != expected) ++tally.reordered;
    expected = got.value->sequence + 1;
  }
}

}  // namespace

COLONY_CHILD_SCENARIO("ring-writer") { return run_writer(args); }

TEST_CASE("1,000,000 messages cross from one process to another whole, in order, checksummed", "[ipc][ring]") {
  test::TestSession session;
  auto ring = shm::Ring::create(ring_name(session.name()), {1 << 20, 4096, shm::RingVariant::single_writer});
  REQUIRE(ring);
  shm::TypedReader reader(std::move(shm::RingReader::attach(*ring)).value());
  constexpr std::uint64_t kCount = 1'000'000;
  auto child = test::ChildProcess::start("ring-writer", {session.name(), "1", std::to_string(kCount), "48"});

  Tally tally;
  receive_into(reader, tally, kCount, 10s);
  const auto status = child.wait_or_kill(10s);
  INFO("the writer " << status.describe());
  CHECK(status.ok());
  CHECK(tally.received == kCount);
  CHECK(tally.broken == 0);
  CHECK(tally.reordered == 0);
  CHECK(tally.next_sequence[1] == kCount);
}

TEST_CASE("four writers into one many-writer ring keep each writer's order", "[ipc][ring]") {
  test::TestSession session;
  auto ring = shm::Ring::create(ring_name(session.name()), {1 << 16, 1024, shm::RingVariant::many_writers});
  REQUIRE(ring);
  shm::TypedReader reader(std::move(shm::RingReader::attach(*ring)).value());
  constexpr std::uint64_t kPerWriter = 50'000;
  std::vector<test::ChildProcess> writers;
  for (int id = 1; id <= 4; ++id) {
    writers.push_back(test::ChildProcess::start("ring-writer", {session.name(), std::to_string(id),
                                                                 std::to_string(kPerWriter), "100"}));
  }
  Tally tally;
  receive_into(reader, tally, 4 * kPerWriter, 10s);
  for (auto& writer : writers) CHECK(writer.wait_or_kill(10s).ok());
  CHECK(tally.received == 4 * kPerWriter);
  CHECK(tally.broken == 0);
  CHECK(tally.reordered == 0);
  for (std::uint32_t id = 1; id <= 4; ++id) CHECK(tally.next_sequence[id] == kPerWriter);
}

// args: session — sends 5 whole messages, then claims a record, fills half of
// it and waits to be killed inside it.
COLONY_CHILD_SCENARIO("ring-die-inside-record") {
  auto ring = shm::Ring::open(ring_name(args.at(0)), shm::Deadline::after(5s));
  if (!ring) return 10;
  auto raw = shm::RingWriter::attach(*ring);
  if (!raw) return 11;
  shm::TypedWriter writer(std::move(raw).value());
  for (std::uint64_t sequence = 0; sequence < 5; ++sequence) {
    if (writer.send(Stamped::make(9, sequence, 64), shm::Deadline::after(5s)) != Outcome::ok) return 12;
  }
  const auto claimed = writer.raw().claim(shm::TypeAlias<Stamped>::tag, 200, shm::Deadline::after(5s));
  if (!claimed.ok()) return 13;
  std::memset(claimed.payload.data(), 0x5a, 100);
  test::wait_to_be_killed();
}

TEST_CASE("a many-writer writer killed inside a record does not block the ring", "[crash][ring]") {
  test::TestSession session;
  auto ring = shm::Ring::create(ring_name(session.name()), {1 << 16, 1024, shm::RingVariant::many_writers});
  REQUIRE(ring);
  shm::TypedReader reader(std::move(shm::RingReader::attach(*ring)).value());
  auto doomed = test::ChildProcess::start("ring-die-inside-record", {session.name()});
  Tally tally;
  receive_into(reader, tally, 5, 10s);
  REQUIRE(tally.received == 5);
  // Its claim is published (tail moved) but never committed.
  REQUIRE(test::eventually([&] { return ring->control().tail.load() > ring->control().head.load(); }, 5000ms));
  auto live_claim = reader.receive<Stamped>(shm::Deadline::after(50ms));
  CHECK(live_claim.status == shm::Outcome::timed_out);  // nothing partial is ever visible

  auto other = test::ChildProcess::start("ring-writer", {session.name(), "3", "100", "64"});
  doomed.kill_hard();
  REQUIRE(doomed.wait_for(5s));
  receive_into(reader, tally, 105, 10s);
  CHECK(other.wait_or_kill(10s).ok());
  CHECK(tally.received == 105);
  CHECK(tally.broken == 0);
  CHECK(tally.reordered == 0);
  CHECK(tally.next_sequence[3] == 100);
}

TEST_CASE("many-writer writers SIGKILLed at random points never corrupt what the reader sees", "[crash][ring]") {
  test::TestSession session;
  auto ring = shm::Ring::create(ring_name(session.name()), {1 << 15, 2048, shm::RingVariant::many_writers});
  REQUIRE(ring);
  shm::TypedReader reader(std::move(shm::RingReader::attach(*ring)).value());
  std::mt19937 random(20261124);
  std::uint32_t next_id = 1;
  std::vector<test::ChildProcess> writers;
  for (int i = 0; i < 3; ++i) {
    writers.push_back(test::ChildProcess::start("ring-writer", {session.name(), std::to_string(next_id++), "0", "1500"}));
  }
  Tally tally;
  int kills = 0;
  const auto until = std::chrono::steady_clock::now() + 1500ms;
  while (std::chrono::steady_clock::now() < until) {
    receive_into(reader, tally, tally.received + 200 + random() % 800, 2s);
    auto& victim = writers[random() % writers.size()];
    victim.kill_hard();
    REQUIRE(victim.wait_for(5s));
    ++kills;
    victim = test::ChildProcess::start("ring-writer", {session.name(), std::to_string(next_id++), "0", "1500"});
  }
  for (auto& writer : writers) writer.kill_hard();
  for (auto& writer : writers) REQUIRE(writer.wait_for(5s));
  receive_into(reader, tally, UINT64_MAX, 300ms);
  INFO("received " << tally.received << " messages across " << kills << " kills");
  CHECK(kills > 3);
  CHECK(tally.received > 1000);
  CHECK(tally.broken == 0);
  CHECK(tally.reordered == 0);
}

// args: session — receives one record and commits it, receives two more
// without committing, reports through the "ack" ring, waits to be killed.
COLONY_CHILD_SCENARIO("ring-reader-dies-before-commit") {
  auto ring = shm::Ring::open(ring_name(args.at(0)), shm::Deadline::after(5s));
  auto ack_ring = shm::Ring::open(ring_name(args.at(0), "ack"), shm::Deadline::after(5s));
  if (!ring || !ack_ring) return 10;
  auto reader = shm::RingReader::attach(*ring);
  auto ack = shm::RingWriter::attach(*ack_ring);
  if (!reader || !ack) return 11;
  if (!reader->receive(shm::Deadline::after(5s)).ok()) return 12;
  reader->commit();
  if (!reader->receive(shm::Deadline::after(5s)).ok() || !reader->receive(shm::Deadline::after(5s)).ok()) return 13;
  if (ack->send(1, {}, shm::Deadline::after(5s)) != Outcome::ok) return 14;
  test::wait_to_be_killed();
}

TEST_CASE("a reader killed before commit leaves its records to the next reader", "[crash][ring]") {
  test::TestSession session;
  auto ring = shm::Ring::create(ring_name(session.name()), {1 << 14, 1024, shm::RingVariant::single_writer});
  auto ack_ring = shm::Ring::create(ring_name(session.name(), "ack"), {1 << 12, 64, shm::RingVariant::single_writer});
  REQUIRE(ring);
  REQUIRE(ack_ring);
  shm::TypedWriter writer(std::move(shm::RingWriter::attach(*ring)).value());
  for (std::uint64_t sequence = 0; sequence < 5; ++sequence) {
    REQUIRE(writer.send(Stamped::make(1, sequence, 32), shm::Deadline::after(1s)) == Outcome::ok);
  }
  auto ack = shm::RingReader::attach(*ack_ring);
  REQUIRE(ack);
  auto doomed = test::ChildProcess::start("ring-reader-dies-before-commit", {session.name()});
  REQUIRE(ack->receive(shm::Deadline::after(10s)).ok());
  doomed.kill_hard();
  REQUIRE(doomed.wait_for(5s));

  auto successor = shm::RingReader::attach(*ring);
  REQUIRE(successor);
  shm::TypedReader reader(std::move(successor).value());
  for (std::uint64_t expected = 1; expected < 5; ++expected) {
    auto got = reader.receive<Stamped>(shm::Deadline::after(1s));
    REQUIRE(got.ok());
    CHECK(got.value->sequence == expected);
    CHECK(got.value->whole());
  }
  CHECK(reader.try_receive<Stamped>().status == shm::Outcome::empty);
}
