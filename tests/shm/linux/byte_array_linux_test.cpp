// Byte arrays with what only Linux has: signals delivered to a waiting
// process, and Python's multiprocessing.shared_memory over /dev/shm.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <optional>

#include "byte_array_support.hpp"
#include "child_process.hpp"

using namespace colony;
using namespace test::bytes;
using shm::Outcome;

namespace {

// Runs a shell command, returns everything it printed on stdout and stderr.
std::string run_and_capture(const std::string& command, int& exit_status) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  exit_status = ::pclose(pipe);
  return output;
}

std::atomic<int> signals_received{0};
void count_signal(int) { signals_received.fetch_add(1); }
}  // namespace

COLONY_CHILD_SCENARIO("bytes-wait-through-signals") {  // args: session; exits 0 if the wait lasted its deadline
  struct sigaction action {};
  action.sa_handler = count_signal;  // no SA_RESTART: the wait word's sleep returns EINTR to us
  sigemptyset(&action.sa_mask);
  if (::sigaction(SIGUSR1, &action, nullptr) != 0) return 2;
  auto array = open_scenario_array(args.at(0));
  if (!array.fetch_add<std::uint32_t>(kReadyWord, 1u)) return 3;
  const auto started = std::chrono::steady_clock::now();
  auto status = array.wait<std::uint32_t>(kGoWord, 0u, Deadline::after(500ms));
  const auto waited = std::chrono::steady_clock::now() - started;
  if (!status) return 4;
  if (*status != Outcome::timed_out) return 10 + static_cast<int>(*status);
  if (waited < 500ms) return 5;
  return signals_received.load() > 0 ? 0 : 6;
}

TEST_CASE("signals delivered to a waiting process neither wake it nor end its wait early", "[ipc][bytes]") {
  test::TestSession session;
  auto sut = create_scenario_array(session);
  auto child = test::ChildProcess::start("bytes-wait-through-signals", {session.name()});
  REQUIRE(test::eventually([&] { return ok(sut.load<std::uint32_t>(kReadyWord)) == 1; }, 10'000ms));

  const auto until = std::chrono::steady_clock::now() + 10s;
  std::optional<test::ExitStatus> status;
  while (!(status = child.wait_for(2ms)) && std::chrono::steady_clock::now() < until) ::kill(child.pid(), SIGUSR1);
  REQUIRE(status);
  INFO("child " << status->describe() << " (10+n: woke with status n; 5: early; 6: no signal arrived)");
  CHECK(status->ok());
}

TEST_CASE("Python's multiprocessing.shared_memory sees the bytes at data_offset of the OS object",
          "[ipc][bytes]") {
  test::TestSession session;
  const auto name = session.segment(SegmentKind::bytes, "py");
  auto sut = ok(ByteArray::create(name, 64, 64));
  ok(sut.write(0, bytes_of("hello")));

  // The same offset without Colony code, whether or not Python is here.
  test::ForeignMapping raw(name.os_name());
  CHECK(text_of({raw.at(ByteArray::data_offset()), 5}) == "hello");

  // Debian's python3, which scripts/install-deps.sh installs: a missing one
  // fails here rather than leaving half of this test unrun.
  const std::string python = "/usr/bin/python3";
  INFO(python << " is required (scripts/install-deps.sh installs it)");
  REQUIRE(::access(python.c_str(), X_OK) == 0);
  int status = 0;
  // Attaching registers the segment with Python's resource tracker, which
  // would unlink it (and warn of a leak) when Python exits: unregister it.
  const std::string script =
      "import sys\n"
      "from multiprocessing import shared_memory, resource_tracker\n"
      "shm = shared_memory.SharedMemory(name=sys.argv[1], create=False)\n"
      "resource_tracker.unregister(shm._name, \"shared_memory\")\n"
      "offset = int(sys.argv[2])\n"
      "print(bytes(shm.buf[offset:offset + 5]).decode())\n"
      "shm.buf[offset + 8:offset + 13] = b\"world\"\n"
      "shm.close()\n";
  const std::string os_name_without_slash = name.os_name().substr(1);
  const std::string output = run_and_capture("timeout 20 " + python + " -c '" + script + "' " + os_name_without_slash + " " +
                                                 std::to_string(ByteArray::data_offset()),
                                             status);
  INFO("python printed: " << output);
  REQUIRE(status == 0);
  CHECK(output == "hello\n");  // and nothing else: no resource_tracker warning

  std::vector<std::byte> out(5);
  ok(sut.read(8, out));
  CHECK(text_of(out) == "world");
  CHECK(session.leftover_segments() == std::vector<std::string>{os_name_without_slash});  // Python did not unlink it
}
