// colony top against a broker hosted in the test: one frame as JSON and as
// text, a dead session, and a running top that ends with its session.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "colony/broker/broker.hpp"
#include "colony/shm/mutex.hpp"
#include "colony/worker/channel.hpp"
#include "colony/worker/shared_objects.hpp"
#include "colony/worker/value.hpp"
#include "process_table.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

namespace {

// Runs `colony top ...` to its end while the host keeps the worker and a
// channel busy, so the rates over its interval are above zero.
test::CommandResult top_while_busy(Worker& host, WorkerHandle& worker, MessageChannel& feed, const std::vector<std::string>& args) {
  std::vector<std::string> argv{test::cli_path(), "top"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto top = std::async(std::launch::async, [argv] { return test::run_command(argv, 20s); });
  std::int32_t n = 0;
  auto next_send = std::chrono::steady_clock::now();
  while (top.wait_for(0ms) != std::future_status::ready) {
    // Paced: nobody receives on feed, which must not fill up before top ends.
    if (std::chrono::steady_clock::now() >= next_send) {
      worker.post_message(n);
      feed.send(n++);
      next_send = std::chrono::steady_clock::now() + 5ms;
    }
    host.dispatch(1ms);
  }
  return top.get();
}

const Value* find_by(const Value& list, std::string_view key, const Value& wanted) {
  for (const auto& item : list.as_array()) {
    if (item[key] == wanted) return &item;
  }
  return nullptr;
}

// True once pid has mapped the session's control segment: top is watching.
bool maps_session(int pid, const std::string& session) {
  return test::maps_file_containing(pid, "colony." + session + ".ctl.session");
}

}  // namespace

TEST_CASE("colony top --once --json: the worker with its pid and rates, a channel with its counters", "[ipc]") {
  Broker broker(test::broker_options());
  auto worker = broker.host().create(test::worker_path(), {"echo"});
  worker.on_message<std::int32_t>([](std::int32_t) {});  // takes the echoes: its channel never fills
  worker.start();
  // Busy on a core for the whole frame: its CPU share cannot be 0.
  auto spinner = broker.host().create(test::worker_path(), {"spin", "20000"});
  bool spinning = false;
  spinner.on_online([&] { spinning = true; });
  spinner.start();
  REQUIRE(test::dispatch_until(broker.host(), [&] { return spinning; }));
  auto feed = MessageChannel::create();
  auto held = SharedMutex::create("top-held");
  auto unheld = SharedMutex::create("top-free");
  std::optional<shm::MutexLock> holding;  // released before `held` goes, whatever happens
  holding.emplace(*held, shm::Deadline::after(std::chrono::seconds(5)));
  REQUIRE(holding->owns_lock());
  const auto result = top_while_busy(broker.host(), worker, feed, {"--once", "--json", "--interval", "200", "--session", broker.session()});
  holding.reset();
  REQUIRE(result.exit_code == 0);
  const auto frame = Value::from_json(result.out);
  CHECK(frame["session"].as_string() == broker.session());
  CHECK(frame["seconds"].as_double() >= 0.15);

  const Value* process = find_by(frame["workers"], "pid", Value(std::int64_t{worker.pid()}));
  REQUIRE(process != nullptr);
  CHECK((*process)["state"].as_string() == "running");
  const std::string& executable = (*process)["executable"].as_string();  // cut at 128 bytes
  CHECK((!executable.empty() && test::worker_path().starts_with(executable)));
  CHECK((*process)["in_per_s"].as_double() > 0);
  CHECK((*process)["out_per_s"].as_double() > 0);
  CHECK((*process)["rss_bytes"].as_int() > 0);
  CHECK((*process)["cpu_percent"].as_double() >= 0);
  CHECK((*process)["restarts"].is_null());  // not a named worker
  const Value* busy = find_by(frame["workers"], "pid", Value(std::int64_t{spinner.pid()}));
  REQUIRE(busy != nullptr);
  INFO("the spinning worker's cpu_percent: " << (*busy)["cpu_percent"].to_json());
  CHECK((*busy)["cpu_percent"].as_double() > 0);
  CHECK((*busy)["cpu_percent"].as_double() <= 150);  // one thread: one core at most, with sampling slack

  const Value* channel = find_by(frame["channels"], "name", Value("ch" + std::to_string(feed.id())));
  REQUIRE(channel != nullptr);
  CHECK((*channel)["sent"].as_int() > 0);
  CHECK((*channel)["received"].as_int() == 0);  // nobody receives on it
  CHECK((*channel)["depth"].as_int() == (*channel)["sent"].as_int());
  CHECK((*channel)["capacity_bytes"].as_int() > 0);
  CHECK((*channel)["sent_per_s"].as_double() > 0);
  CHECK((*channel)["received_per_s"].as_double() == 0.0);

  const Value* held_row = find_by(frame["mutexes"], "name", Value("top-held"));
  const Value* free_row = find_by(frame["mutexes"], "name", Value("top-free"));
  REQUIRE(held_row != nullptr);
  REQUIRE(free_row != nullptr);
  CHECK((*held_row)["holder_pid"].as_int() == ::getpid());
  CHECK((*free_row)["holder_pid"].is_null());
}

TEST_CASE("colony top --once prints a text frame that lists the worker's pid", "[ipc]") {
  Broker broker(test::broker_options());
  auto worker = broker.host().create(test::worker_path(), {"echo"});
  worker.start();
  // The session from the environment, as inside a worker.
  const auto result = test::run_command({test::cli_path(), "top", "--once", "--interval", "100"}, 20s,
                                        {"COLONY_SESSION=" + broker.session()});
  REQUIRE(result.exit_code == 0);
  CHECK(result.out.find("\x1b") == std::string::npos);  // not a terminal: no escape codes
  CHECK(result.out.find("worker processes (1)") != std::string::npos);
  std::istringstream lines(result.out);
  // Built with append: g++ 12 at -O3 flags the operator+ chain with a bogus
  // -Wrestrict (GCC bug 105651).
  std::string row(" ");
  row.append(std::to_string(worker.pid())).append(" running ");
  bool listed = false;
  for (std::string line; std::getline(lines, line);) {
    listed = listed || line.find(row) != std::string::npos;
  }
  CHECK(listed);
}

TEST_CASE("colony top on a dead session exits 1 with one line", "[ipc]") {
  const std::string session = test::unique_session("top");
  const auto result = test::run_command({test::cli_path(), "top", "--once", "--session", session}, 10s);
  CHECK(result.exit_code == 1);
  CHECK(result.err == "colony: no live broker runs session '" + session + "'\n");
  CHECK(result.out.empty());
}

TEST_CASE("colony top ends by itself, exit code 0, when its session ends", "[ipc]") {
  Broker broker(test::broker_options());
  const int top = test::spawn_command({test::cli_path(), "top", "--interval", "200", "--session", broker.session()});
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!maps_session(top, broker.session()) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  CHECK(maps_session(top, broker.session()));
  broker.stop();
  const int status = test::reap(top, 10s);  // kills it, and returns -1, past the deadline
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

namespace {

// What /dev/shm accounts for a session's segments, summed by the test itself.
std::uint64_t bytes_in_dev_shm(const std::vector<std::string>& segments) {
  std::uint64_t bytes = 0;
  for (const auto& name : segments) {
    struct stat info {};
    if (::stat(("/dev/shm/" + name).c_str(), &info) == 0) bytes += static_cast<std::uint64_t>(info.st_blocks) * 512;
  }
  return bytes;
}

}  // namespace

TEST_CASE("colony ps and top show the shared memory a session holds, and it grows with a byte array", "[ipc]") {
  Broker broker(test::broker_options());
  const auto look = [&](const std::string& command) {
    std::vector<std::string> argv{test::cli_path(), command, "--json", "--session", broker.session()};
    if (command == "top") argv.insert(argv.begin() + 2, "--once");
    const auto result = test::run_command(argv, 20s);
    REQUIRE(result.exit_code == 0);
    return Value::from_json(result.out);
  };
  const auto segments = test::session_segments(broker.session());
  for (const std::string command : {"ps", "top"}) {
    const Value shown = look(command);
    INFO(command);
    CHECK(shown["shared_memory_segments"] == Value(static_cast<std::int64_t>(segments.size())));
    CHECK(shown["shared_memory_bytes"] == Value(static_cast<std::int64_t>(bytes_in_dev_shm(segments))));
  }

  auto big = SharedByteArray::create(std::size_t{4} << 20, "big");
  REQUIRE(big.valid());
  const auto with_array = test::session_segments(broker.session());
  REQUIRE(with_array.size() == segments.size() + 1);
  const auto grown = bytes_in_dev_shm(with_array);
  CHECK(grown >= bytes_in_dev_shm(segments) + (std::uint64_t{4} << 20));  // reserved at creation, not on first write
  for (const std::string command : {"ps", "top"}) {
    const Value shown = look(command);
    INFO(command);
    CHECK(shown["shared_memory_segments"] == Value(static_cast<std::int64_t>(with_array.size())));
    CHECK(shown["shared_memory_bytes"] == Value(static_cast<std::int64_t>(grown)));
  }
  const auto text = test::run_command({test::cli_path(), "ps", "--session", broker.session()}, 20s);
  CHECK(text.out.find("shared memory ") != std::string::npos);
  CHECK(text.out.find(" in " + std::to_string(with_array.size()) + " segments") != std::string::npos);
}
