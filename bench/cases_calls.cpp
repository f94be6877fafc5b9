// Request/response rows: a waited call to a named worker whose method
// answers at once (colony_bench_worker named, pinned to the peer CPU), timed
// from the call to its reply in the bench, which hosts the broker:
//   call  colony-caller   colony::Caller, made once: after the first call, a
//                         mailbox record and a reply record, one wake each
//                         way (the broker is asked only when no process runs)
//   call  colony-caller-spin  the same, the caller spinning on its reply
//                         (CallOptions::spin) and the worker for its next call
//                         (Worker::set_spin), 2^20 pauses each at most
//   call  colony-call     colony::call: the same, opening the session and
//                         making (and removing) a reply ring every time
//   call  colony-caller-x8  8 threads, each with its own Caller, call the one
//                         worker at once for throughput_seconds(): calls per
//                         second of them all (the worker answers one at a time)
//   call  colony-cli      `colony call --wait answerer ping` from a shell: the
//                         process started (posix_spawn), its call answered, its
//                         exit; against the worker-start posix-spawn floor

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench.hpp"
#include "colony/broker/broker.hpp"
#include "colony/subprocess/child.hpp"
#include "colony/worker/named.hpp"
#include "placement.hpp"
#include "stats.hpp"

namespace bench {
namespace {

constexpr auto kCallTimeout = std::chrono::seconds(10);

// The named worker of a call row's session, "answerer" (colony_bench_worker
// named), pinned to the peer CPU when pin_worker is set.
void define_answerer(colony::Broker& broker, RunContext& context, bool pin_worker, std::uint32_t spin = 0) {
  const std::string worker = bench_file(kWorkerExecutable, "the worker executable");
  std::vector<std::string> arguments{"named"};
  if (pin_worker && context.placement().peer_cpu) {
    arguments.insert(arguments.end(), {"--cpu", std::to_string(*context.placement().peer_cpu)});
  }
  if (spin != 0) arguments.insert(arguments.end(), {"--spin", std::to_string(spin)});
  broker.define_named_worker("answerer", worker, arguments);
}

const colony::CallOptions kWaited{true, kCallTimeout};

// Spinning calls: the caller spins on its reply and the worker for its next
// call, as the spinning round-trip rows do (their budget).
constexpr std::uint32_t kCallSpin = std::uint32_t{1} << 20;

Measurement run_calls(RunContext& context, bool reuse_caller, std::uint32_t spin = 0) {
  colony::Broker broker(colony::BrokerOptions{context.broker_session(), {}});
  define_answerer(broker, context, true, spin);
  colony::CallOptions waited = kWaited;
  waited.spin = spin;
  std::optional<colony::Caller> caller;
  if (reuse_caller) caller.emplace(broker.session());
  const auto call = [&] {
    return reuse_caller ? caller->call("answerer", "ping", colony::Value::Array{}, waited)
                        : colony::call(broker.session(), "answerer", "ping", colony::Value::Array{}, waited);
  };
  // One-shot calls set up and tear down segments each time: fewer of them.
  const std::size_t iterations = context.latency_iterations() / (reuse_caller ? 2 : 20);
  const std::size_t warmup = context.latency_warmup() / (reuse_caller ? 2 : 20);
  std::vector<std::int64_t> samples;
  samples.reserve(iterations);
  for (std::size_t i = 0; i < warmup + iterations; ++i) {
    if (Clock::now() >= context.deadline()) throw BenchError("the calls took longer than the case's deadline");
    const auto start = Clock::now();
    const auto reply = call();
    const auto end = Clock::now();
    if (!reply || reply->kind() != colony::Value::Kind::integer) throw BenchError("a call came back without its pid");
    if (i >= warmup) samples.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
  }
  caller.reset();
  broker.stop();
  return latency_measurement(std::move(samples));
}

constexpr int kConcurrentCallers = 8;

// kConcurrentCallers threads call at once until the timed part ends; each
// thread's first call (the worker's start, the Caller's first mapping) is
// not counted. The bench and the worker share the two CPUs unpinned, as the
// callers of a service would.
Measurement run_concurrent_calls(RunContext& context) {
  Unpinned unpinned(context.placement());
  colony::Broker broker(colony::BrokerOptions{context.broker_session(), {}});
  define_answerer(broker, context, false);
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  std::atomic<int> ready{0};
  std::mutex failure_mutex;
  std::string failure;
  std::vector<std::vector<std::int64_t>> samples(kConcurrentCallers);
  std::vector<std::thread> callers;
  for (int t = 0; t < kConcurrentCallers; ++t) {
    callers.emplace_back([&, t] {
      try {
        colony::Caller caller(broker.session());
        caller.call("answerer", "ping", colony::Value::Array{}, kWaited);
        ready.fetch_add(1);
        while (!go.load()) std::this_thread::yield();
        while (!stop.load()) {
          const auto start = Clock::now();
          const auto reply = caller.call("answerer", "ping", colony::Value::Array{}, kWaited);
          const auto end = Clock::now();
          if (!reply || reply->kind() != colony::Value::Kind::integer) throw BenchError("a call came back without its pid");
          samples[static_cast<std::size_t>(t)].push_back(
              std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
        }
      } catch (const std::exception& e) {
        const std::lock_guard lock(failure_mutex);
        if (failure.empty()) failure = e.what();
        ready.fetch_add(1);
        stop.store(true);
      }
    });
  }
  while (ready.load() < kConcurrentCallers && Clock::now() < context.deadline()) std::this_thread::yield();
  const auto start = Clock::now();
  go.store(true);
  const auto until = start + std::chrono::duration<double>(context.throughput_seconds());
  while (!stop.load() && Clock::now() < until && Clock::now() < context.deadline()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  stop.store(true);
  for (std::thread& caller : callers) caller.join();
  const double elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  broker.stop();
  if (!failure.empty()) throw BenchError("a concurrent caller failed: " + failure);
  if (ready.load() < kConcurrentCallers) throw BenchError("the concurrent callers did not start by the deadline");
  std::vector<std::int64_t> all;
  for (const auto& thread_samples : samples) all.insert(all.end(), thread_samples.begin(), thread_samples.end());
  if (all.empty()) throw BenchError("no concurrent call was answered");
  const double calls = static_cast<double>(all.size());
  Measurement m = latency_measurement(std::move(all));
  m.msgs_per_s = calls / elapsed_s;
  m.note = std::to_string(kConcurrentCallers) + " threads, a Caller each, one worker; p50 of one call";
  return m;
}

// `colony call --wait` from a shell: the colony command (its path compiled
// in, COLONY_CLI_PATH) started, its call answered, its exit reaped.
Measurement run_cli_calls(RunContext& context) {
  const std::string colony_command = COLONY_CLI_PATH;
  if (const auto why = colony::why_cannot_execute(colony_command)) {
    throw BenchError("the colony command " + colony_command + " cannot be run: " + *why);
  }
  Unpinned unpinned(context.placement());
  colony::Broker broker(colony::BrokerOptions{context.broker_session(), {}});
  define_answerer(broker, context, false);
  const std::vector<std::string> argv{colony_command, "call", "--session", broker.session(), "--wait",
                                      "--timeout",    "10000", "answerer", "ping"};
  colony::subprocess::SpawnOptions quiet;
  quiet.stdout_fd = colony::subprocess::kNull;
  const std::size_t warmup = context.start_warmup();
  const std::size_t total = warmup + context.start_count();
  std::vector<std::int64_t> samples;
  for (std::size_t i = 0; i < total; ++i) {
    const auto start = Clock::now();
    colony::subprocess::Child call = colony::subprocess::Child::spawn(argv, quiet);
    const auto status = call.wait_until(context.deadline());
    const auto end = Clock::now();
    if (!status) throw BenchError("colony call --wait did not end by the case's deadline");
    if (!status->ok()) throw BenchError("colony call --wait " + status->describe());
    if (i >= warmup) samples.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
  }
  broker.stop();
  Measurement m = detailed_latency(std::move(samples));
  m.note = "posix_spawn of colony call --wait to its exit";
  return m;
}

}  // namespace

std::vector<Case> call_cases() {
  return {
      Case{CaseKind::call, "colony-caller", 0, [](RunContext& context) { return run_calls(context, true); }},
      Case{CaseKind::call, "colony-caller-spin", 0, [](RunContext& context) { return run_calls(context, true, kCallSpin); }},
      Case{CaseKind::call, "colony-call", 0, [](RunContext& context) { return run_calls(context, false); }},
      Case{CaseKind::call, "colony-caller-x8", 0, run_concurrent_calls},
      Case{CaseKind::call, "colony-cli", 0, run_cli_calls},
  };
}

}  // namespace bench
