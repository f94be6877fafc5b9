// Supervision of named workers with real processes and real SIGKILL: restart
// policies, back-off, restart intensity, handler timeouts and crash reports.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <csignal>
#include <thread>

#include "child_process.hpp"
#include "colony/broker/broker.hpp"
#include "colony/session/contract.hpp"
#include "colony/session/crash_log.hpp"
#include "colony/worker/mailbox.hpp"
#include "colony/worker/named.hpp"
#include "worker_test_support.hpp"
// The broker's private piece that cuts stderr into the report's lines
// (colony_broker_internal).
#include "stderr_tail.hpp"

using namespace colony;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

Value wait_call(Broker& broker, const std::string& name, const std::string& method, Value args = Value::Array{}) {
  auto reply = call(broker.session(), name, method, std::move(args), CallOptions{true, 20s});
  REQUIRE(reply.has_value());
  return *reply;
}

void post(Broker& broker, const std::string& name, const std::string& method, Value args = Value::Array{}) {
  (void)call(broker.session(), name, method, std::move(args));
}

Value::Array crash_reports(const Broker& broker, const std::string& name) {
  const auto log = CrashLog::open(broker.session(), name);
  if (!log) return {};
  const auto text = log->read();
  if (!text || text->empty()) return {};
  return Value::from_json(*text).as_array();
}

bool running(const detail::MailboxControl& control) { return control.current_slot.load() != 0; }

// A reply comes before its call leaves the mailbox: wait for that too, so a
// kill that follows hits an idle worker.
bool idle(const Mailbox& box) { return box.depth() == 0 && box.control().in_flight.load() == 0; }

}  // namespace

// Also under TSan ([threads]): the broker's thread, its reaper reading
// stderr, and the test's calls all run in this process.
TEST_CASE("a crashed worker is restarted at once and its crash report names the call, the signal and its stderr",
          "[crash][threads]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("fragile", test::worker_path(), {"named"});
  auto box = Mailbox::open_or_create(broker.session(), "fragile");
  const auto first_pid = wait_call(broker, "fragile", "pid").as_int();
  const auto steady_ns = [] { return static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()); };
  const std::uint64_t before_crash_ns = steady_ns();
  CHECK(wait_call(broker, "fragile", "say-and-crash-once", Value::Array{"the lock"}).as_string() == "survived");
  const std::uint64_t after_reply_ns = steady_ns();
  CHECK(wait_call(broker, "fragile", "pid").as_int() != first_pid);

  const auto reports = crash_reports(broker, "fragile");
  REQUIRE(reports.size() == 1);
  const Value& report = reports[0];
  CHECK(report["pid"].as_int() == first_pid);
  CHECK(report["signal"].as_int() == 9);
  CHECK(report["restarts"].as_int() == 1);
  CHECK(report["in_flight"]["method"].as_string() == "say-and-crash-once");
  CHECK(report["in_flight"]["attempt"].as_int() == 1);
  INFO(report["stderr_tail"].to_json());
  CHECK(report["stderr_tail"] == Value(Value::Array{"about to crash", "holding the lock"}));
  CHECK(report["action"].as_string() == "restarted at once");
  CHECK(report["time"].as_string().size() == 24);  // 2026-11-24T09:28:10.123Z
  CHECK(box.control().crashes.load() == 1);
  // Kill to replacement, from the kernel's notice to the spawn: recorded, in
  // that order, both between the call that crashed and its reply (the same
  // steady clock as ours).
  const std::uint64_t noticed_ns = box.control().death_noticed_ns.load();
  const std::uint64_t replaced_ns = box.control().replaced_ns.load();
  CHECK(before_crash_ns < noticed_ns);
  CHECK(noticed_ns <= replaced_ns);
  CHECK(replaced_ns < after_reply_ns);

  // Restarted without waiting for a call: on-failure keeps it up.
  REQUIRE(test::eventually([&] { return running(box.control()); }, 10s));
  const auto pid = wait_call(broker, "fragile", "pid").as_int();
  REQUIRE(test::eventually([&] { return idle(box); }, 10s));
  REQUIRE(subprocess::kill_process(static_cast<int>(pid)));
  CHECK(test::eventually(
      [&] { return box.control().restarts.load() == 2 && running(box.control()) && crash_reports(broker, "fragile").size() == 2; },
      10s));
  CHECK(crash_reports(broker, "fragile")[1]["in_flight"].is_null());  // idle when it died
}

