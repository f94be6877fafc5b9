// colony kill | terminate | restart | ps | deadletters: named workers from a shell.
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "broker_link.hpp"
#include "colony/broker/clean.hpp"
#include "colony/shm/byte_array.hpp"
#include "colony/shm/mutex.hpp"
#include "colony/worker/crash_log.hpp"
#include "colony/worker/mailbox.hpp"
#include "colony/worker/named.hpp"
#include "colony/worker/protocol.hpp"
#include "commands.hpp"
#include "json_output.hpp"
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

Json exit_json(std::uint32_t kind, std::int32_t code, std::int32_t signal) {
  switch (static_cast<detail::ExitKind>(kind)) {
    case detail::ExitKind::none: return nullptr;
    case detail::ExitKind::signaled: return Json{{"signal", signal}};
    case detail::ExitKind::failed_to_start: return Json{{"failed_to_start", true}};
    case detail::ExitKind::not_attached: return Json{{"not_attached", true}};
    default: return Json{{"code", code}};
  }
}

std::string_view supervision_name(std::uint32_t state) {
  switch (static_cast<SupervisionState>(state)) {
    case SupervisionState::normal: return "normal";
    case SupervisionState::backing_off: return "backing-off";
    case SupervisionState::given_up: return "given-up";
  }
  return "unknown";
}

// The worker's latest crash reports, oldest first (the broker keeps eight).
Json crash_reports(const std::string& session, const std::string& name) {
  const auto log = CrashLog::open(session, name);
  if (!log) return Json::array();
  const auto text = log->read();
  if (!text || text->empty()) return Json::array();
  Json parsed = Json::parse(*text, nullptr, false);
  return parsed.is_array() ? parsed : Json::array();
}

Json snapshot(const detail::SessionMap& map) {
  Json out{{"session", map.session()}, {"broker_pid", map.header().broker_pid.load()}};
  Json named = Json::array();
  Json channels = Json::array();
  Json objects = Json::array();
  const std::uint32_t count = std::min(map.header().object_entries.load(), detail::kMaxObjectEntries);
  for (std::uint32_t i = 0; i < count; ++i) {
    const auto& entry = map.object_entry(i);
    if (entry.state.load(std::memory_order_acquire) != 2) continue;
    const std::string name(entry.name, ::strnlen(entry.name, sizeof(entry.name)));
    if (entry.kind == detail::kNamedWorkerEntryKind) {
      auto box = Mailbox::open_or_create(map.session(), name);
      const auto& c = box.control();
      Json worker{{"name", name}, {"pid", nullptr}, {"state", "idle"}, {"starts", c.starts.load()},
                  {"restarts", c.starts.load() > 0 ? c.starts.load() - 1 : 0},
                  {"last_exit", exit_json(c.last_exit_kind.load(), c.last_exit_code.load(), c.last_exit_signal.load())},
                  {"queued", box.depth()}, {"dead_letters", box.dead_letters().size()}, {"handled", c.handled.load()},
                  {"redelivered", c.redelivered.load()},
                  {"supervision", supervision_name(c.supervision.load())},
                  {"crashes", c.crashes.load()},
                  {"crash_reports", crash_reports(map.session(), name)}};
      if (c.restarts.load() > 0 && c.replaced_ns.load() >= c.death_noticed_ns.load() && c.death_noticed_ns.load() > 0) {
        // From the kernel's notice of the last failure to its replacement's spawn.
        worker["last_restart_latency_us"] = static_cast<double>(c.replaced_ns.load() - c.death_noticed_ns.load()) / 1e3;
      }
      const std::uint32_t slot = c.current_slot.load(std::memory_order_acquire);
      if (slot != 0 && slot < detail::kMaxWorkerSlots) {
        const auto& record = map.slot(slot);
        const auto word = record.state_word.load();
        if (detail::generation_of(word) == c.current_generation.load()) {
          worker["pid"] = record.pid.load();
          worker["state"] = detail::slot_state_name(detail::state_of(word));
          worker["messages_in"] = record.messages_in.load();
          worker["messages_out"] = record.messages_out.load();
        }
      }
      if (c.supervision.load() != 0 && worker["pid"].is_null()) worker["state"] = supervision_name(c.supervision.load());
      named.push_back(worker);
    } else if (entry.kind == static_cast<std::uint32_t>(shm::SegmentKind::ring)) {
      auto ring = shm::Ring::open(map.name(shm::SegmentKind::ring, name), shm::Deadline::after(kOpen));
      if (!ring) continue;
      const auto written = ring->records_written();
      const auto read = ring->records_read();
      channels.push_back(Json{{"name", name}, {"depth", written > read ? written - read : 0},
                              {"capacity_bytes", ring->capacity()}, {"sent", written}, {"received", read},
                              {"closed", ring->is_closed()}});
    } else if (entry.kind == static_cast<std::uint32_t>(shm::SegmentKind::bytes)) {
      auto bytes = shm::ByteArray::open(map.name(shm::SegmentKind::bytes, name), shm::Deadline::after(kOpen));
      if (bytes) objects.push_back(Json{{"name", name}, {"kind", "bytes"}, {"capacity_bytes", bytes->capacity()}});
    } else if (entry.kind == static_cast<std::uint32_t>(shm::SegmentKind::mutex)) {
      auto mutex = shm::Mutex::open(map.name(shm::SegmentKind::mutex, name), shm::Deadline::after(kOpen));
      if (mutex) {
        const int holder = mutex->holder_pid();
        objects.push_back(Json{{"name", name}, {"kind", "mutex"}, {"holder_pid", holder == 0 ? Json(nullptr) : Json(holder)}});
      }
    } else if (entry.kind == static_cast<std::uint32_t>(shm::SegmentKind::condition)) {
      objects.push_back(Json{{"name", name}, {"kind", "condition"}});
    }
  }
  Json workers = Json::array();
  for (std::uint32_t slot = 1; slot < detail::kMaxWorkerSlots; ++slot) {
    const auto& record = map.slot(slot);
    const auto word = record.state_word.load(std::memory_order_acquire);
    const auto state = detail::state_of(word);
    if (state == detail::SlotState::free || state == detail::SlotState::terminated || state == detail::SlotState::reserved) continue;
    workers.push_back(Json{{"slot", slot}, {"pid", record.pid.load()}, {"state", detail::slot_state_name(state)},
                           {"executable", std::string(record.executable, ::strnlen(record.executable, sizeof(record.executable)))},
                           {"parent_slot", record.parent_slot.load()}, {"messages_in", record.messages_in.load()},
                           {"messages_out", record.messages_out.load()}});
  }
  const SessionMemory memory = session_memory(map.session());
  out["shared_memory_bytes"] = memory.bytes;
  out["shared_memory_segments"] = memory.segments;
  out["named_workers"] = named;
  out["workers"] = workers;
  out["channels"] = channels;
  out["objects"] = objects;
  return out;
}

