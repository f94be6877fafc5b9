// colony top: a session snapshot as text lines and as JSON.
#include "top_view.hpp"

#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <optional>

#include "printable_text.hpp"

namespace colony::cli {

using Json = nlohmann::json;

// --- JSON --------------------------------------------------------------------------------

namespace {

template <class T>
Json or_null(const std::optional<T>& value) {
  return value ? Json(*value) : Json(nullptr);
}

Json pid_or_null(int pid) { return pid > 0 ? Json(pid) : Json(nullptr); }

}  // namespace

Json frame_json(const SessionSnapshot& frame) {
  Json out{{"session", frame.session},
           {"broker_pid", frame.broker_pid},
           {"broker_cpu_percent", or_null(frame.broker_cpu_percent)},
           {"broker_rss_bytes", frame.broker_stats ? Json(frame.broker_stats->rss_bytes) : Json(nullptr)},
           {"shared_memory_bytes", frame.shared_memory_bytes},
           {"shared_memory_segments", frame.shared_memory_segments},
           {"seconds", frame.seconds}};
  Json& named = out["named_workers"] = Json::array();
  for (const auto& row : frame.named_workers) {
    named.push_back(Json{{"name", row.name}, {"pid", pid_or_null(row.pid)}, {"state", row.state},
                         {"slot", row.slot != 0 ? Json(row.slot) : Json(nullptr)}, {"restarts", row.restarts},
                         {"queued", row.queued}, {"dead_letters", row.dead_letters}, {"handled", row.handled},
                         {"handled_per_s", or_null(row.handled_per_s)}});
  }
  Json& workers = out["workers"] = Json::array();
  for (const auto& row : frame.workers) {
    workers.push_back(Json{{"slot", row.slot},
                           {"generation", row.generation},
                           {"pid", pid_or_null(row.pid)},
                           {"state", row.state},
                           {"executable", row.executable},
                           {"name", row.name.empty() ? Json(nullptr) : Json(row.name)},
                           {"restarts", or_null(row.restarts)},
                           {"cpu_percent", or_null(row.cpu_percent)},
                           {"rss_bytes", row.stats ? Json(row.stats->rss_bytes) : Json(nullptr)},
                           {"messages_in", row.messages_in},
                           {"messages_out", row.messages_out},
                           {"in_per_s", or_null(row.in_per_s)},
                           {"out_per_s", or_null(row.out_per_s)}});
  }
  Json& channels = out["channels"] = Json::array();
  for (const auto& row : frame.channels) {
    channels.push_back(Json{{"name", row.name}, {"depth", row.depth}, {"capacity_bytes", row.capacity_bytes},
                            {"sent", row.sent}, {"received", row.received}, {"closed", row.closed},
                            {"sent_per_s", or_null(row.sent_per_s)}, {"received_per_s", or_null(row.received_per_s)}});
  }
  Json& mutexes = out["mutexes"] = Json::array();
  for (const auto& row : frame.objects) {
    if (row.kind != SharedObjectRow::Kind::mutex) continue;
    mutexes.push_back(Json{{"name", row.name}, {"holder_pid", pid_or_null(row.holder_pid)}});
  }
  return out;
}

// --- text --------------------------------------------------------------------------------

namespace {

[[gnu::format(printf, 1, 2)]] std::string formatted(const char* format, ...) {
  char buffer[512];
  va_list arguments;
  va_start(arguments, format);
  const int length = std::vsnprintf(buffer, sizeof buffer, format, arguments);
  va_end(arguments);
  if (length < 0) return {};
  if (static_cast<std::size_t>(length) < sizeof buffer) return std::string(buffer, static_cast<std::size_t>(length));
  std::string long_line(static_cast<std::size_t>(length) + 1, '\0');
  va_start(arguments, format);
  std::vsnprintf(long_line.data(), long_line.size(), format, arguments);
  va_end(arguments);
  long_line.resize(static_cast<std::size_t>(length));
  return long_line;
}

std::string pid_text(int pid) { return pid > 0 ? std::to_string(pid) : "-"; }

std::string rate_text(const std::optional<double>& rate) {
  if (!rate) return "-";
  const double value = *rate;
  if (value == 0) return "0";
  if (value < 10) return formatted("%.1f", value);
  if (value < 100'000) return formatted("%.0f", value);
  if (value < 100'000'000) return formatted("%.0fk", value / 1e3);
  return formatted("%.0fM", value / 1e6);
}

std::string percent_text(const std::optional<double>& percent) {
  return percent ? formatted("%.1f", *percent) : "-";
}

std::string bytes_text(std::optional<std::uint64_t> bytes) {
  if (!bytes) return "-";
  const auto value = static_cast<double>(*bytes);
  if (*bytes < 1024) return formatted("%lluB", static_cast<unsigned long long>(*bytes));
  if (value < 1024.0 * 1024) return formatted("%.1fK", value / 1024);
  if (value < 1024.0 * 1024 * 1024) return formatted("%.1fM", value / (1024.0 * 1024));
  return formatted("%.1fG", value / (1024.0 * 1024 * 1024));
}

std::optional<std::uint64_t> rss_of(const std::optional<ProcessStats>& stats) {
  return stats ? std::optional<std::uint64_t>(stats->rss_bytes) : std::nullopt;
}

std::string clock_text() {
  const std::time_t now = std::time(nullptr);
  char text[16] = "";
  // std::localtime's buffer is shared: top draws its frames from one thread.
  if (const std::tm* local = std::localtime(&now); local != nullptr) std::strftime(text, sizeof text, "%H:%M:%S", local);
  return text;
}

}  // namespace

std::vector<std::string> frame_lines(const SessionSnapshot& frame, std::uint32_t interval_ms) {
  std::vector<std::string> lines;
  const std::string broker_cpu = frame.broker_cpu_percent ? percent_text(frame.broker_cpu_percent) + "%" : "-";
  lines.push_back(formatted("session %s, broker pid %d (cpu %s, rss %s), shared memory %s in %zu segments, %s, every %u ms",
                            printable(frame.session).c_str(), frame.broker_pid, broker_cpu.c_str(),
                            bytes_text(rss_of(frame.broker_stats)).c_str(), bytes_text(frame.shared_memory_bytes).c_str(),
                            frame.shared_memory_segments, clock_text().c_str(), interval_ms));

  lines.emplace_back();
  lines.push_back(formatted("worker processes (%zu)", frame.workers.size()));
  lines.push_back(formatted("  %5s %8s %-12s %8s %6s %8s %8s %8s  %s", "SLOT", "PID", "STATE", "RESTARTS", "CPU%", "RSS",
                            "IN/S", "OUT/S", "EXECUTABLE OR NAME"));
  for (const auto& row : frame.workers) {
    lines.push_back(formatted("  %5u %8s %-12s %8s %6s %8s %8s %8s  %s", row.slot, pid_text(row.pid).c_str(),
                              row.state.c_str(), row.restarts ? std::to_string(*row.restarts).c_str() : "-",
                              percent_text(row.cpu_percent).c_str(), bytes_text(rss_of(row.stats)).c_str(),
                              rate_text(row.in_per_s).c_str(), rate_text(row.out_per_s).c_str(),
                              printable(row.name.empty() ? row.executable : row.name).c_str()));
  }

  lines.emplace_back();
  lines.push_back(formatted("named workers (%zu)", frame.named_workers.size()));
  lines.push_back(formatted("  %-16s %8s %-12s %8s %7s %7s %9s", "NAME", "PID", "STATE", "RESTARTS", "QUEUED", "DEAD",
                            "HANDLED/S"));
  for (const auto& row : frame.named_workers) {
    lines.push_back(formatted("  %-16s %8s %-12s %8u %7llu %7llu %9s", printable(row.name).c_str(),
                              pid_text(row.pid).c_str(), row.state.c_str(), row.restarts,
                              static_cast<unsigned long long>(row.queued),
                              static_cast<unsigned long long>(row.dead_letters), rate_text(row.handled_per_s).c_str()));
  }

  lines.emplace_back();
  lines.push_back(formatted("channels (%zu)", frame.channels.size()));
  lines.push_back(formatted("  %-16s %8s %9s %9s %9s", "NAME", "DEPTH", "CAPACITY", "SENT/S", "RECV/S"));
  for (const auto& row : frame.channels) {
    lines.push_back(formatted("  %-16s %8llu %9s %9s %9s%s", printable(row.name).c_str(),
                              static_cast<unsigned long long>(row.depth), bytes_text(row.capacity_bytes).c_str(),
                              rate_text(row.sent_per_s).c_str(), rate_text(row.received_per_s).c_str(),
                              row.closed ? "  closed" : ""));
  }

  lines.emplace_back();
  std::vector<const SharedObjectRow*> mutexes;
  for (const auto& row : frame.objects) {
    if (row.kind == SharedObjectRow::Kind::mutex) mutexes.push_back(&row);
  }
  lines.push_back(formatted("mutexes (%zu)", mutexes.size()));
  lines.push_back(formatted("  %-16s %s", "NAME", "HOLDER"));
  for (const SharedObjectRow* row : mutexes) {
    lines.push_back(formatted("  %-16s %s", printable(row->name).c_str(),
                              row->holder_pid > 0 ? ("pid " + std::to_string(row->holder_pid)).c_str() : "free"));
  }
  return lines;
}

}  // namespace colony::cli
