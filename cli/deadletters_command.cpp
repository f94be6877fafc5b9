// colony deadletters list|replay|drop NAME: the calls that killed NAME's
// process max_attempts times, listed, put back in its mailbox, or dropped.
#include <cstdio>
#include <memory>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "broker_link.hpp"
#include "colony/worker/mailbox.hpp"
#include "colony/worker/named.hpp"
#include "commands.hpp"
#include "json_output.hpp"
#include "live_session.hpp"
#include "session_option.hpp"
// The session layer's own headers, in one block.
#include "colony/session/protocol.hpp"

namespace colony::cli {
namespace {

struct DeadLettersOptions {
  std::string session;
  std::string action;
  std::string name;
  bool json = false;
};

int run_deadletters(const DeadLettersOptions& options) {
  const auto map = open_live_session(options.session);
  require_named_worker(*map, options.name);
  auto box = Mailbox::open_or_create(map->session(), options.name);
  if (options.action == "list") {
    for (const auto& letter : box.dead_letters()) {
      nlohmann::json line{{"sequence", letter.sequence}, {"attempts", letter.attempts}, {"bytes", letter.payload.size()}};
      const shm::RecordView record{letter.type_tag, 0, std::span<const std::byte>(letter.payload)};
      if (auto decoded = shm::decode_record<Call>(record); decoded.ok()) {
        line["method"] = decoded.value->method;
        line["args"] = nlohmann::json::parse(decoded.value->args.to_json());
      }
      std::printf("%s\n", json_text(line, options.json ? -1 : 2).c_str());
    }
    return kSuccess;
  }
  const bool replay = options.action == "replay";
  const auto moved = replay ? box.replay_dead_letters() : box.drop_dead_letters();
  std::printf("%s %zu dead letters of %s\n", replay ? "replayed" : "dropped", moved, options.name.c_str());
  if (replay && moved > 0) {
    // The letters are back in the mailbox whatever the broker says: a worker
    // that cannot start now is a note, not a failure of the replay.
    try {
      (void)ask_broker(*map, detail::EnsureNamed{options.name, {}});
    } catch (const WorkerError& e) {
      std::fprintf(stderr, "colony: the replayed letters wait: %s\n", e.what());
    }
  }
  return kSuccess;
}

}  // namespace

Command setup_deadletters(CLI::App& command) {
  auto options = std::make_shared<DeadLettersOptions>();
  add_session_option(command, options->session);
  command.add_option("action", options->action, "list, replay or drop")
      ->required()
      ->check(CLI::IsMember({"list", "replay", "drop"}));
  command.add_option("name", options->name, "The worker's name")->required();
  command.add_flag("--json", options->json, "list as JSON lines");
  return {[options] { return run_deadletters(*options); }};
}

}  // namespace colony::cli