// Rates over the interval between two snapshots: channels (sent and received
// per second), processes (messages in and out), named workers (calls handled).
// null where the thing was not there both times.
void add_rates(Json& after, const Json& before, double seconds) {
  const auto per_second = [seconds](const Json& now, const Json& then, const char* counter) -> Json {
    if (!now.contains(counter) || !then.contains(counter)) return nullptr;
    const auto a = now[counter].get<std::uint64_t>();
    const auto b = then[counter].get<std::uint64_t>();
    return a >= b ? static_cast<double>(a - b) / seconds : 0.0;
  };
  const auto find = [](const Json& list, const char* key, const Json& value) -> const Json* {
    for (const auto& item : list) {
      if (item[key] == value) return &item;
    }
    return nullptr;
  };
  for (auto& channel : after["channels"]) {
    const Json* then = find(before["channels"], "name", channel["name"]);
    channel["sent_per_s"] = then ? per_second(channel, *then, "sent") : Json(nullptr);
    channel["received_per_s"] = then ? per_second(channel, *then, "received") : Json(nullptr);
  }
  for (auto& worker : after["workers"]) {
    const Json* then = find(before["workers"], "pid", worker["pid"]);
    worker["in_per_s"] = then ? per_second(worker, *then, "messages_in") : Json(nullptr);
    worker["out_per_s"] = then ? per_second(worker, *then, "messages_out") : Json(nullptr);
  }
  for (auto& worker : after["named_workers"]) {
    const Json* then = find(before["named_workers"], "name", worker["name"]);
    worker["handled_per_s"] = then ? per_second(worker, *then, "handled") : Json(nullptr);
  }
}

std::string rate_text(const Json& rate) {
  if (rate.is_null()) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.0f", rate.get<double>());
  return text;
}

