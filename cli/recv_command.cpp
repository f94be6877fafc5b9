// colony recv CHANNEL [--count N]: values from a channel, as its receiver,
// one JSON line each.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "channel_argument.hpp"
#include "colony/worker/value_record.hpp"
#include "commands.hpp"
#include "session_option.hpp"

namespace colony::cli {
namespace {

struct RecvOptions {
  std::string session;
  std::string channel;
  int count = 1;
  std::uint32_t timeout_ms = 10'000;
};

int run_recv(const RecvOptions& options) {
  auto channel = open_channel_argument(resolve_session(options.session), options.channel);
  // Not a worker: no doorbell; it sleeps on the ring's own wake-up word instead.
  channel->bind_reader_only();
  for (int received = 0; received < options.count;) {
    std::optional<std::string> line;
    std::uint32_t type_tag = 0;
    const auto status = channel->receive_any(shm::Deadline::after(std::chrono::milliseconds(options.timeout_ms)),
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
    } else if (status.status == shm::Outcome::timed_out) {
      std::fprintf(stderr, "colony: nothing arrived on %s within %u ms\n", options.channel.c_str(), options.timeout_ms);
      return kTimedOut;
    } else if (status.status == shm::Outcome::closed) {
      std::fprintf(stderr, "colony: %s is closed\n", options.channel.c_str());
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

Command setup_recv(CLI::App& command) {
  auto options = std::make_shared<RecvOptions>();
  add_session_option(command, options->session);
  command.add_option("channel", options->channel, "ch<N> (as colony ps lists it)")->required();
  command.add_option("--timeout", options->timeout_ms, "Milliseconds to wait")->capture_default_str();
  command.add_option("--count", options->count, "Messages to receive")->check(CLI::Range(1, 1'000'000))->capture_default_str();
  command.footer("Exit codes: 0 received --count, 1 failed or closed before any, 2 usage, 3 nothing within --timeout.");
  return {[options] { return run_recv(*options); }};
}

}  // namespace colony::cli
