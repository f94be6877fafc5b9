// colony broker start|stop|status: a broker for a named session in the
// background, for scripts.
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "colony/broker/broker.hpp"
// shm::is_alive and shm::current_pid come with clean.hpp, whose SessionCheck
// names the broker by its shm::ProcessIdentity.
#include "colony/broker/clean.hpp"
#include "colony/shm/ring.hpp"
#include "colony/shm/typed.hpp"
#include "background_process.hpp"
#include "broker_link.hpp"
#include "commands.hpp"
#include "live_session.hpp"
#include "session_option.hpp"
#include "stop_on_signals.hpp"
#include "worker_spec.hpp"
// The session layer's own headers, in one block.
#include "colony/session/protocol.hpp"
#include "colony/session/session_map.hpp"

namespace colony::cli {
namespace {

struct StartOptions {
  std::string session;
  std::vector<std::string> workers;
  std::uint32_t max_workers = 64;
};

// The background broker: runs until `colony broker stop` or SIGTERM.
int run_broker_daemon(const StartOptions& options, const std::vector<WorkerSpec>& specs, StartReport& report) {
  block_stop_signals();
  try {
    BrokerOptions broker_options;
    broker_options.session = options.session;
    broker_options.limits.max_running = options.max_workers;
    Broker broker(broker_options);
    for (const auto& spec : specs) broker.define_named_worker(spec.name, spec.executable, spec.arguments);
    report.say("ok " + broker.session() + "\n");
    StopOnSignals stop_on_signals(broker);
    broker.wait_until_stopped();
    broker.stop();
  } catch (const std::exception& e) {
    report.say(std::string("error ") + e.what() + "\n");
    return 1;
  }
  return 0;
}

int start(StartOptions options) {
  options.session = session_to_start(options.session);
  // Every definition is checked before anything starts.
  std::vector<WorkerSpec> specs;
  for (const auto& text : options.workers) specs.push_back(parse_worker(text));
  // No thread runs in this process yet.
  const std::string answer =
      start_in_background([&](StartReport& report) { return run_broker_daemon(options, specs, report); });
  if (answer.starts_with("ok ")) {
    std::printf("%s", answer.substr(3).c_str());  // the session name, for scripts
    return kSuccess;
  }
  std::fprintf(stderr, "colony: %s", answer.empty() ? "the broker died while starting\n" : answer.substr(6).c_str());
  return kFailure;
}

int stop(const std::string& given_session) {
  const auto map = open_live_session(given_session);
  const std::string& session = map->session();
  const shm::ProcessIdentity broker = detail::broker_identity(map->header());
  try {
    (void)ask_broker(*map, detail::StopRequest{shm::current_pid(), {}});
  } catch (const WorkerError& e) {
    // The request ring takes nothing (its claim lock is stuck, say): the
    // broker also stops on SIGTERM, which needs no shared memory. Sent only
    // to the process that is the broker, never to a pid reused since.
    std::fprintf(stderr, "colony: %s; sending SIGTERM to the broker (pid %d)\n", e.what(), broker.pid);
    if (broker.pid <= 0 || !shm::is_alive(broker) || !ask_process_to_end(broker.pid)) throw;
  }
  // The broker removes the session's segments last, then its process ends:
  // once it has ended, a script may start the session again at once.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (shm::is_alive(broker)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      std::fprintf(stderr, "colony: session '%s' did not end within 15 s\n", session.c_str());
      return kFailure;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // What the broker left is not its to remove: a name squatted under the
  // session's prefix, or the reply ring of a caller still on its way out.
  for (const auto& name : shm::Segment::list(shm::SegmentName::session_prefix(session))) {
    std::fprintf(stderr, "colony: left %s: the broker could not prove it its own\n", name.c_str());
  }
  std::printf("stopped session %s\n", session.c_str());
  return kSuccess;
}

int status(const std::string& given_session, bool json) {
  const std::string session = resolve_session(given_session);
  const SessionCheck check = check_session(session);
  const bool live = check.verdict == SessionVerdict::live;
  int broker_pid = 0;
  std::uint32_t running = 0;
  if (live) {
    const auto map = open_session_map(session);
    broker_pid = map->header().broker_pid.load();
    running = map->header().running_workers.load();
  }
  if (json) {
    nlohmann::json out{{"session", session}, {"live", live}};
    if (live) {
      out["broker_pid"] = broker_pid;
      out["running_workers"] = running;
    }
    if (check.verdict == SessionVerdict::foreign || check.verdict == SessionVerdict::unverifiable) {
      out["accessible"] = false;
      out["reason"] = check.reason;
    }
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else if (live) {
    std::printf("session %s: broker pid %d, %u workers running\n", session.c_str(), broker_pid, running);
  } else if (check.verdict == SessionVerdict::foreign) {
    std::printf("session %s: not accessible to this user: %s\n", session.c_str(), check.reason.c_str());
  } else if (check.verdict == SessionVerdict::unverifiable) {
    std::printf("session %s: cannot be read: %s\n", session.c_str(), check.reason.c_str());
  } else {
    std::printf("session %s: no live broker\n", session.c_str());
  }
  return live ? kSuccess : kFailure;
}

}  // namespace

Command setup_broker(CLI::App& command) {
  command.require_subcommand(1);
  auto start_options = std::make_shared<StartOptions>();
  auto session = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto* start_command = command.add_subcommand("start", "Start a broker in the background; prints its session");
  start_command->add_option("--session", start_options->session, "Session name (default: $COLONY_SESSION, else a random one)")
      ->check(session_name_validator());
  start_command
      ->add_option("--worker", start_options->workers,
                   "A named worker: NAME=EXECUTABLE [ARGS...] (refused unless EXECUTABLE can be started)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  start_command->add_option("--max-workers", start_options->max_workers, "Running workers at most")
      ->check(CLI::Range(1u, 1023u))
      ->capture_default_str();
  auto* stop_command = command.add_subcommand("stop", "Stop a session's broker: its workers end, its segments go");
  add_session_option(*stop_command, *session);
  auto* status_command = command.add_subcommand("status", "Whether a session's broker runs (exit 0) or not (exit 1)");
  add_session_option(*status_command, *session);
  status_command->add_flag("--json", *json, "One JSON object");
  return {[=]() {
    if (start_command->parsed()) return start(*start_options);
    if (stop_command->parsed()) return stop(*session);
    return status(*session, *json);
  }};
}

}  // namespace colony::cli
