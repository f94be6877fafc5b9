// colony call NAME [METHOD] [ARGS...]: 4D's CALL WORKER from a shell.
#include <cstdio>
#include <string>
#include <vector>

#include "colony/worker/named.hpp"
#include "commands.hpp"
#include "raw_arguments.hpp"
#include "session_option.hpp"

namespace colony::cli {
namespace {

struct CallCommand {
  std::string session;
  std::string name;
  std::string method;
  bool wait = false;
  std::uint32_t timeout_ms = 30'000;
};

// Each argument as the JSON the user typed. The list of a call's arguments
// is one level of nesting itself, so an argument may nest one level less than
// a Value: deeper, no worker could decode the call.
Value::Array parse_arguments(const std::vector<std::string>& typed) {
  Value::Array arguments;
  for (std::size_t i = 0; i < typed.size(); ++i) {
    const std::string which = "argument " + std::to_string(i + 1);
    try {
      arguments.push_back(Value::from_json(typed[i]));
    } catch (const WorkerError& e) {
      throw UsageError(which + " is not a JSON value (" + e.what() + "); quote strings: '\"text\"'");
    }
    if (arguments.back().depth() + 1 > Value::kMaxDepth) {
      throw UsageError(which + " is nested deeper than " + std::to_string(Value::kMaxDepth - 1) +
                       " levels: inside the list of a call's arguments it would pass the limit of " +
                       std::to_string(Value::kMaxDepth));
    }
  }
  return arguments;
}

int run_call(const CallCommand& command, const std::vector<std::string>& typed) {
  const std::string session = resolve_session(command.session);
  Value::Array arguments = parse_arguments(typed);
  try {
    const auto reply = call(session, command.name, command.method, Value(std::move(arguments)),
                            CallOptions{command.wait, std::chrono::milliseconds(command.timeout_ms)});
    if (reply) std::printf("%s\n", reply->to_json().c_str());
    return kSuccess;
  } catch (const WorkerError& e) {
    std::fprintf(stderr, "colony: %s\n", e.what());
    return exit_code_for(e.code());
  }
}

}  // namespace

Command setup_call(CLI::App& command) {
  auto options = std::make_shared<CallCommand>();
  add_session_option(command, options->session);
  command.add_flag("--wait", options->wait, "Wait for the reply and print it as JSON");
  command.add_option("--timeout", options->timeout_ms, "Milliseconds to wait (with --wait, or for a full mailbox)")
      ->check(CLI::Range(1u, 86'400'000u))
      ->capture_default_str();
  command.add_option("name", options->name, "The worker's name (case-sensitive)")->required();
  command.add_option("method", options->method, "The method (empty: the startup method)");
  // ARGS...: extras, so that each reaches the worker as typed (raw_arguments.hpp).
  command.allow_extras();
  command.footer("ARGS...: each a JSON value, passed exactly as typed ('[1,2]' is one argument, an array).\n"
                 "Exit codes: 0 queued (or replied), 1 failed (unknown worker, the method failed, the worker\n"
                 "cannot start, the session ended), 2 usage, 3 no reply within --timeout (the call stays queued).");
  return {[options, &command]() { return run_call(*options, raw_arguments(command)); }};
}

}  // namespace colony::cli
