// Every crash window libworker names in a comment, hit exactly: a real child
// (a forked scenario of this binary, or a named worker the broker launched)
// stops itself at the failpoint that marks the window, the test SIGKILLs it
// there, then checks the recovery the comment promises. Built only with
// COLONY_FAILPOINTS (see colony/shm/failpoint.hpp).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "colony/broker/broker.hpp"
#include "colony/shm/mutex.hpp"
#include "colony/session/crash_log.hpp"
#include "colony/worker/mailbox.hpp"
#include "colony/worker/named.hpp"
#include "colony/worker/properties.hpp"
#include "colony/session/session_map.hpp"
#include "failpoint_child.hpp"
#include "test_session.hpp"
#include "worker_test_support.hpp"

namespace crash_window {

struct Note {
  std::uint64_t number = 0;
  template <class A> void serialize(A& a) { a(number); }
};

}  // namespace crash_window

COLONY_REGISTER_TYPE(crash_window::Note, "test.crash_window.note")

using namespace colony;
using namespace std::chrono_literals;
using crash_window::Note;

namespace {

constexpr auto kStopPatience = 10s;
constexpr const char* kBox = "box";

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

MailboxOptions with_attempts(std::uint32_t max_attempts) {
  MailboxOptions options;
  options.capacity = 1 << 16;
  options.max_attempts = max_attempts;
  return options;
}

void post_notes(Mailbox& box, std::uint64_t from, std::uint64_t to) {
  for (std::uint64_t n = from; n < to; ++n) REQUIRE(box.post(Note{n}, shm::Deadline::after(5s)) == shm::Outcome::ok);
}

struct Taken {
  std::uint64_t number = 0;
  bool redelivered = false;
  std::uint32_t attempt = 0;
};

// The next delivery, decoded and done.
Taken take_one(Mailbox& box) {
  auto delivery = box.take(shm::Deadline::after(5s));
  REQUIRE(delivery);
  auto decoded = shm::decode_record<Note>(delivery->record);
  REQUIRE(decoded.ok());
  const Taken taken{decoded.value->number, delivery->redelivered, delivery->attempt};
  box.done();
  return taken;
}

}  // namespace

// --- child scenarios --------------------------------------------------------

// args: session max_attempts count — takes count messages, done() after each, then waits to be killed.
COLONY_CHILD_SCENARIO("cw-mailbox-take") {
  auto box = Mailbox::open_or_create(args.at(0), kBox, with_attempts(static_cast<std::uint32_t>(std::stoul(args.at(1)))));
  for (std::uint64_t i = 0; i < std::stoull(args.at(2)); ++i) {
    if (!box.take(shm::Deadline::after(10s))) return 10;
    box.done();
  }
  for (;;) ::pause();
}

// args: session — takes one message, keeps it, and once a kill is requested drains as a named worker does.
COLONY_CHILD_SCENARIO("cw-mailbox-drain") {
  auto box = Mailbox::open_or_create(args.at(0), kBox, with_attempts(3));
  if (!box.take(shm::Deadline::after(10s))) return 10;
  const auto until = shm::Deadline::after(10s);
  while (!box.kill_requested()) {
    if (until.passed()) return 11;
    ::usleep(1000);
  }
  box.drain_killed();
  for (;;) ::pause();
}

