// Named workers end to end: calls through the mailbox, the process started
// at the first call and again after a death, replies, errors, many callers.
#include <catch2/catch.hpp>
#include <atomic>
#include <csignal>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "colony/broker/broker.hpp"
#include "colony/shm/process.hpp"
#include "colony/worker/mailbox.hpp"
#include "colony/worker/named.hpp"
#include "colony/worker/value.hpp"
#include "colony/session/names.hpp"
#include "colony/session/session_map.hpp"
#include "colony/shm/segment.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

namespace {

Value wait_call(Broker& broker, const std::string& name, const std::string& method, Value args = Value::Array{}) {
  return *call(broker.session(), name, method, std::move(args), CallOptions{true, 20s});
}

// The reply rings the session holds now: each waiting caller's.
std::size_t reply_rings(const std::string& session) {
  std::size_t count = 0;
  for (const auto& os_name : shm::Segment::list(shm::SegmentName::session_prefix(session))) {
    const auto name = shm::SegmentName::parse(os_name);
    if (name && detail::is_reply_ring_object(name->name())) ++count;
  }
  return count;
}

// `colony broker start` of session with one named worker ("name=executable
// args"), a process of its own; returns the broker's pid.
int start_broker_process(const std::string& session, const std::string& worker) {
  const auto started =
      test::run_command({test::cli_path(), "broker", "start", "--session", session, "--worker", worker}, 20s);
  REQUIRE(started.exit_code == 0);
  const auto status = test::run_command({test::cli_path(), "broker", "status", "--session", session, "--json"}, 10s);
  REQUIRE(status.exit_code == 0);
  return static_cast<int>(Value::from_json(status.out)["broker_pid"].as_int());
}

// For a test whose session is run by a `colony broker start` it may kill:
// whatever happens, no broker of the session outlives the test, nor its
// segments. broker_pid is the broker's once known (0: stop it by its session).
struct EndSession {
  const std::string& session;
  int broker_pid = 0;
  ~EndSession() {
    if (broker_pid <= 0) (void)test::run_command({test::cli_path(), "broker", "stop", "--session", session}, 20s);
    if (broker_pid > 0 && shm::process_is_alive(broker_pid)) (void)subprocess::kill_process(broker_pid);
    (void)test::eventually([&] { return broker_pid <= 0 || !shm::process_is_alive(broker_pid); }, 5s);
    (void)test::run_command({test::cli_path(), "clean", "--session", session}, 10s);
  }
};

}  // namespace

TEST_CASE("the first call starts a named worker, whose state persists between calls in order", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("counter", test::worker_path(), {"named"});
  CHECK(test::processes_in_session(broker.session()).empty());  // nothing runs before the first call
  CHECK_FALSE(call(broker.session(), "counter", "", Value::Array{}).has_value());  // the startup method, queued
  // Each call appends its argument to a list: the list is the calls, in the order they were made.
  Value::Array expected;
  for (int i = 1; i <= 100; ++i) {
    (void)call(broker.session(), "counter", "push", Value::Array{i});
    expected.emplace_back(i);
  }
  CHECK(wait_call(broker, "counter", "pushed") == Value(expected));
  CHECK(wait_call(broker, "counter", "started").as_string() == "yes");
  CHECK(test::processes_in_session(broker.session()).size() == 1);
}

TEST_CASE("a named worker killed in a handler is restarted and handles the call again, marked", "[crash]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("fragile", test::worker_path(), {"named"});
  const auto first_pid = wait_call(broker, "fragile", "pid").as_int();
  const auto reply = wait_call(broker, "fragile", "crash-once");
  CHECK(reply["attempt"].as_int() == 2);
  CHECK(wait_call(broker, "fragile", "pid").as_int() != first_pid);
}

TEST_CASE("a named worker's children reach its handlers while it waits for its next call", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("parent", test::worker_path(), {"named"});
  const test::ScratchDirectory directory("named-loop");
  const std::string log = directory.file("log");
  const auto read_log = [&] { return test::read_file(log); };

  const auto child_pid = wait_call(broker, "parent", "adopt-echo", Value::Array{log, "hello"}).as_int();
  CHECK(child_pid > 0);
  // No call follows: only the worker's own loop, woken by its child's
  // message as it is by a call, can run the handler.
  CHECK(test::eventually([&] { return read_log() == "child said hello\n"; }, 10s));
  CHECK(wait_call(broker, "parent", "end-children").as_int() == 1);
  CHECK(test::eventually([&] { return read_log() == "child said hello\nchild exited\n"; }, 10s));
  // And calls go on being served.
  CHECK(wait_call(broker, "parent", "add", Value::Array{2}).as_int() == 2);
}