TEST_CASE("restart policies: never, on-failure, always, and never after a kill", "[crash]") {
  Broker broker(test::broker_options());
  NamedWorkerOptions options;
  SECTION("never: a death leaves it down, with its queue, until the next call") {
    options.restart = RestartPolicy::never;
    broker.define_named_worker("w", test::worker_path(), {"named"}, options);
    auto box = Mailbox::open_or_create(broker.session(), "w");
    const auto pid = wait_call(broker, "w", "pid").as_int();
    REQUIRE(test::eventually([&] { return idle(box); }, 10s));
    REQUIRE(subprocess::kill_process(static_cast<int>(pid)));
    REQUIRE(test::eventually([&] { return crash_reports(broker, "w").size() == 1; }, 10s));
    std::this_thread::sleep_for(200ms);
    CHECK_FALSE(running(box.control()));
    CHECK(crash_reports(broker, "w")[0]["action"].as_string() == "not restarted (policy never)");
    CHECK(wait_call(broker, "w", "get").as_int() == 0);  // the next call starts a new process
  }
  SECTION("on-failure: a clean exit is not restarted, a non-zero one is") {
    options.max_attempts = 1;  // the call it exits in is dead-lettered by the next process
    broker.define_named_worker("w", test::worker_path(), {"named", "300"}, options);  // exits after 300 ms idle
    auto box = Mailbox::open_or_create(broker.session(), "w");
    CHECK(wait_call(broker, "w", "get").as_int() == 0);
    REQUIRE(test::eventually([&] { return !running(box.control()); }, 10s));
    std::this_thread::sleep_for(500ms);
    CHECK_FALSE(running(box.control()));
    CHECK(box.control().starts.load() == 1);
    CHECK(crash_reports(broker, "w").empty());
    post(broker, "w", "exit", Value::Array{3});  // starts process 2, which exits with 3 in the handler
    REQUIRE(test::eventually([&] { return box.control().starts.load() == 3 && box.control().dead_lettered.load() == 1; },
                             10s));
    const auto reports = crash_reports(broker, "w");
    REQUIRE(reports.size() == 1);
    CHECK(reports[0]["code"].as_int() == 3);
    CHECK(reports[0]["action"].as_string() == "restarted at once");
  }
  SECTION("always: a clean exit is restarted too, but a kill is not") {
    options.restart = RestartPolicy::always;
    broker.define_named_worker("w", test::worker_path(), {"named", "100"}, options);
    auto box = Mailbox::open_or_create(broker.session(), "w");
    CHECK(wait_call(broker, "w", "get").as_int() == 0);
    REQUIRE(test::eventually([&] { return box.control().starts.load() >= 3; }, 10s));
    CHECK(crash_reports(broker, "w").empty());  // a clean exit is no crash
    (void)box.request_kill();
    REQUIRE(test::eventually([&] { return !running(box.control()); }, 10s));
    const auto starts = box.control().starts.load();
    std::this_thread::sleep_for(500ms);
    CHECK_FALSE(running(box.control()));
    CHECK(box.control().starts.load() == starts);
  }
}

