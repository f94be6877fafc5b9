// Every crash window the shm layer names in a comment ("if we die here ..."),
// hit exactly: a real child process stops itself at the failpoint that marks
// the window, the test SIGKILLs it there, then checks the recovery the
// comment promises. Built only with COLONY_FAILPOINTS (see failpoint.hpp).

#include <catch2/catch.hpp>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "colony/shm/condition.hpp"
#include "colony/shm/mutex.hpp"
#include "colony/shm/process.hpp"
#include "colony/shm/ring.hpp"
#include "failpoint_child.hpp"
#include "test_session.hpp"

using namespace colony;
using namespace std::chrono_literals;
using shm::Deadline;
using shm::Outcome;
using shm::SegmentKind;

namespace {

constexpr auto kStopPatience = 10s;
constexpr std::uint32_t kTag = 7;

shm::SegmentName name_of(const std::string& session, SegmentKind kind, const std::string& object) {
  return *shm::SegmentName::make(session, kind, object);
}
shm::SegmentName ring_name(const std::string& session) { return name_of(session, SegmentKind::ring, "r"); }
shm::SegmentName mutex_name(const std::string& session) { return name_of(session, SegmentKind::mutex, "m"); }
shm::SegmentName condition_name(const std::string& session) { return name_of(session, SegmentKind::condition, "c"); }

// A payload that proves itself whole: writer, number, a length that varies
// with the number, and every byte derived from both.
std::vector<std::byte> payload_for(std::uint32_t writer, std::uint64_t number) {
  std::vector<std::byte> bytes(16 + (number * 37 + writer) % 300);
  std::memcpy(bytes.data(), &writer, 4);
  std::memcpy(bytes.data() + 4, &number, 8);
  const auto size = static_cast<std::uint32_t>(bytes.size());
  std::memcpy(bytes.data() + 12, &size, 4);
  for (std::size_t i = 16; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>((number * 131 + writer + i) & 0xff);
  return bytes;
}

struct Numbered {
  std::uint32_t writer = 0;
  std::uint64_t number = 0;
  bool operator==(const Numbered&) const = default;
};

// The record's (writer, number) if every byte is as written, else nullopt.
std::optional<Numbered> whole(std::span<const std::byte> payload) {
  if (payload.size() < 16) return std::nullopt;
  Numbered n;
  std::uint32_t size = 0;
  std::memcpy(&n.writer, payload.data(), 4);
  std::memcpy(&n.number, payload.data() + 4, 8);
  std::memcpy(&size, payload.data() + 12, 4);
  if (size != payload.size() || payload_for(n.writer, n.number) != std::vector<std::byte>(payload.begin(), payload.end())) {
    return std::nullopt;
  }
  return n;
}

// What a reader got: each record whole or not, in arrival order.
struct Drained {
  std::vector<Numbered> records;
  int torn = 0;
  Outcome last = Outcome::empty;
};

// Receives until a receive times out (or count records arrived), committing as it goes.
Drained drain(shm::RingReader& reader, std::size_t count = SIZE_MAX, std::chrono::milliseconds patience = 300ms) {
  Drained got;
  while (got.records.size() + static_cast<std::size_t>(got.torn) < count) {
    const shm::Received received = reader.receive(Deadline::after(patience));
    got.last = received.status;
    if (!received.ok()) break;
    if (auto n = whole(received.record.payload)) {
      got.records.push_back(*n);
    } else {
      ++got.torn;
    }
    reader.commit();
  }
  return got;
}

std::vector<Numbered> numbered(std::uint32_t writer, std::uint64_t from, std::uint64_t to) {
  std::vector<Numbered> out;
  for (std::uint64_t n = from; n < to; ++n) out.push_back({writer, n});
  return out;
}

// Starts the scenario armed at failpoint and requires it to stop there.
test::FailpointChild stopped_at(const std::string& failpoint, const std::string& scenario,
                                const std::vector<std::string>& args) {
  auto child = test::FailpointChild::start(failpoint, scenario, args);
  const bool stopped = child.wait_until_stopped(kStopPatience);
  INFO("the child armed at " << failpoint << " " << child.describe());
  REQUIRE(stopped);
  return child;
}

void kill_at(const std::string& failpoint, const std::string& scenario, const std::vector<std::string>& args) {
  auto child = stopped_at(failpoint, scenario, args);
  REQUIRE(child.kill_and_reap());
}

void send_numbered(shm::RingWriter& writer, std::uint32_t id, std::uint64_t from, std::uint64_t to) {
  for (std::uint64_t n = from; n < to; ++n) REQUIRE(writer.send(kTag, payload_for(id, n), Deadline::after(5s)) == Outcome::ok);
}

}  // namespace

// --- child scenarios --------------------------------------------------------

// args: session kind(mutex|condition|ring) — creates the object, then waits to be killed.
COLONY_CHILD_SCENARIO("cw-create") {
  const std::string& kind = args.at(1);
  bool made = false;
  if (kind == "mutex") made = shm::Mutex::create(mutex_name(args.at(0))).has_value();
  if (kind == "condition") made = shm::Condition::create(condition_name(args.at(0))).has_value();
  if (kind == "ring") made = shm::Ring::create(ring_name(args.at(0)), {1 << 12, 256, shm::RingVariant::single_writer}).has_value();
  if (!made) return 10;
  test::wait_to_be_killed();
}

// args: session mode(hold|unlock) — locks the mutex; hold: keeps it; unlock:
// releases it. Then waits to be killed.
COLONY_CHILD_SCENARIO("cw-lock") {
  auto mutex = shm::Mutex::open(mutex_name(args.at(0)), Deadline::after(5s));
  if (!mutex) return 10;
  if (!mutex->lock_until(Deadline::after(5s)).acquired()) return 11;
  if (args.at(1) == "unlock" && !mutex->unlock()) return 12;
  test::wait_to_be_killed();
}

// args: session writer_id from to — sends records numbered [from, to), then exits.
COLONY_CHILD_SCENARIO("cw-ring-send") {
  auto ring = shm::Ring::open(ring_name(args.at(0)), Deadline::after(5s));
  if (!ring) return 10;
  auto writer = shm::RingWriter::attach(*ring);
  if (!writer) return 11;
  const auto id = static_cast<std::uint32_t>(std::stoul(args.at(1)));
  for (std::uint64_t n = std::stoull(args.at(2)); n < std::stoull(args.at(3)); ++n) {
    if (writer->send(kTag, payload_for(id, n), Deadline::after(5s)) != Outcome::ok) return 12;
  }
  return 0;
}

// args: session count — receives count records, commits them, then waits to be killed.
COLONY_CHILD_SCENARIO("cw-ring-read") {
  auto ring = shm::Ring::open(ring_name(args.at(0)), Deadline::after(5s));
  if (!ring) return 10;
  auto reader = shm::RingReader::attach(*ring);
  if (!reader) return 11;
  for (std::uint64_t i = 0; i < std::stoull(args.at(1)); ++i) {
    if (!reader->receive(Deadline::after(10s)).ok()) return 12;
  }
  reader->commit();
  test::wait_to_be_killed();
}

// args: session — waits on the condition; exit 0 when notified, 1 on timeout, 2 without the mutex.
COLONY_CHILD_SCENARIO("cw-wait") {
  auto mutex = shm::Mutex::open(mutex_name(args.at(0)), Deadline::after(5s));
  auto condition = shm::Condition::open(condition_name(args.at(0)), Deadline::after(5s));
  if (!mutex || !condition) return 10;
  shm::MutexLock lock(*mutex, Deadline::after(5s));
  if (!lock) return 11;
  const auto waited = condition->wait(lock, Deadline::after(10s));
  if (!waited.holds_mutex()) return 2;
  return waited.notified() ? 0 : 1;
}

// args: session — notifies every waiter once, then exits.
COLONY_CHILD_SCENARIO("cw-notify") {
  auto condition = shm::Condition::open(condition_name(args.at(0)), Deadline::after(5s));
  if (!condition) return 10;
  condition->notify_all();
  return 0;
}

// --- segments: creators that die before the object is ready ------------------

TEST_CASE("segment.create.before_magic: a creator killed before its header's magic is refused as creator_died",
          "[crash][segment][failpoint]") {
  test::TestSession session;
  auto creator = stopped_at("segment.create.before_magic", "cw-create", {session.name(), "mutex"});
  // Alive but unfinished: an opener waits for it and never calls it dead.
  auto early = shm::Mutex::open(mutex_name(session.name()), Deadline::after(20ms));
  REQUIRE_FALSE(early);
  CHECK(early.error().code == shm::Errc::not_ready);
  REQUIRE(creator.kill_and_reap());
  auto opened = shm::Mutex::open(mutex_name(session.name()), Deadline::after(5s));
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code == test::after_creator_death());
}

