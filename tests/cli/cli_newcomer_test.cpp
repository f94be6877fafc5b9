// What a newcomer meets first, following the README from a shell: colony run
// hands EXE its arguments untouched, sessions come from $COLONY_SESSION, a
// definition that cannot run is refused up front, a waited call says at once
// why no reply will come, and errors say what is wrong.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <utility>
#include <future>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "colony/broker/broker.hpp"
#include "colony/shm/process.hpp"
#include "colony/worker/named.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<std::string> with_cli(std::vector<std::string> args) {
  args.insert(args.begin(), test::cli_path());
  return args;
}

// Stops the session at the end of a test, whatever happened in it.
struct StopAtEnd {
  std::string session;
  ~StopAtEnd() {
    (void)test::run_command(with_cli({"broker", "stop", "--session", session}), 30s);
    (void)test::run_command(with_cli({"clean", "--session", session}), 10s);
  }
};

// A directory of the test's own, removed with what is in it.
struct TemporaryDirectory {
  std::string path;
  TemporaryDirectory() {
    char name[] = "/tmp/colony-newcomer-XXXXXX";
    if (::mkdtemp(name) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = name;
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

std::string directory_of(const std::string& path) { return path.substr(0, path.rfind('/')); }
std::string file_of(const std::string& path) { return path.substr(path.rfind('/') + 1); }

long long milliseconds_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

}  // namespace

TEST_CASE("colony run gives EXE everything after it, options included", "[ipc]") {
  const std::string session = test::unique_session("exe");
  const auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"run", "--session", session});
    return test::run_command(with_cli(args), 30s);
  };
  const auto echoed = run({"/bin/echo", "-n", "hello"});
  CHECK(echoed.exit_code == 0);
  CHECK(echoed.out == "hello");
  CHECK(run({"sh", "-c", "echo hi"}).out == "hi\n");
  // colony run's own option names, after EXE, are EXE's; so are brackets.
  const auto forwarded = run({"/bin/sh", "-c", "printf '%s|' \"$COLONY_SESSION\" \"$@\"", "sh", "--session", "foo", "-p",
                              "x", "--worker", "w=y", "--help", "[a,b]", "--"});
  CHECK(forwarded.exit_code == 0);
  CHECK(forwarded.out == session + "|--session|foo|-p|x|--worker|w=y|--help|[a,b]|--|");
  const auto environment = run({"env", "--session", "foo"});
  CHECK(environment.out.find("COLONY_SESSION=foo") == std::string::npos);
  CHECK(environment.exit_code != 0);  // env itself refuses --session
  // Before EXE, options are colony's, in every spelling.
  CHECK(test::run_command(with_cli({"run", "--attach-timeout=60000", "--max-workers", "4", "--session=" + session, "--",
                                    "/bin/echo", "--", "x"}),
                          30s)
            .out == "-- x\n");
  const auto unknown = test::run_command(with_cli({"run", "--session", session, "--bogus", "/bin/echo", "x"}), 30s);
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("--bogus") != std::string::npos);
  CHECK(unknown.out.empty());
  CHECK(test::session_segments(session).empty());
}

TEST_CASE("broker start and run take their session from $COLONY_SESSION", "[ipc]") {
  const std::string session = test::unique_session("env");
  const std::vector<std::string> environment{"COLONY_SESSION=" + session};
  const StopAtEnd stop{session};
  const auto started =
      test::run_command(with_cli({"broker", "start", "--worker", "counter=" + test::worker_path() + " named"}), 20s, environment);
  REQUIRE(started.exit_code == 0);
  CHECK(started.out == session + "\n");
  CHECK(test::run_command(with_cli({"call", "counter", "add", "2", "--wait"}), 20s, environment).out == "2\n");
  CHECK(test::run_command(with_cli({"broker", "stop"}), 30s, environment).exit_code == 0);
  CHECK(test::session_segments(session).empty());

  const auto ran = test::run_command(with_cli({"run", "/bin/sh", "-c", "echo \"$COLONY_SESSION\""}), 30s, environment);
  CHECK(ran.exit_code == 0);
  CHECK(ran.out == session + "\n");
  // --session still wins.
  const std::string other = test::unique_session("given");
  CHECK(test::run_command(with_cli({"run", "--session", other, "/bin/sh", "-c", "echo \"$COLONY_SESSION\""}), 30s,
                          environment)
            .out == other + "\n");
  CHECK(test::session_segments(session).empty());
}

