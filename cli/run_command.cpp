#include <pthread.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "colony/broker/broker.hpp"
#include "commands.hpp"
#include "stop_on_signals.hpp"
#include "worker_spec.hpp"

namespace colony::cli {
namespace {

struct RunOptions {
  std::string session;
  std::uint32_t max_workers = 64;
  std::string over_cap = "queue";
  std::uint32_t attach_timeout_ms = 5000;
  std::vector<std::string> workers;  // named worker definitions
  std::string executable;
  std::vector<std::string> arguments;
};

int run(const RunOptions& options) {
  block_stop_signals();

  BrokerOptions broker_options;
  broker_options.session = options.session;
  broker_options.limits.max_running = options.max_workers;
  broker_options.limits.over_cap = options.over_cap == "fail" ? BrokerLimits::OverCap::fail : BrokerLimits::OverCap::queue;
  broker_options.limits.attach_timeout = std::chrono::milliseconds(options.attach_timeout_ms);
  std::vector<WorkerSpec> specs;
  for (const auto& text : options.workers) specs.push_back(parse_worker(text));
  Broker broker(broker_options);
  for (const auto& spec : specs) broker.define_named_worker(spec.name, spec.executable, spec.arguments);
  StopOnSignals stop_on_signals(broker);

  auto worker = broker.host().create(options.executable, options.arguments);
  try {
    worker.start();
  } catch (const WorkerError& e) {
    std::fprintf(stderr, "colony: %s\n", e.what());
    return stop_on_signals.signal() != 0 ? 128 + stop_on_signals.signal() : kCannotRun;
  }
  std::optional<ExitStatus> status;
  while (!(status = worker.join(std::chrono::hours(24)))) {
  }
  broker.stop();
  if (!status->ok()) std::fprintf(stderr, "colony: %s %s\n", options.executable.c_str(), status->describe().c_str());
  // Stopped by a signal: the session ended because of it, whatever the
  // worker did on its way out.
  if (stop_on_signals.signal() != 0) return 128 + stop_on_signals.signal();
  return status->shell_code();
}

}  // namespace

Runner add_run_command(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  auto* command = app.add_subcommand("run", "Start a session in the foreground and run EXE in it as a worker");
  command->add_option("--session", options->session, "Session name (default: a random one)")
      ->check(session_name_validator());
  command->add_option("--max-workers", options->max_workers, "Running workers at most")
      ->check(CLI::Range(1u, 1023u))
      ->capture_default_str();
  command->add_option("--over-cap", options->over_cap, "A start past the cap: queue or fail")
      ->check(CLI::IsMember({"queue", "fail"}))
      ->capture_default_str();
  command->add_option("--attach-timeout", options->attach_timeout_ms,
                      "Milliseconds a worker has to attach before it is killed")
      ->check(CLI::Range(1u, 3'600'000u))
      ->capture_default_str();
  // One value per --worker (repeat it for more): a vector option would also
  // swallow EXE and its arguments.
  command->add_option("--worker", options->workers,
                      "A named worker the session offers: NAME=EXECUTABLE [ARGS...] (colony call NAME ...)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  command->add_option("executable", options->executable, "The worker executable")->required();
  command->add_option("arguments", options->arguments, "Its arguments");
  command->prefix_command();  // everything after EXE belongs to EXE
  command->footer(
      "Exits with the worker's exit code once the session has ended; 128+N when it died\n"
      "by signal N; 127 when it could not be started; 126 when it never attached.\n"
      "SIGINT/SIGTERM stop the session.");
  return [options]() { return run(*options); };
}

}  // namespace colony::cli
