// Running out of shared memory: /dev/shm is a tmpfs of fixed size (64 MiB in
// a default Docker container). Segments reserve their pages at creation, so
// what does not fit is a clear error then, and no Colony process ever dies of
// SIGBUS on a page with no room. Run against a 6 MiB tmpfs mounted over
// /dev/shm in a private mount namespace (unshare -m): nothing outside the
// test sees it, and it goes with the namespace.
#include <catch2/catch.hpp>
#include <map>
#include <sstream>
#include <string>

#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

namespace {

// Each step prints "STEP <name> <exit code> <output on one line>".
constexpr const char* kScript = R"sh(
set -u
mount -t tmpfs -o size=6m tmpfs /dev/shm || { echo "STEP mount 99 cannot mount a tmpfs"; exit 0; }
colony=$1
worker=$2
step() {
  name=$1; shift
  out=$("$@" 2>&1)
  printf 'STEP %s %d %s\n' "$name" "$?" "$(printf '%s' "$out" | tr '\n' ' ')"
}
step start "$colony" broker start --session space --worker "counter=$worker named"
step first_call "$colony" call --session space counter add 1 --wait
step too_big "$colony" bytes create --session space big 67108864
free=$(df --output=avail -B1 /dev/shm | tail -n 1)
step fill "$colony" bytes create --session space fill $((free - 700000))
step no_room "$colony" bytes create --session space more 4194304
step second_call "$colony" call --session space counter add 1 --wait
step write "$colony" bytes write --session space fill 0 hello
step ps "$colony" ps --session space --interval 0
step stop "$colony" broker stop --session space
step left ls -A /dev/shm
)sh";

struct Step {
  int code = -1;
  std::string output;
};

std::map<std::string, Step> run_in_small_shm() {
  const auto result = test::run_command(
      {"/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", kScript, "space-test",
       test::cli_path(), test::worker_path()},
      120s);
  INFO(result.out << result.err);
  REQUIRE(result.finished);
  REQUIRE(result.exit_code == 0);
  std::map<std::string, Step> steps;
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string marker, name;
    Step step;
    if (!(fields >> marker >> name >> step.code) || marker != "STEP") continue;
    std::getline(fields, step.output);
    const auto first = step.output.find_first_not_of(' ');
    const auto last = step.output.find_last_not_of(' ');
    step.output = first == std::string::npos ? std::string() : step.output.substr(first, last - first + 1);
    steps[name] = step;
  }
  return steps;
}

}  // namespace

TEST_CASE("a session out of shared memory refuses what does not fit, keeps serving, stops cleanly, never SIGBUS",
          "[ipc][space]") {
  const auto steps = run_in_small_shm();
  REQUIRE_FALSE(steps.contains("mount"));
  for (const auto& [name, step] : steps) {
    INFO(name << ": " << step.output);
    CHECK(step.code != 128 + 7);  // SIGBUS
  }
  const auto at = [&](const std::string& name) {
    const auto found = steps.find(name);
    REQUIRE(found != steps.end());
    return found->second;
  };
  CHECK(at("start").code == 0);
  CHECK(at("first_call").output == "1");

  const Step too_big = at("too_big");
  CHECK(too_big.code == 1);
  CHECK_THAT(too_big.output, Catch::Contains("needs 64.0 MiB of shared memory") &&
                                 Catch::Contains("free of 6.0 MiB"));

  CHECK(at("fill").code == 0);
  const Step no_room = at("no_room");
  CHECK(no_room.code == 1);
  CHECK_THAT(no_room.output, Catch::Contains("needs 4.0 MiB"));

  // What exists goes on working.
  CHECK(at("second_call").code == 0);
  CHECK(at("second_call").output == "2");
  CHECK(at("write").code == 0);
  CHECK(at("ps").code == 0);
  CHECK(at("stop").code == 0);
  CHECK(at("left").output.empty());
}