TEST_CASE("names differing only in case are different workers", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("Counter", test::worker_path(), {"named"});
  broker.define_named_worker("counter", test::worker_path(), {"named"});
  (void)wait_call(broker, "Counter", "add", Value::Array{10});
  (void)wait_call(broker, "counter", "add", Value::Array{1});
  CHECK(wait_call(broker, "Counter", "get").as_int() == 10);
  CHECK(wait_call(broker, "counter", "get").as_int() == 1);
}

TEST_CASE("calling an unknown worker or method, or a method that throws, is a clear error", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("counter", test::worker_path(), {"named"});
  try {
    (void)call(broker.session(), "Nobody", "get", Value::Array{});
    FAIL("called an undefined worker");
  } catch (const WorkerError& e) {
    CHECK(e.code() == WorkerErrc::not_found);
    CHECK(std::string(e.what()).find("no worker named 'Nobody'") != std::string::npos);
  }
  try {
    (void)wait_call(broker, "counter", "multiply");
    FAIL("called an unknown method");
  } catch (const WorkerError& e) {
    CHECK(std::string(e.what()).find("no method 'multiply'") != std::string::npos);
  }
  try {
    (void)wait_call(broker, "counter", "fail");
    FAIL("a throwing method replied");
  } catch (const WorkerError& e) {
    CHECK(std::string(e.what()) == "asked to fail");
  }
  try {
    (void)wait_call(broker, "counter", "throw-int");
    FAIL("a method that threw an int replied");
  } catch (const WorkerError& e) {
    CHECK(std::string(e.what()) == "method 'throw-int' threw something that is not a std::exception");
  }
  CHECK(wait_call(broker, "counter", "add", Value::Array{2}).as_int() == 2);  // still serving
}

TEST_CASE("several processes calling one worker at once lose nothing", "[ipc]") {
  constexpr int kPerCaller = 300;
  Broker broker(test::broker_options());
  broker.define_named_worker("counter", test::worker_path(), {"named"});
  std::vector<WorkerHandle> callers;
  for (int i = 0; i < 3; ++i) {
    auto caller = broker.host().create(test::worker_path(), {"caller", "counter", std::to_string(kPerCaller)});
    caller.start();
    callers.push_back(caller);
  }
  for (auto& caller : callers) {
    const auto status = caller.join(30s);
    REQUIRE(status);
    CHECK(status->ok());
  }
  CHECK(wait_call(broker, "counter", "get").as_int() == 3 * kPerCaller);
}

namespace {

// Posts a call that kills every process handling it, then waits for the
// call behind it: by then the poison call is in the dead-letter box, with
// the number of deliveries that each ended in a death.
std::uint32_t deaths_before_dead_letter(const std::string& session, const std::string& name) {
  (void)call(session, name, "die", Value::Array{});
  const auto reply = call(session, name, "get", Value::Array{}, CallOptions{true, 30s});
  REQUIRE(reply.has_value());
  CHECK(reply->as_int() == 0);
  auto box = Mailbox::open_or_create(session, name);
  const auto letters = box.dead_letters();
  REQUIRE(letters.size() == 1);
  return letters[0].attempts;
}

}  // namespace

TEST_CASE("a named worker's max_attempts is its latest definition's, after a redefinition and a take-over", "[crash]") {
  NamedWorkerOptions once;
  once.max_attempts = 1;
  SECTION("defined with the default, then again with 1") {
    Broker broker(test::broker_options());
    broker.define_named_worker("poisoned", test::worker_path(), {"named"});
    broker.define_named_worker("poisoned", test::worker_path(), {"named"}, once);
    CHECK(deaths_before_dead_letter(broker.session(), "poisoned") == 1);
  }
  SECTION("defined with the default by a broker that is killed, then with 1 by the broker taking its session over") {
    const std::string session = test::unique_session("takeover");
    EndSession end_session{session};
    const int first_broker = start_broker_process(session, "poisoned=" + test::worker_path() + " named");
    end_session.broker_pid = first_broker;
    REQUIRE(subprocess::kill_process(first_broker));
    // Not our child: it is gone once its pid no longer names a live process.
    REQUIRE(test::eventually([&] { return !shm::process_is_alive(first_broker); }, 10s));

    auto options = test::broker_options();
    options.session = session;
    Broker broker(options);
    broker.define_named_worker("poisoned", test::worker_path(), {"named"}, once);
    CHECK(deaths_before_dead_letter(session, "poisoned") == 1);
  }
}