TEST_CASE("a named worker whose executable cannot run is refused before anything starts", "[ipc]") {
  const std::string session = test::unique_session("noexe");
  const StopAtEnd stop{session};
  struct Case {
    std::string executable;
    std::string reason;
  };
  const std::vector<Case> cases{{"/nonexistent/worker", "no such file"},
                                {"/etc/passwd", "not executable"},
                                {"/tmp", "not a regular file"},
                                {"colony-no-such-command", "not found in PATH"}};
  for (const auto& c : cases) {
    for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
             {"broker", "start", "--session", session, "--worker", "w=" + c.executable},
             {"run", "--session", session, "--worker", "w=" + c.executable}}) {
      const auto refused = test::run_command(with_cli(command), 20s);
      INFO(command[0] << ": " << refused.err);
      CHECK(refused.exit_code == 2);
      CHECK(refused.err.find("'w'") != std::string::npos);
      CHECK(refused.err.find(c.executable) != std::string::npos);
      CHECK(refused.err.find(c.reason) != std::string::npos);
      CHECK(test::session_segments(session).empty());
    }
  }
  // A path with a '/' is found from the current directory, as the launcher finds it.
  const std::string directory = directory_of(test::worker_path());
  const std::string relative = "w=./" + file_of(test::worker_path()) + " named";
  const auto elsewhere = test::run_command(
      {"/bin/sh", "-c", "cd / && exec \"$0\" broker start --session \"$1\" --worker \"$2\"", test::cli_path(), session, relative},
      20s);
  CHECK(elsewhere.exit_code == 2);
  CHECK(test::session_segments(session).empty());
  const auto here = test::run_command(
      {"/bin/sh", "-c", "cd \"$3\" && exec \"$0\" broker start --session \"$1\" --worker \"$2\"", test::cli_path(), session,
       relative, directory},
      20s);
  REQUIRE(here.exit_code == 0);
  CHECK(test::run_command(with_cli({"call", "--session", session, "w", "add", "3", "--wait"}), 20s).out == "3\n");
  CHECK(test::run_command(with_cli({"broker", "stop", "--session", session}), 30s).exit_code == 0);

  // A pipeline file's [[worker]]: the file and the line.
  const TemporaryDirectory files;
  const std::string pipeline = files.path + "/named.toml";
  std::ofstream(pipeline) << "[session]\nname = \"" << session << "\"\n\n[[worker]]\nname = \"w\"\nexec = \"./missing\"\n";
  const auto from_file = test::run_command(with_cli({"run", "--pipeline", pipeline}), 20s);
  INFO("pipeline: " << from_file.err);
  CHECK(from_file.exit_code == 2);
  CHECK(from_file.err.find(pipeline + ":6") != std::string::npos);  // the exec line
  CHECK(from_file.err.find("no such file") != std::string::npos);
  CHECK(test::session_segments(session).empty());
}

