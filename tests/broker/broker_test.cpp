// The broker as a process: its end, its death by SIGKILL, `colony run` and
// `colony clean`, with real processes.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <csignal>
#include <fstream>
#include <future>
#include <thread>

#include "colony/broker/broker.hpp"
#include "colony/broker/clean.hpp"
#include "colony/shm/process.hpp"
#include "colony/worker/value.hpp"
#include "test_types.hpp"
#include "worker_test_support.hpp"
#include "child_process.hpp"

using namespace colony;
using namespace std::chrono_literals;

using test::reap;
using test::unique_session;

TEST_CASE("the broker's end stops its workers and removes every segment", "[ipc][threads]") {
  std::string session;
  std::vector<int> pids;
  {
    Broker broker(test::broker_options());
    session = broker.session();
    for (int i = 0; i < 3; ++i) {
      auto worker = broker.host().create(test::worker_path(), {"echo"});
      worker.start();
      pids.push_back(worker.pid());
    }
    CHECK_FALSE(test::session_segments(session).empty());
  }
  for (const int pid : pids) CHECK_FALSE(shm::process_is_alive(pid));
  CHECK(test::session_segments(session).empty());
}

TEST_CASE("a session name owned by a live broker is refused", "[ipc][threads]") {
  auto options = test::broker_options();
  Broker broker(options);
  try {
    Broker second(options);
    FAIL("two brokers own one session");
  } catch (const WorkerError& e) {
    CHECK(std::string(e.what()).find("live broker") != std::string::npos);
  }
  // The first is untouched.
  auto worker = broker.host().create(test::worker_path(), {"exit", "0"});
  worker.start();
  CHECK(worker.join(10s));
}

TEST_CASE("a broker killed with SIGKILL takes its workers along and colony clean removes the rest", "[crash]") {
  const std::string session = unique_session("kill");
  const int broker_pid =
      test::spawn_command({test::cli_path(), "run", "--session", session, test::worker_path(), "tree", "3"});
  REQUIRE(test::eventually([&] { return test::processes_in_session(session).size() == 3; }, 10s));
  REQUIRE(test::session_segments(session).size() > 3);

  std::vector<shm::ProcessIdentity> workers;
  for (const int pid : test::processes_in_session(session)) workers.push_back(shm::identity_of(pid));
  REQUIRE(subprocess::kill_process(broker_pid));
  reap(broker_pid, 5s);
  const auto killed_at = std::chrono::steady_clock::now();
  // A process that is exiting has already lost its environment (so it is no
  // longer listed in the session) while it still unmaps its memory, which
  // takes a while for a sanitized build: wait for the processes themselves.
  const auto all_gone = [&] {
    return std::none_of(workers.begin(), workers.end(), [](shm::ProcessIdentity worker) { return shm::is_alive(worker); });
  };
  CHECK(test::eventually(all_gone, 1500ms));
  const auto gone_after = std::chrono::steady_clock::now() - killed_at;
  UNSCOPED_INFO("workers gone " << std::chrono::duration_cast<std::chrono::milliseconds>(gone_after).count()
                                << " ms after the broker's death");
  CHECK(test::processes_in_session(session).empty());

  // The dead session's segments stay until someone cleans: colony clean does.
  CHECK_FALSE(test::session_segments(session).empty());
  const auto cleaned = test::run_command({test::cli_path(), "clean", "--session", session}, 10s);
  CHECK(cleaned.exit_code == 0);
  CHECK(cleaned.out.find("removed /colony." + session + ".ctl.session") != std::string::npos);
  CHECK(test::session_segments(session).empty());
}

TEST_CASE("colony clean never touches a live session", "[ipc]") {
  Broker broker(test::broker_options());
  const auto before = test::session_segments(broker.session());
  const auto cleaned = test::run_command({test::cli_path(), "clean", "--session", broker.session()}, 10s);
  CHECK(cleaned.exit_code == 0);
  CHECK(cleaned.out.find("kept session " + broker.session()) != std::string::npos);
  const auto as_json = test::run_command({test::cli_path(), "clean", "--session", broker.session(), "--json"}, 10s);
  CHECK(as_json.exit_code == 0);
  const auto listed = Value::from_json(as_json.out);
  CHECK(listed["removed"] == Value(Value::Array{}));
  CHECK(listed["kept_sessions"] == Value(Value::Array{broker.session()}));
  CHECK(test::session_segments(broker.session()) == before);
  CHECK(clean_dead_sessions({broker.session()}).removed.empty());
}