TEST_CASE("mutex.create.before_ready: a mutex whose creator was killed before mark_ready is never used",
          "[crash][mutex][failpoint]") {
  test::TestSession session;
  kill_at("mutex.create.before_ready", "cw-create", {session.name(), "mutex"});
  auto opened = shm::Mutex::open(mutex_name(session.name()), Deadline::after(5s));
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code == test::after_creator_death());
}

TEST_CASE("condition.create.before_ready: a condition whose creator was killed before mark_ready is never used",
          "[crash][condition][failpoint]") {
  test::TestSession session;
  kill_at("condition.create.before_ready", "cw-create", {session.name(), "condition"});
  auto opened = shm::Condition::open(condition_name(session.name()), Deadline::after(5s));
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code == test::after_creator_death());
}

TEST_CASE("ring.create.before_ready: a ring whose creator was killed before mark_ready is never used",
          "[crash][ring][failpoint]") {
  test::TestSession session;
  kill_at("ring.create.before_ready", "cw-create", {session.name(), "ring"});
  auto opened = shm::Ring::open(ring_name(session.name()), Deadline::after(5s));
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code == test::after_creator_death());
}

// --- the robust mutex --------------------------------------------------------

namespace {

// After a holder died: the next lock reports it with dead_pid, the mutex is
// consistent again (a second lock is plain), and the count says one death.
void check_recovered(shm::Mutex& mutex, int dead_pid) {
  {
    shm::MutexLock lock(mutex, Deadline::after(5s));
    REQUIRE(lock);
    CHECK(lock.owner_died());
    CHECK(lock.dead_owner_pid() == dead_pid);
    CHECK(mutex.holder_pid() == shm::current_pid());
  }
  CHECK(mutex.holder_pid() == 0);
  shm::MutexLock again(mutex, Deadline::after(5s));
  REQUIRE(again);
  CHECK_FALSE(again.owner_died());
  CHECK(mutex.owner_died_count() == 1);
}

}  // namespace

