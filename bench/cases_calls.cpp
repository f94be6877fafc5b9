// Request/response rows: a waited call to a named worker whose method
// answers at once (colony_bench_worker named, pinned to the peer CPU), timed
// from the call to its reply in the bench, which hosts the broker:
//   call  colony-caller   colony::Caller, made once: after the first call, a
//                         mailbox record, a request to start the worker if it
//                         is down (the broker's ring) and a reply record
//   call  colony-call     colony::call: the same, opening the session and
//                         making (and removing) a reply ring every time

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "bench.hpp"
#include "colony/broker/broker.hpp"
#include "colony/worker/named.hpp"
#include "stats.hpp"

namespace bench {
namespace {

constexpr auto kCallTimeout = std::chrono::seconds(10);

Measurement run_calls(RunContext& context, bool reuse_caller) {
  const std::string worker = bench_file(kWorkerExecutable, "the worker executable");
  colony::Broker broker(colony::BrokerOptions{context.broker_session(), {}});
  std::vector<std::string> arguments{"named"};
  if (context.placement().peer_cpu) arguments.insert(arguments.end(), {"--cpu", std::to_string(*context.placement().peer_cpu)});
  broker.define_named_worker("answerer", worker, arguments);
  const colony::CallOptions waited{true, kCallTimeout};
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

}  // namespace

std::vector<Case> call_cases() {
  return {
      Case{CaseKind::call, "colony-caller", 0, [](RunContext& context) { return run_calls(context, true); }},
      Case{CaseKind::call, "colony-call", 0, [](RunContext& context) { return run_calls(context, false); }},
  };
}

}  // namespace bench
