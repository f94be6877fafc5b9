// Supervision rows:
//   restart              colony          a named worker SIGKILLed while idle: from the reaper's notice of
//                                        its death to its replacement spawned (exec included), as the
//                                        broker records it; the note adds kill() to the new process's
//                                        first answer
//   pipeline             colony          colony_demo_pipeline's blocks per second (4 lanes, 100,000 blocks)
//   pipeline             colony-chaos    the same while a random stage is SIGKILLed every 50 to 200 ms;
//                                        the note says whether the result checksum matched
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "bench.hpp"
#include "colony/broker/broker.hpp"
#include "colony/subprocess/child.hpp"
#include "colony/subprocess/io.hpp"
#include "colony/session/contract.hpp"
#include "colony/worker/mailbox.hpp"
#include "colony/worker/named.hpp"
#include "stats.hpp"
#include "watchdog.hpp"

namespace bench {
namespace {

std::size_t kill_count(const RunContext& context) { return context.quick() ? 10 : 100; }

Measurement run_kill_to_replacement(RunContext& context) {
  const std::string worker = bench_file(kWorkerExecutable, "the worker executable");
  colony::Broker broker(colony::BrokerOptions{context.broker_session(), {}});
  colony::NamedWorkerOptions options;
  options.max_restarts = 1'000'000;   // restarted every time
  options.backoff_initial = std::chrono::milliseconds(0);  // and at once: the row measures the restart itself
  options.backoff_max = std::chrono::milliseconds(0);
  broker.define_named_worker("victim", worker, {"named"}, options);
  auto box = colony::Mailbox::open_or_create(broker.session(), "victim");
  const auto ping = [&] {
    return colony::call(broker.session(), "victim", "ping", colony::Value::Array{},
                        colony::CallOptions{true, std::chrono::seconds(10)})
        ->as_int();
  };
  std::vector<std::int64_t> notice_to_spawn;
  std::vector<std::int64_t> kill_to_answer;
  long long pid = ping();
  for (std::size_t i = 0; i < kill_count(context); ++i) {
    // Idle: the reply came and the call left the mailbox.
    while (box.depth() != 0 || box.control().in_flight.load() != 0) {
      if (Clock::now() >= context.deadline()) throw BenchError("the worker did not go idle");
      std::this_thread::yield();
    }
    const auto restarts = box.control().restarts.load();
    const auto killed = Clock::now();
    if (!colony::subprocess::kill_process(static_cast<int>(pid))) throw BenchError("kill failed");
    while (box.control().restarts.load() == restarts || colony::named_worker_pid(broker.session(), "victim") == 0) {
      if (Clock::now() >= context.deadline()) throw BenchError("no replacement came");
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    const long long next = ping();
    kill_to_answer.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - killed).count());
    if (next == pid) throw BenchError("the same process answered after its kill");
    pid = next;
    const auto noticed = box.control().death_noticed_ns.load();
    const auto spawned = box.control().replaced_ns.load();
    if (spawned >= noticed && noticed != 0) notice_to_spawn.push_back(static_cast<std::int64_t>(spawned - noticed));
  }
  broker.stop();
  Measurement m;
  m.samples = notice_to_spawn.size();
  m.p50_ns = percentile(notice_to_spawn, 0.50);
  m.p90_ns = percentile(notice_to_spawn, 0.90);
  m.p99_ns = percentile(notice_to_spawn, 0.99);
  const double answer_p50 = percentile(kill_to_answer, 0.50);
  m.note = "reaper's notice to the replacement spawned (exec included); kill() to its first answer: p50 " +
           std::to_string(static_cast<long>(answer_p50 / 1e3)) + " us";
  m.extra.emplace_back("kill_to_answer_p50_ns", answer_p50);
  return m;
}

// colony_demo_pipeline --json: one JSON line; the few fields read here.
struct PipelineRun {
  double blocks_per_s = 0;
  std::string result;
  long long kills = 0;
  long long duplicates = 0;
  bool ok = false;
};

std::string field(const std::string& json, const std::string& name) {
  const auto at = json.find("\"" + name + "\":");
  if (at == std::string::npos) throw BenchError("colony_demo_pipeline printed no " + name);
  auto start = at + name.size() + 3;
  if (json[start] == '"') ++start;
  const auto end = json.find_first_of(",}\"", start);
  return json.substr(start, end - start);
}

PipelineRun run_pipeline_demo(RunContext& context, bool chaos) {
  const std::filesystem::path demo = bench_directory() / ".." / "demos" / "colony_demo_pipeline";
  std::error_code error;
  if (!std::filesystem::exists(demo, error)) throw BenchError("the pipeline demo " + demo.string() + " is missing");
  std::vector<std::string> command{demo.string(), "--json", "--messages", context.quick() ? "20000" : "100000"};
  if (chaos) command.emplace_back("--chaos");
  colony::subprocess::FdPair output = colony::subprocess::make_pipe();
  colony::subprocess::SpawnOptions options;
  options.stdout_fd = output.second.get();
  colony::subprocess::Child child = colony::subprocess::Child::spawn(command, options);
  output.second.reset();
  std::string out;
  if (!colony::subprocess::read_to_end(output.first.get(), out, context.deadline(), watchdog_fired)) {
    throw BenchError("colony_demo_pipeline did not finish in time; it was killed");
  }
  const std::optional<colony::subprocess::ExitStatus> status = child.wait_until(context.deadline());
  if (!status) throw BenchError("colony_demo_pipeline did not end in time; it was killed");
  if (out.empty()) throw BenchError("colony_demo_pipeline printed nothing (" + status->describe() + ")");
  PipelineRun run;
  run.blocks_per_s = std::stod(field(out, "blocks_per_s"));
  run.result = field(out, "result");
  run.kills = std::stoll(field(out, "kills"));
  run.duplicates = std::stoll(field(out, "duplicates"));
  run.ok = field(out, "ok") == "true";
  if (!run.ok) throw BenchError("the pipeline lost or corrupted blocks: " + out);
  return run;
}

// The result without chaos, for the chaos row to compare with.
std::optional<std::string> g_calm_result;

Measurement run_pipeline_calm(RunContext& context) {
  const PipelineRun run = run_pipeline_demo(context, false);
  g_calm_result = run.result;
  Measurement m;
  m.msgs_per_s = run.blocks_per_s;
  m.note = "4 lanes, blocks of 64 to 255 B over mailboxes; result " + run.result;
  return m;
}

Measurement run_pipeline_chaos(RunContext& context) {
  const PipelineRun run = run_pipeline_demo(context, true);
  Measurement m;
  m.msgs_per_s = run.blocks_per_s;
  m.note = std::to_string(run.kills) + " kills, " + std::to_string(run.duplicates) + " duplicates; result " +
           run.result + (g_calm_result ? (*g_calm_result == run.result ? " (same as without chaos)" : " (DIFFERS)") : "");
  m.extra.emplace_back("kills", static_cast<double>(run.kills));
  m.extra.emplace_back("duplicates", static_cast<double>(run.duplicates));
  return m;
}

}  // namespace

std::vector<Case> supervision_cases() {
  return {
      Case{CaseKind::restart, "colony", 0, run_kill_to_replacement},
      Case{CaseKind::pipeline, "colony", 0, run_pipeline_calm},
      Case{CaseKind::pipeline, "colony-chaos", 0, run_pipeline_chaos},
  };
}

}  // namespace bench