TEST_CASE("a Caller makes many calls through one reply ring, and a late reply to a call that timed out is not the next one's",
          "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("counter", test::worker_path(), {"named"});
  {
    Caller caller(broker.session());
    CHECK(reply_rings(broker.session()) == 0);  // made at the first waited call
    for (int i = 1; i <= 5; ++i) CHECK_FALSE(caller.call("counter", "add", Value::Array{1}).has_value());  // queued
    for (int i = 6; i <= 200; ++i) {
      REQUIRE(caller.call("counter", "add", Value::Array{1}, CallOptions{true, 20s}) == Value(i));
      if (i == 6 || i == 200) CHECK(reply_rings(broker.session()) == 1);
    }
    // This reply comes after the caller stopped waiting for it...
    try {
      (void)caller.call("counter", "sleep", Value::Array{400}, CallOptions{true, 50ms});
      FAIL("the call did not time out");
    } catch (const WorkerError& e) {
      CHECK(e.code() == WorkerErrc::timed_out);
    }
    // ...and sits in the reply ring ahead of this call's own, which is the one returned.
    CHECK(caller.call("counter", "get", Value::Array{}, CallOptions{true, 20s}) == Value(200));
    // An error reply is one call's: the caller goes on.
    CHECK_THROWS_WITH(caller.call("counter", "no-such-method", Value::Array{}, CallOptions{true, 20s}),
                      Catch::Contains("has no method 'no-such-method'"));
    CHECK(caller.call("counter", "add", Value::Array{1}, CallOptions{true, 20s}) == Value(201));
  }
  CHECK(reply_rings(broker.session()) == 0);  // removed with the caller
}

// A named worker keeps its recent callers' reply rings mapped, and attaches
// the ring's one writer only while it answers: two workers answering one
// caller in turn, and one worker answering more callers than it keeps
// mapped, answer every call; a spinning waited call is answered the same.
TEST_CASE("workers answer callers in turn through kept reply rings, and a spinning call is answered alike", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("a", test::worker_path(), {"named"});
  broker.define_named_worker("b", test::worker_path(), {"named"});
  const CallOptions waited{true, 20s};
  Caller caller(broker.session());
  for (int i = 1; i <= 20; ++i) {
    REQUIRE(caller.call("a", "add", Value::Array{1}, waited) == Value(i));
    REQUIRE(caller.call("b", "add", Value::Array{2}, waited) == Value(2 * i));
  }
  // More callers than the worker keeps (detail::ReplyRingCache::kMaxRings),
  // each called twice, the second time after the others.
  std::vector<Caller> callers;
  for (int i = 0; i < 20; ++i) callers.emplace_back(broker.session());
  for (int round = 0; round < 2; ++round) {
    for (Caller& other : callers) REQUIRE(other.call("a", "get", Value::Array{}, waited).has_value());
  }
  CallOptions spinning = waited;
  spinning.spin = 1 << 16;
  CHECK(caller.call("a", "add", Value::Array{1}, spinning) == Value(21));
}

