// colony ps: one look at a session, the rates between two looks, the table.
#include "ps_view.hpp"

#include <cstring>

#include "colony/broker/clean.hpp"
#include "colony/session/contract.hpp"
#include "colony/session/slot_state.hpp"
#include "colony/shm/byte_array.hpp"
#include "colony/shm/mutex.hpp"
#include "colony/shm/ring.hpp"
#include "colony/session/crash_log.hpp"
#include "colony/worker/mailbox.hpp"

namespace colony::cli {
namespace {

using Json = nlohmann::json;
constexpr auto kOpen = std::chrono::seconds(2);

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
  switch (static_cast<detail::SupervisionState>(state)) {
    case detail::SupervisionState::normal: return "normal";
    case detail::SupervisionState::backing_off: return "backing-off";
    case detail::SupervisionState::given_up: return "given-up";
  }
  return "unknown";
}

// A crash report's field as text; empty when absent or not a string. The
// report comes from the crash log in shared memory, where any JSON may stand.
std::string text_field(const Json& object, const char* key) {
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
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

}  // namespace

// The worker's latest crash reports, oldest first (the broker keeps eight).
Json ps_crash_reports(std::string_view session, std::string_view name) {
  const auto log = CrashLog::open(session, name);
  if (!log) return Json::array();
  const auto text = log->read();
  if (!text || text->empty()) return Json::array();
  Json parsed = Json::parse(*text, nullptr, false);
  return parsed.is_array() ? parsed : Json::array();
}

Json ps_snapshot(const detail::SessionMap& map) {
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
                  {"crash_reports", ps_crash_reports(map.session(), name)}};
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
void add_ps_rates(Json& after, const Json& before, double seconds) {
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

void print_ps_table(const Json& s, std::FILE* out) {
  std::fprintf(out, "session %s, broker pid %d, shared memory %s in %zu segments\n", s["session"].get<std::string>().c_str(),
               s["broker_pid"].get<int>(), memory_text(s.value("shared_memory_bytes", std::uint64_t{0})).c_str(),
               s.value("shared_memory_segments", std::size_t{0}));
  std::fprintf(out, "\nnamed workers\n  %-16s %8s %-12s %7s %-14s %7s %5s %8s %9s\n", "NAME", "PID", "STATE", "STARTS",
              "LAST EXIT", "QUEUED", "DEAD", "HANDLED", "HANDLED/S");
  for (const auto& w : s["named_workers"]) {
    std::string last = "-";
    if (w["last_exit"].contains("code")) last = "code " + std::to_string(w["last_exit"]["code"].get<int>());
    if (w["last_exit"].contains("signal")) last = "signal " + std::to_string(w["last_exit"]["signal"].get<int>());
    if (w["last_exit"].contains("failed_to_start")) last = "failed to start";
    std::fprintf(out, "  %-16s %8s %-12s %7u %-14s %7zu %5zu %8llu %9s\n", w["name"].get<std::string>().c_str(),
                w["pid"].is_null() ? "-" : std::to_string(w["pid"].get<int>()).c_str(), w["state"].get<std::string>().c_str(),
                w["starts"].get<unsigned>(), last.c_str(), w["queued"].get<std::size_t>(), w["dead_letters"].get<std::size_t>(),
                static_cast<unsigned long long>(w["handled"].get<std::uint64_t>()), rate_text(w["handled_per_s"]).c_str());
    if (!w["crash_reports"].empty() && w["crash_reports"].back().is_object()) {
      const Json& crash = w["crash_reports"].back();
      std::fprintf(out, "    last crash %s: %s; %s\n", text_field(crash, "time").c_str(), text_field(crash, "reason").c_str(),
                  text_field(crash, "action").c_str());
      if (const auto in_flight = crash.find("in_flight"); in_flight != crash.end() && in_flight->is_object()) {
        const auto attempt = in_flight->find("attempt");
        std::fprintf(out, "      in flight: %s (attempt %lld)\n", text_field(*in_flight, "method").c_str(),
                    attempt != in_flight->end() && attempt->is_number_integer() ? attempt->get<long long>() : 0LL);
      }
      if (const auto tail = crash.find("stderr_tail"); tail != crash.end() && tail->is_array()) {
        for (const auto& line : *tail) {
          if (line.is_string()) std::fprintf(out, "      stderr| %s\n", line.get<std::string>().c_str());
        }
      }
    }
  }
  std::fprintf(out, "\nworker processes\n  %5s %8s %-12s %10s %10s %8s %8s  %s\n", "SLOT", "PID", "STATE", "IN", "OUT", "IN/S",
              "OUT/S", "EXECUTABLE");
  for (const auto& w : s["workers"]) {
    std::fprintf(out, "  %5u %8d %-12s %10llu %10llu %8s %8s  %s\n", w["slot"].get<unsigned>(), w["pid"].get<int>(),
                w["state"].get<std::string>().c_str(), static_cast<unsigned long long>(w["messages_in"].get<std::uint64_t>()),
                static_cast<unsigned long long>(w["messages_out"].get<std::uint64_t>()), rate_text(w["in_per_s"]).c_str(),
                rate_text(w["out_per_s"]).c_str(), w["executable"].get<std::string>().c_str());
  }
  std::fprintf(out, "\nchannels\n  %-16s %8s %12s %10s %10s %8s %8s\n", "NAME", "DEPTH", "CAPACITY", "SENT", "RECEIVED", "SENT/S",
              "RECV/S");
  for (const auto& c : s["channels"]) {
    std::fprintf(out, "  %-16s %8llu %12zu %10llu %10llu %8s %8s\n", c["name"].get<std::string>().c_str(),
                static_cast<unsigned long long>(c["depth"].get<std::uint64_t>()), c["capacity_bytes"].get<std::size_t>(),
                static_cast<unsigned long long>(c["sent"].get<std::uint64_t>()),
                static_cast<unsigned long long>(c["received"].get<std::uint64_t>()), rate_text(c["sent_per_s"]).c_str(),
                rate_text(c["received_per_s"]).c_str());
  }
  std::fprintf(out, "\nshared objects\n  %-16s %-10s %s\n", "NAME", "KIND", "DETAIL");
  for (const auto& o : s["objects"]) {
    std::string detail = "-";
    if (o.contains("capacity_bytes")) detail = std::to_string(o["capacity_bytes"].get<std::size_t>()) + " bytes";
    if (o.contains("holder_pid")) detail = o["holder_pid"].is_null() ? "free" : "held by pid " + std::to_string(o["holder_pid"].get<int>());
    std::fprintf(out, "  %-16s %-10s %s\n", o["name"].get<std::string>().c_str(), o["kind"].get<std::string>().c_str(), detail.c_str());
  }
}


}  // namespace colony::cli
