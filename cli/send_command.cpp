// colony send CHANNEL JSON: one value on a channel, as its sender.
#include <cstdio>
#include <memory>
#include <string>

#include "channel_argument.hpp"
#include "colony/worker/value.hpp"
#include "commands.hpp"
#include "session_option.hpp"

namespace colony::cli {
namespace {

struct SendOptions {
  std::string session;
  std::string channel;
  std::string json;
  std::uint32_t timeout_ms = 10'000;
};

int run_send(const SendOptions& options) {
  Value value;
  try {
    value = Value::from_json(options.json);
  } catch (const WorkerError& e) {
    throw UsageError(std::string("the message is not JSON: ") + e.what());
  }
  auto channel = open_channel_argument(resolve_session(options.session), options.channel);
  const SendStatus status = channel->send(value, shm::Deadline::after(std::chrono::milliseconds(options.timeout_ms)));
  if (status == SendStatus::timed_out || status == SendStatus::full) {
    std::fprintf(stderr, "colony: %s\n", channel->describe_failure(status, 0).c_str());
    return kTimedOut;
  }
  if (status != SendStatus::ok) throw WorkerError(WorkerErrc::channel_closed, channel->describe_failure(status, 0));
  return kSuccess;
}

}  // namespace

Command setup_send(CLI::App& command) {
  auto options = std::make_shared<SendOptions>();
  add_session_option(command, options->session);
  command.add_option("channel", options->channel, "ch<N> (as colony ps lists it)")->required();
  command.add_option("--timeout", options->timeout_ms, "Milliseconds to wait")->capture_default_str();
  command.add_option("json", options->json, "The message, a JSON value")->required();
  command.footer("Exit codes: 0 sent, 1 failed, 2 usage, 3 the channel stayed full past --timeout.");
  return {[options] { return run_send(*options); }};
}

}  // namespace colony::cli