// A waited call spins on its reply for CallOptions::reply_spin before it
// sleeps, only while it waits alone in its process. The spin never outlasts
// the call's deadline, a reply that comes after it is still the call's, and
// callers that wait together (they sleep) are all answered.
TEST_CASE("a waited call's reply spin keeps the deadline and the replies, alone or among callers", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("counter", test::worker_path(), {"named"});
  Caller caller(broker.session());
  CallOptions long_spin{true, 20s};
  long_spin.reply_spin = std::chrono::seconds(10);
  REQUIRE(caller.call("counter", "add", Value::Array{1}, long_spin) == Value(1));  // answered while it spins
  CallOptions short_spin{true, 20s};
  short_spin.reply_spin = std::chrono::microseconds(1);
  CHECK(caller.call("counter", "sleep", Value::Array{30}, short_spin) == Value("slept"));  // after the spin ran out
  CHECK(caller.call("counter", "add", Value::Array{1}, short_spin) == Value(2));  // its spin now off: it sleeps

  CallOptions spin_past_deadline = long_spin;
  spin_past_deadline.timeout = 50ms;
  const auto asked = std::chrono::steady_clock::now();
  try {
    (void)caller.call("counter", "sleep", Value::Array{400}, spin_past_deadline);
    FAIL("the call did not time out");
  } catch (const WorkerError& e) {
    CHECK(e.code() == WorkerErrc::timed_out);
  }
  CHECK(std::chrono::steady_clock::now() - asked < 5s);  // not the 10 s of its spin
  CHECK(caller.call("counter", "get", Value::Array{}, long_spin) == Value(2));  // the late reply is skipped

  // Four threads, each with its own Caller, all waiting at once.
  std::vector<std::thread> threads;
  std::atomic<int> answered{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      try {
        Caller own(broker.session());
        for (int i = 0; i < 50; ++i) {
          if (own.call("counter", "add", Value::Array{1}, CallOptions{true, 20s}).has_value()) ++answered;
        }
      } catch (const WorkerError&) {
        // counted as unanswered below
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(answered == 200);
  CHECK(caller.call("counter", "get", Value::Array{}, CallOptions{true, 20s}) == Value(202));
}

// One-shot calls make and remove a reply ring each; the worker must not keep
// the removed rings mapped (their memory lives as long as a mapping does).
TEST_CASE("a named worker lets go of the reply rings its one-shot callers removed", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("counter", test::worker_path(), {"named"});
  for (int i = 1; i <= 20; ++i) {
    REQUIRE(call(broker.session(), "counter", "add", Value::Array{1}, CallOptions{true, 20s}) == Value(i));
  }
  const int pid = named_worker_pid(broker.session(), "counter");
  REQUIRE(pid > 0);
  // Mappings of removed segments read "(deleted)" in /proc/PID/maps.
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  REQUIRE(maps.good());
  int removed_reply_rings = 0;
  for (std::string line; std::getline(maps, line);) {
    if (line.find(".ring.rp") != std::string::npos && line.find("(deleted)") != std::string::npos) ++removed_reply_rings;
  }
  CHECK(removed_reply_rings <= 1);  // the last caller's, dropped at the next answer
}

TEST_CASE("a Caller whose session's broker died calls the broker that takes the session over", "[crash]") {
  const std::string session = test::unique_session("caller");
  EndSession end_session{session};
  end_session.broker_pid = start_broker_process(session, "counter=" + test::worker_path() + " named");

  Caller caller(session);
  CHECK(caller.call("counter", "add", Value::Array{5}, CallOptions{true, 20s}) == Value(5));
  // Posted to a running worker: the caller's mailbox now knows this
  // session's doorbells, which the take-over below makes stale.
  CHECK(caller.call("counter", "add", Value::Array{0}, CallOptions{true, 20s}) == Value(5));
  // The worker replies before its call leaves the mailbox: killed in between
  // (with its broker), the call would rightly be delivered again after the
  // take-over. Killed once the mailbox is empty, nothing is.
  auto box = Mailbox::open_or_create(session, "counter");
  REQUIRE(test::eventually([&] { return box.depth() == 0; }, 10s));
  const shm::ProcessWatch broker_process(shm::identity_of(end_session.broker_pid));
  REQUIRE(subprocess::kill_process(end_session.broker_pid));
  // Ended with all its threads: its main thread reads as a zombie in /proc a
  // little before the others have ended, and a Caller judges by the whole.
  REQUIRE(test::eventually([&] { return !broker_process.alive(); }, 10s));
  // No broker: a clear error at once, not a wait.
  try {
    (void)caller.call("counter", "add", Value::Array{1}, CallOptions{true, 20s});
    FAIL("a call was made to a session without a broker");
  } catch (const WorkerError& e) {
    CHECK(e.code() == WorkerErrc::session_gone);
  }

  {
    auto options = test::broker_options();
    options.session = session;
    Broker broker(options);
    broker.define_named_worker("counter", test::worker_path(), {"named"});
    // The same Caller, its mailbox and reply ring kept by the take-over: a
    // new process of the worker (its count begins again) answers. The
    // second call wakes it idle, through the new session's doorbell.
    CHECK(caller.call("counter", "add", Value::Array{1}, CallOptions{true, 20s}) == Value(1));
    const auto map = detail::or_throw(detail::SessionMap::open(session, shm::Deadline::now()));
    const auto& doorbell = map->slot(box.control().current_slot.load()).doorbell_sleeping;
    REQUIRE(test::eventually([&] { return doorbell.load() == 1; }, 10s));  // asleep, waiting for a call
    CHECK(caller.call("counter", "add", Value::Array{1}, CallOptions{true, 20s}) == Value(2));
  }
}
