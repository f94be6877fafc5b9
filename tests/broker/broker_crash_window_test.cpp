// The crash windows around a broker and its workers, hit exactly: the broker
// (a child of this test hosting a Broker), the child it is spawning, or a
// worker stops itself at the failpoint that marks the window; the test
// SIGKILLs the process the comment is about, then checks what it promises.
// Built only with COLONY_FAILPOINTS (see colony/shm/failpoint.hpp).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "colony/broker/broker.hpp"
#include "colony/shm/process.hpp"
#include "colony/session/session_map.hpp"
#include "failpoint_child.hpp"
#include "process_table.hpp"
#include "test_types.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

namespace {

constexpr auto kStopPatience = 10s;

// A child of parent that stopped itself; 0 if none.
int stopped_child_of(int parent) {
  int found = 0;
  for (const int child : test::children_of(parent)) {
    if (subprocess::run_state(child) == subprocess::RunState::stopped) found = child;
  }
  return found;
}

int wait_for_stopped_child_of(int parent) {
  int child = 0;
  (void)test::eventually([&] { return (child = stopped_child_of(parent)) != 0; }, kStopPatience);
  return child;
}

// Whatever a failed check leaves of the session, gone at the end of the test:
// its processes (the test's own children reap themselves) and its segments.
class SessionLeftovers {
 public:
  explicit SessionLeftovers(std::string session) : session_(std::move(session)) {}
  ~SessionLeftovers() {
    for (const int pid : test::processes_in_session(session_)) (void)subprocess::kill_process(pid);
    if (stray_ > 0 && shm::is_alive(stray_identity_)) (void)subprocess::kill_process(stray_);
    (void)test::run_command({test::cli_path(), "clean", "--session", session_, "--force"}, 10s);
  }
  SessionLeftovers(const SessionLeftovers&) = delete;
  SessionLeftovers& operator=(const SessionLeftovers&) = delete;
  // A process of the session not yet in its environment (between fork and exec).
  void watch(int pid) {
    stray_ = pid;
    stray_identity_ = shm::identity_of(pid);
  }

 private:
  std::string session_;
  int stray_ = 0;
  shm::ProcessIdentity stray_identity_{};
};

bool gone(shm::ProcessIdentity process) {
  return test::eventually([&] { return !shm::is_alive(process); }, 10s);
}

// The broker is dead: colony clean removes everything the session left.
void check_cleaned(const std::string& session) {
  CHECK_FALSE(test::session_segments(session).empty());
  const auto cleaned = test::run_command({test::cli_path(), "clean", "--session", session}, 10s);
  CHECK(cleaned.exit_code == 0);
  CHECK(cleaned.out.find("removed /colony." + session + ".ctl.session") != std::string::npos);
  CHECK(test::session_segments(session).empty());
}

}  // namespace

// args: session mode — hosts a broker of that session and starts one test worker in that mode.
COLONY_CHILD_SCENARIO("cw-broker-host") {
  BrokerOptions options = test::broker_options();
  options.session = args.at(0);
  // The test decides when a stopped worker ends, not the attach deadline.
  options.limits.attach_timeout = 60s;
  Broker broker(options);
  auto worker = broker.host().create(test::worker_path(), {args.at(1)});
  worker.start();
  for (;;) (void)broker.host().dispatch(1s);
}

// --- the broker's death around a worker's start --------------------------------

TEST_CASE("launcher.child.before_pdeathsig: a broker killed while its child is between fork and exec: the child never runs the worker",
          "[crash][launcher][failpoint]") {
  const std::string session = test::unique_session("launch");
  SessionLeftovers leftovers(session);
  // Not a worker that attaches: nothing but the launcher's own check could end it.
  auto broker = test::FailpointChild::start("launcher.child.before_pdeathsig", "cw-broker-host", {session, "not-a-worker"});
  const int child = wait_for_stopped_child_of(broker.pid());
  INFO("the broker " << broker.describe());
  REQUIRE(child != 0);
  leftovers.watch(child);
  const auto identity = shm::identity_of(child);
  REQUIRE(broker.kill_and_reap());
  // Not yet armed to die with the broker: it runs on, and must see its parent is gone.
  REQUIRE(subprocess::resume(child));
  CHECK(gone(identity));
  CHECK(test::processes_in_session(session).empty());
  check_cleaned(session);
}

