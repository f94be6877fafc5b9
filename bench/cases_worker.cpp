// The worker rows: Colony's workers (libworker and the broker) through their
// public API, each next to its floor.
//
//   worker-start  colony        WorkerHandle::start() until the echo of a message
//                               posted right after it (colony_bench_worker echo --once);
//                               its floors (posix-spawn, fork-exec) are in
//                               linux/spawn_floors.cpp, Python's spawn in peers/
//   latency-*     colony-api    round trip of a std::uint64_t, parent <-> worker:
//                               WorkerHandle::post_message / on_message and
//                               Worker::dispatch in the bench, on_message /
//                               post_message / run in the worker; -spin with
//                               Worker::set_spin on both sides
//   latency-*     raw-ring      the same std::uint64_t over two rings of the shm
//                               layer (TypedWriter / TypedReader), driven like the
//                               colony rows: the floor the API runs on
//   workers-64    colony-api    64 workers echo at once (fan_out.cpp)
//
// Placement: the round-trip rows pin as the other round-trip rows do (bench on
// its CPU, the worker pins itself to the peer CPU). The start row and
// workers-64 run unpinned over the two CPUs, as an application would: the
// bench's thread, the broker's threads and every process started float.
//
// Every row that starts a Broker does so through a BrokerScope
// (broker_scope.hpp), which checks that the session left nothing behind.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "colony/broker/broker.hpp"
#include "colony/shm/names.hpp"
#include "colony/shm/ring.hpp"
#include "colony/shm/segment.hpp"
#include "colony/shm/typed.hpp"
#include "colony/worker/worker.hpp"
#include "broker_scope.hpp"
#include "drivers.hpp"
#include "fan_out.hpp"
#include "placement.hpp"
#include "shm_objects.hpp"

namespace bench {
namespace {

using colony::shm::RingReader;
using colony::shm::Outcome;
using colony::shm::RingWriter;
using colony::shm::TypedReader;
using colony::shm::TypedWriter;
using colony::shm::WaitPolicy;

constexpr std::uint32_t kSpinBudget = std::uint32_t{1} << 20;  // as the colony spin rows

void end_worker(RunContext& context, colony::WorkerHandle& worker) {
  if (worker.exit_status()) return;
  worker.terminate();
  if (!worker.join(left_until(context.deadline()))) throw BenchError("a terminated worker did not end in time");
}

// ---------------------------------------------------------------------------
// worker-start rows

Measurement run_worker_start(RunContext& context) {
  const std::string executable = worker_executable();
  const std::size_t warmup = context.start_warmup();
  const std::size_t total = warmup + context.start_count();
  Unpinned unpinned(context.placement());
  BrokerScope scope(context);
  colony::Worker& host = scope.host();

  std::vector<std::int64_t> samples;
  std::vector<std::int64_t> creates;  // create() before start(), not in the samples
  for (std::uint64_t i = 0; i < total; ++i) {
    const auto create_start = Clock::now();
    colony::WorkerHandle worker = host.create(executable, {"echo", "--once"});
    const auto created = Clock::now();
    std::optional<std::uint64_t> answer;
    std::optional<colony::ExitStatus> ended;
    worker.on_message<std::uint64_t>([&answer](std::uint64_t value) { answer = value; });
    worker.on_exit([&ended](const colony::ExitStatus& status) { ended = status; });

    const auto start = Clock::now();
    worker.start();
    worker.post_message(i);
    scope.dispatch_until([&] { return answer || ended; }, "waiting for a new worker's echo");
    const auto end = Clock::now();

    if (!answer) throw BenchError("a new worker ended before it answered: " + ended->describe());
    if (*answer != i) throw BenchError("a new worker answered " + std::to_string(*answer));
    // It closes itself after the echo.
    scope.dispatch_until([&] { return ended.has_value(); }, "waiting for a worker to close");
    if (!ended->ok()) throw BenchError("a worker ended badly: " + ended->describe());
    if (i >= warmup) {
      samples.push_back(elapsed_ns(start, end));
      creates.push_back(elapsed_ns(create_start, created));
    }
  }
  scope.finish();
  Measurement m = detailed_latency(std::move(samples));
  const double create_p50 = percentile(creates, 0.50);
  m.note = "start() to the echo of a message posted after it; create() before it: p50 " +
           std::to_string(static_cast<long>(create_p50 / 1e3)) + " us";
  m.extra.emplace_back("create_p50_ns", create_p50);
  return m;
}

// ---------------------------------------------------------------------------
// Round trips

// The floor of the API round trip: one std::uint64_t each way over two rings
// of the shm layer, typed as the API types it, driven like the colony rows
// (run_latency: the peer forked and pinned to the peer CPU).
class RingU64PingPong {
 public:
  RingU64PingPong(RunContext& context, std::uint32_t spin_iterations)
      : context_(context),
        down_(context, "apiping", kRing),
        up_(context, "apipong", kRing),
        policy_{spin_iterations, std::chrono::microseconds{0}} {}  // a round trip is not a stream