TEST_CASE("robust_mutex.lock.before_owner_store: a holder killed before naming itself is reported dead, unnamed",
          "[crash][mutex][failpoint]") {
  test::TestSession session;
  auto mutex = shm::Mutex::create(mutex_name(session.name()));
  REQUIRE(mutex);
  auto holder = stopped_at("robust_mutex.lock.before_owner_store", "cw-lock", {session.name(), "hold"});
  CHECK(mutex->try_lock().status == shm::Outcome::would_block);
  REQUIRE(holder.kill_and_reap());
  check_recovered(*mutex, 0);
}

TEST_CASE("robust_mutex.lock.after_owner_store: a holder killed inside its critical section is named to the next locker",
          "[crash][mutex][failpoint]") {
  test::TestSession session;
  auto mutex = shm::Mutex::create(mutex_name(session.name()));
  REQUIRE(mutex);
  auto holder = stopped_at("robust_mutex.lock.after_owner_store", "cw-lock", {session.name(), "hold"});
  const int holder_pid = holder.pid();
  CHECK(mutex->holder_pid() == holder_pid);
  CHECK(mutex->try_lock().status == shm::Outcome::would_block);
  REQUIRE(holder.kill_and_reap());
  check_recovered(*mutex, holder_pid);
}

TEST_CASE("robust_mutex.unlock.before_release: a holder killed inside unlock is reported dead, unnamed",
          "[crash][mutex][failpoint]") {
  test::TestSession session;
  auto mutex = shm::Mutex::create(mutex_name(session.name()));
  REQUIRE(mutex);
  auto holder = stopped_at("robust_mutex.unlock.before_release", "cw-lock", {session.name(), "unlock"});
  CHECK(mutex->try_lock().status == shm::Outcome::would_block);
  REQUIRE(holder.kill_and_reap());
  check_recovered(*mutex, 0);
}

