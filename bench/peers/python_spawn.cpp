// Python's answer to a worker start, next to Colony's worker-start row:
//
//   worker-start  python-spawn  multiprocessing.Process, start method "spawn",
//                               from p.start() until its echo through a Pipe
//
// python_spawn.py (copied next to colony_bench) times the starts itself and
// prints them; absent without python3. Runs unpinned over the bench's two
// CPUs, as the worker-start rows do.

#include <algorithm>
#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "colony/subprocess/child.hpp"
#include "colony/subprocess/io.hpp"
#include "peers/peers.hpp"
#include "placement.hpp"
#include "stats.hpp"
#include "watchdog.hpp"

namespace bench {
namespace {

constexpr const char* kPythonScript = "python_spawn.py";

std::size_t python_count(const RunContext& context) { return context.quick() ? 5 : 100; }

Measurement run_python_spawn(RunContext& context) {
  const std::optional<std::string> python = colony::subprocess::find_in_path("python3");
  if (!python) throw CaseAbsent("python3 not found in PATH");
  const std::string script = bench_file(kPythonScript, "the script");
  const std::size_t count = python_count(context);
  const auto budget = std::chrono::duration_cast<std::chrono::seconds>(context.deadline() - Clock::now()) -
                      std::chrono::seconds(2);
  const std::vector<std::string> arguments{*python, script, std::to_string(count),
                                           std::to_string(context.start_warmup()),
                                           std::to_string(std::max<std::int64_t>(budget.count(), 1))};

  Unpinned unpinned(context.placement());
  colony::subprocess::FdPair output = colony::subprocess::make_pipe();
  colony::subprocess::SpawnOptions options;
  options.stdout_fd = output.second.get();
  options.stderr_fd = output.second.get();
  // Python and its children die with the bench.
  colony::subprocess::Child child = colony::subprocess::Child::spawn(arguments, options);
  output.second.reset();

  std::string text;
  if (!colony::subprocess::read_to_end(output.first.get(), text, context.deadline(), watchdog_fired)) {
    throw BenchError("python3 did not finish in time; it was killed");
  }
  std::optional<colony::subprocess::ExitStatus> status = child.wait_until(context.deadline());
  if (!status) throw BenchError("python3 timed out; it was killed");

  std::vector<std::int64_t> samples;
  bool done = false;
  std::istringstream lines(text);
  std::string line;
  std::string last;
  while (std::getline(lines, line)) {
    if (line.rfind("sample_ns ", 0) == 0) {
      samples.push_back(std::stoll(line.substr(10)));
    } else if (line == "done") {
      done = true;
    } else if (!line.empty()) {
      last = line;
    }
  }
  if (!done || samples.size() != count || !status->ok()) {
    const std::string ending = status->exited ? "exited with status " + std::to_string(status->code)
                                              : "was killed by signal " + std::to_string(status->signal);
    throw BenchError("python3 " + script + " " + ending + (last.empty() ? std::string() : ": " + last));
  }
  Measurement m = detailed_latency(std::move(samples));
  m.note = "multiprocessing spawn: p.start() to the echo through a Pipe";
  return m;
}

}  // namespace

std::vector<Case> python_spawn_cases() { return {Case{CaseKind::worker_start, "python-spawn", 0, run_python_spawn}}; }

}  // namespace bench
