// colony send CHANNEL JSON and colony recv CHANNEL: channels from a shell.
#include <cstdio>
#include <string>

#include "colony/broker/clean.hpp"
#include "colony/session/channel_core.hpp"
#include "colony/session/names.hpp"
#include "colony/worker/channel.hpp"
#include "colony/worker/value_record.hpp"
#include "commands.hpp"
#include "session_option.hpp"

namespace colony::cli {
namespace {

struct ChannelCommand {
  std::string session;
  std::string channel;
  std::string json;
  int count = 1;
  std::uint32_t timeout_ms = 10'000;
};

// "ch12" or "12".
std::shared_ptr<detail::ChannelCore> open_channel(const std::string& session, const std::string& text) {
  const auto parsed = detail::parse_channel_object(text, true);
  if (!parsed) throw UsageError("a channel is ch<N> or <N>, got '" + text + "'");
  const std::uint64_t id = *parsed;
  require_live_session(session);
  auto map = detail::SessionMap::open(session, shm::Deadline::after(std::chrono::seconds(2)));
  const std::string object = detail::channel_object(id);
  auto ring = shm::Ring::open(map->name(shm::SegmentKind::ring, object), shm::Deadline::after(std::chrono::seconds(2)));
  if (!ring) throw WorkerError(WorkerErrc::not_found, "no channel " + object + " in session '" + session + "'");
  return std::make_shared<detail::ChannelCore>(std::move(map), std::move(*ring), id);
}

int run_send(const ChannelCommand& command) {
  Value value;
  try {
    value = Value::from_json(command.json);
  } catch (const WorkerError& e) {
    throw UsageError(std::string("the message is not JSON: ") + e.what());
  }
  auto channel = open_channel(resolve_session(command.session), command.channel);
  const SendStatus status = channel->send(value, shm::Deadline::after(std::chrono::milliseconds(command.timeout_ms)));
  if (status == SendStatus::timed_out || status == SendStatus::full) {
    std::fprintf(stderr, "colony: %s\n", channel->describe_failure(status, 0).c_str());
    return kTimedOut;
  }
  if (status != SendStatus::ok) throw WorkerError(WorkerErrc::channel_closed, channel->describe_failure(status, 0));
  return kSuccess;
}

int run_recv(const ChannelCommand& command) {
  auto channel = open_channel(resolve_session(command.session), command.channel);
  // Not a worker: no doorbell; it sleeps on the ring's own futex instead.
  channel->bind_reader_only();
  for (int received = 0; received < command.count;) {
    std::optional<std::string> line;
    std::uint32_t type_tag = 0;
    const auto status = channel->receive_any(shm::Deadline::after(std::chrono::milliseconds(command.timeout_ms)),
                                             [&](const shm::RecordView& record) {
                                               type_tag = record.type_tag;
                                               if (auto value = value_of_record(record)) line = value->to_json();
                                             });
    if (status.ok()) {
      if (!line) {
        // Consumed all the same: a message nobody can print must not block the channel.
        std::fprintf(stderr, "colony: a message of type %s has no JSON form\n",
                     shm::TypeRegistry::describe(type_tag).c_str());
        return kFailure;
      }
    } else if (status.status == shm::ReceiveStatus::timed_out) {
      std::fprintf(stderr, "colony: nothing arrived on %s within %u ms\n", command.channel.c_str(), command.timeout_ms);
      return kTimedOut;
    } else if (status.status == shm::ReceiveStatus::closed) {
      std::fprintf(stderr, "colony: %s is closed\n", command.channel.c_str());
      return received > 0 ? kSuccess : kFailure;
    } else {
      std::fprintf(stderr, "colony: %s\n", status.error.c_str());
      return kFailure;
    }
    std::printf("%s\n", line->c_str());
    std::fflush(stdout);
    ++received;
  }
  return kSuccess;
}

}  // namespace

Runner add_channel_commands(CLI::App& app) {
  auto command = std::make_shared<ChannelCommand>();
  auto* send = app.add_subcommand("send", "Send a JSON value on a channel (as its sender)");
  auto* recv = app.add_subcommand("recv", "Receive values from a channel (as its receiver), one JSON line each");
  for (auto* sub : {send, recv}) {
    sub->add_option("--session", command->session, "Session (default: $COLONY_SESSION)")->check(session_name_validator());
    sub->add_option("channel", command->channel, "ch<N> (as colony ps lists it)")->required();
    sub->add_option("--timeout", command->timeout_ms, "Milliseconds to wait")->capture_default_str();
  }
  send->add_option("json", command->json, "The message, a JSON value")->required();
  recv->add_option("--count", command->count, "Messages to receive")->check(CLI::Range(1, 1'000'000))->capture_default_str();
  send->footer("Exit codes: 0 sent, 1 failed, 2 usage, 3 the channel stayed full past --timeout.");
  recv->footer("Exit codes: 0 received --count, 1 failed or closed before any, 2 usage, 3 nothing within --timeout.");
  return [=]() { return send->parsed() ? run_send(*command) : run_recv(*command); };
}

}  // namespace colony::cli