TEST_CASE("colony run exits with the worker's exit code and reports a death by signal", "[ipc]") {
  const std::string session = unique_session("run");
  SECTION("exit code") {
    const auto result = test::run_command({test::cli_path(), "run", "--session", session, test::worker_path(), "exit", "7"}, 20s);
    CHECK(result.finished);
    CHECK(result.exit_code == 7);
  }
  SECTION("signal") {
    const auto result = test::run_command({test::cli_path(), "run", "--session", session, test::worker_path(), "signal", "9"}, 20s);
    CHECK(result.exit_code == 128 + 9);
    CHECK(result.err.find("killed by signal 9") != std::string::npos);
  }
  SECTION("a missing executable") {
    const auto result = test::run_command({test::cli_path(), "run", "--session", session, "/nonexistent/worker"}, 20s);
    CHECK(result.exit_code == 127);
    CHECK(result.err.find("/nonexistent/worker") != std::string::npos);
  }
  SECTION("with a named worker the session offers") {
    const auto result = test::run_command({test::cli_path(), "run", "--session", session, "--worker",
                                           "counter=" + test::worker_path() + " named", test::worker_path(),
                                           "call-and-exit", "counter"},
                                          30s);
    CHECK(result.exit_code == 3);
    const auto bad = test::run_command({test::cli_path(), "run", "--worker", "=nothing", test::worker_path()}, 10s);
    CHECK(bad.exit_code == 2);
  }
  SECTION("a bad argument") {
    const auto result = test::run_command({test::cli_path(), "run", "--max-workers", "zero", test::worker_path()}, 20s);
    CHECK(result.exit_code == 2);
    CHECK_FALSE(result.err.empty());
  }
  SECTION("SIGTERM ends the session cleanly") {
    const int pid = test::spawn_command({test::cli_path(), "run", "--session", session, test::worker_path(), "echo"});
    REQUIRE(test::eventually([&] { return test::processes_in_session(session).size() == 1; }, 10s));
    (void)subprocess::ask_to_end(pid);
    const int status = reap(pid, 10s);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 128 + SIGTERM);
  }
  CHECK(test::session_segments(session).empty());
  CHECK(test::processes_in_session(session).empty());
}

TEST_CASE("the colony command refuses bad input with one clear line and exit code 2", "[unit]") {
  const auto unknown = test::run_command({test::cli_path(), "launch"}, 10s);
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("unknown command 'launch'") != std::string::npos);
  const auto bad_session = test::run_command({test::cli_path(), "clean", "--session", "no/slashes"}, 10s);
  CHECK(bad_session.exit_code == 2);
  CHECK(bad_session.err.find("no/slashes") != std::string::npos);
  const auto no_executable = test::run_command({test::cli_path(), "run"}, 10s);
  CHECK(no_executable.exit_code == 2);
  CHECK(no_executable.err.find("executable") != std::string::npos);
  const auto help = test::run_command({test::cli_path(), "--help"}, 10s);
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("clean") != std::string::npos);
}

TEST_CASE("colony run exits with 126 when its worker never attaches, and leaves nothing behind", "[ipc]") {
  const std::string session = unique_session("unattached");
  // The worker sleeps a minute without attaching: the broker gives up on it after 300 ms.
  const auto result = test::run_command(
      {test::cli_path(), "run", "--session", session, "--attach-timeout", "300", test::worker_path(), "not-a-worker"}, 30s);
  CHECK(result.finished);
  CHECK(result.exit_code == 126);
  CHECK(result.err.find("did not attach to the session within 300 ms") != std::string::npos);
  CHECK(test::processes_in_session(session).empty());
  CHECK(test::session_segments(session).empty());
}

TEST_CASE("a broker killed before its worker attached still leaves no process", "[crash]") {
  const std::string session = unique_session("early");
  const int broker_pid = test::spawn_command(
      {test::cli_path(), "run", "--session", session, "--attach-timeout", "60000", test::worker_path(), "not-a-worker"});
  REQUIRE(test::eventually([&] { return test::processes_in_session(session).size() == 1; }, 10s));
  REQUIRE(subprocess::kill_process(broker_pid));
  reap(broker_pid, 5s);
  // The worker never attached, so it never armed anything itself: the broker
  // armed its death signal before exec.
  CHECK(test::eventually([&] { return test::processes_in_session(session).empty(); }, 1500ms));
  const auto cleaned = test::run_command({test::cli_path(), "clean", "--session", session}, 10s);
  CHECK(cleaned.exit_code == 0);
  CHECK(test::session_segments(session).empty());
}

