// KILL WORKER as a named worker and `colony kill` see it: real processes,
// the worker's wakeups counted by the kernel.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>

#include "child_process.hpp"
#include "colony/broker/broker.hpp"
#include "colony/shm/process.hpp"
#include "colony/worker/mailbox.hpp"
#include "colony/worker/named.hpp"
#include "colony/session/contract.hpp"
#include "colony/session/session_map.hpp"
#include "process_table.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::string text, line;
  while (std::getline(in, line)) text += line + "\n";
  return text;
}

}  // namespace

TEST_CASE("colony kill reports the calls queued behind the one in flight as dropped; that one finishes and is answered",
          "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("holder", test::worker_path(), {"named"});
  const std::string dir = std::filesystem::temp_directory_path() / ("colony-kill-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string notes = dir + "/notes";
  const std::string release = dir + "/release";
  // A waited call whose handler holds until the release file exists.
  auto held = std::async(std::launch::async, [&] {
    return call(broker.session(), "holder", "hold", Value::Array{notes, release}, CallOptions{true, 30s});
  });
  REQUIRE(test::eventually([&] { return read_text(notes) == "begin\n"; }, 20000ms));
  for (int i = 0; i < 3; ++i) (void)call(broker.session(), "holder", "add", Value::Array{1});
  auto box = Mailbox::open_or_create(broker.session(), "holder");
  REQUIRE(box.depth() == 4);

  const auto killed = test::run_command({test::cli_path(), "kill", "--session", broker.session(), "holder"}, 20s);
  INFO("stdout: " << killed.out << "stderr: " << killed.err);
  REQUIRE(killed.finished);
  CHECK(killed.exit_code == 0);
  CHECK(killed.out == "killed worker holder: 3 queued calls dropped; the call in flight finishes and is answered\n");

  std::ofstream(release) << "go\n";
  REQUIRE(held.wait_for(20s) == std::future_status::ready);
  const auto reply = held.get();
  REQUIRE(reply.has_value());
  CHECK(*reply == Value("released"));
  CHECK(read_text(notes) == "begin\nend\n");
  // The worker ends after its call; the three behind it are gone, unhandled.
  REQUIRE(test::eventually([&] { return box.control().current_slot.load() == 0; }, 10000ms));
  CHECK(box.depth() == 0);
  CHECK(box.control().handled.load() == 1);

  // Idle, nothing in flight: a kill drops nothing and says so.
  (void)call(broker.session(), "holder", "add", Value::Array{1}, CallOptions{true, 20s});
  // Its reply comes before the call leaves the box: wait for that too.
  REQUIRE(test::eventually([&] { return box.depth() == 0 && box.control().in_flight.load() == 0; }, 10000ms));
  const auto idle = test::run_command({test::cli_path(), "kill", "--session", broker.session(), "holder"}, 20s);
  CHECK(idle.out == "killed worker holder: 0 queued calls dropped\n");
  std::filesystem::remove_all(dir);
}

TEST_CASE("an idle named worker sleeps in one wait, and a kill wakes it at once", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("sleeper", test::worker_path(), {"named"});
  REQUIRE(call(broker.session(), "sleeper", "add", Value::Array{1}, CallOptions{true, 20s}) == Value(1));
  auto box = Mailbox::open_or_create(broker.session(), "sleeper");
  // The broker records the pid after the spawn returns: the reply may come first.
  int pid = 0;
  REQUIRE(test::eventually([&] { return (pid = named_worker_pid(broker.session(), "sleeper")) > 0; }, 10000ms));
  REQUIRE(test::eventually([&] { return box.depth() == 0 && box.control().in_flight.load() == 0; }, 10000ms));

  // Idle: no slices to notice a kill, so no wakeups at all (the old loop
  // woke every 500 ms).
  std::this_thread::sleep_for(100ms);  // settled in its wait
  const long before = test::voluntary_waits(pid);
  REQUIRE(before >= 0);
  std::this_thread::sleep_for(1600ms);
  const long idle_wakeups = test::voluntary_waits(pid) - before;
  CHECK(idle_wakeups <= 1);

  const auto killed_at = Clock::now();
  const auto report = box.kill();
  CHECK(report.dropped == 0);
  CHECK_FALSE(report.in_flight_finishes);
  REQUIRE(test::eventually([&] { return !shm::process_is_alive(pid); }, 5000ms));
  const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - killed_at);
  std::printf("idle named worker: %ld wakeups in 1600 ms idle; kill to exit %lld us\n", idle_wakeups,
              static_cast<long long>(latency.count()));
  // Generous: it is woken by the kill, not by a 500 ms slice.
  CHECK(latency < 400ms);
}
