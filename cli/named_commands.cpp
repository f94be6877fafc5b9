// colony kill | terminate | restart | ps | deadletters: named workers from a shell.
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "broker_link.hpp"
#include "colony/broker/clean.hpp"
#include "colony/worker/mailbox.hpp"
#include "colony/worker/named.hpp"
#include "colony/session/protocol.hpp"
#include "commands.hpp"
#include "json_output.hpp"
#include "ps_view.hpp"
#include "session_option.hpp"

namespace colony::cli {
namespace {

using Json = nlohmann::json;
constexpr auto kOpen = std::chrono::seconds(2);

std::shared_ptr<detail::SessionMap> open_live(const std::string& session) {
  require_live_session(session);
  return detail::SessionMap::open(session, shm::Deadline::after(kOpen));
}

void require_named(const detail::SessionMap& map, const std::string& name) {
  if (!map.has_entry(detail::kNamedWorkerEntryKind, name)) {
    throw WorkerError(WorkerErrc::not_found, "no worker named '" + name + "' in session '" + map.session() + "'");
  }
}

}  // namespace

Runner add_named_commands(CLI::App& app) {
  auto session = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto interval_ms = std::make_shared<std::uint32_t>(200);
  auto action = std::make_shared<std::string>();
  const auto add_session = [&](CLI::App* command) {
    command->add_option("--session", *session, "Session (default: $COLONY_SESSION)")->check(session_name_validator());
  };
  auto* kill = app.add_subcommand("kill", "KILL WORKER: drop the calls queued for NAME, end it after its current call");
  add_session(kill);
  kill->add_option("name", *name, "The worker's name")->required();
  auto* terminate = app.add_subcommand("terminate", "End NAME's process at once (SIGKILL); its queued calls stay");
  add_session(terminate);
  terminate->add_option("name", *name, "The worker's name")->required();
  auto* restart = app.add_subcommand("restart", "Start NAME again after supervision gave it up (its history cleared)");
  add_session(restart);
  restart->add_option("name", *name, "The worker's name")->required();
  auto* ps = app.add_subcommand("ps", "Named workers, worker processes, channels and shared objects of a session");
  add_session(ps);
  ps->add_flag("--json", *json, "One JSON object");
  ps->add_option("--interval", *interval_ms, "Milliseconds between the two looks the rates come from (0: no rates)")
      ->check(CLI::Range(0u, 60'000u))
      ->capture_default_str();
  auto* dead = app.add_subcommand("deadletters", "The dead-letter box of a named worker: list, replay or drop");
  add_session(dead);
  dead->add_option("action", *action, "list, replay or drop")->required()->check(CLI::IsMember({"list", "replay", "drop"}));
  dead->add_option("name", *name, "The worker's name")->required();
  dead->add_flag("--json", *json, "list as JSON lines");

  return [=]() {
    const auto map = open_live(resolve_session(*session));
    if (kill->parsed()) {
      require_named(*map, *name);
      auto box = Mailbox::open_or_create(map->session(), *name);
      const Mailbox::KillReport report = box.kill();
      // The call a handler runs on is not dropped: it finishes and is answered.
      std::printf("killed worker %s: %zu queued calls dropped%s\n", name->c_str(), report.dropped,
                  report.in_flight_finishes ? "; the call in flight finishes and is answered" : "");
      return kSuccess;
    }
    if (terminate->parsed()) {
      require_named(*map, *name);
      send_to_broker(*map, detail::TerminateNamed{*name});
      std::printf("terminating worker %s\n", name->c_str());
      return kSuccess;
    }
    if (restart->parsed()) {
      require_named(*map, *name);
      send_to_broker(*map, detail::RestartNamed{*name});
      std::printf("restarting worker %s\n", name->c_str());
      return kSuccess;
    }
    if (ps->parsed()) {
      Json out = ps_snapshot(*map);
      if (*interval_ms > 0) {
        const auto first = std::chrono::steady_clock::now();
        std::this_thread::sleep_for(std::chrono::milliseconds(*interval_ms));
        const Json before = std::move(out);
        out = ps_snapshot(*map);
        add_ps_rates(out, before, std::chrono::duration<double>(std::chrono::steady_clock::now() - first).count());
      } else {
        // The same fields, all null: a script reads one shape either way.
        add_ps_rates(out, Json{{"channels", Json::array()}, {"workers", Json::array()}, {"named_workers", Json::array()}},
                  1.0);
      }
      if (*json) {
        std::printf("%s\n", json_text(out).c_str());
      } else {
        print_ps_table(out, stdout);
      }
      return kSuccess;
    }
    require_named(*map, *name);
    auto box = Mailbox::open_or_create(map->session(), *name);
    if (*action == "list") {
      for (const auto& letter : box.dead_letters()) {
        Json line{{"sequence", letter.sequence}, {"attempts", letter.attempts}, {"bytes", letter.payload.size()}};
        const shm::RecordView record{letter.type_tag, 0, std::span<const std::byte>(letter.payload)};
        if (auto decoded = shm::decode_record<Call>(record); decoded.ok()) {
          line["method"] = decoded.value->method;
          line["args"] = Json::parse(decoded.value->args.to_json());
        }
        std::printf("%s\n", json_text(line, *json ? -1 : 2).c_str());
      }
      return kSuccess;
    }
    const auto moved = *action == "replay" ? box.replay_dead_letters() : box.drop_dead_letters();
    std::printf("%s %zu dead letters of %s\n", *action == "replay" ? "replayed" : "dropped", moved, name->c_str());
    if (*action == "replay" && moved > 0) send_to_broker(*map, detail::EnsureNamed{*name});
    return kSuccess;
  };
}

}  // namespace colony::cli