TEST_CASE("a waited call to a worker that fails to start says so at once", "[ipc]") {
  const std::string session = test::unique_session("nostart");
  const StopAtEnd stop{session};
  const TemporaryDirectory files;
  const std::string executable = files.path + "/worker";
  REQUIRE(::symlink(test::worker_path().c_str(), executable.c_str()) == 0);
  REQUIRE(test::run_command(with_cli({"broker", "start", "--session", session, "--worker", "w=" + executable + " named"}), 20s)
              .exit_code == 0);
  REQUIRE(::unlink(executable.c_str()) == 0);  // gone after the definition was accepted
  const auto start = Clock::now();
  const auto failed =
      test::run_command(with_cli({"call", "--session", session, "w", "get", "--wait", "--timeout", "60000"}), 90s);
  INFO("stderr: " << failed.err << " after " << milliseconds_since(start) << " ms");
  CHECK(failed.exit_code == 1);
  CHECK(failed.err.find("'w' failed to start") != std::string::npos);
  CHECK(failed.err.find(executable) != std::string::npos);
  CHECK(milliseconds_since(start) < 30'000);

  // Once supervision gave it up, a waited call says that, at once too.
  REQUIRE(test::eventually(
      [&] {
        const auto ps = test::run_command(with_cli({"ps", "--session", session, "--json", "--interval", "0"}), 10s);
        if (ps.exit_code != 0) return false;
        return Value::from_json(ps.out)["named_workers"].as_array().at(0)["supervision"].as_string() == "given-up";
      },
      60s));
  const auto later = Clock::now();
  const auto given_up =
      test::run_command(with_cli({"call", "--session", session, "w", "get", "--wait", "--timeout", "60000"}), 90s);
  INFO("stderr: " << given_up.err);
  CHECK(given_up.exit_code == 1);
  CHECK(given_up.err.find("gave up") != std::string::npos);
  CHECK(given_up.err.find("colony restart w") != std::string::npos);
  CHECK(milliseconds_since(later) < 30'000);
}

TEST_CASE("a waited call whose session ends says so at once", "[ipc]") {
  const std::string session = test::unique_session("ends");
  const StopAtEnd stop{session};
  REQUIRE(test::run_command(
              with_cli({"broker", "start", "--session", session, "--worker", "w=" + test::worker_path() + " named"}), 20s)
              .exit_code == 0);
  const auto start = Clock::now();
  auto waiter = std::async(std::launch::async, [&] {
    return test::run_command(with_cli({"call", "--session", session, "w", "sleep", "20000", "--wait", "--timeout", "60000"}),
                             90s);
  });
  REQUIRE(test::eventually([&] { return test::processes_in_session(session).size() == 1; }, 20s));
  CHECK(test::run_command(with_cli({"broker", "stop", "--session", session}), 30s).exit_code == 0);
  const auto ended = waiter.get();
  INFO("stderr: " << ended.err);
  CHECK(ended.exit_code == 1);
  CHECK(ended.err.find("session '" + session + "' ended") != std::string::npos);
  CHECK(ended.err.find("stays queued") == std::string::npos);
  CHECK(milliseconds_since(start) < 40'000);
}

TEST_CASE("a call to a session whose broker died fails, and a waited one says why no reply came", "[crash]") {
  const std::string session = test::unique_session("died");
  const StopAtEnd stop{session};
  const int broker_pid =
      test::spawn_command(with_cli({"run", "--session", session, "--worker", "w=" + test::worker_path() + " named"}));
  const auto colony = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"call", "--session", session});
    return test::run_command(with_cli(args), 90s);
  };
  REQUIRE(test::eventually([&] { return colony({"w", "add", "1", "--wait"}).out == "1\n"; }, 20s));
  const auto queued_calls = [&] {
    const auto ps = test::run_command(with_cli({"ps", "--session", session, "--json", "--interval", "0"}), 10s);
    return ps.exit_code == 0 ? Value::from_json(ps.out)["named_workers"].as_array().at(0)["queued"].as_int() : -1;
  };
  // One caller waits for the call in the handler at the kill, one for the call queued behind it.
  auto in_handler =
      std::async(std::launch::async, [&] { return colony({"w", "sleep", "20000", "--wait", "--timeout", "4000"}); });
  REQUIRE(test::eventually([&] { return queued_calls() == 1; }, 20s));
  auto queued = std::async(std::launch::async, [&] { return colony({"w", "get", "--wait", "--timeout", "60000"}); });
  REQUIRE(test::eventually([&] { return queued_calls() == 2; }, 20s));
  REQUIRE(subprocess::kill_process(broker_pid));
  CHECK(test::reap(broker_pid, 10s) != -1);
  // A broker taking the session over would answer both: they wait (the
  // take-over test shows the answer coming), and say at their timeout why
  // none came.
  const auto timed_out = in_handler.get();
  INFO("in handler: " << timed_out.err);
  CHECK(timed_out.exit_code == 3);
  CHECK(timed_out.err.find("the broker of session '" + session + "' (pid " + std::to_string(broker_pid) + ") died") !=
        std::string::npos);
  // New calls are refused: nothing would take them.
  for (const bool wait : {false, true}) {
    std::vector<std::string> args{"w", "add", "1"};
    if (wait) args.push_back("--wait");
    const auto refused = colony(args);
    INFO("wait " << wait << ": " << refused.err);
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("no live broker runs session '" + session + "'") != std::string::npos);
  }
  // Once the session's segments are removed no answer can come: the caller still waiting says so at once.
  const auto cleaned_at = Clock::now();
  CHECK(test::run_command(with_cli({"clean", "--session", session}), 10s).exit_code == 0);
  const auto ended = queued.get();
  INFO("queued: " << ended.err);
  CHECK(ended.exit_code == 1);
  CHECK(ended.err.find("session '" + session + "' ended") != std::string::npos);
  CHECK(milliseconds_since(cleaned_at) < 30'000);
  CHECK(test::eventually([&] { return test::processes_in_session(session).empty(); }, 10s));
}