// --- single-writer rings -----------------------------------------------------

TEST_CASE("ring.commit.before_publication: a writer killed inside a record leaves only whole records, and a new writer goes on",
          "[crash][ring][failpoint]") {
  test::TestSession session;
  auto ring = shm::Ring::create(ring_name(session.name()), {1 << 16, 2048, shm::RingVariant::single_writer});
  REQUIRE(ring);
  auto reader = shm::RingReader::attach(*ring);
  REQUIRE(reader);
  // Killed mid-stream, inside its 2001st record: header and payload written, not yet published.
  auto doomed = test::FailpointChild::start("ring.commit.before_publication@2001", "cw-ring-send",
                                            {session.name(), "1", "0", "100000"});
  const Drained before = drain(*reader, 2000, 10s);
  CHECK(before.records == numbered(1, 0, 2000));
  const bool stopped = doomed.wait_until_stopped(kStopPatience);
  INFO("the writer " << doomed.describe());
  REQUIRE(stopped);
  REQUIRE(doomed.kill_and_reap());
  const Drained leftover = drain(*reader, SIZE_MAX, 50ms);
  CHECK(leftover.records.empty());  // the record it was inside is not visible
  CHECK(leftover.torn == 0);

  auto successor = test::ChildProcess::start("cw-ring-send", {session.name(), "2", "0", "500"});
  const Drained after = drain(*reader, 500, 10s);
  CHECK(successor.wait_or_kill(10s).ok());
  CHECK(after.torn == 0);
  CHECK(after.last == Outcome::ok);
  CHECK(after.records == numbered(2, 0, 500));
}

TEST_CASE("ring.commit.after_publication: a record published before its writer died is delivered once, and the next writer goes on after it",
          "[crash][ring][failpoint]") {
  test::TestSession session;
  auto ring = shm::Ring::create(ring_name(session.name()), {1 << 14, 1024, shm::RingVariant::single_writer});
  REQUIRE(ring);
  auto reader = shm::RingReader::attach(*ring);
  REQUIRE(reader);
  // Dies between the 6th record's publication word and its tail store.
  kill_at("ring.commit.after_publication@6", "cw-ring-send", {session.name(), "1", "0", "10"});
  // The reader takes the published 6th record on its publication word alone.
  const Drained first = drain(*reader, 6, 2s);
  CHECK(first.records == numbered(1, 0, 6));
  CHECK(first.torn == 0);
  auto successor = test::ChildProcess::start("cw-ring-send", {session.name(), "2", "0", "20"});
  const Drained after = drain(*reader, 20, 10s);
  CHECK(successor.wait_or_kill(10s).ok());
  CHECK(after.torn == 0);
  CHECK(after.last == Outcome::ok);  // never corrupt: no sequence goes back
  CHECK(after.records == numbered(2, 0, 20));
}

// --- many-writer rings -------------------------------------------------------

namespace {

// A many-writer ring with three records of writer 1 in it.
struct ManyWriterRing {
  test::TestSession session;
  shm::Ring ring = shm::Ring::create(ring_name(session.name()), {1 << 14, 1024, shm::RingVariant::many_writers}).value();
  ManyWriterRing() {
    auto writer = shm::RingWriter::attach(ring);
    REQUIRE(writer);
    send_numbered(*writer, 1, 0, 3);
  }
};

// After a writer died at its failpoint: a live writer's records flow, the
// reader sees writer 1's three and then those, all whole, never corrupt.
void check_ring_goes_on(ManyWriterRing& fixture) {
  auto writer = shm::RingWriter::attach(fixture.ring);
  REQUIRE(writer);
  send_numbered(*writer, 3, 0, 5);  // takes the claim lock too: a dead holder must not block it
  auto reader = shm::RingReader::attach(fixture.ring);
  REQUIRE(reader);
  const Drained got = drain(*reader, 8, 2s);
  CHECK(got.torn == 0);
  CHECK(got.last == Outcome::ok);
  auto expected = numbered(1, 0, 3);
  for (auto n : numbered(3, 0, 5)) expected.push_back(n);
  CHECK(got.records == expected);
  CHECK(drain(*reader, SIZE_MAX, 20ms).records.empty());
}

}  // namespace