// Shared memory in the unit a reader compares with `df /dev/shm`.
std::string memory_text(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

void print_table(const Json& s) {
  std::printf("session %s, broker pid %d, shared memory %s in %zu segments\n", s["session"].get<std::string>().c_str(),
              s["broker_pid"].get<int>(), memory_text(s["shared_memory_bytes"].get<std::uint64_t>()).c_str(),
              s["shared_memory_segments"].get<std::size_t>());
  std::printf("\nnamed workers\n  %-16s %8s %-12s %7s %-14s %7s %5s %8s %9s\n", "NAME", "PID", "STATE", "STARTS",
              "LAST EXIT", "QUEUED", "DEAD", "HANDLED", "HANDLED/S");
  for (const auto& w : s["named_workers"]) {
    std::string last = "-";
    if (w["last_exit"].contains("code")) last = "code " + std::to_string(w["last_exit"]["code"].get<int>());
    if (w["last_exit"].contains("signal")) last = "signal " + std::to_string(w["last_exit"]["signal"].get<int>());
    if (w["last_exit"].contains("failed_to_start")) last = "failed to start";
    std::printf("  %-16s %8s %-12s %7u %-14s %7zu %5zu %8llu %9s\n", w["name"].get<std::string>().c_str(),
                w["pid"].is_null() ? "-" : std::to_string(w["pid"].get<int>()).c_str(), w["state"].get<std::string>().c_str(),
                w["starts"].get<unsigned>(), last.c_str(), w["queued"].get<std::size_t>(), w["dead_letters"].get<std::size_t>(),
                static_cast<unsigned long long>(w["handled"].get<std::uint64_t>()), rate_text(w["handled_per_s"]).c_str());
    if (!w["crash_reports"].empty()) {
      const Json& crash = w["crash_reports"].back();
      std::printf("    last crash %s: %s; %s\n", crash.value("time", "").c_str(), crash.value("reason", "").c_str(),
                  crash.value("action", "").c_str());
      if (crash.contains("in_flight") && crash["in_flight"].is_object()) {
        std::printf("      in flight: %s (attempt %lld)\n", crash["in_flight"].value("method", "").c_str(),
                    static_cast<long long>(crash["in_flight"].value("attempt", 0)));
      }
      for (const auto& line : crash.value("stderr_tail", Json::array())) {
        std::printf("      stderr| %s\n", line.get<std::string>().c_str());
      }
    }
  }
  std::printf("\nworker processes\n  %5s %8s %-12s %10s %10s %8s %8s  %s\n", "SLOT", "PID", "STATE", "IN", "OUT", "IN/S",
              "OUT/S", "EXECUTABLE");
  for (const auto& w : s["workers"]) {
    std::printf("  %5u %8d %-12s %10llu %10llu %8s %8s  %s\n", w["slot"].get<unsigned>(), w["pid"].get<int>(),
                w["state"].get<std::string>().c_str(), static_cast<unsigned long long>(w["messages_in"].get<std::uint64_t>()),
                static_cast<unsigned long long>(w["messages_out"].get<std::uint64_t>()), rate_text(w["in_per_s"]).c_str(),
                rate_text(w["out_per_s"]).c_str(), w["executable"].get<std::string>().c_str());
  }
  std::printf("\nchannels\n  %-16s %8s %12s %10s %10s %8s %8s\n", "NAME", "DEPTH", "CAPACITY", "SENT", "RECEIVED", "SENT/S",
              "RECV/S");
  for (const auto& c : s["channels"]) {
    std::printf("  %-16s %8llu %12zu %10llu %10llu %8s %8s\n", c["name"].get<std::string>().c_str(),
                static_cast<unsigned long long>(c["depth"].get<std::uint64_t>()), c["capacity_bytes"].get<std::size_t>(),
                static_cast<unsigned long long>(c["sent"].get<std::uint64_t>()),
                static_cast<unsigned long long>(c["received"].get<std::uint64_t>()), rate_text(c["sent_per_s"]).c_str(),
                rate_text(c["received_per_s"]).c_str());
  }
  std::printf("\nshared objects\n  %-16s %-10s %s\n", "NAME", "KIND", "DETAIL");
  for (const auto& o : s["objects"]) {
    std::string detail = "-";
    if (o.contains("capacity_bytes")) detail = std::to_string(o["capacity_bytes"].get<std::size_t>()) + " bytes";
    if (o.contains("holder_pid")) detail = o["holder_pid"].is_null() ? "free" : "held by pid " + std::to_string(o["holder_pid"].get<int>());
    std::printf("  %-16s %-10s %s\n", o["name"].get<std::string>().c_str(), o["kind"].get<std::string>().c_str(), detail.c_str());
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
      const auto dropped = box.request_kill();
      std::printf("killed worker %s: %zu queued calls dropped\n", name->c_str(), dropped);
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
      Json out = snapshot(*map);
      if (*interval_ms > 0) {
        const auto first = std::chrono::steady_clock::now();
        std::this_thread::sleep_for(std::chrono::milliseconds(*interval_ms));
        const Json before = std::move(out);
        out = snapshot(*map);
        add_rates(out, before, std::chrono::duration<double>(std::chrono::steady_clock::now() - first).count());
      } else {
        // The same fields, all null: a script reads one shape either way.
        add_rates(out, Json{{"channels", Json::array()}, {"workers", Json::array()}, {"named_workers", Json::array()}},
                  1.0);
      }
      if (*json) {
        std::printf("%s\n", json_text(out).c_str());
      } else {
        print_table(out);
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
