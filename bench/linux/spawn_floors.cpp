// The floors of a worker start on Linux: colony_bench_worker exit-now (it
// exits before attaching to a session) started with posix_spawn, and with
// fork + execve, timed from the launch until waitpid returns; and the floor
// of the scale-1000 start, 1,000 such posix_spawns launched one after the
// other, from the first launch until the last of them is reaped.
//
// Like the worker-start rows these run unpinned over the bench's two CPUs,
// as an application would.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench.hpp"
#include "linux/system_floors.hpp"
#include "placement.hpp"
#include "stats.hpp"
#include "watchdog.hpp"

extern char** environ;

namespace bench {
namespace {

enum class Launch { posix_spawn, fork_exec };

// Waits for a floor process; kills it if the watchdog fires first.
int reap(pid_t pid) {
  int status = 0;
  for (;;) {
    if (::waitpid(pid, &status, 0) == pid) return status;
    if (errno != EINTR) throw BenchError(std::string("waitpid (the floor process): ") + std::strerror(errno));
    if (watchdog_fired()) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      throw BenchError("the floor process timed out; it was killed");
    }
  }
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

Measurement run_process_floor(RunContext& context, Launch launch) {
  std::string executable = bench_file(kWorkerExecutable, "the worker executable");
  std::string mode = "exit-now";
  char* argv[] = {executable.data(), mode.data(), nullptr};
  const std::size_t warmup = context.start_warmup();
  const std::size_t total = warmup + context.start_count();
  Unpinned unpinned(context.placement());
  std::fflush(nullptr);

  std::vector<std::int64_t> samples;
  for (std::size_t i = 0; i < total; ++i) {
    const auto start = Clock::now();
    pid_t pid = -1;
    if (launch == Launch::fork_exec) {
      pid = ::fork();
      if (pid == 0) {
        ::execve(executable.c_str(), argv, environ);
        ::_exit(127);
      }
      if (pid < 0) throw BenchError(std::string("fork: ") + std::strerror(errno));
    } else {
      const int error = ::posix_spawn(&pid, executable.c_str(), nullptr, nullptr, argv, environ);
      if (error != 0) throw BenchError(std::string("posix_spawn: ") + std::strerror(error));
    }
    const int status = reap(pid);
    const auto end = Clock::now();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      throw BenchError(std::string(kWorkerExecutable) + " exit-now " + describe_wait_status(status));
    }
    if (i >= warmup) samples.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
  }
  Measurement m = detailed_latency(std::move(samples));
  m.note = launch == Launch::fork_exec ? "fork + execve to waitpid, no attach" : "posix_spawn to waitpid, no attach";
  return m;
}

constexpr std::size_t kScaleSpawns = 1000;  // as cases_scale.cpp's workers

Measurement run_spawn_many_floor(RunContext& context) {
  Unpinned unpinned(context.placement());
  std::string executable = bench_file(kWorkerExecutable, "the worker executable");
  std::string mode = "exit-now";
  char* argv[] = {executable.data(), mode.data(), nullptr};
  std::fflush(nullptr);
  std::vector<pid_t> launched;
  launched.reserve(kScaleSpawns);
  std::string failure;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < kScaleSpawns; ++i) {
    pid_t pid = -1;
    const int error = ::posix_spawn(&pid, executable.c_str(), nullptr, nullptr, argv, environ);
    if (error != 0) {
      failure = std::string("posix_spawn: ") + std::strerror(error);
      break;
    }
    launched.push_back(pid);
  }
  // Every one launched is reaped, even after a failure.
  for (const pid_t pid : launched) {
    const int status = reap(pid);
    if (failure.empty() && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
      failure = std::string(kWorkerExecutable) + " exit-now " + describe_wait_status(status);
    }
  }
  const auto end = Clock::now();
  if (!failure.empty()) throw BenchError(failure);
  Measurement m;
  m.p50_ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
  m.samples = 1;
  m.note = "1000 posix_spawns, then all reaped";
  return m;
}

}  // namespace

std::vector<Case> spawn_floor_cases() {
  return {
      Case{CaseKind::worker_start, "posix-spawn", 0,
           [](RunContext& context) { return run_process_floor(context, Launch::posix_spawn); }},
      Case{CaseKind::worker_start, "fork-exec", 0,
           [](RunContext& context) { return run_process_floor(context, Launch::fork_exec); }},
      Case{CaseKind::scale, "posix-spawn", 0, run_spawn_many_floor},
  };
}

}  // namespace bench