namespace {

shm::SegmentName properties_bytes(const std::string& session) {
  return *shm::SegmentName::make(session, shm::SegmentKind::bytes, "props");
}
shm::SegmentName properties_mutex(const std::string& session) {
  return *shm::SegmentName::make(session, shm::SegmentKind::mutex, "props");
}
std::vector<std::byte> bytes_of(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

}  // namespace

// args: session key — sets key in the property store, then exits.
COLONY_CHILD_SCENARIO("cw-properties-set") {
  auto store = detail::PropertyStore::open(properties_bytes(args.at(0)), properties_mutex(args.at(0)));
  store.set(args.at(1), 5, bytes_of({9, 9, 9}));
  return 0;
}

// args: session — makes the crash log of worker "w" and publishes two texts.
COLONY_CHILD_SCENARIO("cw-crash-log") {
  auto log = detail::or_throw(CrashLog::create(args.at(0), "w"));
  log.publish(R"(["first"])");
  log.publish(R"(["second, longer than the first"])");
  return 0;
}

// --- mailboxes ---------------------------------------------------------------

TEST_CASE("mailbox.take.before_attempt: a reader killed before recording the attempt: the message comes again as new",
          "[crash][mailbox][failpoint]") {
  test::TestSession session;
  auto box = Mailbox::open_or_create(session.name(), kBox, with_attempts(3));
  post_notes(box, 0, 2);
  kill_at("mailbox.take.before_attempt", "cw-mailbox-take", {session.name(), "3", "1"});
  const Taken first = take_one(box);
  CHECK(first.number == 0);
  CHECK_FALSE(first.redelivered);
  CHECK(first.attempt == 1);
  CHECK(take_one(box).number == 1);
  CHECK(box.stats().redelivered == 0);
}

TEST_CASE("mailbox.take.after_attempt: a reader killed in the handler: the message is redelivered, the death counted",
          "[crash][mailbox][failpoint]") {
  test::TestSession session;
  auto box = Mailbox::open_or_create(session.name(), kBox, with_attempts(3));
  post_notes(box, 0, 2);
  kill_at("mailbox.take.after_attempt", "cw-mailbox-take", {session.name(), "3", "1"});
  CHECK(box.depth() == 2);  // nothing left the box
  const Taken again = take_one(box);
  CHECK(again.number == 0);
  CHECK(again.redelivered);
  CHECK(again.attempt == 2);
  const Taken next = take_one(box);
  CHECK(next.number == 1);
  CHECK_FALSE(next.redelivered);
  CHECK(box.stats().redelivered == 1);
  CHECK(box.depth() == 0);
}

TEST_CASE("mailbox.take.after_attempt: max_attempts deliveries that each end in a death move the message to the dead letters",
          "[crash][mailbox][failpoint]") {
  test::TestSession session;
  auto box = Mailbox::open_or_create(session.name(), kBox, with_attempts(2));
  post_notes(box, 0, 2);
  kill_at("mailbox.take.after_attempt", "cw-mailbox-take", {session.name(), "2", "1"});
  kill_at("mailbox.take.after_attempt", "cw-mailbox-take", {session.name(), "2", "1"});
  const Taken next = take_one(box);
  CHECK(next.number == 1);  // the poisoned one is not delivered a third time, the one behind it flows
  CHECK(next.attempt == 1);
  CHECK(box.stats().dead_lettered == 1);
  const auto letters = box.dead_letters();
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].attempts == 2);
  Note buried;
  {
    shm::RecordView view{letters[0].type_tag, letters[0].sequence, letters[0].payload};
    auto decoded = shm::decode_record<Note>(view);
    REQUIRE(decoded.ok());
    buried = *decoded.value;
  }
  CHECK(buried.number == 0);
}

TEST_CASE("mailbox.done.after_commit: a reader killed after done() committed: the next message is new, nothing comes twice",
          "[crash][mailbox][failpoint]") {
  test::TestSession session;
  auto box = Mailbox::open_or_create(session.name(), kBox, with_attempts(3));
  post_notes(box, 0, 2);
  kill_at("mailbox.done.after_commit", "cw-mailbox-take", {session.name(), "3", "1"});
  CHECK(box.depth() == 1);
  const Taken next = take_one(box);
  CHECK(next.number == 1);
  CHECK_FALSE(next.redelivered);
  CHECK(next.attempt == 1);
  CHECK_FALSE(box.take(shm::Deadline::after(50ms)));
}

TEST_CASE("mailbox.bury.after_send: a reader killed between dead-lettering and removing a message buries it again, never loses it",
          "[crash][mailbox][failpoint]") {
  test::TestSession session;
  auto box = Mailbox::open_or_create(session.name(), kBox, with_attempts(1));
  post_notes(box, 0, 2);
  kill_at("mailbox.take.after_attempt", "cw-mailbox-take", {session.name(), "1", "1"});
  kill_at("mailbox.bury.after_send", "cw-mailbox-take", {session.name(), "1", "1"});
  CHECK(box.dead_letters().size() == 1);  // in both boxes now
  CHECK(take_one(box).number == 1);
  const auto letters = box.dead_letters();
  REQUIRE(letters.size() == 2);  // a duplicate dead letter
  CHECK(letters[0].sequence == letters[1].sequence);
  CHECK(box.depth() == 0);
}