TEST_CASE("a broker refuses to start where SIGCHLD is ignored", "[unit]") {
  struct sigaction ignore {};
  struct sigaction previous {};
  ignore.sa_handler = SIG_IGN;
  REQUIRE(::sigaction(SIGCHLD, &ignore, &previous) == 0);
  try {
    Broker broker(test::broker_options());
    FAIL("a broker started with SIGCHLD ignored");
  } catch (const WorkerError& e) {
    CHECK(std::string(e.what()).find("SIGCHLD") != std::string::npos);
  }
  ::sigaction(SIGCHLD, &previous, nullptr);
}

TEST_CASE("a worker reaped behind the broker's back still ends, reported as unknown or as its signal", "[crash]") {
  Broker broker(test::broker_options());
  auto worker = broker.host().create(test::worker_path(), {"idle"});
  worker.start();
  const int pid = worker.pid();
  REQUIRE(subprocess::kill_process(pid));
  int status = 0;
  ::waitpid(pid, &status, 0);  // races the broker's reaper: either may win
  const auto ended = worker.join(10s);
  REQUIRE(ended);
  const bool reported_signal = ended->kind == ExitStatus::Kind::signaled && ended->signal == SIGKILL;
  const bool reported_unknown = ended->reason.find("unknown") != std::string::npos;
  CHECK((reported_signal || reported_unknown));
}

TEST_CASE("a shell session: colony broker start, call, status and stop", "[ipc]") {
  const std::string session = unique_session("shell");
  const auto started = test::run_command(
      {test::cli_path(), "broker", "start", "--session", session, "--worker", "counter=" + test::worker_path() + " named"},
      20s);
  REQUIRE(started.exit_code == 0);
  CHECK(started.out == session + "\n");
  const auto status = test::run_command({test::cli_path(), "broker", "status", "--session", session, "--json"}, 10s);
  CHECK(status.exit_code == 0);
  const auto parsed = Value::from_json(status.out);
  CHECK(parsed["live"].as_bool());
  const int broker_pid = static_cast<int>(parsed["broker_pid"].as_int());

  CHECK(test::run_command({test::cli_path(), "call", "--session", session, "counter", "add", "5"}, 10s).exit_code == 0);
  // The session from the environment, as inside a worker.
  const auto added = test::run_command({test::cli_path(), "call", "counter", "add", "7", "--wait"}, 20s,
                                       {"COLONY_SESSION=" + session});
  CHECK(added.exit_code == 0);
  CHECK(added.out == "12\n");
  const auto not_json = test::run_command({test::cli_path(), "call", "--session", session, "counter", "add", "seven"}, 10s);
  CHECK(not_json.exit_code == 2);
  CHECK(not_json.err.find("argument 1 is not a JSON value") != std::string::npos);
  const auto unknown = test::run_command({test::cli_path(), "call", "--session", session, "Counter", "get"}, 10s);
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("no worker named 'Counter'") != std::string::npos);
  const auto no_session = test::run_command({test::cli_path(), "call", "counter", "get"}, 10s);
  CHECK(no_session.exit_code == 2);
  const auto dead_session = test::run_command({test::cli_path(), "ps", "--session", session + "x"}, 10s);
  CHECK(dead_session.exit_code == 1);
  CHECK(dead_session.err == "colony: no live broker runs session '" + session + "x'\n");
  const auto failed = test::run_command({test::cli_path(), "call", "--session", session, "counter", "fail", "--wait"}, 20s);
  CHECK(failed.exit_code == 1);
  CHECK_FALSE(failed.err.empty());
  const auto text_status = test::run_command({test::cli_path(), "broker", "status", "--session", session}, 10s);
  CHECK(text_status.exit_code == 0);
  CHECK(text_status.out.find(session) != std::string::npos);
  // A reply that does not come in time: exit code 3, and the call still runs.
  CHECK(test::run_command({test::cli_path(), "call", "--session", session, "counter", "sleep", "1500"}, 10s).exit_code == 0);
  const auto late = test::run_command(
      {test::cli_path(), "call", "--session", session, "counter", "get", "--wait", "--timeout", "100"}, 10s);
  CHECK(late.exit_code == 3);
  CHECK(late.err.find("100 ms") != std::string::npos);
  CHECK(test::run_command({test::cli_path(), "call", "--session", session, "counter", "get", "--wait"}, 20s).out ==
        "12\n");

  const auto stopped = test::run_command({test::cli_path(), "broker", "stop", "--session", session}, 30s);
  CHECK(stopped.exit_code == 0);
  CHECK_FALSE(shm::process_is_alive(broker_pid));
  CHECK(test::session_segments(session).empty());
  CHECK(test::processes_in_session(session).empty());
  CHECK(test::run_command({test::cli_path(), "broker", "status", "--session", session}, 10s).exit_code == 1);
  CHECK(test::run_command({test::cli_path(), "broker", "stop", "--session", session}, 10s).exit_code == 1);
}

