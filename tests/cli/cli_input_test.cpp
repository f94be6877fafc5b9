// The colony command takes its input exactly as typed and in bounded memory:
// every JSON argument reaches the worker as the JSON the user wrote, a length
// is checked before anything is allocated for it, and whatever comes out of
// shared memory, the JSON colony prints stays JSON.
#include <unistd.h>

#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "colony/broker/broker.hpp"
#include "colony/subprocess/child.hpp"
#include "colony/worker/channel.hpp"
#include "colony/worker/named.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

// A named worker that answers with what it was given; its method "\xff"
// (not UTF-8) dies, so that a call with that name is dead-lettered.
COLONY_CHILD_SCENARIO("echo-arguments") {
  Methods methods;
  methods.on("args", [](const Call& call) { return call.args; });
  methods.on("\xff", [](const Call&) -> Value {
    std::raise(SIGKILL);
    return {};
  });
  return methods.serve();
}

namespace {

std::string self_path() { return subprocess::self_executable(); }

// depth brackets: "[[[]]]" for 3.
std::string nested_arrays(int depth) {
  const auto count = static_cast<std::size_t>(depth);
  return std::string(count, '[') + std::string(count, ']');
}

Value nested_value(int depth) {
  Value value = Value::Array{};
  for (int i = 1; i < depth; ++i) value = Value::Array{value};
  return value;
}

// A directory of the test's own, removed with what is in it on every way out.
struct TemporaryDirectory {
  std::string path;
  TemporaryDirectory() {
    char name[] = "/tmp/colony-utf8-XXXXXX";
    if (::mkdtemp(name) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = name;
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

}  // namespace

TEST_CASE("colony call passes every JSON argument to the worker exactly as typed", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("echo", self_path(), {"--child", "echo-arguments"});
  struct Case {
    std::vector<std::string> typed;
    const char* received;  // the worker's call.args, as JSON
  };
  const std::vector<Case> cases{
      {{"[5,7]"}, "[[5,7]]"},
      {{"[[1]]"}, "[[[1]]]"},
      {{"[]"}, "[[]]"},
      {{R"(["a,b", "c"])"}, R"([["a,b","c"]])"},
      {{R"([",", "[x]"])"}, R"([[",","[x]"]])"},
      {{R"({"k": [1, 2], "s": "x,y"})"}, R"([{"k":[1,2],"s":"x,y"}])"},
      {{"1", "[2,3]", R"("four")", "-5", "[]", "{}"}, R"([1,[2,3],"four",-5,[],{}])"},
      {{}, "[]"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv{test::cli_path(), "call", "--session", broker.session(), "echo", "args"};
    argv.insert(argv.end(), c.typed.begin(), c.typed.end());
    // Options after the arguments are still colony's.
    argv.insert(argv.end(), {"--wait", "--timeout", "20000"});
    const auto result = test::run_command(argv, 30s);
    INFO("typed " << c.typed.size() << " arguments, the first " << (c.typed.empty() ? "-" : c.typed.front()));
    INFO("stderr: " << result.err);
    CHECK(result.exit_code == 0);
    CHECK(result.out == std::string(c.received) + "\n");
  }
  // An option colony does not know is an error, not an argument.
  const auto unknown = test::run_command(
      {test::cli_path(), "call", "--session", broker.session(), "echo", "args", "1", "--wiat"}, 20s);
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("--wiat") != std::string::npos);
}

TEST_CASE("colony call refuses arguments nested past the limit with exit 2, and queues nothing", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("echo", self_path(), {"--child", "echo-arguments"});
  const auto call_echo = [&](const std::string& argument) {
    return test::run_command(
        {test::cli_path(), "call", "--session", broker.session(), "echo", "args", argument, "--wait", "--timeout", "20000"},
        30s);
  };
  // Value nests kMaxDepth levels below its top (129 brackets); the list of a
  // call's arguments is one of them, so an argument may have 128 brackets.
  const auto deepest = call_echo(nested_arrays(Value::kMaxDepth));
  INFO("stderr: " << deepest.err);
  CHECK(deepest.exit_code == 0);
  CHECK(deepest.out == nested_arrays(Value::kMaxDepth + 1) + "\n");
  for (const int depth : {Value::kMaxDepth + 1, Value::kMaxDepth + 2, 10'000}) {
    const auto refused = call_echo(nested_arrays(depth));
    INFO("depth " << depth << ", stderr: " << refused.err);
    CHECK(refused.exit_code == 2);
    CHECK(refused.err.find("argument 1") != std::string::npos);
    CHECK(refused.err.find("nested deeper than") != std::string::npos);
  }
  // From C++ too: a call no worker could decode is refused before it is queued.
  try {
    (void)call(broker.session(), "echo", "args", nested_value(Value::kMaxDepth + 2), CallOptions{true, 5s});
    FAIL("a call nested too deep was accepted");
  } catch (const WorkerError& e) {
    CHECK(e.code() == WorkerErrc::undecodable);
    CHECK(std::string(e.what()).find("nested deeper than") != std::string::npos);
  }
  // Only the one accepted call ever reached the mailbox.
  const bool settled = test::eventually(
      [&] {
        const auto ps = test::run_command(
            {test::cli_path(), "ps", "--session", broker.session(), "--json", "--interval", "0"}, 10s);
        if (ps.exit_code != 0) return false;
        const auto parsed = Value::from_json(ps.out);
        for (const auto& worker : parsed["named_workers"].as_array()) {
          if (worker["name"].as_string() == "echo") return worker["handled"].as_int() == 1 && worker["queued"].as_int() == 0;
        }
        return false;
      },
      10s);
  CHECK(settled);
}

TEST_CASE("colony send, prop set and bytes write take brackets and commas exactly as typed", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("echo", self_path(), {"--child", "echo-arguments"});
  const std::vector<std::string> environment{"COLONY_SESSION=" + broker.session()};
  const auto colony = [&](std::vector<std::string> args) {
    args.insert(args.begin(), test::cli_path());
    return test::run_command(args, 20s, environment);
  };
  auto incoming = MessageChannel::create();
  const std::string channel = "ch" + std::to_string(incoming.id());
  for (const char* typed : {"[[1],[2,[3]]]", R"(["a,b"])", "[]"}) {
    INFO(typed);
    REQUIRE(colony({"send", channel, typed}).exit_code == 0);
    const auto got = incoming.receive<Value>(5s);
    REQUIRE(got.ok());
    CHECK(*got.value == Value::from_json(typed));
  }
  REQUIRE(colony({"send", channel, nested_arrays(Value::kMaxDepth + 1)}).exit_code == 0);
  const auto deepest = incoming.receive<Value>(5s);
  REQUIRE(deepest.ok());
  CHECK(*deepest.value == nested_value(Value::kMaxDepth + 1));
  CHECK(colony({"send", channel, nested_arrays(Value::kMaxDepth + 2)}).exit_code == 2);

  REQUIRE(colony({"call", "echo", "args", "--wait"}).exit_code == 0);  // a process, so properties exist
  REQUIRE(colony({"prop", "set", "echo", "list", R"([[1],["a,b"]])"}).exit_code == 0);
  CHECK(colony({"prop", "get", "echo", "list"}).out == "[[1],[\"a,b\"]]\n");
  CHECK(colony({"prop", "set", "echo", "list", nested_arrays(Value::kMaxDepth + 2)}).exit_code == 2);

  REQUIRE(colony({"bytes", "create", "text", "64"}).exit_code == 0);
  const auto written = colony({"bytes", "write", "text", "0", "[a,b]"});
  INFO("stderr: " << written.err);
  CHECK(written.exit_code == 0);
  CHECK(colony({"bytes", "read", "text", "0", "5"}).out == "[a,b]");
}

TEST_CASE("colony bytes checks offsets and lengths against the array before allocating for them", "[ipc]") {
  Broker broker(test::broker_options());
  const std::vector<std::string> environment{"COLONY_SESSION=" + broker.session()};
  const auto colony = [&](std::vector<std::string> args) {
    args.insert(args.begin(), test::cli_path());
    return test::run_command(args, 30s, environment);
  };
  REQUIRE(colony({"bytes", "create", "page", "4096"}).exit_code == 0);
  // A gigabyte asked of a 4 KiB array: refused without touching that memory.
  const auto gigabyte = test::run_command({test::cli_path(), "bytes", "read", "page", "0", "1073741824"}, 60s, environment);
  CHECK(gigabyte.exit_code == 1);
  CHECK(gigabyte.peak_rss_kib > 0);  // measured, not left at its default
  CHECK(gigabyte.peak_rss_kib < 256 * 1024);
  for (const std::vector<std::string>& refused : std::vector<std::vector<std::string>>{
           {"bytes", "read", "page", "0", "1099511627776"},
           {"bytes", "read", "page", "18446744073709551615", "2"},
           {"bytes", "read", "page", "4000", "97"},
           {"bytes", "write", "page", "4095", "ab"},
           {"bytes", "write", "page", "18446744073709551615", "ab"},
           {"bytes", "cas", "page", "4096", "0", "1"},
       }) {
    const auto result = colony(refused);
    INFO(refused[1] << " " << refused[3] << " " << refused[4] << ": " << result.err);
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("beyond the length 4096") != std::string::npos);
  }
  // Built by append: string(n, c) + "\n" trips g++ 12's -Warray-bounds in the TSan build.
  std::string zeros(192, '0');
  zeros += '\n';
  CHECK(colony({"bytes", "read", "page", "4000", "96", "--hex"}).out == zeros);
}

TEST_CASE("a worker name that is not UTF-8 is refused at definition, and colony's JSON stays valid", "[ipc]") {
  const std::string bad_name = "bad\xff";
  SECTION("broker start and run refuse the definition, and start nothing") {
    const std::string session = test::unique_session("utf");
    for (const char* command : {"broker start", "run"}) {
      std::vector<std::string> argv{test::cli_path()};
      if (std::string(command) == "broker start") {
        argv.insert(argv.end(), {"broker", "start"});
      } else {
        argv.push_back("run");
      }
      argv.insert(argv.end(), {"--session", session, "--worker", bad_name + "=" + test::worker_path() + " named"});
      const auto refused = test::run_command(argv, 20s);
      if (refused.exit_code == 0) (void)test::run_command({test::cli_path(), "broker", "stop", "--session", session}, 30s);
      INFO(command << ": " << refused.err);
      CHECK(refused.exit_code == 2);
      CHECK(refused.err.find("UTF-8") != std::string::npos);
      CHECK(test::session_segments(session).empty());
    }
  }
  SECTION("names, methods and executables from shared memory are printed as valid JSON") {
    // The C++ API defines what the command line refuses; shared memory may
    // hold anything.
    const TemporaryDirectory directory;
    const std::string executable = directory.path + "/echo\xfe";
    REQUIRE(::symlink(self_path().c_str(), executable.c_str()) == 0);
    {
      Broker broker(test::broker_options());
      broker.define_named_worker(bad_name, executable, {"--child", "echo-arguments"}, 1);
      const std::vector<std::string> environment{"COLONY_SESSION=" + broker.session()};
      const auto colony = [&](std::vector<std::string> args) {
        args.insert(args.begin(), test::cli_path());
        return test::run_command(args, 20s, environment);
      };
      CHECK(colony({"call", bad_name, "args", R"("ok")", "--wait"}).out == "[\"ok\"]\n");
      const auto ps = colony({"ps", "--json", "--interval", "0"});
      INFO("ps: " << ps.err);
      REQUIRE(ps.exit_code == 0);
      const auto parsed = Value::from_json(ps.out);
      REQUIRE(parsed["named_workers"].size() == 1);
      CHECK(parsed["named_workers"].as_array().at(0)["name"].as_string() == "bad\xEF\xBF\xBD");  // U+FFFD where it broke
      bool listed = false;
      for (const auto& process : parsed["workers"].as_array()) {
        listed = listed || process["executable"].as_string() == directory.path + "/echo\xEF\xBF\xBD";
      }
      CHECK(listed);
      CHECK(colony({"ps", "--interval", "0"}).exit_code == 0);
      const auto top = colony({"top", "--once", "--json"});
      CHECK(top.exit_code == 0);
      CHECK_NOTHROW(Value::from_json(top.out));

      // A call whose method is not UTF-8 kills the worker once, and is dead-lettered.
      REQUIRE(colony({"call", bad_name, "\xff"}).exit_code == 0);
      REQUIRE(test::eventually([&] { return !colony({"deadletters", "list", bad_name, "--json"}).out.empty(); }, 20s));
      const auto letters = colony({"deadletters", "list", bad_name, "--json"});
      INFO("deadletters: " << letters.err);
      CHECK(letters.exit_code == 0);
      CHECK(Value::from_json(letters.out)["method"].as_string() == "\xEF\xBF\xBD");
      const auto after = colony({"ps", "--json", "--interval", "0"});
      CHECK(after.exit_code == 0);
      CHECK_NOTHROW(Value::from_json(after.out));
    }
  }
}
