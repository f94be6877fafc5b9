#include "report.hpp"

#include <algorithm>
#include <optional>
#include <string_view>

#include "floors.hpp"
#include "machine.hpp"

namespace bench {
namespace {

std::string printf_string(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), format, value);
  return buffer;
}

std::string compiler() {
#if defined(__clang__)
  return std::string("clang ") + __VERSION__;
#elif defined(__GNUC__)
  return std::string("g++ ") + __VERSION__;
#else
  return "unknown compiler";
#endif
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// ---------------------------------------------------------------------------
// The targets of the issue, as data: a Colony row against a peer's row.

enum class Metric { p50, msgs_per_s, bytes_per_s };

struct Target {
  const char* what;
  CaseKind kind;
  std::size_t size;
  const char* subject;  // the Colony row's transport
  const char* peer;
  Metric metric;
  bool at_most;  // ratio must be <= limit (times), else >= limit (rates)
  double limit;  // 0: no target, the ratio is shown for information
  // The peer's row when it is of another kind or size than the subject's.
  std::optional<CaseKind> peer_kind = std::nullopt;
  std::size_t peer_size = 0;
};

// Issue 12's targets (P1 to P7), on every machine kind. A peer named
// kBestOtherPeer is the best of the peers other than Boost's message queue,
// which has a target of its own.
constexpr char kBestOtherPeer[] = "best other peer";
constexpr const char* kOtherPeers[] = {"pipe", "unix-socket", "zeromq", "iceoryx"};

constexpr Target kTargets[] = {
    {"P1 spinning round trip p50", CaseKind::latency_spin, kPingSize, "colony", "raw-atomic", Metric::p50, true, 2.5},
    {"P2 blocking round trip p50", CaseKind::latency_block, kPingSize, "colony", kBlockingFloor, Metric::p50, true,
     1.1},
    {"P3 64 B throughput", CaseKind::throughput, kSmall, "colony", kCopyRingFloor, Metric::msgs_per_s, false, 0.5},
    {"P3 64 B throughput", CaseKind::throughput, kSmall, "colony", "boost-mq", Metric::msgs_per_s, false, 6.0},
    {"P3 64 B throughput", CaseKind::throughput, kSmall, "colony", kBestOtherPeer, Metric::msgs_per_s, false, 2.5},
    {"P3b 1 KiB throughput", CaseKind::throughput, kMedium, "colony", kCopyRingFloor, Metric::bytes_per_s, false, 0.7},
    {"P4 64 KiB throughput", CaseKind::throughput, kLarge, "colony", kCopyRingFloor, Metric::bytes_per_s, false, 0.85},
    {"P4 64 KiB throughput", CaseKind::throughput, kLarge, "colony", "iceoryx", Metric::bytes_per_s, false, 1.0},
    {"P4b 64 KiB zero-copy receive", CaseKind::throughput, kLarge, "colony-view", kCopyRingFloor, Metric::bytes_per_s,
     false, 1.0},
    // The worker API (post_message / on_message, the event loop) over the ring it runs on.
    {"P7 API blocking round trip", CaseKind::latency_block, kApiSize, "colony-api", "raw-ring", Metric::p50, true, 1.1},
    {"P7 API spinning round trip", CaseKind::latency_spin, kApiSize, "colony-api", "raw-ring", Metric::p50, true, 1.1},
    // Request/response: a waited call through a reused Caller against the blocking floor.
    {"P5 waited call p50", CaseKind::call, 0, "colony-caller", kBlockingFloor, Metric::p50, true, 1.3,
     CaseKind::latency_block, kPingSize},
    // ... and against gRPC over a Unix socket: at least 3x faster.
    {"P5 waited call p50", CaseKind::call, 0, "colony-caller", "grpc-unix", Metric::p50, true, 1.0 / 3.0},
    // Blocking, the call cannot beat the two futex wakes of the floor; a
    // client and a worker that spin skip them.
    {"P5 spinning waited call p50", CaseKind::call, 0, "colony-caller-spin", "grpc-unix", Metric::p50, true, 1.0 / 3.0},
    {"waited call p50", CaseKind::call, 0, "colony-caller", "zeromq", Metric::p50, true, 0.0, CaseKind::latency_block,
     kPingSize},
    {"waited call p50", CaseKind::call, 0, "colony-call", kBlockingFloor, Metric::p50, true, 0.0,
     CaseKind::latency_block, kPingSize},
    {"colony call --wait p50", CaseKind::call, 0, "colony-cli", "posix-spawn", Metric::p50, true, 0.0,
     CaseKind::worker_start, 0},
    // 1,000 workers on one broker: their start against as many spawns, their
    // echoes against 64 workers' (idle costs: kAbsoluteTargets).
    {"scale: start 1000 workers", CaseKind::scale, 0, "colony-start", "posix-spawn", Metric::p50, true, 1.5},
    {"scale: echoes at 1000", CaseKind::scale, kApiSize, "colony-api", "colony-api", Metric::msgs_per_s, false, 0.8,
     CaseKind::workers, kApiSize},
    {"64 KiB throughput", CaseKind::throughput, kLarge, "colony", "memcpy", Metric::bytes_per_s, false, 0.0},
    {"worker start p50", CaseKind::worker_start, 0, "colony", "posix-spawn", Metric::p50, true, 0.0},
    {"worker start p50", CaseKind::worker_start, 0, "colony", "fork-exec", Metric::p50, true, 0.0},
    {"worker start p50", CaseKind::worker_start, 0, "colony", "python-spawn", Metric::p50, true, 0.0},
};

// Targets on one figure of a row (a field of its extra), not on a ratio: at
// most limit, in the unit shown (the figure divided by scale).
struct AbsoluteTarget {
  const char* what;
  CaseKind kind;
  std::size_t size;
  const char* subject;
  const char* field;
  const char* unit;
  double scale;
  double limit;
};

constexpr AbsoluteTarget kAbsoluteTargets[] = {
    // An idle worker costs at most 1 MiB beyond the shared libraries, and an
    // idle session makes no periodic wake-ups (at most one per second in all).
    {"scale: idle worker memory", CaseKind::scale, 0, "colony-start", "idle_worker_bytes", "KiB", 1024.0, 1024.0},
    {"scale: idle session wake-ups", CaseKind::scale, 0, "colony-start", "idle_wakeups_per_s", "/s", 1.0, 1.0},
};

std::optional<double> metric_of(const std::vector<RowResult>& results, CaseKind kind, std::size_t size,
                                std::string_view transport, Metric metric);

// The best of the other peers' figures: the highest rate or the lowest time.
std::optional<double> best_other_peer(const std::vector<RowResult>& results, CaseKind kind, std::size_t size,
                                      Metric metric) {
  std::optional<double> best;
  for (const char* peer : kOtherPeers) {
    const auto figure = metric_of(results, kind, size, peer, metric);
    if (!figure) continue;
    const bool better = !best || (metric == Metric::p50 ? *figure < *best : *figure > *best);
    if (better) best = figure;
  }
  return best;
}

std::optional<double> metric_of(const std::vector<RowResult>& results, CaseKind kind, std::size_t size,
                                std::string_view transport, Metric metric) {
  if (transport == kBestOtherPeer) return best_other_peer(results, kind, size, metric);
  for (const RowResult& result : results) {
    const Case& row = *result.row;
    if (row.kind != kind || row.size_bytes != size || row.transport != transport || !result.measured) continue;
    switch (metric) {
      case Metric::p50:
        return result.measured->p50_ns;
      case Metric::msgs_per_s:
        return result.measured->msgs_per_s;
      case Metric::bytes_per_s:
        return result.measured->bytes_per_s;
    }
  }
  return std::nullopt;
}

// The notes column: what a row measured beyond the fixed columns.
std::string notes_of(const Measurement& m) {
  std::string notes;
  const auto add = [&notes](const std::string& text) {
    if (text.empty()) return;
    if (!notes.empty()) notes += "; ";
    notes += text;
  };
  if (m.p90_ns) add("p90 " + format_time(m.p90_ns));
  if (m.samples) add("n=" + std::to_string(*m.samples));
  add(m.note);
  return notes;
}

}  // namespace