TEST_CASE("mailbox.drain_killed.received: a reader killed while draining a KILL WORKER leaves the rest to the next reader",
          "[crash][mailbox][failpoint]") {
  test::TestSession session;
  auto box = Mailbox::open_or_create(session.name(), kBox, with_attempts(3));
  post_notes(box, 0, 5);
  auto reader = test::FailpointChild::start("mailbox.drain_killed.received", "cw-mailbox-drain", {session.name()});
  REQUIRE(test::eventually([&] { return box.stats().handling; }, 10000ms));
  CHECK(box.request_kill() == 5);  // a live reader has the box: it drains
  const bool stopped = reader.wait_until_stopped(kStopPatience);
  INFO("the draining reader " << reader.describe());
  REQUIRE(stopped);
  REQUIRE(reader.kill_and_reap());
  CHECK(box.kill_requested());
  post_notes(box, 5, 6);  // after the kill: not covered by it

  // The next reader, as a named worker's loop starts: a kill pending, it drains.
  auto next = Mailbox::open_or_create(session.name(), kBox, with_attempts(3));
  REQUIRE(next.kill_requested());
  next.drain_killed();
  CHECK_FALSE(next.kill_requested());
  const Taken after = take_one(next);
  CHECK(after.number == 5);
  CHECK(next.depth() == 0);
}

// --- shared properties and crash logs ----------------------------------------

TEST_CASE("properties.set.before_publish: a writer killed mid-set leaves the previous dictionary, and the lock is recovered",
          "[crash][properties][failpoint]") {
  test::TestSession session;
  auto store = detail::PropertyStore::create(properties_bytes(session.name()), properties_mutex(session.name()));
  store.set("kept", 4, bytes_of({1, 2, 3}));
  kill_at("properties.set.before_publish", "cw-properties-set", {session.name(), "lost"});
  const auto kept = store.get("kept");
  REQUIRE(kept);
  CHECK(kept->type_tag == 4);
  CHECK(kept->bytes == bytes_of({1, 2, 3}));
  CHECK_FALSE(store.get("lost"));
  CHECK(store.keys() == std::vector<std::string>{"kept"});
  auto mutex = shm::Mutex::open(properties_mutex(session.name()), shm::Deadline::after(2s));
  REQUIRE(mutex);
  CHECK(mutex->owner_died_count() == 1);
  store.set("later", 4, bytes_of({7}));
  CHECK(store.keys() == std::vector<std::string>{"kept", "later"});
}

TEST_CASE("crash_log.publish.before_even: a log whose writer was killed mid-write reads as nothing, never torn",
          "[crash][crash_log][failpoint]") {
  test::TestSession session;
  kill_at("crash_log.publish.before_even@2", "cw-crash-log", {session.name()});
  const auto log = CrashLog::open(session.name(), "w");
  REQUIRE(log);
  CHECK_FALSE(log->read());
}

// --- named workers under a broker --------------------------------------------

TEST_CASE("named.serve.before_done: a worker killed after replying, before its call left the box, is restarted and handles the call again",
          "[crash][named][failpoint]") {
  test::OncePath once;
  // Only the first worker process stops; its replacement runs through.
  test::FailpointEnvironment armed("named.serve.before_done,once=" + once.path());
  Broker broker(test::broker_options());
  broker.define_named_worker("counter", test::worker_path(), {"named"});
  auto box = Mailbox::open_or_create(broker.session(), "counter");
  const auto reply = call(broker.session(), "counter", "add", Value::Array{5}, CallOptions{true, 20s});
  REQUIRE(reply);
  CHECK(reply->as_int() == 5);  // answered before the window
  // The worker stopped after replying, its call still in the box.
  int stopped_pid = 0;
  REQUIRE(test::eventually(
      [&] {
        for (const int pid : test::processes_in_session(broker.session())) {
          if (test::eventually_stopped(pid, 0ms)) stopped_pid = pid;
        }
        return stopped_pid != 0;
      },
      10000ms));
  CHECK(box.depth() == 1);
  CHECK(box.stats().handling);
  REQUIRE(subprocess::kill_process(stopped_pid));

  // Handled again by a new process (at least once): its counter holds the 5 again.
  const auto total = call(broker.session(), "counter", "get", Value::Array{}, CallOptions{true, 20s});
  REQUIRE(total);
  CHECK(total->as_int() == 5);
  CHECK(box.stats().redelivered == 1);
  const auto pid = call(broker.session(), "counter", "pid", Value::Array{}, CallOptions{true, 20s});
  REQUIRE(pid);
  CHECK(pid->as_int() != stopped_pid);
  // The reply comes before the call leaves the box (that is the window): the box empties right after.
  CHECK(test::eventually([&] { return box.depth() == 0; }, 10s));
}

