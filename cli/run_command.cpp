// colony run [OPTIONS] (EXE ARGS... | --pipeline FILE): a session in the
// foreground for one worker, a pipeline file's stages, or named workers alone.
// ARGS are EXE's alone, as with env, nohup or timeout, so CLI11 never sees
// them (it would take an option name among them for run's own and split
// "[a,b]" into a list): the command's set_aside moves them out of the command
// line before it is parsed, and the runner reads them when it runs.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "colony/broker/broker.hpp"
#include "commands.hpp"
#include "pipeline_file.hpp"
#include "pipeline_run.hpp"
#include "stop_on_signals.hpp"
#include "worker_spec.hpp"

namespace colony::cli {
namespace {

struct RunOptions {
  std::string session;
  std::optional<std::uint32_t> max_workers;  // default: the pipeline file's, else 64
  std::string over_cap = "queue";
  std::uint32_t attach_timeout_ms = 5000;
  std::vector<std::string> workers;  // named worker definitions
  std::string pipeline_file;
  std::string executable;
  std::vector<std::string> executable_arguments;  // set aside before parsing
};

// The one worker of `colony run EXE ARGS...`: the session lasts as long as it.
int run_executable(Broker& broker, const RunOptions& options, const std::vector<std::string>& arguments,
                   const StopOnSignals& stop_on_signals) {
  auto worker = broker.host().create(options.executable, arguments);
  try {
    worker.start();
  } catch (const WorkerError& e) {
    std::fprintf(stderr, "colony: %s\n", e.what());
    return stop_on_signals.signal() != 0 ? 128 + stop_on_signals.signal() : kCannotRun;
  }
  std::optional<ExitStatus> status;
  while (!(status = worker.join(std::chrono::hours(24)))) {
  }
  if (!status->ok()) std::fprintf(stderr, "colony: %s %s\n", options.executable.c_str(), status->describe().c_str());
  // Stopped by a signal: the session ended because of it, whatever the
  // worker did on its way out.
  if (stop_on_signals.signal() != 0) return 128 + stop_on_signals.signal();
  return status->shell_code();
}

// Only named workers: the session serves calls until a stop signal.
int serve(Broker& broker, const std::vector<std::string>& names, const StopOnSignals& stop_on_signals) {
  std::string listed;
  for (const auto& name : names) listed.append(listed.empty() ? "" : ", ").append(name);
  std::fprintf(stderr, "colony: session %s serves %s (colony call --session %s NAME ...); Ctrl-C stops it\n",
               broker.session().c_str(), listed.c_str(), broker.session().c_str());
  broker.wait_until_stopped();
  return stop_on_signals.signal() != 0 ? 128 + stop_on_signals.signal() : kSuccess;
}

int run(const RunOptions& options, const std::vector<std::string>& executable_arguments) {
  const int given = (options.executable.empty() ? 0 : 1) + (options.pipeline_file.empty() ? 0 : 1);
  if (given == 2) throw UsageError("run: give an executable or --pipeline FILE, not both");
  if (given == 0 && options.workers.empty()) {
    throw UsageError("run: nothing to run: give an executable, --pipeline FILE or --worker NAME=EXE");
  }
  // Everything that can be refused is read before the session starts.
  PipelineSpec pipeline;
  if (!options.pipeline_file.empty()) pipeline = read_pipeline_file(options.pipeline_file);
  for (const auto& text : options.workers) {
    const WorkerSpec spec = parse_worker(text);
    pipeline.workers.push_back({spec.name, spec.executable, spec.arguments, NamedWorkerOptions{}});
  }
  block_stop_signals();

  BrokerOptions broker_options;
  // --session, else $COLONY_SESSION (as for every command), else the file's.
  broker_options.session = session_to_start(options.session);
  if (broker_options.session.empty()) broker_options.session = pipeline.session;
  // Every stage and named worker runs at once: a cap below that would queue a
  // stage behind the ones waiting for it, for ever.
  const auto needed = static_cast<std::uint32_t>(pipeline.stages.size() + pipeline.workers.size());
  const std::optional<std::uint32_t> cap = options.max_workers ? options.max_workers : pipeline.max_workers;
  if (cap && !pipeline.stages.empty() && *cap < needed) {
    throw UsageError("run: " + std::to_string(pipeline.stages.size()) + " stages and " +
                     std::to_string(pipeline.workers.size()) + " named workers need max_workers of at least " +
                     std::to_string(needed) + " (it is " + std::to_string(*cap) + ")");
  }
  broker_options.limits.max_running = cap.value_or(std::max<std::uint32_t>(64, needed));
  broker_options.limits.over_cap =
      options.over_cap == "fail" ? BrokerLimits::OverCap::fail : BrokerLimits::OverCap::queue;
  broker_options.limits.attach_timeout = std::chrono::milliseconds(options.attach_timeout_ms);
  Broker broker(broker_options);
  std::vector<std::string> names;
  for (const auto& worker : pipeline.workers) {
    broker.define_named_worker(worker.name, worker.executable, worker.arguments, worker.options);
    names.push_back(worker.name);
  }
  StopOnSignals stop_on_signals(broker);
  int code = 0;
  if (!options.executable.empty()) {
    code = run_executable(broker, options, executable_arguments, stop_on_signals);
  } else if (!pipeline.stages.empty()) {
    code = run_pipeline(broker, pipeline, stop_on_signals);
  } else {
    code = serve(broker, names, stop_on_signals);
  }
  broker.stop();
  return code;
}

// Whether the option spelled word (-x, --name, --name=value) takes a value
// from the next word; throws UsageError for an option run does not have.
bool takes_next_word(const CLI::App& command, const std::string& word) {
  const bool is_long = word.starts_with("--");
  const std::string name = is_long ? word.substr(0, word.find('=')) : word.substr(0, 2);
  const CLI::Option* option = command.get_option_no_throw(name);
  if (option == nullptr) throw UsageError("run: unknown option '" + name + "' (before EXE; see colony run --help)");
  const bool value_attached = is_long ? word.find('=') != std::string::npos : word.size() > 2;
  return option->get_items_expected_min() > 0 && !value_attached;
}

// command_line: colony run ... as typed, the program name first.
std::vector<std::string> set_aside_executable_arguments(const CLI::App& command, std::vector<std::string> command_line,
                                                        std::vector<std::string>& executable_arguments) {
  std::size_t at = 2;
  while (at < command_line.size()) {
    const std::string& word = command_line[at];
    if (word == "--") {
      ++at;
      break;
    }
    if (word.size() < 2 || word[0] != '-') break;
    at += takes_next_word(command, word) ? std::size_t{2} : std::size_t{1};
  }
  // command_line[at] is EXE: CLI11 gets what comes before it, and it.
  if (at + 1 < command_line.size()) {
    executable_arguments.assign(command_line.begin() + static_cast<std::ptrdiff_t>(at) + 1, command_line.end());
    command_line.resize(at + 1);
  }
  return command_line;
}

}  // namespace

Command setup_run(CLI::App& run_command) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* command = &run_command;
  command
      ->add_option("--session", options->session,
                   "Session name (default: $COLONY_SESSION, else the pipeline file's, else a random one)")
      ->check(session_name_validator());
  command->add_option("--max-workers", options->max_workers, "Running workers at most (default: 64)")
      ->check(CLI::Range(1u, 1023u));
  command->add_option("--over-cap", options->over_cap, "A start past the cap: queue or fail")
      ->check(CLI::IsMember({"queue", "fail"}))
      ->capture_default_str();
  command
      ->add_option("--attach-timeout", options->attach_timeout_ms,
                   "Milliseconds a worker has to attach before it is killed")
      ->check(CLI::Range(1u, 3'600'000u))
      ->capture_default_str();
  // One value per --worker (repeat it for more): a vector option would also
  // swallow EXE and its arguments.
  command
      ->add_option("--worker", options->workers,
                   "A named worker the session offers: NAME=EXECUTABLE [ARGS...] (colony call NAME ...)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  command->add_option("--pipeline,-p", options->pipeline_file,
                      "A pipeline file (TOML): stages connected by channels, named workers");
  // EXE's arguments never reach CLI11: they are set aside before parsing (set_aside_executable_arguments).
  command->add_option("executable", options->executable, "The worker executable; every word after it is its own");
  // A "--" before EXE is kept among the extras.
  command->prefix_command();
  command->footer(
      "Everything after EXE is EXE's arguments, options included (as with env, nohup or\n"
      "timeout): colony run /bin/echo -n hi passes -n to echo. A --worker whose\n"
      "EXECUTABLE cannot be started is refused (exit 2) before the session starts.\n"
      "With EXE: exits with the worker's exit code once the session has ended; 128+N\n"
      "when it died by signal N; 127 when it could not be started; 126 when it never\n"
      "attached. With --pipeline: 0 when every stage succeeded, else the code of the\n"
      "last failing stage (as set -o pipefail); the last stage's output is printed.\n"
      "With only --worker: serves calls until stopped. SIGINT/SIGTERM stop the\n"
      "session (exit code 128+N). Exit code 2: bad arguments or pipeline file.");
  return {[options] { return run(*options, options->executable_arguments); },
          [options, command](std::vector<std::string> command_line) {
            return set_aside_executable_arguments(*command, std::move(command_line), options->executable_arguments);
          }};
}

}  // namespace colony::cli
