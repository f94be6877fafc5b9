// Starting, ending and supervising worker processes: events, exit codes and
// signals, terminate versus close, trees of workers, the cap, bad executables.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "colony/broker/broker.hpp"
#include "colony/subprocess/child.hpp"
#include "colony/shm/process.hpp"
#include "process_handle.hpp"
#include "test_types.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

namespace {

// Watches a line of processes, each an ancestor of those after it, from
// another thread: records whether an ancestor was ever seen ended while a
// descendant still ran. Each process is held by a ProcessHandle, which knows
// when it has ended, so a reused pid cannot fool it. An ancestor is looked at
// before its descendant: when descendants end first, no look can see the reverse.
class EndOrderWatch {
 public:
  explicit EndOrderWatch(const std::vector<int>& lineage) {
    for (const int pid : lineage) handles_.emplace_back(pid);
    thread_ = std::thread([this] { watch(); });
  }
  ~EndOrderWatch() { stop(); }
  EndOrderWatch(const EndOrderWatch&) = delete;
  EndOrderWatch& operator=(const EndOrderWatch&) = delete;

  bool watching_all() const {
    return std::all_of(handles_.begin(), handles_.end(),
                       [](const test::ProcessHandle& handle) { return handle.held(); });
  }
  void stop() {
    done_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  bool an_ancestor_ended_first() const { return ancestor_first_.load(); }

 private:
  void watch() {
    while (!done_.load()) {
      bool all_ended = true;
      for (std::size_t ancestor = 0; ancestor < handles_.size(); ++ancestor) {
        if (!handles_[ancestor].held() || !handles_[ancestor].ended()) {
          all_ended = false;
          continue;
        }
        for (std::size_t descendant = ancestor + 1; descendant < handles_.size(); ++descendant) {
          if (handles_[descendant].held() && !handles_[descendant].ended()) ancestor_first_.store(true);
        }
      }
      if (all_ended) return;
    }
  }

  std::vector<test::ProcessHandle> handles_;
  std::atomic<bool> done_{false};
  std::atomic<bool> ancestor_first_{false};
  std::thread thread_;
};

}  // namespace

TEST_CASE("a worker goes online, runs and reports its exit code", "[ipc]") {
  Broker broker(test::broker_options());
  auto worker = broker.host().create(test::worker_path(), {"exit", "3"});
  bool online = false;
  std::optional<ExitStatus> exited;
  worker.on_online([&] { online = true; });
  worker.on_exit([&](const ExitStatus& status) { exited = status; });
  CHECK(worker.state() == WorkerState::created);
  worker.start();
  CHECK(worker.pid() > 0);
  REQUIRE(test::dispatch_until(broker.host(), [&] { return exited.has_value(); }));
  CHECK(online);
  CHECK(exited->kind == ExitStatus::Kind::exited);
  CHECK(exited->code == 3);
  CHECK_FALSE(exited->terminated);
  CHECK(worker.state() == WorkerState::terminated);
  CHECK(worker.exit_status()->code == 3);
}

TEST_CASE("a death by signal is reported as the signal", "[ipc]") {
  Broker broker(test::broker_options());
  auto worker = broker.host().create(test::worker_path(), {"signal", std::to_string(SIGUSR1)});
  worker.start();
  const auto status = worker.join(10s);
  REQUIRE(status);
  CHECK(status->kind == ExitStatus::Kind::signaled);
  CHECK(status->signal == SIGUSR1);
  CHECK(status->describe().find("SIGUSR1") != std::string::npos);
}

TEST_CASE("terminate ends a worker at once and close ends it after the current handler", "[ipc]") {
  Broker broker(test::broker_options());
  std::vector<std::string> inbox;

  SECTION("terminate") {
    auto worker = broker.host().create(test::worker_path(), {"echo"});
    worker.on_message<std::string>([&](std::string text) { inbox.push_back(text); });
    worker.start();
    worker.post_message(std::string("ping"));
    REQUIRE(test::dispatch_until(broker.host(), [&] { return !inbox.empty(); }));
    const int pid = worker.pid();
    worker.terminate();
    const auto status = worker.join(10s);
    REQUIRE(status);
    CHECK(status->kind == ExitStatus::Kind::signaled);
    CHECK(status->signal == SIGKILL);
    CHECK(status->terminated);
    CHECK_FALSE(shm::process_is_alive(pid));
  }
  SECTION("close") {
    auto worker = broker.host().create(test::worker_path(), {"close"});
    worker.on_message<std::string>([&](std::string text) { inbox.push_back(text); });
    worker.start();
    worker.post_message(std::string("close"));
    const auto status = worker.join(10s);
    REQUIRE(status);
    CHECK(status->ok());
    CHECK_FALSE(status->terminated);
    // Both posts of the handler arrived, before the exit event: the worker
    // ended after its handler, and nothing it posted was lost.
    CHECK(inbox == std::vector<std::string>{"closing", "handler finished"});
  }
}

TEST_CASE("terminating the top of a three-level tree leaves no process and ends children first", "[ipc]") {
  Broker broker(test::broker_options());
  // The leaf holds 256 MiB: it dies slowly, so that ending the others
  // without waiting for it would show.
  auto top = broker.host().create(test::worker_path(), {"tree", "3", "256"});
  std::vector<int> pids;
  top.on_message<std::int32_t>([&](std::int32_t pid) { pids.push_back(pid); });
  std::vector<int> alive_at_exit;
  top.on_exit([&](const ExitStatus&) {
    for (const int pid : pids) {
      if (shm::process_is_alive(pid)) alive_at_exit.push_back(pid);
    }
  });
  top.start();
  REQUIRE(test::dispatch_until(broker.host(), [&] { return pids.size() == 3; }));
  // Each level posts its own pid before relaying its child's: top, middle, leaf.
  EndOrderWatch order(pids);
  REQUIRE(order.watching_all());
  top.terminate();
  const auto status = top.join(10s);
  order.stop();
  REQUIRE(status);
  CHECK(status->terminated);
  // The leaf ended before the middle, the middle before the top.
  CHECK_FALSE(order.an_ancestor_ended_first());
  // By the time the parent hears of the top's end, every descendant is gone.
  CHECK(alive_at_exit.empty());
  for (const int pid : pids) CHECK_FALSE(shm::process_is_alive(pid));
}

TEST_CASE("at the session's end a worker that ignores SIGTERM gets SIGKILL once the grace period is over", "[ipc]") {
  const test::ScratchDirectory directory("term");
  const auto term_log = directory.file("terms");

  auto options = test::broker_options();
  options.limits.stop_grace = 700ms;
  std::optional<Broker> broker(std::in_place, options);
  bool ready = false;
  int pid = 0;
  {
    // The handle goes before the broker; the process runs on.
    auto worker = broker->host().create(test::worker_path(), {"ignore-term", term_log});
    worker.on_message<std::string>([&](const std::string& text) { ready = text == "ready"; });
    worker.start();
    REQUIRE(test::dispatch_until(broker->host(), [&] { return ready; }));
    pid = worker.pid();
  }

  const auto stop_began = std::chrono::steady_clock::now();
  broker.reset();  // the session's end
  const auto stop_took = std::chrono::steady_clock::now() - stop_began;

  CHECK(test::read_file(term_log) == "SIGTERM\n");  // asked once, nicely
  // It survives SIGTERM, so only the SIGKILL after the grace period ended it.
  CHECK_FALSE(shm::process_is_alive(pid));
  CHECK(stop_took >= options.limits.stop_grace);
}

TEST_CASE("a worker that dies takes its children with it", "[crash]") {
  Broker broker(test::broker_options());
  auto top = broker.host().create(test::worker_path(), {"tree", "3"});
  std::vector<int> pids;
  top.on_message<std::int32_t>([&](std::int32_t pid) { pids.push_back(pid); });
  top.start();
  REQUIRE(test::dispatch_until(broker.host(), [&] { return pids.size() == 3; }));
  REQUIRE(subprocess::kill_process(top.pid()));
  const auto status = top.join(10s);
  REQUIRE(status);
  CHECK(status->kind == ExitStatus::Kind::signaled);
  CHECK_FALSE(status->terminated);
  for (const int pid : pids) CHECK_FALSE(shm::process_is_alive(pid));
}

TEST_CASE("the running-worker cap refuses or queues a launch, as configured", "[ipc][threads]") {
  auto options = test::broker_options();
  options.limits.max_running = 2;

  SECTION("fail") {
    options.limits.over_cap = BrokerLimits::OverCap::fail;
    Broker broker(options);
    auto first = broker.host().create(test::worker_path(), {"echo"});
    auto second = broker.host().create(test::worker_path(), {"echo"});
    auto third = broker.host().create(test::worker_path(), {"echo"});
    first.start();
    second.start();
    try {
      third.start();
      FAIL("a third worker started past a cap of two");
    } catch (const WorkerError& e) {
      CHECK(e.code() == WorkerErrc::worker_cap);
      CHECK(std::string(e.what()).find("cap") != std::string::npos);
    }
    CHECK(third.state() == WorkerState::terminated);
  }
  SECTION("queue") {
    Broker broker(options);
    auto first = broker.host().create(test::worker_path(), {"echo"});
    auto second = broker.host().create(test::worker_path(), {"echo"});
    auto third = broker.host().create(test::worker_path(), {"echo"});
    bool third_online = false;
    third.on_online([&] { third_online = true; });
    first.start();
    second.start();
    third.start();
    CHECK(third.state() == WorkerState::queued);
    // Messages posted while queued wait in its channel.
    third.post_message(std::string("queued hello"));
    std::string reply;
    third.on_message<std::string>([&](std::string text) { reply = text; });
    first.terminate();
    REQUIRE(first.join(10s));
    REQUIRE(test::dispatch_until(broker.host(), [&] { return third_online && reply == "queued hello"; }));
  }
}

TEST_CASE("start_all launches many workers together, as start() does each", "[ipc]") {
  BrokerOptions options = test::broker_options();
  SECTION("every one is spawned when it returns, and each answers") {
    Broker broker(options);
    std::vector<WorkerHandle> workers;
    std::vector<std::string> replies(8);
    for (std::size_t i = 0; i < replies.size(); ++i) {
      workers.push_back(broker.host().create(test::worker_path(), {"echo"}));
      workers.back().on_message<std::string>([&replies, i](std::string text) { replies[i] = std::move(text); });
    }
    broker.host().start_all(workers);
    for (std::size_t i = 0; i < workers.size(); ++i) {
      CHECK(workers[i].pid() > 0);
      workers[i].post_message("hello " + std::to_string(i));
    }
    REQUIRE(test::dispatch_until(broker.host(), [&] {
      return std::all_of(replies.begin(), replies.end(), [](const std::string& r) { return !r.empty(); });
    }));
    for (std::size_t i = 0; i < replies.size(); ++i) CHECK(replies[i] == "hello " + std::to_string(i));
  }
  SECTION("a handle that cannot start stops all before any request leaves") {
    Broker broker(options);
    std::vector<WorkerHandle> workers{broker.host().create(test::worker_path(), {"echo"}),
                                      broker.host().create("/nonexistent/colony-worker")};
    try {
      broker.host().start_all(workers);
      FAIL("started a list holding a missing executable");
    } catch (const WorkerError& e) {
      CHECK(e.code() == WorkerErrc::no_such_executable);
    }
    CHECK(workers[0].state() == WorkerState::created);
    CHECK(workers[0].pid() == 0);
    workers[0].start();  // still startable on its own
    CHECK(workers[0].pid() > 0);
  }
  SECTION("over the cap under the fail policy: the refused end failed_to_start, the others run") {
    options.limits.max_running = 2;
    options.limits.over_cap = BrokerLimits::OverCap::fail;
    Broker broker(options);
    std::vector<WorkerHandle> workers;
    for (int i = 0; i < 3; ++i) workers.push_back(broker.host().create(test::worker_path(), {"echo"}));
    try {
      broker.host().start_all(workers);
      FAIL("three workers started past a cap of two");
    } catch (const WorkerError& e) {
      CHECK(e.code() == WorkerErrc::worker_cap);
    }
    CHECK(workers[0].pid() > 0);
    CHECK(workers[1].pid() > 0);
    CHECK(workers[2].state() == WorkerState::terminated);
    REQUIRE(workers[2].exit_status());
    CHECK(workers[2].exit_status()->kind == ExitStatus::Kind::failed_to_start);
  }
}

TEST_CASE("bad executables are clear errors at start", "[ipc]") {
  Broker broker(test::broker_options());
  SECTION("missing") {
    auto worker = broker.host().create("/nonexistent/colony-worker");
    try {
      worker.start();
      FAIL("started a missing executable");
    } catch (const WorkerError& e) {
      CHECK(e.code() == WorkerErrc::no_such_executable);
      CHECK(std::string(e.what()).find("/nonexistent/colony-worker") != std::string::npos);
    }
  }
  SECTION("not executable") {
    const std::string path = "/tmp/colony-test-not-executable-" + std::to_string(::getpid());
    std::ofstream(path) << "#!/bin/sh\n";
    ::chmod(path.c_str(), 0600);
    auto worker = broker.host().create(path);
    try {
      worker.start();
      FAIL("started a file without execute permission");
    } catch (const WorkerError& e) {
      CHECK(e.code() == WorkerErrc::no_such_executable);
      CHECK(std::string(e.what()).find("not executable") != std::string::npos);
    }
    ::unlink(path.c_str());
  }
  SECTION("never attaches") {
    auto worker = broker.host().create(test::worker_path(), {"not-a-worker"});
    worker.start();
    const auto status = worker.join(15s);
    REQUIRE(status);
    CHECK(status->kind == ExitStatus::Kind::not_attached);
    CHECK(status->reason.find("attach") != std::string::npos);
  }
}

TEST_CASE("Worker::current() outside a session is a clear error", "[unit]") {
  try {
    (void)Worker::current();
    FAIL("no error outside a session");
  } catch (const WorkerError& e) {
    CHECK(e.code() == WorkerErrc::not_a_worker);
  }
}

TEST_CASE("a sender blocked on a full channel is released when its receiver dies", "[crash]") {
  auto options = test::broker_options();
  options.limits.channel_capacity = 64 << 10;
  Broker broker(options);
  auto worker = broker.host().create(test::worker_path(), {"idle"});
  bool online = false;
  worker.on_online([&] { online = true; });
  worker.start();
  REQUIRE(test::dispatch_until(broker.host(), [&] { return online; }));
  const std::string block(1024, 'b');
  for (int i = 0; i < 40; ++i) worker.post_message(block);  // fits: the ring holds about 50
  REQUIRE(subprocess::kill_process(worker.pid()));
  const auto started = std::chrono::steady_clock::now();
  bool failed = false;
  try {
    for (int i = 0; i < 200; ++i) worker.post_message(block);
  } catch (const WorkerError& e) {
    failed = true;
    CHECK((e.code() == WorkerErrc::bad_state || e.code() == WorkerErrc::channel_closed));
  }
  CHECK(failed);
  CHECK(std::chrono::steady_clock::now() - started < 5s);
}

TEST_CASE("a worker starts in its parent's working directory", "[ipc]") {
  Broker broker(test::broker_options());
  char previous[4096];
  REQUIRE(::getcwd(previous, sizeof(previous)) != nullptr);
  REQUIRE(::chdir("/tmp") == 0);
  auto worker = broker.host().create(test::worker_path(), {"cwd"});
  std::string directory;
  worker.on_message<std::string>([&](std::string d) { directory = d; });
  worker.start();
  REQUIRE(::chdir(previous) == 0);
  REQUIRE(worker.join(10s));
  CHECK(directory == "/tmp");
}

TEST_CASE("a handler may start a worker while other events are pending", "[ipc]") {
  Broker broker(test::broker_options());
  auto& host = broker.host();
  auto first = host.create(test::worker_path(), {"exit", "0"});
  WorkerHandle second;
  std::string reply;
  first.on_exit([&](const ExitStatus&) {
    // start() inside a handler: it waits for the broker's answer only, and
    // runs no other handler meanwhile.
    second = host.create(test::worker_path(), {"echo"});
    second.on_message<std::string>([&](std::string text) { reply = text; });
    second.start();
    second.post_message(std::string("from a handler"));
  });
  first.start();
  REQUIRE(test::dispatch_until(host, [&] { return reply == "from a handler"; }));
  // Its reply may come before the broker has read its online notice.
  CHECK(test::dispatch_until(host, [&] { return second.state() == WorkerState::running; }));
}

TEST_CASE("messages read with receive are not taken by the event loop", "[ipc]") {
  Broker broker(test::broker_options());
  auto& host = broker.host();
  auto reader = host.create(test::worker_path(), {"echo"});  // no on_message: read with receive()
  reader.start();
  reader.post_message(std::string("keep me"));
  auto other = host.create(test::worker_path(), {"exit", "0"});
  other.start();
  REQUIRE(other.join(10s));  // dispatches events meanwhile
  const auto received = reader.receive<std::string>(10s);
  REQUIRE(received.ok());
  CHECK(*received.value == "keep me");
}

TEST_CASE("destroying the broker from a handler is safe", "[ipc]") {
  std::optional<Broker> broker(std::in_place, test::broker_options());
  auto& host = broker->host();
  auto worker = host.create(test::worker_path(), {"exit", "0"});
  bool destroyed = false;
  worker.on_exit([&](const ExitStatus&) {
    broker.reset();
    destroyed = true;
  });
  worker.start();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!destroyed && std::chrono::steady_clock::now() < deadline) host.dispatch(50ms);
  CHECK(destroyed);
}