std::string format_time(const std::optional<double>& ns) {
  if (!ns) return "-";
  if (*ns < 1e3) return printf_string("%.0f ns", *ns);
  if (*ns < 1e6) return printf_string("%.2f us", *ns / 1e3);
  return printf_string("%.2f ms", *ns / 1e6);
}

// Decimal prefixes, as throughput is usually quoted.
std::string format_rate(const std::optional<double>& value, const char* unit) {
  if (!value) return "-";
  const double v = *value;
  std::string number;
  if (v >= 1e9) {
    number = printf_string("%.2f G", v / 1e9);
  } else if (v >= 1e6) {
    number = printf_string("%.2f M", v / 1e6);
  } else if (v >= 1e3) {
    number = printf_string("%.1f k", v / 1e3);
  } else {
    number = printf_string("%.0f ", v);
  }
  return number + unit;
}

std::string machine_summary() {
  return cpu_model() + ", " + std::to_string(cores_online()) + " cores online; " + compiler();
}

void print_machine(std::FILE* out, const Placement& placement) {
  std::fprintf(out, "machine:  %s, %ld cores online\n", cpu_model().c_str(), cores_online());
  std::fprintf(out, "kernel:   %s\n", kernel_release().c_str());
  std::fprintf(out, "compiler: %s\n", compiler().c_str());
  if (placement.bench_cpu && placement.peer_cpu) {
    std::fprintf(out, "pinning:  bench on cpu %d, peer on cpu %d\n", *placement.bench_cpu, *placement.peer_cpu);
  } else {
    std::fprintf(out, "pinning:  off (fewer than two usable CPUs)\n");
  }
  std::fprintf(out, "\n");
}