// --- the session map's object entries ------------------------------------------

TEST_CASE("object_entry.register.before_publish: a channel whose creator was killed before publishing its entry is never listed",
          "[crash][object_entry][failpoint]") {
  test::OncePath once;
  // Only the first worker stops (registering its channel); the second runs through.
  test::FailpointEnvironment armed("object_entry.register.before_publish,once=" + once.path());
  std::string session;
  {
    Broker broker(test::broker_options());
    session = broker.session();
    const auto map = detail::or_throw(detail::SessionMap::open(session, shm::Deadline::after(5s)));
    auto killed = broker.host().create(test::worker_path(), {"produce", "1"});
    killed.start();
    REQUIRE(killed.pid() != 0);
    REQUIRE(test::eventually_stopped(killed.pid(), kStopPatience));
    const std::uint32_t entries = map->header().object_entries.load();
    REQUIRE(entries >= 1);
    const auto& entry = map->object_entry(entries - 1);
    REQUIRE(entry.state.load() == 1);
    const std::string unpublished(entry.name, ::strnlen(entry.name, sizeof entry.name));
    REQUIRE(unpublished.starts_with("ch"));
    REQUIRE(subprocess::kill_process(killed.pid()));
    REQUIRE(killed.join(10s));

    // A channel made after it, by another worker, is listed; the dead one's never is.
    std::optional<MessageChannel> later;
    auto next = broker.host().create(test::worker_path(), {"produce", "1"});
    next.on_message<MessageChannel>([&](MessageChannel channel) { later = channel; });
    next.start();
    REQUIRE(test::dispatch_until(broker.host(), [&] { return later.has_value(); }));
    REQUIRE(entry.state.load() == 1);  // appended entries are never reused
    const auto ps = test::run_command({test::cli_path(), "ps", "--session", session, "--json"}, 20s);
    INFO("colony ps: " << ps.out << ps.err);
    REQUIRE(ps.exit_code == 0);
    std::vector<std::string> listed;
    const Value snapshot = Value::from_json(ps.out);
    for (const auto& channel : snapshot["channels"].as_array()) listed.push_back(channel["name"].as_string());
    CHECK(std::find(listed.begin(), listed.end(), "ch" + std::to_string(later->id())) != listed.end());
    CHECK(std::find(listed.begin(), listed.end(), unpublished) == listed.end());
  }
  // The dead creator's ring is the session's: it goes with the session.
  CHECK(test::session_segments(session).empty());
}

// --- message errors ------------------------------------------------------------

TEST_CASE("channel.report_to_sender.before_count: a receiver killed while reporting a messageerror: the sender is not told of it",
          "[crash][channel][failpoint]") {
  test::FailpointEnvironment armed("channel.report_to_sender.before_count");
  Broker broker(test::broker_options());
  auto worker = broker.host().create(test::worker_path(), {"messageerror"});
  std::vector<MessageError> errors;
  worker.on_messageerror([&](const MessageError& error) { errors.push_back(error); });
  worker.start();
  // The test worker has no alias for a Note: it cannot decode it, and reports that back.
  worker.post_message(Note{1});
  REQUIRE(test::eventually_stopped(worker.pid(), kStopPatience));
  REQUIRE(subprocess::kill_process(worker.pid()));
  const auto ended = worker.join(10s);
  REQUIRE(ended);
  CHECK(ended->kind == ExitStatus::Kind::signaled);
  // Its text was written, its count never moved: no report, and none made of a stale text.
  (void)broker.host().dispatch(100ms);
  CHECK(errors.empty());
}

// --- the session map's worker slots ---------------------------------------------