// A Caller asks the broker for a start only when no process is current for
// the name. A call that lands while that process is ending (here: exiting
// idle, cleanly) must still start the next one. The gaps between the calls
// sweep around the idle timeout, so some calls meet the exit.
TEST_CASE("a call made while its worker exits idle is answered by the next process", "[crash]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("w", test::worker_path(), {"named", "15"});  // exits after 15 ms idle
  auto box = Mailbox::open_or_create(broker.session(), "w");
  Caller caller(broker.session());
  constexpr int kCalls = 60;
  int answered = 0;
  for (int i = 0; i < kCalls; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(10'000 + 200 * i));  // 10 ms to 22 ms
    const auto reply = caller.call("w", "get", Value::Array{}, CallOptions{true, 10s});
    REQUIRE(reply.has_value());
    ++answered;
  }
  CHECK(answered == kCalls);
  INFO("processes started: " << box.control().starts.load());
  CHECK(box.control().starts.load() > 1);  // the sweep did meet idle exits
  CHECK(crash_reports(broker, "w").empty());
}

TEST_CASE("back-off doubles between restarts, and past the intensity the worker is given up with its mailbox kept",
          "[crash]") {
  Broker broker(test::broker_options());
  NamedWorkerOptions options;
  options.max_attempts = 1000;  // the poison call is never dead-lettered here
  options.max_restarts = 3;
  options.restart_window = 30s;
  options.backoff_initial = 100ms;
  broker.define_named_worker("poisoned", test::worker_path(), {"named"}, options);
  auto box = Mailbox::open_or_create(broker.session(), "poisoned");
  post(broker, "poisoned", "die");
  // When each start is first seen; the gaps between them are the back-off
  // (at least). The first restart is immediate: it may be seen late.
  std::map<std::uint32_t, Clock::time_point> seen_at;
  const auto deadline = Clock::now() + 20s;
  while (Clock::now() < deadline && box.control().supervision.load() != 2) {
    seen_at.try_emplace(box.control().starts.load(), Clock::now());
    std::this_thread::sleep_for(1ms);
  }
  REQUIRE(box.control().supervision.load() == static_cast<std::uint32_t>(detail::SupervisionState::given_up));
  CHECK(box.control().starts.load() == 4);  // the first start and three restarts
  REQUIRE(seen_at.contains(2));
  REQUIRE(seen_at.contains(3));
  REQUIRE(seen_at.contains(4));
  CHECK(seen_at[3] - seen_at[2] >= 90ms);   // the second restart waits 100 ms
  CHECK(seen_at[4] - seen_at[3] >= 190ms);  // the third, 200 ms
  const auto reports = crash_reports(broker, "poisoned");
  REQUIRE(reports.size() == 4);
  CHECK(reports[0]["action"].as_string() == "restarted at once");
  CHECK(reports[1]["action"].as_string() == "restarting in 100 ms (back-off)");
  CHECK(reports[2]["action"].as_string() == "restarting in 200 ms (back-off)");
  CHECK(reports[3]["action"].as_string().starts_with("given up: 3 restarts within 30000 ms"));

  // Given up: calls are kept, nothing starts it...
  post(broker, "poisoned", "add", Value::Array{1});
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(running(box.control()));
  CHECK(box.depth() == 2);
  // ...until it is restarted by hand.
  const auto text = test::run_command({test::cli_path(), "ps", "--session", broker.session(), "--json", "--interval", "0"}, 10s);
  const auto ps = Value::from_json(text.out);
  CHECK(ps["named_workers"][0]["state"].as_string() == "given-up");
  CHECK(ps["named_workers"][0]["crash_reports"].as_array().size() == 4);
  const auto restarted = test::run_command({test::cli_path(), "restart", "--session", broker.session(), "poisoned"}, 10s);
  CHECK(restarted.exit_code == 0);
  CHECK(test::eventually([&] { return box.control().starts.load() >= 5; }, 10s));
}

TEST_CASE("a handler past its timeout is killed, its call delivered again and dead-lettered after K tries", "[crash]") {
  Broker broker(test::broker_options());
  NamedWorkerOptions options;
  options.max_attempts = 2;
  options.handler_timeout = 200ms;
  options.backoff_initial = 10ms;
  broker.define_named_worker("slow", test::worker_path(), {"named"}, options);
  auto box = Mailbox::open_or_create(broker.session(), "slow");
  const auto started = Clock::now();
  post(broker, "slow", "sleep", Value::Array{60'000});
  post(broker, "slow", "add", Value::Array{5});
  // Two deliveries hang and are killed; the third buries it, then the add runs.
  CHECK(wait_call(broker, "slow", "get").as_int() == 5);
  CHECK(Clock::now() - started < 30s);  // far below the 60 s the handler would have taken
  CHECK(box.control().dead_lettered.load() == 1);
  const auto reports = crash_reports(broker, "slow");
  REQUIRE(reports.size() == 2);
  CHECK(reports[0]["reason"].as_string() == "its handler ran past 200 ms and was killed");
  CHECK(reports[0]["in_flight"]["method"].as_string() == "sleep");
  CHECK(reports[1]["in_flight"]["attempt"].as_int() == 2);
}

TEST_CASE("back-off is zero for the first restart in a window, then doubles up to its cap", "[unit]") {
  NamedWorkerOptions options;
  options.backoff_initial = 10ms;
  options.backoff_max = 50ms;
  CHECK(restart_backoff(options, 0) == 0ms);
  CHECK(restart_backoff(options, 1) == 10ms);
  CHECK(restart_backoff(options, 2) == 20ms);
  CHECK(restart_backoff(options, 3) == 40ms);
  CHECK(restart_backoff(options, 4) == 50ms);
  CHECK(restart_backoff(options, 1000) == 50ms);
  CHECK(parse_restart_policy("on-failure") == RestartPolicy::on_failure);
  CHECK_FALSE(parse_restart_policy("sometimes").has_value());
}

TEST_CASE("a crash report keeps the last ten lines of stderr, whatever the chunks", "[unit]") {
  broker_detail::StderrTail tail;
  std::string all;
  for (int i = 0; i < 15; ++i) all += "line " + std::to_string(i) + "\n";
  all += "partial";
  for (std::size_t at = 0; at < all.size(); at += 7) tail.append(std::string_view(all).substr(at, 7));
  CHECK(tail.lines() == "line 6\nline 7\nline 8\nline 9\nline 10\nline 11\nline 12\nline 13\nline 14\npartial");
  broker_detail::StderrTail flood;
  flood.append(std::string(100'000, 'x'));
  CHECK(flood.lines().size() == broker_detail::StderrTail::kKeep);  // one long line: its end
}

TEST_CASE("a broker killed with SIGKILL: its workers die, and a new broker of the session goes on with the queue",
          "[crash]") {
  const std::string session = test::unique_session("takeover");
  const std::vector<std::string> environment{"COLONY_SESSION=" + session};
  const auto colony = [&](std::vector<std::string> args, std::chrono::milliseconds timeout = 20s) {
    args.insert(args.begin(), test::cli_path());
    return test::run_command(args, timeout, environment);
  };
  const std::string worker = "counter=" + test::worker_path() + " named";
  // A failed REQUIRE must not leave a background broker behind.
  struct StopAtEnd {
    std::string session;
    ~StopAtEnd() { (void)test::run_command({test::cli_path(), "broker", "stop", "--session", session}, 30s); }
  } stop_at_end{session};
  REQUIRE(colony({"broker", "start", "--session", session, "--worker", worker}).exit_code == 0);
  const int broker_pid = static_cast<int>(Value::from_json(colony({"broker", "status", "--json"}).out)["broker_pid"].as_int());
  CHECK(colony({"call", "counter", "add", "1", "--wait"}).out == "1\n");
  // In its handler at the kill, its caller waiting for the answer; two more queued behind it.
  const int waiting_caller = test::spawn_command(
      {test::cli_path(), "call", "--session", session, "counter", "sleep", "3000", "--wait", "--timeout", "60000"});
  {
    auto box = Mailbox::open_or_create(session, "counter");
    REQUIRE(test::eventually([&] { return box.control().in_flight.load() != 0; }, 10s));
    REQUIRE(colony({"call", "counter", "add", "2"}).exit_code == 0);
    REQUIRE(colony({"call", "counter", "add", "3"}).exit_code == 0);
    CHECK(box.depth() == 3);
  }
  REQUIRE(subprocess::kill_process(broker_pid));
  CHECK(test::eventually([&] { return test::processes_in_session(session).empty(); }, 5s));  // no worker survives it

  // A new broker of the same session takes the mailbox over: the call in
  // flight is delivered again (marked), the queued ones follow, none lost.
  REQUIRE(colony({"broker", "start", "--session", session, "--worker", worker}).exit_code == 0);
  CHECK(colony({"call", "counter", "get", "--wait"}, 30s).out == "5\n");  // a new process: 0 + 2 + 3
  // The caller of the call in flight got its answer, from the new process.
  const int caller_status = test::reap(waiting_caller, 30s);
  CHECK(WIFEXITED(caller_status));
  CHECK(WEXITSTATUS(caller_status) == 0);
  {
    auto box = Mailbox::open_or_create(session, "counter");
    CHECK(box.control().redelivered.load() == 1);
    // The reply to "get" comes before the call leaves the mailbox.
    CHECK(test::eventually([&] { return box.depth() == 0; }, 10s));
  }
  CHECK(colony({"broker", "stop"}, 30s).exit_code == 0);
  CHECK(test::session_segments(session).empty());
}

TEST_CASE("a worker's stderr copied to a reader that went away does not take the broker down", "[crash]") {
  // colony run's own stderr is a pipe whose reader exits after one byte; a
  // named worker writes lines to its stderr and crashes; the broker copies
  // them on, gets EPIPE, and goes on.
  const std::string directory = "/tmp/colony-stderr-" + std::to_string(::getpid());
  std::filesystem::create_directories(directory);
  const std::string file = directory + "/calls.toml";
  const std::string calls = test::cli_path() + " call w say-and-crash-once '\"x\"' --wait && " + test::cli_path() +
                            " call w say-and-crash-once '\"y\"' --wait";
  std::ofstream(file) << "[[worker]]\nname = \"w\"\nexec = \"" << test::worker_path()
                      << "\"\nargs = [\"named\"]\n[[stage]]\nname = \"client\"\nexec = \"sh\"\nargs = [\"-c\", "
                      << Value(calls).to_json() << "]\nplain = true\n";
  const auto result = test::run_command(
      {"/bin/bash", "-c", test::cli_path() + " run -p " + file + " 2> >(head -c 1 >/dev/null); echo \"exit $?\""}, 60s);
  std::filesystem::remove_all(directory);
  CHECK(result.out == "\"survived\"\n\"survived\"\nexit 0\n");
}

TEST_CASE("a worker that exits at once is restarted with back-off, not in a storm", "[crash]") {
  Broker broker(test::broker_options());
  NamedWorkerOptions options;
  options.restart = RestartPolicy::always;
  options.backoff_initial = 50ms;
  broker.define_named_worker("quitter", "/bin/true", {}, options);
  auto box = Mailbox::open_or_create(broker.session(), "quitter");
  post(broker, "quitter", "anything");  // /bin/true never reads it: it stays queued
  std::this_thread::sleep_for(1s);
  // At once, 50, 100, 200, 400 ms: some six starts in a second, not hundreds.
  CHECK(box.control().starts.load() <= 8);
  CHECK(box.control().starts.load() >= 3);
}
