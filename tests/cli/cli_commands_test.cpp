// Every subcommand `colony --help` lists has its help and reaches its own
// handler, and a word that is no subcommand is refused with the list of
// those that are. A new subcommand without a probe here fails the first test:
// give it one.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

namespace {

// colony_bench stands in for itself: bench hands its words to $COLONY_BENCH.
const std::vector<std::string> kEnvironment{"COLONY_BENCH=/bin/echo"};

test::CommandResult run_colony(const std::vector<std::string>& args) {
  std::vector<std::string> argv{test::cli_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_command(argv, 20s, kEnvironment);
}

// The subcommands in the help's "Subcommands:" section, in its order.
std::vector<std::string> listed_subcommands() {
  const auto help = run_colony({"--help"});
  REQUIRE(help.exit_code == 0);
  std::vector<std::string> names;
  std::istringstream lines(help.out);
  bool in_section = false;
  for (std::string line; std::getline(lines, line);) {
    if (line == "Subcommands:") {
      in_section = true;
    } else if (in_section && line.starts_with("  ")) {
      std::istringstream words(line);
      std::string name;
      words >> name;
      names.push_back(name);
    } else if (in_section && !line.empty()) {
      break;
    }
  }
  return names;
}

// A command line that only the subcommand's own handler answers as it does,
// on a session that does not exist (nothing of it is made).
struct Probe {
  std::vector<std::string> args;
  int exit_code;
  std::string output;  // expected in stdout or stderr
};

std::map<std::string, Probe> probes(const std::string& session) {
  const std::string not_live = "colony: no live broker runs session '" + session + "'\n";
  return {
      {"run", {{"run", "--session", session}, 2, "run: nothing to run"}},
      {"clean", {{"clean", "--session", session}, 0, "nothing to remove\n"}},
      {"broker", {{"broker", "status", "--session", session}, 1, "session " + session + ": no live broker\n"}},
      {"call", {{"call", "--session", session, "w", "m"}, 1, "session '" + session + "' is not running"}},
      {"kill", {{"kill", "--session", session, "w"}, 1, not_live}},
      {"terminate", {{"terminate", "--session", session, "w"}, 1, not_live}},
      {"restart", {{"restart", "--session", session, "w"}, 1, not_live}},
      {"ps", {{"ps", "--session", session}, 1, not_live}},
      {"deadletters", {{"deadletters", "list", "w", "--session", session}, 1, not_live}},
      {"bytes", {{"bytes", "info", "x", "--session", session}, 1, "no byte array 'x' in session '" + session + "'"}},
      {"prop", {{"prop", "get", "w", "k", "--session", session}, 1, not_live}},
      {"send", {{"send", "ch1", "1", "--session", session}, 1, not_live}},
      {"recv", {{"recv", "ch1", "--session", session}, 1, not_live}},
      {"top", {{"top", "--once", "--session", session}, 1, not_live}},
      {"bench", {{"bench", "probe", "--flag"}, 0, "probe --flag\n"}},
  };
}

}  // namespace

TEST_CASE("every subcommand colony --help lists has its help and reaches its own handler", "[ipc]") {
  const std::vector<std::string> listed = listed_subcommands();
  const std::string session = test::unique_session("probe");
  const auto probe_of = probes(session);
  CHECK(listed.size() == probe_of.size());
  for (const auto& name : listed) {
    INFO("colony " << name);
    const auto help = run_colony({name, "--help"});
    CHECK(help.exit_code == 0);
    // bench's --help is colony_bench's (here echo's); every other is colony's.
    if (name != "bench") CHECK(help.out.find("Usage: colony " + name) != std::string::npos);

    const auto probe = probe_of.find(name);
    REQUIRE(probe != probe_of.end());  // a new subcommand: add its probe above
    const auto ran = run_colony(probe->second.args);
    INFO("stdout: " << ran.out << "stderr: " << ran.err);
    CHECK(ran.exit_code == probe->second.exit_code);
    CHECK((ran.out + ran.err).find(probe->second.output) != std::string::npos);
  }
  CHECK(test::session_segments(session).empty());
}

TEST_CASE("a word that is no subcommand is refused with the subcommands there are", "[ipc]") {
  const std::vector<std::string> listed = listed_subcommands();
  std::string names;
  for (const auto& name : listed) names += (names.empty() ? "" : ", ") + name;
  const auto unknown = run_colony({"frobnicate", "--session", "x"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.out.empty());
  CHECK(unknown.err == "colony: unknown command 'frobnicate' (commands: " + names + ")\nRun 'colony --help' for usage.\n");
  const auto bare = run_colony({});
  CHECK(bare.exit_code == 2);
  CHECK(bare.err == "colony: give a command: " + names + "\nRun 'colony --help' for usage.\n");
}

TEST_CASE("colony bench hands itself over to its program: exit code, signals left to it or passed on", "[ipc]") {
  // $COLONY_BENCH stands for colony_bench: a shell, its script the arguments.
  const auto bench = [](const std::string& script) {
    return test::run_command({test::cli_path(), "bench", "-c", script}, 20s, {"COLONY_BENCH=/bin/sh"});
  };
  CHECK(bench("exit 7").exit_code == 7);
  CHECK(bench("kill -KILL $$").exit_code == 128 + 9);
  // The terminal's interrupt reaches both processes; colony leaves it to its program.
  CHECK(bench("kill -INT $PPID; exit 3").exit_code == 3);
  // A request to end colony ends its program, which colony then reports.
  const auto terminated = bench("kill -TERM $PPID; while :; do :; done");
  CHECK(terminated.finished);
  CHECK(terminated.exit_code == 128 + 15);
  const auto missing = test::run_command({test::cli_path(), "bench"}, 20s, {"COLONY_BENCH=/nonexistent/colony_bench"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err == "colony: colony_bench not found (build the bench target, or set COLONY_BENCH)\n");
}
