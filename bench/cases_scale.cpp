// The scale rows: 1,000 workers on one broker (the running cap raised to
// them), unpinned over the two CPUs as an application would run them.
//
//   scale-1000  colony-start  create() 1,000 colony_bench_worker echo processes
//                             and start_all() them, until every one is online; the
//                             p50 column is that whole time (one sample).
//                             Then the session idles: the notes give its
//                             wake-ups per second (context switches of every
//                             worker and of the broker's threads) and what an
//                             idle worker costs the machine beyond the shared
//                             libraries: its private memory (PSS beyond files
//                             and segments), its share of the broker's growth
//                             in private memory and of the session's pages in
//                             /dev/shm, touched or not (process_stats.hpp); and
//                             how long ending them all took (terminate, then join)
//   scale-1000  posix-spawn   its floor (linux/spawn_floors.cpp)
//   scale-1000  colony-api    the 1,000 echo at once, as workers-64 (fan_out.cpp)

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "broker_scope.hpp"
#include "fan_out.hpp"
#include "placement.hpp"
#include "process_stats.hpp"
#include "stats.hpp"

namespace bench {
namespace {

constexpr std::size_t kScaleWorkers = 1000;  // CaseKind::scale prints as "scale-1000"

std::chrono::milliseconds idle_settle(const RunContext& context) {
  return context.quick() ? std::chrono::milliseconds(100) : std::chrono::milliseconds(500);
}
std::chrono::milliseconds idle_window(const RunContext& context) {
  return context.quick() ? std::chrono::milliseconds(300) : std::chrono::seconds(2);
}

std::string formatted(const char* format, double value) {
  char text[32];
  std::snprintf(text, sizeof(text), format, value);
  return text;
}

std::uint64_t switches_or_throw(int pid, int except_tid) {
  const auto switches = context_switches_of(pid, except_tid);
  if (!switches) throw BenchError("cannot read the context switches of process " + std::to_string(pid));
  return *switches;
}

Measurement run_scale_start(RunContext& context) {
  raise_open_file_limit();
  const std::string executable = worker_executable();
  Unpinned unpinned(context.placement());
  const std::optional<Pss> broker_before = pss_of(0);
  colony::BrokerLimits limits;
  limits.max_running = static_cast<std::uint32_t>(kScaleWorkers);
  BrokerScope scope(context, limits);
  colony::Worker& host = scope.host();
  const double shm_before = scope.shared_memory_held();

  std::vector<colony::WorkerHandle> workers(kScaleWorkers);
  std::size_t online = 0;
  std::optional<std::string> failure;
  const auto start = Clock::now();
  for (colony::WorkerHandle& worker : workers) {
    worker = host.create(executable, {"echo"});
    worker.on_online([&online] { ++online; });
    worker.on_exit([&failure](const colony::ExitStatus& status) {
      if (!failure) failure = "a worker ended while the session idled: " + status.describe();
    });
  }
  host.start_all(workers);
  scope.dispatch_until([&] { return online == kScaleWorkers || failure; }, "waiting for 1,000 workers to attach");
  const auto started = Clock::now();
  if (failure) throw BenchError(*failure);

  // Idle: nobody posts; the bench's thread sleeps, uncounted.
  std::this_thread::sleep_for(idle_settle(context));
  const int self_thread = current_thread_id();
  const auto count_switches = [&] {
    std::uint64_t total = switches_or_throw(0, self_thread);
    for (const colony::WorkerHandle& worker : workers) {
      const int pid = worker.pid();
      if (pid <= 0) throw BenchError("a worker ended while the session idled");
      total += switches_or_throw(pid, 0);
    }
    return total;
  };
  const std::uint64_t switches_before = count_switches();
  const auto idle_start = Clock::now();
  std::this_thread::sleep_for(idle_window(context));
  const std::uint64_t switches_after = count_switches();
  (void)host.dispatch(std::chrono::milliseconds(0));  // an exit in the window is told here
  if (failure) throw BenchError(*failure);
  const double idle_seconds = std::chrono::duration<double>(Clock::now() - idle_start).count();
  const double wakeups_per_s = static_cast<double>(switches_after - switches_before) / idle_seconds;

  double workers_private = 0;
  for (const colony::WorkerHandle& worker : workers) {
    if (worker.pid() <= 0) throw BenchError("a worker ended while the session idled");
    const auto pss = pss_of(worker.pid());
    if (!pss) throw BenchError("cannot read the PSS of worker " + std::to_string(worker.pid()));
    workers_private += pss->private_memory();
  }
  const std::optional<Pss> broker_after = pss_of(0);
  if (!broker_before || !broker_after) throw BenchError("cannot read the bench's own PSS");
  const double broker_growth = broker_after->private_memory() - broker_before->private_memory();
  const double shm_growth = scope.shared_memory_held() - shm_before;
  const double per_worker = (workers_private + broker_growth + shm_growth) / static_cast<double>(kScaleWorkers);

  // Their end, timed too: terminate() of each, then join() of each.
  const auto end_start = Clock::now();
  for (colony::WorkerHandle& worker : workers) worker.terminate();
  for (colony::WorkerHandle& worker : workers) {
    if (!worker.join(left_until(context.deadline()))) throw BenchError("a terminated worker did not end in time");
  }
  const double end_ms = static_cast<double>(elapsed_ns(end_start, Clock::now())) / 1e6;
  scope.finish();

  Measurement m;
  m.p50_ns = static_cast<double>(elapsed_ns(start, started));
  m.samples = 1;
  m.note = "1000 workers: create + start_all until all online; idle " + formatted("%.1f", wakeups_per_s) +
           " wake-ups/s; an idle worker " + formatted("%.0f", per_worker / 1024.0) +
           " KiB beyond shared libraries (private " + formatted("%.0f", workers_private / 1024.0 / 1000.0) +
           " KiB, /dev/shm " + formatted("%.0f", shm_growth / 1024.0 / 1000.0) + " KiB, broker growth " +
           megabytes(broker_growth) + " in all); ending them " + formatted("%.0f", end_ms) + " ms";
  m.extra = {{"workers", static_cast<double>(kScaleWorkers)},
             {"idle_wakeups_per_s", wakeups_per_s},
             {"idle_worker_bytes", per_worker},
             {"worker_private_mean_bytes", workers_private / static_cast<double>(kScaleWorkers)},
             {"worker_shm_mean_bytes", shm_growth / static_cast<double>(kScaleWorkers)},
             {"broker_private_growth_bytes", broker_growth},
             {"end_ms", end_ms}};
  return m;
}

}  // namespace

std::vector<Case> scale_cases() {
  return {
      Case{CaseKind::scale, "colony-start", 0, run_scale_start},
      Case{CaseKind::scale, "colony-api", kApiSize, [](RunContext& context) { return run_fan_out(context, kScaleWorkers); }},
  };
}

}  // namespace bench