TEST_CASE("ring.claim_many.locked: a writer killed holding the claim lock published nothing, and the lock is recovered",
          "[crash][ring][failpoint]") {
  ManyWriterRing fixture;
  const auto tail_before = fixture.ring.control().tail.load();
  kill_at("ring.claim_many.locked", "cw-ring-send", {fixture.session.name(), "2", "0", "1"});
  CHECK(fixture.ring.control().tail.load() == tail_before);
  check_ring_goes_on(fixture);
}

TEST_CASE("ring.claim_many.after_tail: a writer killed after publishing its claim, lock held, leaves padding the reader skips",
          "[crash][ring][failpoint]") {
  ManyWriterRing fixture;
  const auto tail_before = fixture.ring.control().tail.load();
  kill_at("ring.claim_many.after_tail", "cw-ring-send", {fixture.session.name(), "2", "0", "1"});
  CHECK(fixture.ring.control().tail.load() > tail_before);  // its record in progress is visible as claimed
  check_ring_goes_on(fixture);
}

TEST_CASE("ring.commit_many.before_length: a writer killed with its payload written but not committed leaves padding",
          "[crash][ring][failpoint]") {
  ManyWriterRing fixture;
  auto doomed = stopped_at("ring.commit_many.before_length", "cw-ring-send", {fixture.session.name(), "2", "0", "1"});
  {
    // While it lives, its claim holds the reader back: nothing partial is visible.
    auto reader = shm::RingReader::attach(fixture.ring);
    REQUIRE(reader);
    const Drained got = drain(*reader, SIZE_MAX, 30ms);
    CHECK(got.records == numbered(1, 0, 3));
    CHECK(got.torn == 0);
    CHECK(got.last == Outcome::timed_out);
  }
  REQUIRE(doomed.kill_and_reap());
  auto writer = shm::RingWriter::attach(fixture.ring);
  REQUIRE(writer);
  send_numbered(*writer, 3, 0, 5);
  auto reader = shm::RingReader::attach(fixture.ring);
  REQUIRE(reader);
  const Drained got = drain(*reader, 5, 2s);
  CHECK(got.torn == 0);
  CHECK(got.records == numbered(3, 0, 5));
}

TEST_CASE("ring.reader.before_padding_length: a reader killed while turning a dead writer's record into padding leaves it to the next reader",
          "[crash][ring][failpoint]") {
  test::TestSession session;
  auto ring = shm::Ring::create(ring_name(session.name()), {1 << 14, 1024, shm::RingVariant::many_writers});
  REQUIRE(ring);
  // A record whose writer died inside it, then two whole ones behind it.
  kill_at("ring.commit_many.before_length", "cw-ring-send", {session.name(), "2", "0", "1"});
  {
    auto writer = shm::RingWriter::attach(*ring);
    REQUIRE(writer);
    send_numbered(*writer, 3, 0, 2);
  }
  kill_at("ring.reader.before_padding_length", "cw-ring-read", {session.name(), "2"});
  auto reader = shm::RingReader::attach(*ring);
  REQUIRE(reader);
  const Drained got = drain(*reader, 2, 2s);
  CHECK(got.torn == 0);
  CHECK(got.records == numbered(3, 0, 2));
}

// --- readers -----------------------------------------------------------------

TEST_CASE("ring.reader.before_sleep: a reader killed asleep leaves its flag, and the next reader clears it",
          "[crash][ring][failpoint]") {
  test::TestSession session;
  auto ring = shm::Ring::create(ring_name(session.name()), {1 << 12, 256, shm::RingVariant::single_writer});
  REQUIRE(ring);
  kill_at("ring.reader.before_sleep", "cw-ring-read", {session.name(), "1"});
  CHECK(ring->control().readers_waiting.load() == 1);
  auto reader = shm::RingReader::attach(*ring);
  REQUIRE(reader);
  CHECK(ring->control().readers_waiting.load() == 0);
  auto writer = shm::RingWriter::attach(*ring);
  REQUIRE(writer);
  send_numbered(*writer, 1, 0, 3);
  CHECK(drain(*reader, 3, 2s).records == numbered(1, 0, 3));
}