TEST_CASE("colony kill, terminate, ps and deadletters from a shell", "[ipc]") {
  const std::string session = unique_session("named");
  const std::vector<std::string> environment{"COLONY_SESSION=" + session};
  const auto colony = [&](std::vector<std::string> args, std::chrono::milliseconds timeout = 20s) {
    args.insert(args.begin(), test::cli_path());
    return test::run_command(args, timeout, environment);
  };
  REQUIRE(colony({"broker", "start", "--session", session, "--worker", "counter=" + test::worker_path() + " named",
                  "--worker", "fragile=" + test::worker_path() + " named"})
              .exit_code == 0);

  SECTION("kill drops what is queued and ends the worker after its current call") {
    // Calls that leave lines in a file: what ran shows even after its process is gone.
    const test::ScratchDirectory directory("kill");
    const auto json = [](const std::string& text) { return Value(text).to_json(); };
    const std::string log = directory.file("log");
    const std::string release = directory.file("release");
    const auto read_log = [&] { return test::read_file(log); };

    const int first_pid = std::stoi(colony({"call", "counter", "pid", "--wait"}).out);
    // The current call: it runs until the release file exists.
    REQUIRE(colony({"call", "counter", "hold", json(log), json(release)}).exit_code == 0);
    for (int i = 0; i < 5; ++i) REQUIRE(colony({"call", "counter", "note", json(log), json("queued " + std::to_string(i))}).exit_code == 0);
    REQUIRE(test::eventually([&] { return read_log() == "begin\n"; }, 10s));
    const auto killed = colony({"kill", "counter"});
    CHECK(killed.exit_code == 0);
    CHECK(killed.out.find("killed worker counter") != std::string::npos);
    std::ofstream(release).put('\n');
    // The current call finished, then the process ended without running the five queued calls.
    CHECK(test::eventually([&] { return !shm::process_is_alive(first_pid); }, 10s));
    CHECK(read_log() == "begin\nend\n");
    // A new call starts a new process; the queued calls did not wait for it either.
    CHECK(std::stoi(colony({"call", "counter", "pid", "--wait"}).out) != first_pid);
    CHECK(read_log() == "begin\nend\n");
  }
  SECTION("terminate ends the process at once and ps reports the restart") {
    REQUIRE(colony({"call", "fragile", "add", "1", "--wait"}).exit_code == 0);
    // Its reply comes before the call leaves the mailbox: a terminate in
    // between would end it inside the call, which then runs again.
    REQUIRE(test::eventually(
        [&] {
          const auto ps = Value::from_json(colony({"ps", "--json", "--interval", "0"}).out);
          for (const auto& worker : ps["named_workers"].as_array()) {
            if (worker["name"].as_string() == "fragile") return worker["queued"].as_int() == 0;
          }
          return false;
        },
        10s));
    CHECK(colony({"terminate", "fragile"}).exit_code == 0);
    REQUIRE(test::eventually(
        [&] {
          const auto ps = Value::from_json(colony({"ps", "--json"}).out);
          for (const auto& worker : ps["named_workers"].as_array()) {
            if (worker["name"].as_string() == "fragile") return !worker["last_exit"].is_null();
          }
          return false;
        },
        10s));
    CHECK(colony({"call", "fragile", "get", "--wait"}).out == "0\n");  // a new process
    const auto ps = Value::from_json(colony({"ps", "--json"}).out);
    bool found = false;
    for (const auto& worker : ps["named_workers"].as_array()) {
      if (worker["name"].as_string() != "fragile") continue;
      found = true;
      CHECK(worker["restarts"].as_int() == 1);
      CHECK(worker["last_exit"]["signal"].as_int() == 9);
      CHECK(worker["state"].as_string() == "running");
    }
    CHECK(found);
    CHECK(colony({"ps"}).out.find("fragile") != std::string::npos);
  }
  SECTION("a poison call is dead-lettered, listed, replayed and dropped") {
    CHECK(colony({"deadletters", "list", "fragile"}).out.empty());
    REQUIRE(colony({"call", "fragile", "die", "[1, 2]"}).exit_code == 0);
    REQUIRE(colony({"call", "fragile", "add", "5"}).exit_code == 0);
    // Three processes die on it, the fourth buries it and handles the add.
    CHECK(colony({"call", "fragile", "get", "--wait"}).out == "5\n");
    const auto listed = colony({"deadletters", "list", "fragile", "--json"});
    CHECK(listed.exit_code == 0);
    const auto letter = Value::from_json(listed.out);
    CHECK(letter["method"].as_string() == "die");
    CHECK(letter["attempts"].as_int() == 3);
    CHECK(letter["args"] == Value(Value::Array{Value::Array{1, 2}}));  // one argument, the array typed
    CHECK(colony({"deadletters", "replay", "fragile"}).out.find("replayed 1") != std::string::npos);
    // Replayed, it kills three more processes and is buried again.
    CHECK(test::eventually([&] { return !colony({"deadletters", "list", "fragile"}).out.empty(); }, 20s));
    CHECK(colony({"deadletters", "drop", "fragile"}).out.find("dropped 1") != std::string::npos);
    CHECK(colony({"deadletters", "list", "fragile"}).out.empty());
    CHECK(colony({"deadletters", "list", "nobody"}).exit_code == 1);
    CHECK(colony({"deadletters", "bury", "fragile"}).exit_code == 2);
  }
  CHECK(colony({"kill", "nobody"}).exit_code == 1);
  CHECK(colony({"broker", "stop"}, 30s).exit_code == 0);
  CHECK(test::session_segments(session).empty());
}