void print_table(std::FILE* out, const std::vector<RowResult>& results) {
  const char* format = "%-14s %-17s %7s %10s %10s %12s %12s";
  const bool any_notes = std::any_of(results.begin(), results.end(), [](const RowResult& r) {
    return r.measured && !notes_of(*r.measured).empty();
  });
  std::fprintf(out, format, "case", "transport", "size", "p50", "p99", "msgs/s", "bytes/s");
  std::fprintf(out, any_notes ? "   notes\n" : "\n");
  std::fprintf(out, "%s\n", std::string(89, '-').c_str());
  for (const RowResult& result : results) {
    const Case& row = *result.row;
    const std::string kind(kind_name(row.kind));
    const std::string size = format_size(row.size_bytes);
    if (!result.absent.empty()) {
      std::fprintf(out, "%-14s %-17s %7s   absent: %s\n", kind.c_str(), row.transport.c_str(), size.c_str(),
                   result.absent.c_str());
      continue;
    }
    if (!result.measured) {
      std::fprintf(out, "%-14s %-17s %7s   FAILED: %s\n", kind.c_str(), row.transport.c_str(), size.c_str(),
                   result.error.c_str());
      continue;
    }
    const Measurement& m = *result.measured;
    std::fprintf(out, format, kind.c_str(), row.transport.c_str(), size.c_str(), format_time(m.p50_ns).c_str(),
                 format_time(m.p99_ns).c_str(), format_rate(m.msgs_per_s, "/s").c_str(),
                 format_rate(m.bytes_per_s, "B/s").c_str());
    const std::string notes = notes_of(m);
    if (!notes.empty()) std::fprintf(out, "   %s", notes.c_str());
    std::fprintf(out, "\n");
  }
  std::fprintf(out, "\n");
}