namespace {

std::size_t slots_in_state(const detail::SessionMap& map, detail::SlotState state) {
  std::size_t count = 0;
  for (std::uint32_t index = 1; index < detail::kMaxWorkerSlots; ++index) {
    if (detail::state_of(map.slot(index).state_word.load(std::memory_order_acquire)) == state) ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("worker_slot.make.reserved: a worker killed while creating a child leaves no slot reserved once its end is seen",
          "[crash][worker_slot][failpoint]") {
  test::FailpointEnvironment armed("worker_slot.make.reserved");
  Broker broker(test::broker_options());
  const auto map = detail::or_throw(detail::SessionMap::open(broker.session(), shm::Deadline::after(5s)));
  // A tree of two: the first worker creates the second, and stops with its slot reserved.
  auto creator = broker.host().create(test::worker_path(), {"tree", "2"});
  creator.start();
  REQUIRE(creator.pid() != 0);
  REQUIRE(test::eventually_stopped(creator.pid(), kStopPatience));
  REQUIRE(slots_in_state(*map, detail::SlotState::reserved) == 1);
  REQUIRE(subprocess::kill_process(creator.pid()));
  const auto ended = creator.join(10s);
  REQUIRE(ended);
  CHECK(ended->kind == ExitStatus::Kind::signaled);
  // Its end was handled before its parent heard of it: the slot it claimed is free again.
  CHECK(slots_in_state(*map, detail::SlotState::reserved) == 0);
  CHECK(test::processes_in_session(broker.session()).empty());
}

TEST_CASE("worker_slot.make.creator_claimed: a worker killed after naming itself a slot's creator leaves the slot claimable once its end is seen",
          "[crash][worker_slot][failpoint]") {
  test::FailpointEnvironment armed("worker_slot.make.creator_claimed");
  Broker broker(test::broker_options());
  const auto map = detail::or_throw(detail::SessionMap::open(broker.session(), shm::Deadline::after(5s)));
  // A tree of two: the first worker (slot 1) names itself the creator of
  // slot 2 and stops before reserving it.
  auto creator = broker.host().create(test::worker_path(), {"tree", "2"});
  creator.start();
  REQUIRE(creator.slot() == 1);
  REQUIRE(test::eventually_stopped(creator.pid(), kStopPatience));
  constexpr std::uint32_t kClaimed = 2;
  REQUIRE(map->slot(kClaimed).creator_pid.load() == creator.pid());
  REQUIRE(detail::state_of(map->slot(kClaimed).state_word.load()) == detail::SlotState::free);
  REQUIRE(subprocess::kill_process(creator.pid()));
  REQUIRE(creator.join(10s));
  // Only a slot nobody is named creator of is claimable: the broker cleared it.
  CHECK(map->slot(kClaimed).creator_pid.load() == 0);
  CHECK(detail::state_of(map->slot(kClaimed).state_word.load()) == detail::SlotState::free);
  CHECK(slots_in_state(*map, detail::SlotState::reserved) == 0);
  CHECK(test::processes_in_session(broker.session()).empty());
}

TEST_CASE("worker_slot.make.fresh_index_taken: a fresh slot whose creator was killed before claiming it is handed out once fresh slots run out",
          "[crash][worker_slot][failpoint]") {
  test::FailpointEnvironment armed("worker_slot.make.fresh_index_taken");
  Broker broker(test::broker_options());
  const auto map = detail::or_throw(detail::SessionMap::open(broker.session(), shm::Deadline::after(5s)));
  // A tree of two: the first worker (slot 1) takes the next fresh index for
  // the second, and stops before claiming the slot there.
  auto creator = broker.host().create(test::worker_path(), {"tree", "2"});
  creator.start();
  REQUIRE(creator.slot() == 1);
  REQUIRE(creator.pid() != 0);
  REQUIRE(test::eventually_stopped(creator.pid(), kStopPatience));
  constexpr std::uint32_t kAbandoned = 2;
  REQUIRE(map->header().next_fresh_slot.load() == kAbandoned + 1);
  REQUIRE(detail::state_of(map->slot(kAbandoned).state_word.load()) == detail::SlotState::free);
  REQUIRE(subprocess::kill_process(creator.pid()));
  REQUIRE(creator.join(10s));

  // Every other slot of the session is used up (created, never started) ...
  std::vector<WorkerHandle> fillers;
  while (map->header().next_fresh_slot.load() < detail::kMaxWorkerSlots) {
    fillers.push_back(broker.host().create(test::worker_path(), {"exit"}));
  }
  // ... then the creator's own slot, terminated, and the one it abandoned are the ones left.
  const auto reused_first = broker.host().create(test::worker_path(), {"exit"});
  const auto reused_second = broker.host().create(test::worker_path(), {"exit"});
  CHECK(std::vector<std::uint32_t>{reused_first.slot(), reused_second.slot()} ==
        std::vector<std::uint32_t>{creator.slot(), kAbandoned});
  try {
    (void)broker.host().create(test::worker_path(), {"exit"});
    FAIL("a slot beyond the session's last one");
  } catch (const WorkerError& e) {
    CHECK(e.code() == WorkerErrc::worker_cap);
  }
}