TEST_CASE("colony bytes and colony prop from a shell", "[ipc]") {
  const std::string session = unique_session("data");
  const std::vector<std::string> environment{"COLONY_SESSION=" + session};
  const auto colony = [&](std::vector<std::string> args, std::chrono::milliseconds timeout = 20s) {
    args.insert(args.begin(), test::cli_path());
    return test::run_command(args, timeout, environment);
  };
  REQUIRE(colony({"broker", "start", "--session", session, "--worker", "counter=" + test::worker_path() + " named"})
              .exit_code == 0);

  const auto created = colony({"bytes", "create", "frame", "64"});
  CHECK(created.exit_code == 0);
  CHECK(created.out == "/colony." + session + ".bytes.frame\n");
  const auto info = Value::from_json(colony({"bytes", "info", "frame", "--json"}).out);
  CHECK(info["os_name"].as_string() == "/colony." + session + ".bytes.frame");
  CHECK(info["data_offset"].as_int() == 4096);
  CHECK(info["capacity"].as_int() == 64);
  CHECK(colony({"bytes", "write", "frame", "0", "hello"}).exit_code == 0);
  CHECK(colony({"bytes", "read", "frame", "0", "5"}).out == "hello");
  CHECK(colony({"bytes", "read", "frame", "0", "6", "--hex"}).out == "68656c6c6f00\n");
  CHECK(colony({"bytes", "cas", "frame", "8", "0", "7"}).exit_code == 0);  // swapped
  const auto not_swapped = colony({"bytes", "cas", "frame", "8", "0", "9"});
  CHECK(not_swapped.exit_code == 1);
  CHECK(not_swapped.out == "7\n");
  CHECK(colony({"bytes", "wait", "frame", "8", "7", "--timeout", "50"}).exit_code == 3);
  // A waiter in another process, woken by notify.
  int waiter_status = -1;
  {
    auto waiter = std::async(std::launch::async, [&] {
      return colony({"bytes", "wait", "frame", "12", "0", "--timeout", "10000"});
    });
    bool woken = false;
    for (int i = 0; i < 200 && !woken; ++i) {
      woken = colony({"bytes", "notify", "frame", "12"}).out == "1\n";
      if (!woken) std::this_thread::sleep_for(20ms);
    }
    CHECK(woken);
    const auto result = waiter.get();
    waiter_status = result.exit_code;
    CHECK(result.out == "notified\n");
  }
  CHECK(waiter_status == 0);
  CHECK(colony({"bytes", "read", "frame", "60", "8"}).exit_code == 1);  // past the end: a clear error
  CHECK(colony({"bytes", "read", "nothing", "0", "1"}).exit_code == 1);
  CHECK(colony({"bytes", "create", "ch3", "8"}).exit_code == 2);
  CHECK(colony({"bytes", "cas", "frame", "eight", "0", "1"}).exit_code == 2);

  REQUIRE(colony({"call", "counter", "add", "1", "--wait"}).exit_code == 0);  // a process, so properties exist
  CHECK(colony({"prop", "set", "counter", "config", R"({"size": 3, "tags": ["a"]})"}).exit_code == 0);
  CHECK(Value::from_json(colony({"prop", "get", "counter", "config"}).out) ==
        Value(Value::Map{{"size", 3}, {"tags", Value::Array{"a"}}}));
  CHECK(colony({"prop", "get", "counter", "absent"}).exit_code == 1);
  CHECK(colony({"prop", "set", "counter", "config", "{oops"}).exit_code == 2);
  CHECK(colony({"prop", "get", "nobody", "config"}).exit_code == 1);

  CHECK(colony({"broker", "stop"}, 30s).exit_code == 0);
  CHECK(test::session_segments(session).empty());
}