TEST_CASE("ring.reader_commit.before_head: records a reader received but was killed before freeing go to the next reader",
          "[crash][ring][failpoint]") {
  test::TestSession session;
  auto ring = shm::Ring::create(ring_name(session.name()), {1 << 12, 512, shm::RingVariant::single_writer});
  REQUIRE(ring);
  auto writer = shm::RingWriter::attach(*ring);
  REQUIRE(writer);
  send_numbered(*writer, 1, 0, 5);
  kill_at("ring.reader_commit.before_head", "cw-ring-read", {session.name(), "3"});
  auto reader = shm::RingReader::attach(*ring);
  REQUIRE(reader);
  const Drained got = drain(*reader, 5, 2s);
  CHECK(got.torn == 0);
  CHECK(got.last == Outcome::ok);
  CHECK(got.records == numbered(1, 0, 5));
}

TEST_CASE("ring.reader_commit.after_head: a reader killed between head and last_sequence loses nothing and replays nothing",
          "[crash][ring][failpoint]") {
  test::TestSession session;
  auto ring = shm::Ring::create(ring_name(session.name()), {1 << 12, 512, shm::RingVariant::single_writer});
  REQUIRE(ring);
  auto writer = shm::RingWriter::attach(*ring);
  REQUIRE(writer);
  send_numbered(*writer, 1, 0, 5);
  kill_at("ring.reader_commit.after_head", "cw-ring-read", {session.name(), "3"});
  auto reader = shm::RingReader::attach(*ring);
  REQUIRE(reader);
  send_numbered(*writer, 1, 5, 7);
  const Drained got = drain(*reader, 4, 2s);
  CHECK(got.torn == 0);
  CHECK(got.last == Outcome::ok);  // an older last_sequence never makes a good record corrupt
  CHECK(got.records == numbered(1, 3, 7));
}

// --- conditions --------------------------------------------------------------

namespace {

struct MutexAndCondition {
  test::TestSession session;
  shm::Mutex mutex = shm::Mutex::create(mutex_name(session.name())).value();
  shm::Condition condition = shm::Condition::create(condition_name(session.name())).value();
};

}  // namespace

TEST_CASE("condition.wait.before_sleep: a waiter killed between counting itself and sleeping costs a syscall, never a hang",
          "[crash][condition][failpoint]") {
  MutexAndCondition shared;
  kill_at("condition.wait.before_sleep", "cw-wait", {shared.session.name()});
  CHECK(shared.condition.waiters() == 1);  // over-counted for good
  {
    // It had released the mutex: nothing to recover.
    shm::MutexLock lock(shared.mutex, Deadline::after(5s));
    REQUIRE(lock);
    CHECK_FALSE(lock.owner_died());
  }
  // A live waiter is still woken by the next notification.
  auto waiter = test::ChildProcess::start("cw-wait", {shared.session.name()});
  REQUIRE(test::eventually([&] { return shared.condition.waiters() == 2; }, 5000ms));
  shared.condition.notify_all();
  const auto status = waiter.wait_or_kill(20s);
  INFO("the live waiter " << status.describe());
  CHECK(status.ok());
}

TEST_CASE("condition.notify.before_wake: a notifier killed before waking: a waiter not yet asleep returns, sleepers wake at the next notification",
          "[crash][condition][failpoint]") {
  MutexAndCondition shared;
  // One waiter between counting itself and sleeping, one asleep.
  auto not_yet_asleep = stopped_at("condition.wait.before_sleep", "cw-wait", {shared.session.name()});
  auto asleep = test::ChildProcess::start("cw-wait", {shared.session.name()});
  REQUIRE(test::eventually([&] { return shared.condition.waiters() == 2; }, 5000ms));
  kill_at("condition.notify.before_wake", "cw-notify", {shared.session.name()});
  CHECK(shared.condition.notifications() == 1);
  not_yet_asleep.resume();
  const auto woke = not_yet_asleep.wait_for(20s);
  REQUIRE(woke);
  INFO("the waiter not yet asleep " << woke->describe());
  CHECK(woke->ok());  // it saw the new sequence: notified, with the mutex
  shared.condition.notify_all();
  const auto status = asleep.wait_or_kill(20s);
  INFO("the sleeping waiter " << status.describe());
  CHECK(status.ok());
}