  void bench_side() {
    writer_.emplace(must(RingWriter::attach(down_.ring(), policy_), "attaching a ring writer"));
    reader_.emplace(must(RingReader::attach(up_.ring(), policy_), "attaching a ring reader"));
  }
  void peer_side() {
    down_opened_.emplace(must(colony::shm::Ring::open(down_.name(), context_.shm_deadline()), "opening ring"));
    up_opened_.emplace(must(colony::shm::Ring::open(up_.name(), context_.shm_deadline()), "opening ring"));
    reader_.emplace(must(RingReader::attach(*down_opened_, policy_), "attaching a ring reader"));
    writer_.emplace(must(RingWriter::attach(*up_opened_, policy_), "attaching a ring writer"));
  }
  void ping(std::uint64_t seq) { send(seq); }
  void await_pong(std::uint64_t seq) { receive(seq); }
  void echo(std::uint64_t seq) {
    receive(seq);
    send(seq);
  }

 private:
  static constexpr colony::shm::RingOptions kRing{.capacity = 64 << 10, .max_message = 64};

  void send(std::uint64_t value) {
    const Outcome status = writer_->send(value, context_.shm_deadline());
    if (status != Outcome::ok) throw BenchError("ring send: " + std::string(to_string(status)));
  }
  void receive(std::uint64_t expected) {
    std::uint64_t value = 0;
    const auto info = reader_->receive_into(value, context_.shm_deadline());
    if (!info.ok()) throw BenchError("ring receive: " + std::string(to_string(info.status)) + " " + info.error);
    if (value != expected) throw BenchError("expected " + std::to_string(expected) + ", got " + std::to_string(value));
  }

  RunContext& context_;
  OwnedRing down_;
  OwnedRing up_;
  WaitPolicy policy_;
  std::optional<colony::shm::Ring> down_opened_;
  std::optional<colony::shm::Ring> up_opened_;
  std::optional<TypedWriter> writer_;
  std::optional<TypedReader> reader_;
};

// Round trips through the worker API, timed one by one in the bench (the
// host); the worker echoes from its event loop on the peer CPU.
Measurement run_api_roundtrip(RunContext& context, std::uint32_t spin_iterations) {
  const std::string executable = worker_executable();
  std::vector<std::string> arguments{"echo"};
  if (spin_iterations != 0) arguments.insert(arguments.end(), {"--spin", std::to_string(spin_iterations)});
  if (context.placement().peer_cpu) {
    arguments.insert(arguments.end(), {"--cpu", std::to_string(*context.placement().peer_cpu)});
  }
  BrokerScope scope(context);  // its threads share the bench's CPU; they sleep while the row runs
  colony::Worker& host = scope.host();
  host.set_spin(spin_iterations);

  colony::WorkerHandle worker = host.create(executable, arguments);
  std::uint64_t answer = 0;
  bool answered = false;
  std::optional<colony::ExitStatus> ended;
  worker.on_message<std::uint64_t>([&](std::uint64_t value) {
    answer = value;
    answered = true;
  });
  worker.on_exit([&ended](const colony::ExitStatus& status) { ended = status; });
  worker.start();

  const std::uint64_t warmup = context.latency_warmup();
  const std::uint64_t total = warmup + context.latency_iterations();
  std::vector<std::int64_t> samples;
  samples.reserve(total - warmup);
  for (std::uint64_t seq = 1; seq <= total; ++seq) {
    answered = false;
    const auto start = Clock::now();
    worker.post_message(seq);
    while (!answered && !ended) {
      if (!host.dispatch(kDispatchSlice)) {
        if (Clock::now() >= context.deadline()) throw BenchError("waiting for the worker's echo timed out");
        check_watchdog("waiting for the worker's echo");
      }
    }
    const auto end = Clock::now();
    if (ended) throw BenchError("the worker ended: " + ended->describe());
    if (answer != seq) throw BenchError("expected " + std::to_string(seq) + ", got " + std::to_string(answer));
    if (seq > warmup) samples.push_back(elapsed_ns(start, end));
  }
  host.set_spin(0);
  end_worker(context, worker);
  scope.finish();
  Measurement m = detailed_latency(std::move(samples));
  return m;
}

}  // namespace

std::vector<Case> worker_cases() {
  return {
      Case{CaseKind::worker_start, "colony", 0, run_worker_start},

      Case{CaseKind::latency_spin, "colony-api", kApiSize,
           [](RunContext& context) { return run_api_roundtrip(context, kSpinBudget); }},
      Case{CaseKind::latency_spin, "raw-ring", kApiSize,
           [](RunContext& context) { return run_latency<RingU64PingPong>(context, kSpinBudget); }},
      Case{CaseKind::latency_block, "colony-api", kApiSize,
           [](RunContext& context) { return run_api_roundtrip(context, 0); }},
      Case{CaseKind::latency_block, "raw-ring", kApiSize,
           [](RunContext& context) { return run_latency<RingU64PingPong>(context, std::uint32_t{0}); }},

      Case{CaseKind::workers, "colony-api", kApiSize, [](RunContext& context) { return run_fan_out(context, 64); }},
  };
}

}  // namespace bench
