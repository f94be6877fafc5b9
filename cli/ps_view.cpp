// colony ps: a session snapshot as JSON and as the table.
#include "ps_view.hpp"

#include <optional>
#include <string>

#include "printable_text.hpp"
// The session layer's own headers, in one block.
#include "colony/session/contract.hpp"

namespace colony::cli {
namespace {

using Json = nlohmann::json;

Json exit_json(const NamedWorkerRow& row) {
  switch (static_cast<detail::ExitKind>(row.last_exit_kind)) {
    case detail::ExitKind::none: return nullptr;
    case detail::ExitKind::signaled: return Json{{"signal", row.last_exit_signal}};
    case detail::ExitKind::failed_to_start: return Json{{"failed_to_start", true}};
    case detail::ExitKind::not_attached: return Json{{"not_attached", true}};
    default: return Json{{"code", row.last_exit_code}};
  }
}

std::string exit_text(const NamedWorkerRow& row) {
  switch (static_cast<detail::ExitKind>(row.last_exit_kind)) {
    case detail::ExitKind::none: return "-";
    case detail::ExitKind::signaled: return "signal " + std::to_string(row.last_exit_signal);
    case detail::ExitKind::failed_to_start: return "failed to start";
    case detail::ExitKind::not_attached: return "not attached";
    default: return "code " + std::to_string(row.last_exit_code);
  }
}

Json rate_json(const std::optional<double>& rate) { return rate ? Json(*rate) : Json(nullptr); }

std::string rate_text(const std::optional<double>& rate) {
  if (!rate) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.0f", *rate);
  return text;
}

// Shared memory in the unit a reader compares with `df /dev/shm`.
std::string memory_text(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

// A crash report's field, printable; empty when absent or not a string. The
// report comes from the crash log in shared memory, where any JSON may stand.
std::string text_field(const Json& object, const char* key) {
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? printable(found->get<std::string>()) : std::string();
}

void print_last_crash(const Json& crash, std::FILE* out) {
  std::fprintf(out, "    last crash %s: %s; %s\n", text_field(crash, "time").c_str(), text_field(crash, "reason").c_str(),
               text_field(crash, "action").c_str());
  if (const auto in_flight = crash.find("in_flight"); in_flight != crash.end() && in_flight->is_object()) {
    const auto attempt = in_flight->find("attempt");
    std::fprintf(out, "      in flight: %s (attempt %lld)\n", text_field(*in_flight, "method").c_str(),
                 attempt != in_flight->end() && attempt->is_number_integer() ? attempt->get<long long>() : 0LL);
  }
  if (const auto tail = crash.find("stderr_tail"); tail != crash.end() && tail->is_array()) {
    for (const auto& line : *tail) {
      if (line.is_string()) std::fprintf(out, "      stderr| %s\n", printable(line.get<std::string>()).c_str());
    }
  }
}

}  // namespace

Json ps_json(const SessionSnapshot& s) {
  Json named = Json::array();
  for (const auto& row : s.named_workers) {
    Json worker{{"name", row.name},
                {"pid", row.has_process ? Json(row.pid) : Json(nullptr)},
                {"state", row.state},
                {"starts", row.starts},
                {"restarts", row.restarts},
                {"last_exit", exit_json(row)},
                {"queued", row.queued},
                {"dead_letters", row.dead_letters},
                {"handled", row.handled},
                {"redelivered", row.redelivered},
                {"supervision", row.supervision},
                {"crashes", row.crashes},
                {"crash_reports", row.crash_reports},
                {"handled_per_s", rate_json(row.handled_per_s)},
                {"problem", row.problem.empty() ? Json(nullptr) : Json(row.problem)}};
    if (row.last_restart_latency_us) worker["last_restart_latency_us"] = *row.last_restart_latency_us;
    if (row.has_process) {
      worker["messages_in"] = row.messages_in;
      worker["messages_out"] = row.messages_out;
    }
    named.push_back(std::move(worker));
  }
  Json workers = Json::array();
  for (const auto& row : s.workers) {
    workers.push_back(Json{{"slot", row.slot}, {"pid", row.pid}, {"state", row.state}, {"executable", row.executable},
                           {"parent_slot", row.parent_slot}, {"messages_in", row.messages_in},
                           {"messages_out", row.messages_out}, {"in_per_s", rate_json(row.in_per_s)},
                           {"out_per_s", rate_json(row.out_per_s)}});
  }
  Json channels = Json::array();
  for (const auto& row : s.channels) {
    channels.push_back(Json{{"name", row.name}, {"depth", row.depth}, {"capacity_bytes", row.capacity_bytes},
                            {"sent", row.sent}, {"received", row.received}, {"closed", row.closed},
                            {"sent_per_s", rate_json(row.sent_per_s)}, {"received_per_s", rate_json(row.received_per_s)}});
  }
  Json objects = Json::array();
  for (const auto& row : s.objects) {
    Json object{{"name", row.name}, {"kind", kind_name(row.kind)}};
    if (row.kind == SharedObjectRow::Kind::bytes) object["capacity_bytes"] = row.capacity_bytes;
    if (row.kind == SharedObjectRow::Kind::mutex) object["holder_pid"] = row.holder_pid == 0 ? Json(nullptr) : Json(row.holder_pid);
    objects.push_back(std::move(object));
  }
  return Json{{"session", s.session},
              {"broker_pid", s.broker_pid},
              {"shared_memory_bytes", s.shared_memory_bytes},
              {"shared_memory_segments", s.shared_memory_segments},
              {"named_workers", std::move(named)},
              {"workers", std::move(workers)},
              {"channels", std::move(channels)},
              {"objects", std::move(objects)}};
}

void print_ps_table(const SessionSnapshot& s, std::FILE* out) {
  std::fprintf(out, "session %s, broker pid %d, shared memory %s in %zu segments\n", printable(s.session).c_str(),
               s.broker_pid, memory_text(s.shared_memory_bytes).c_str(), s.shared_memory_segments);
  std::fprintf(out, "\nnamed workers\n  %-16s %8s %-12s %7s %-14s %7s %5s %8s %9s\n", "NAME", "PID", "STATE", "STARTS",
               "LAST EXIT", "QUEUED", "DEAD", "HANDLED", "HANDLED/S");
  for (const auto& w : s.named_workers) {
    std::fprintf(out, "  %-16s %8s %-12s %7u %-14s %7llu %5llu %8llu %9s\n", printable(w.name).c_str(),
                 w.has_process ? std::to_string(w.pid).c_str() : "-", w.state.c_str(), w.starts, exit_text(w).c_str(),
                 static_cast<unsigned long long>(w.queued), static_cast<unsigned long long>(w.dead_letters),
                 static_cast<unsigned long long>(w.handled), rate_text(w.handled_per_s).c_str());
    if (!w.problem.empty()) std::fprintf(out, "    cannot be read whole: %s\n", printable(w.problem).c_str());
    if (w.crash_reports.is_array() && !w.crash_reports.empty() && w.crash_reports.back().is_object()) {
      print_last_crash(w.crash_reports.back(), out);
    }
  }
  std::fprintf(out, "\nworker processes\n  %5s %8s %-12s %10s %10s %8s %8s  %s\n", "SLOT", "PID", "STATE", "IN", "OUT", "IN/S",
               "OUT/S", "EXECUTABLE");
  for (const auto& w : s.workers) {
    std::fprintf(out, "  %5u %8d %-12s %10llu %10llu %8s %8s  %s\n", w.slot, w.pid, w.state.c_str(),
                 static_cast<unsigned long long>(w.messages_in), static_cast<unsigned long long>(w.messages_out),
                 rate_text(w.in_per_s).c_str(), rate_text(w.out_per_s).c_str(), printable(w.executable).c_str());
  }
  std::fprintf(out, "\nchannels\n  %-16s %8s %12s %10s %10s %8s %8s\n", "NAME", "DEPTH", "CAPACITY", "SENT", "RECEIVED", "SENT/S",
               "RECV/S");
  for (const auto& c : s.channels) {
    std::fprintf(out, "  %-16s %8llu %12llu %10llu %10llu %8s %8s\n", printable(c.name).c_str(),
                 static_cast<unsigned long long>(c.depth), static_cast<unsigned long long>(c.capacity_bytes),
                 static_cast<unsigned long long>(c.sent), static_cast<unsigned long long>(c.received),
                 rate_text(c.sent_per_s).c_str(), rate_text(c.received_per_s).c_str());
  }
  std::fprintf(out, "\nshared objects\n  %-16s %-10s %s\n", "NAME", "KIND", "DETAIL");
  for (const auto& o : s.objects) {
    std::string detail = "-";
    if (o.kind == SharedObjectRow::Kind::bytes) detail = std::to_string(o.capacity_bytes) + " bytes";
    if (o.kind == SharedObjectRow::Kind::mutex) detail = o.holder_pid == 0 ? "free" : "held by pid " + std::to_string(o.holder_pid);
    std::fprintf(out, "  %-16s %-10s %s\n", printable(o.name).c_str(), std::string(kind_name(o.kind)).c_str(), detail.c_str());
  }
}

}  // namespace colony::cli