TEST_CASE("errors name what is wrong: an unknown subcommand, a wrong or missing argument", "[ipc]") {
  const auto strat = test::run_command(with_cli({"broker", "strat"}), 10s);
  CHECK(strat.exit_code == 2);
  CHECK(strat.err.find("'strat'") != std::string::npos);
  CHECK(strat.err.find("start, stop, status") != std::string::npos);
  const auto bare = test::run_command(with_cli({"broker"}), 10s);
  CHECK(bare.exit_code == 2);
  CHECK(bare.err.find("start, stop, status") != std::string::npos);
  CHECK(test::run_command(with_cli({"broker", "--help"}), 10s).exit_code == 0);

  Broker broker(test::broker_options());
  broker.define_named_worker("counter", test::worker_path(), {"named"});
  const auto call_add = [&](std::vector<std::string> arguments) {
    std::vector<std::string> argv{"call", "--session", broker.session(), "counter", "add"};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    argv.push_back("--wait");
    return test::run_command(with_cli(argv), 20s);
  };
  const auto wrong_type = call_add({R"("x")"});
  CHECK(wrong_type.exit_code == 1);
  CHECK(wrong_type.err == "colony: method 'add' argument 1: expected an integer, got the string \"x\"\n");
  const auto an_array = call_add({"[1, 2]"});
  CHECK(an_array.err == "colony: method 'add' argument 1: expected an integer, got an array of 2\n");
  const auto missing = call_add({});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err == "colony: method 'add' takes at least 1 argument, got 0\n");
  CHECK(call_add({"4"}).out == "4\n");
  // From C++, arguments that are not a list say so.
  try {
    (void)call(broker.session(), "counter", "add", Value(4), CallOptions{true, 20s});
    FAIL("a call without a list of arguments succeeded");
  } catch (const WorkerError& e) {
    CHECK(std::string(e.what()) == "method 'add' arguments: expected an array, got the integer 4");
  }
}

TEST_CASE("a Value's errors say what was wanted and what was there, and which value refused", "[unit]") {
  const Value list = Value::Array{"x", std::string(100, 'y'), 2.5, Value::Map{{"k", 1}}};
  const auto error_of = [](const std::function<void()>& access) -> std::pair<std::string, const Value*> {
    try {
      access();
    } catch (const ValueError& e) {
      return {e.what(), e.value()};
    }
    return {"no error", nullptr};
  };
  CHECK(error_of([&] { (void)list[0].as_int(); }) == std::pair<std::string, const Value*>(
                                                        "expected an integer, got the string \"x\"", &list.as_array()[0]));
  CHECK(error_of([&] { (void)list[1].as_bool(); }).first ==
        "expected a bool, got the string \"" + std::string(40, 'y') + "\"... (100 bytes)");
  CHECK(error_of([&] { (void)list[2].as_string(); }).first == "expected a string, got the floating point number 2.5");
  CHECK(error_of([&] { (void)list[3].as_array(); }).first == "expected an array, got a map of 1");
  CHECK(error_of([&] { (void)list[4]; }) ==
        std::pair<std::string, const Value*>("index 4 is past the end of an array of 4", &list));
  CHECK(Value().describe() == "null");
  CHECK(Value(true).describe() == "the bool true");
  CHECK(Value(Value::Bytes(3)).describe() == "3 bytes");
  CHECK(Value(5).depth() == 0);
  CHECK(Value(Value::Array{}).depth() == 0);
  CHECK(list.depth() == 2);
  CHECK(Value::from_json("[[[]], {\"a\": [1]}]").depth() == 3);
}
