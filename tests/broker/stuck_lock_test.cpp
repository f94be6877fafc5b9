// A process of the session that holds a ring's claim lock and is stopped
// (SIGSTOP, a debugger) must not hang the broker, `colony broker stop`, the
// broker's signals, or a waited call past its timeout.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "child_process.hpp"
#include "test_session.hpp"
#include "colony/broker/broker.hpp"
#include "colony/session/names.hpp"
#include "colony/shm/process.hpp"
#include "colony/shm/ring.hpp"
#include "colony/shm/robust_mutex.hpp"
#include "colony/shm/mutex.hpp"
#include "colony/worker/mailbox.hpp"
#include "colony/worker/properties.hpp"
#include "colony/worker/value.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

namespace {

// Takes the claim lock of ring OBJECT in SESSION and stops, holding it.
COLONY_CHILD_SCENARIO("hold-ring-claim-lock") {
  auto name = shm::SegmentName::make(args.at(0), shm::SegmentKind::ring, args.at(1));
  if (!name) return 2;
  auto ring = shm::Ring::open(*name, shm::Deadline::after(5s));
  if (!ring) return 2;
  shm::RobustMutexCell lock(ring->control().claim_lock);
  if (!lock.lock_until(shm::Deadline::after(5s)).acquired()) return 3;
  subprocess::stop_self();
  return 0;
}

// Takes mutex OBJECT in SESSION and stops, holding it.
COLONY_CHILD_SCENARIO("hold-mutex") {
  auto name = shm::SegmentName::make(args.at(0), shm::SegmentKind::mutex, args.at(1));
  if (!name) return 2;
  auto mutex = shm::Mutex::open(*name, shm::Deadline::after(5s));
  if (!mutex || !mutex->lock_until(shm::Deadline::after(5s)).acquired()) return 3;
  subprocess::stop_self();
  return 0;
}

test::ChildProcess hold_claim_lock(const std::string& session, const std::string& ring) {
  auto holder = test::ChildProcess::start("hold-ring-claim-lock", {session, ring});
  REQUIRE(
      test::eventually([&] { return subprocess::run_state(holder.pid()) == subprocess::RunState::stopped; }, 5000ms));
  return holder;
}

int broker_pid_of(const std::string& session) {
  const auto status = test::run_command({test::cli_path(), "broker", "status", "--session", session, "--json"}, 10s);
  REQUIRE(status.exit_code == 0);
  return static_cast<int>(Value::from_json(status.out)["broker_pid"].as_int());
}

void start_background_broker(const std::string& session) {
  const auto started = test::run_command(
      {test::cli_path(), "broker", "start", "--session", session, "--worker", "counter=" + test::worker_path() + " named"},
      20s);
  REQUIRE(started.exit_code == 0);
}

}  // namespace

TEST_CASE("the broker learns of deaths and stops while a stopped process holds its request ring's lock",
          "[ipc][lock]") {
  std::string session;
  std::vector<std::string> left;
  {
    Broker broker(test::broker_options());
    session = broker.session();
    auto worker = broker.host().create(test::worker_path(), {"echo"});
    bool ended = false;
    worker.on_exit([&](const ExitStatus&) { ended = true; });
    worker.start();
    REQUIRE(worker.pid() > 0);
    auto holder = hold_claim_lock(session, "broker");

    // The death reaches the broker through its reaper, not through the ring.
    REQUIRE(subprocess::kill_process(worker.pid()));
    CHECK(test::dispatch_until(broker.host(), [&] { return ended; }, 10s));

    const auto started = std::chrono::steady_clock::now();
    broker.stop();
    CHECK(std::chrono::steady_clock::now() - started < 10s);
    left = test::session_segments(session);
  }
  CHECK(left.empty());
}

TEST_CASE("colony broker stop and SIGTERM end a broker whose request ring lock is held by a stopped process",
          "[ipc][lock]") {
  const std::string session = test::unique_session("stucklock");
  start_background_broker(session);
  const int broker_pid = broker_pid_of(session);
  auto holder = hold_claim_lock(session, "broker");

  SECTION("colony broker stop") {
    const auto stopped = test::run_command({test::cli_path(), "broker", "stop", "--session", session}, 40s);
    CHECK(stopped.finished);
    CHECK(stopped.exit_code == 0);
    CHECK(stopped.err.find("claim lock") != std::string::npos);
  }
  SECTION("SIGTERM") {
    REQUIRE(subprocess::ask_to_end(broker_pid));
  }
  CHECK(test::eventually([&] { return !shm::process_is_alive(broker_pid); }, 15000ms));
  CHECK(test::eventually([&] { return test::session_segments(session).empty(); }, 5000ms));
  CHECK(test::processes_in_session(session).empty());
}

TEST_CASE("a waited call times out at its timeout while a stopped process holds the mailbox's lock", "[ipc][lock]") {
  const std::string session = test::unique_session("stuckbox");
  start_background_broker(session);
  auto holder = hold_claim_lock(session, detail::mailbox_object("counter"));

  const auto started = std::chrono::steady_clock::now();
  const auto called = test::run_command(
      {test::cli_path(), "call", "--session", session, "counter", "get", "--wait", "--timeout", "2000"}, 20s);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(called.finished);
  CHECK(called.exit_code == 3);
  CHECK(called.err.find("claim lock") != std::string::npos);
  CHECK(elapsed < 8s);

  holder.kill_hard();
  REQUIRE(holder.wait_for(5s));
  // Its death freed the lock: the mailbox takes calls again.
  CHECK(test::run_command({test::cli_path(), "call", "--session", session, "counter", "add", "2", "--wait"}, 20s).out ==
        "2\n");
  CHECK(test::run_command({test::cli_path(), "broker", "stop", "--session", session}, 30s).exit_code == 0);
}

TEST_CASE("shared properties give up at their lock deadline while a stopped process holds the store's mutex",
          "[ipc][lock]") {
  test::TestSession session;
  auto store = detail::PropertyStore::create(session.segment(shm::SegmentKind::bytes, "props"),
                                             session.segment(shm::SegmentKind::mutex, "props"));
  store.set("answer", 1, {std::byte{42}});
  auto holder = test::ChildProcess::start("hold-mutex", {session.name(), "props"});
  REQUIRE(
      test::eventually([&] { return subprocess::run_state(holder.pid()) == subprocess::RunState::stopped; }, 5000ms));

  const auto started = std::chrono::steady_clock::now();
  try {
    (void)store.get("answer");
    FAIL("read the store while its mutex was held");
  } catch (const WorkerError& e) {
    CHECK(e.code() == WorkerErrc::timed_out);
    CHECK_THAT(e.what(), Catch::Contains("mutex.props") && Catch::Contains("held past the deadline"));
  }
  CHECK(std::chrono::steady_clock::now() - started < detail::PropertyStore::kLockDeadline + 3s);

  holder.kill_hard();
  REQUIRE(holder.wait_for(5s));
  const auto answer = store.get("answer");  // the holder's death freed it
  REQUIRE(answer);
  CHECK(answer->bytes == std::vector<std::byte>{std::byte{42}});
}