void print_targets(std::FILE* out, const std::vector<RowResult>& results) {
  std::fprintf(out, "targets (colony / peer, as measured in this run):\n");
  for (const Target& target : kTargets) {
    const CaseKind peer_kind = target.peer_kind.value_or(target.kind);
    const std::size_t peer_size = target.peer_kind ? target.peer_size : target.size;
    const bool has_row = std::any_of(results.begin(), results.end(), [&](const RowResult& r) {
      return (r.row->kind == target.kind && r.row->size_bytes == target.size && r.row->transport == target.subject) ||
             (r.row->kind == peer_kind && r.row->size_bytes == peer_size && r.row->transport == target.peer);
    });
    // Ratios without a target are shown only when their rows were selected.
    if (target.limit == 0.0 && !has_row) continue;
    const auto colony = metric_of(results, target.kind, target.size, target.subject, target.metric);
    const auto peer = metric_of(results, peer_kind, peer_size, target.peer, target.metric);
    // A row against the same transport in another kind: name the kind.
    const bool same_transport = std::string_view(target.subject) == target.peer;
    const std::string versus =
        std::string(target.subject) + " / " + (same_transport ? std::string(kind_name(peer_kind)) : target.peer);
    const std::string limit = target.limit == 0.0 ? std::string("none")
                                                  : std::string(target.at_most ? "<= " : ">= ") +
                                                        printf_string("%.3gx", target.limit);
    if (!colony || !peer || *peer <= 0) {
      std::fprintf(out, "  %-28s %-26s %8s   target %-8s  not measured\n", target.what, versus.c_str(), "-",
                   limit.c_str());
      continue;
    }
    const double ratio = *colony / *peer;
    const bool pass = target.at_most ? ratio <= target.limit : ratio >= target.limit;
    std::fprintf(out, "  %-28s %-26s %7.2fx   target %-8s  %s\n", target.what, versus.c_str(), ratio, limit.c_str(),
                 target.limit == 0.0 ? "(for information)" : pass ? "PASS" : "MISS");
  }
  for (const AbsoluteTarget& target : kAbsoluteTargets) {
    std::optional<double> figure;
    for (const RowResult& r : results) {
      if (r.row->kind != target.kind || r.row->size_bytes != target.size || r.row->transport != target.subject ||
          !r.measured) {
        continue;
      }
      for (const auto& [name, value] : r.measured->extra) {
        if (name == target.field) figure = value / target.scale;
      }
    }
    const std::string limit = "<= " + printf_string("%g", target.limit) + " " + target.unit;
    if (!figure) {
      std::fprintf(out, "  %-28s %-26s %8s   target %-8s  not measured\n", target.what, target.subject, "-",
                   limit.c_str());
      continue;
    }
    const std::string shown = printf_string("%.1f", *figure) + " " + target.unit;
    std::fprintf(out, "  %-28s %-26s %8s   target %-8s  %s\n", target.what, target.subject, shown.c_str(),
                 limit.c_str(), *figure <= target.limit ? "PASS" : "MISS");
  }
}

void print_json(std::FILE* out, const std::vector<RowResult>& results) {
  for (const RowResult& result : results) {
    const Case& row = *result.row;
    std::string line = "{\"case\":" + json_string(kind_name(row.kind)) +
                       ",\"transport\":" + json_string(row.transport) +
                       ",\"size_bytes\":" + std::to_string(row.size_bytes);
    if (result.measured) {
      const auto field = [&line](const std::string& name, const std::optional<double>& value) {
        if (value) line += ",\"" + name + "\":" + printf_string("%.0f", *value);
      };
      const Measurement& m = *result.measured;
      field("p50_ns", m.p50_ns);
      field("p90_ns", m.p90_ns);
      field("p99_ns", m.p99_ns);
      field("msgs_per_s", m.msgs_per_s);
      field("bytes_per_s", m.bytes_per_s);
      if (m.samples) field("samples", static_cast<double>(*m.samples));
      for (const auto& [name, value] : m.extra) field(name, value);
    } else if (!result.absent.empty()) {
      line += ",\"absent\":" + json_string(result.absent);
    } else {
      line += ",\"error\":" + json_string(result.error);
    }
    std::fprintf(out, "%s}\n", line.c_str());
  }
}

}  // namespace bench