TEST_CASE("launcher.child.before_parent_check: a broker killed after its child armed PR_SET_PDEATHSIG: the kernel ends the child",
          "[crash][launcher][failpoint]") {
  const std::string session = test::unique_session("launch");
  SessionLeftovers leftovers(session);
  auto broker = test::FailpointChild::start("launcher.child.before_parent_check", "cw-broker-host", {session, "not-a-worker"});
  const int child = wait_for_stopped_child_of(broker.pid());
  INFO("the broker " << broker.describe());
  REQUIRE(child != 0);
  leftovers.watch(child);
  const auto identity = shm::identity_of(child);
  REQUIRE(broker.kill_and_reap());
  // Never resumed: only the death signal it armed can end it.
  CHECK(gone(identity));
  CHECK(test::processes_in_session(session).empty());
  check_cleaned(session);
}

TEST_CASE("context.attach.before_die_with_parent: a broker killed while its worker attaches leaves no worker running",
          "[crash][context][failpoint]") {
  const std::string session = test::unique_session("attach");
  SessionLeftovers leftovers(session);
  auto broker = test::FailpointChild::start("context.attach.before_die_with_parent", "cw-broker-host", {session, "echo"});
  const int worker = wait_for_stopped_child_of(broker.pid());
  INFO("the broker " << broker.describe());
  REQUIRE(worker != 0);
  REQUIRE(test::processes_in_session(session) == std::vector<int>{worker});
  const auto identity = shm::identity_of(worker);
  REQUIRE(broker.kill_and_reap());
  // If the kernel has not ended it with its parent, it goes on and must find the broker gone.
  (void)subprocess::resume(worker);
  CHECK(gone(identity));
  CHECK(test::processes_in_session(session).empty());
  check_cleaned(session);
}

// --- the broker's doorbells -------------------------------------------------------

TEST_CASE("channel.send.before_doorbell: a sender killed after publishing a record, before ringing, leaves no receiver asleep on it",
          "[crash][channel][failpoint]") {
  test::OncePath once;
  // The producer's first send hands its channel to us; its second is the record for the consumer.
  test::FailpointEnvironment armed("channel.send.before_doorbell@2,once=" + once.path());
  Broker broker(test::broker_options());
  const auto map = detail::or_throw(detail::SessionMap::open(broker.session(), shm::Deadline::after(5s)));
  auto producer = broker.host().create(test::worker_path(), {"produce", "1"});
  auto consumer = broker.host().create(test::worker_path(), {"consume", "1"});
  bool bound = false;
  std::optional<TestCounts> counts;
  producer.on_message<MessageChannel>([&](MessageChannel channel) { consumer.post_message(channel); });
  consumer.on_message<std::string>([&](const std::string& text) { bound = bound || text == "bound"; });
  consumer.on_message<TestCounts>([&](TestCounts c) { counts = c; });
  producer.start();
  consumer.start();
  REQUIRE(test::dispatch_until(broker.host(), [&] { return bound; }));
  // The consumer's loop sleeps on its doorbell, without a deadline: only a ring wakes it.
  auto& sleeping = map->slot(consumer.slot()).doorbell_sleeping;
  REQUIRE(test::eventually([&] { return sleeping.load() == 1; }, 10s));
  producer.post_message(std::string("go"));
  REQUIRE(test::eventually_stopped(producer.pid(), kStopPatience));
  CHECK(sleeping.load() == 1);  // the record is published, nobody rang
  REQUIRE(subprocess::kill_process(producer.pid()));
  REQUIRE(test::dispatch_until(broker.host(), [&] { return counts.has_value(); }));
  CHECK(counts->received == 1);
  CHECK(counts->out_of_order == 0);
}

// --- a broker killed while it makes its session --------------------------------------

TEST_CASE("segment.create.before_magic: a broker killed while making its session's segments leaves a session colony clean removes",
          "[crash][clean][failpoint]") {
  // The first segment a broker makes is its session's control segment; the
  // second, with the control segment whole, is one of the session's others.
  for (const int pass : {1, 2}) {
    const std::string session = test::unique_session("making");
    SessionLeftovers leftovers(session);
    auto broker = test::FailpointChild::start("segment.create.before_magic@" + std::to_string(pass), "cw-broker-host",
                                              {session, "echo"});
    const bool stopped = broker.wait_until_stopped(kStopPatience);
    INFO("pass " << pass << ": the broker " << broker.describe());
    REQUIRE(stopped);
    const auto made = test::session_segments(session);
    REQUIRE(made.size() == static_cast<std::size_t>(pass));
    CHECK((std::find(made.begin(), made.end(), "colony." + session + ".ctl.session") != made.end()));
    REQUIRE(broker.kill_and_reap());
    // Its creator died making it: provably nobody's, so removed, never refused.
    const auto cleaned = test::run_command({test::cli_path(), "clean", "--session", session}, 10s);
    INFO(cleaned.out << cleaned.err);
    CHECK(cleaned.exit_code == 0);
    CHECK(test::session_segments(session).empty());
  }
}
