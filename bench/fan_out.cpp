// Many workers echoing at once: the bench, which hosts the broker, keeps
// kFanWindow messages in flight to each worker and counts the echoes it
// receives. It runs unpinned over the two CPUs, as an application would: the
// bench's thread, the broker's threads and every process started float.

#include "fan_out.hpp"

#include <optional>
#include <string>
#include <vector>

#include "broker_scope.hpp"
#include "memory.hpp"
#include "placement.hpp"
#include "process_stats.hpp"
#include "stats.hpp"

namespace bench {
namespace {

double fan_seconds(const RunContext& context) { return context.quick() ? 0.2 : 1.0; }
double fan_warmup_seconds(const RunContext& context) { return context.quick() ? 0.05 : 0.2; }

}  // namespace

Measurement run_fan_out(RunContext& context, std::size_t workers) {
  raise_open_file_limit();  // the broker holds two descriptors per worker
  const std::string executable = worker_executable();
  const Memory before = memory_of_self();
  const bool peak_reset = reset_peak_memory();
  Unpinned unpinned(context.placement());
  colony::BrokerLimits limits;
  limits.max_running = static_cast<std::uint32_t>(workers);
  BrokerScope scope(context, limits);
  colony::Worker& host = scope.host();

  struct Peer {
    colony::WorkerHandle handle;
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
  };
  std::vector<Peer> peers(workers);
  bool refill = true;
  std::uint64_t echoes = 0;
  std::size_t online = 0;
  std::optional<std::string> failure;
  for (Peer& peer : peers) {
    peer.handle = host.create(executable, {"echo"});
    peer.handle.on_online([&online] { ++online; });
    peer.handle.on_exit([&failure](const colony::ExitStatus& status) {
      if (!failure) failure = "a worker ended during the run: " + status.describe();
    });
    peer.handle.on_message<std::uint64_t>([&, p = &peer](std::uint64_t value) {
      if (value != p->received + 1 && !failure) failure = "a worker echoed " + std::to_string(value) + " out of order";
      ++p->received;
      ++echoes;
      if (refill) p->handle.post_message(++p->sent);
    });
  }
  for (Peer& peer : peers) peer.handle.start();
  scope.dispatch_until([&] { return online == workers || failure; }, "waiting for the workers to attach");
  if (failure) throw BenchError(*failure);
  const Memory started = memory_of_self();

  const auto run_for = [&](double seconds) {
    const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    scope.dispatch_until([&] { return Clock::now() >= until || failure; }, "the workers' exchange");
    if (failure) throw BenchError(*failure);
  };
  for (Peer& peer : peers) {
    while (peer.sent < kFanWindow) peer.handle.post_message(++peer.sent);
  }
  run_for(fan_warmup_seconds(context));
  const std::uint64_t echoes_before = echoes;
  const auto start = Clock::now();
  run_for(fan_seconds(context));
  const std::uint64_t timed_echoes = echoes - echoes_before;
  const auto end = Clock::now();
  refill = false;
  scope.dispatch_until(
      [&] {
        for (const Peer& peer : peers) {
          if (peer.received != peer.sent) return static_cast<bool>(failure);
        }
        return true;
      },
      "draining the workers");
  if (failure) throw BenchError(*failure);
  const Memory after = memory_of_self();

  double worker_rss = 0;
  double worker_shmem = 0;
  std::size_t worker_rss_count = 0;
  for (const Peer& peer : peers) {
    const Memory memory = memory_of(peer.handle.pid());
    if (memory.rss && memory.shmem) {
      worker_rss += *memory.rss;
      worker_shmem += *memory.shmem;
      ++worker_rss_count;
    }
  }
  for (Peer& peer : peers) peer.handle.terminate();
  for (Peer& peer : peers) {
    if (!peer.handle.join(left_until(context.deadline()))) throw BenchError("a terminated worker did not end in time");
  }
  scope.finish();

  Measurement m = throughput_measurement(timed_echoes, kApiSize, elapsed_ns(start, end));
  const auto mean = [&](double sum) {
    return worker_rss_count != 0 ? std::optional<double>(sum / static_cast<double>(worker_rss_count)) : std::nullopt;
  };
  const std::optional<double> worker_mean = mean(worker_rss);
  const std::optional<double> worker_shmem_mean = mean(worker_shmem);
  m.note = std::to_string(workers) + " workers x " + std::to_string(kFanWindow) +
           " in flight, echoes/s; bench VmRSS " + megabytes(before.rss) + " before, " + megabytes(started.rss) +
           " started, " + megabytes(after.rss) + " after (RssShmem " + megabytes(after.shmem) + "), VmHWM " +
           megabytes(after.hwm) + (peak_reset ? "" : " (of the whole run)") + "; worker VmRSS " +
           megabytes(worker_mean) + " each (RssShmem " + megabytes(worker_shmem_mean) + ")";
  m.extra = {{"workers", static_cast<double>(workers)},
             {"in_flight_per_worker", static_cast<double>(kFanWindow)},
             {"echoes", static_cast<double>(timed_echoes)}};
  const auto add = [&m](const char* name, const std::optional<double>& value) {
    if (value) m.extra.emplace_back(name, *value);
  };
  add("vmrss_before_bytes", before.rss);
  add("vmrss_started_bytes", started.rss);
  add("vmrss_after_bytes", after.rss);
  add("rss_shmem_after_bytes", after.shmem);
  add("vmhwm_bytes", after.hwm);
  add("worker_vmrss_mean_bytes", worker_mean);
  add("worker_rss_shmem_mean_bytes", worker_shmem_mean);
  return m;
}

}  // namespace bench