TEST_CASE("colony send and recv on channels from a shell", "[ipc]") {
  Broker broker(test::broker_options());
  const std::vector<std::string> environment{"COLONY_SESSION=" + broker.session()};
  const auto colony = [&](std::vector<std::string> args) {
    args.insert(args.begin(), test::cli_path());
    return test::run_command(args, 20s, environment);
  };
  // The shell receives what a worker (here the host) sends...
  auto outgoing = MessageChannel::create();
  outgoing.send(Value(Value::Map{{"n", 1}}));
  outgoing.send(std::string("plain string"));
  const auto received = colony({"recv", "ch" + std::to_string(outgoing.id()), "--count", "2"});
  CHECK(received.exit_code == 0);
  CHECK(received.out == "{\"n\":1}\n\"plain string\"\n");
  CHECK(colony({"recv", std::to_string(outgoing.id()), "--timeout", "50"}).exit_code == 3);
  // ...and sends what a worker receives.
  auto incoming = MessageChannel::create();
  CHECK(colony({"send", "ch" + std::to_string(incoming.id()), "[1, \"two\"]"}).exit_code == 0);
  const auto got = incoming.receive<Value>(5s);
  REQUIRE(got.ok());
  CHECK(*got.value == Value(Value::Array{1, "two"}));
  CHECK(colony({"send", "ch" + std::to_string(incoming.id()), "not json"}).exit_code == 2);
  CHECK(colony({"send", "ch999999", "1"}).exit_code == 1);
  CHECK(colony({"send", "chX", "1"}).exit_code == 2);
  // ps lists both channels, with their counters and the rates over --interval.
  const auto ps = Value::from_json(colony({"ps", "--json", "--interval", "50"}).out);
  int listed = 0;
  for (const auto& channel : ps["channels"].as_array()) {
    if (channel["name"].as_string() == "ch" + std::to_string(outgoing.id())) {
      ++listed;
      CHECK(channel["sent"].as_int() == 2);
      CHECK(channel["received"].as_int() == 2);
      CHECK(channel["depth"].as_int() == 0);
      CHECK(channel["capacity_bytes"].as_int() > 0);
      CHECK(channel["sent_per_s"].as_double() == 0.0);  // nothing moved while ps looked
    }
    if (channel["name"].as_string() == "ch" + std::to_string(incoming.id())) ++listed;
  }
  CHECK(listed == 2);
  const auto table = colony({"ps"}).out;
  CHECK(table.find("SENT/S") != std::string::npos);
  CHECK(table.find("ch" + std::to_string(outgoing.id())) != std::string::npos);
  // One sender per channel: the host sends on `outgoing`, so the shell may not.
  const auto busy = colony({"send", "ch" + std::to_string(outgoing.id()), "1"});
  CHECK(busy.exit_code == 1);
  CHECK_FALSE(busy.err.empty());
}
