// colony top's view of a session: one look, its rates, its renderings.
#include "top_view.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string_view>
#include <tuple>

#include "colony/broker/clean.hpp"
#include "colony/session/contract.hpp"
#include "colony/session/names.hpp"
#include "colony/session/slot_state.hpp"
#include "colony/shm/process.hpp"
#include "colony/worker/mailbox.hpp"

namespace colony::cli {
namespace {

using Json = nlohmann::json;
constexpr std::uint32_t kEntryPublished = 2;  // ObjectEntry::state

std::string text_of(const char* chars, std::size_t capacity) { return std::string(chars, ::strnlen(chars, capacity)); }

std::uint64_t backlog(const shm::Ring& ring) {
  const auto written = ring.records_written();
  const auto read = ring.records_read();
  return written > read ? written - read : 0;
}

// Never waits: a segment still being made is looked at again next time,
// rather than holding up the frame.
std::optional<shm::Ring> open_ring(const std::string& session, const std::string& object) {
  auto name = shm::SegmentName::make(session, shm::SegmentKind::ring, object);
  if (!name) return std::nullopt;
  auto ring = shm::Ring::open(*name, shm::Deadline::now());
  if (!ring) return std::nullopt;
  return std::move(*ring);
}

std::optional<double> per_second(std::uint64_t now, std::uint64_t then, double seconds) {
  // A counter that went back belongs to something else now: no rate.
  if (seconds <= 0 || now < then) return std::nullopt;
  return static_cast<double>(now - then) / seconds;
}

std::optional<double> cpu_percent(const std::optional<ProcessUsage>& now, const std::optional<ProcessUsage>& then,
                                  double seconds) {
  if (!now || !then || seconds <= 0 || now->start_ticks != then->start_ticks || now->cpu_ticks < then->cpu_ticks) {
    return std::nullopt;
  }
  static const long ticks = ::sysconf(_SC_CLK_TCK);
  const double per_second_ticks = ticks > 0 ? static_cast<double>(ticks) : 100.0;
  return static_cast<double>(now->cpu_ticks - then->cpu_ticks) / per_second_ticks / seconds * 100.0;
}

}  // namespace

std::optional<ProcessUsage> read_process_usage(int pid) {
  if (pid <= 0) return std::nullopt;
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  // One read: the kernel makes the whole line at once, so its fields agree.
  char buffer[1024];
  const ssize_t got = ::read(fd, buffer, sizeof buffer);
  ::close(fd);
  if (got <= 0) return std::nullopt;
  const std::string_view line(buffer, static_cast<std::size_t>(got));
  // Field 2 (comm) is in parentheses and may hold spaces and ')'; the others
  // follow the last ')'. Numbers as in proc(5): 14 utime, 15 stime,
  // 22 starttime, 24 rss (pages, the value statm's resident field holds).
  std::size_t at = line.rfind(')');
  if (at == std::string_view::npos) return std::nullopt;
  std::uint64_t fields[25] = {};
  int number = 2;
  while (number < 24) {
    at = line.find_first_not_of(' ', at + 1);
    if (at == std::string_view::npos) return std::nullopt;
    const std::size_t end = std::min(line.find(' ', at), line.size());
    ++number;
    std::from_chars(line.data() + at, line.data() + end, fields[number]);
    at = end;
  }
  static const long page = ::sysconf(_SC_PAGESIZE);
  ProcessUsage usage;
  usage.cpu_ticks = fields[14] + fields[15];
  usage.start_ticks = fields[22];
  usage.rss_bytes = fields[24] * static_cast<std::uint64_t>(page > 0 ? page : 4096);
  return usage;
}

SessionWatcher::SessionWatcher(std::shared_ptr<detail::SessionMap> map) : map_(std::move(map)) {}

bool SessionWatcher::session_ended() const {
  const auto& header = map_->header();
  return header.state.load(std::memory_order_acquire) == static_cast<std::uint32_t>(detail::SessionState::ending) ||
         !shm::is_alive(detail::broker_identity(header));
}

TopFrame SessionWatcher::look() {
  TopFrame frame;
  frame.session = map_->session();
  frame.broker_pid = map_->header().broker_pid.load();
  frame.taken = std::chrono::steady_clock::now();
  frame.broker_usage = read_process_usage(frame.broker_pid);
  const SessionMemory memory = session_memory(frame.session);
  frame.shared_memory_bytes = memory.bytes;
  frame.shared_memory_segments = memory.segments;
  look_at_entries(frame);    // named workers first: the process rows name theirs
  look_at_processes(frame);
  add_rates(frame);
  previous_ = frame;
  return frame;
}

void SessionWatcher::look_at_entries(TopFrame& frame) {
  const std::uint32_t count =
      std::min(map_->header().object_entries.load(std::memory_order_acquire), detail::kMaxObjectEntries);
  for (std::uint32_t i = 0; i < count; ++i) {
    const auto& entry = map_->object_entry(i);
    if (entry.state.load(std::memory_order_acquire) != kEntryPublished) continue;
    const std::string name = text_of(entry.name, sizeof entry.name);
    if (entry.kind == detail::kNamedWorkerEntryKind) {
      look_at_named(frame, i, name);
    } else if (entry.kind == static_cast<std::uint32_t>(shm::SegmentKind::ring)) {
      auto found = channels_.find(i);
      if (found == channels_.end()) {
        auto ring = open_ring(frame.session, name);
        if (!ring) continue;
        found = channels_.emplace(i, std::move(*ring)).first;
      }
      const shm::Ring& ring = found->second;
      ChannelRow row;
      row.name = name;
      row.sent = ring.records_written();
      row.received = ring.records_read();
      row.depth = row.sent > row.received ? row.sent - row.received : 0;
      row.capacity_bytes = ring.capacity();
      row.closed = ring.is_closed();
      frame.channels.push_back(std::move(row));
    } else if (entry.kind == static_cast<std::uint32_t>(shm::SegmentKind::mutex)) {
      auto found = mutexes_.find(i);
      if (found == mutexes_.end()) {
        auto segment_name = shm::SegmentName::make(frame.session, shm::SegmentKind::mutex, name);
        if (!segment_name) continue;
        auto mutex = shm::Mutex::open(*segment_name, shm::Deadline::now());
        if (!mutex) continue;
        found = mutexes_.emplace(i, std::move(*mutex)).first;
      }
      frame.mutexes.push_back(MutexRow{name, found->second.holder_pid()});
    }
  }
}

void SessionWatcher::look_at_named(TopFrame& frame, std::uint32_t entry, const std::string& name) {
  NamedRow row;
  row.name = name;
  row.state = "idle";
  auto found = mailboxes_.find(entry);
  if (found == mailboxes_.end()) {
    // Opened, never created: Mailbox::open_or_create would make a missing one.
    auto box = open_ring(frame.session, detail::mailbox_object(name));
    if (!box) {
      frame.named_workers.push_back(std::move(row));
      return;
    }
    found = mailboxes_.emplace(entry, MailboxRings{std::move(*box), std::nullopt}).first;
  }
  auto& rings = found->second;
  if (!rings.dead) rings.dead = open_ring(frame.session, detail::dead_letter_object(name));
  auto& control = *reinterpret_cast<detail::MailboxControl*>(rings.box.user_area());
  // Its creator publishes the control block by this store; before it, zeros.
  if (std::atomic_ref<std::uint64_t>(control.magic).load(std::memory_order_acquire) == detail::kMailboxMagic) {
    const std::uint32_t starts = control.starts.load();
    row.restarts = starts > 0 ? starts - 1 : 0;
    row.handled = control.handled.load();
    const std::uint32_t slot = control.current_slot.load(std::memory_order_acquire);
    const std::uint32_t generation = control.current_generation.load();
    if (slot != 0 && slot < detail::kMaxWorkerSlots) {
      const auto word = map_->slot(slot).state_word.load(std::memory_order_acquire);
      if (detail::generation_of(word) == generation) {
        row.slot = slot;
        row.generation = generation;
        row.pid = map_->slot(slot).pid.load();
        row.state = detail::slot_state_name(detail::state_of(word));
      }
    }
  }
  row.queued = backlog(rings.box);
  row.dead_letters = rings.dead ? backlog(*rings.dead) : 0;
  frame.named_workers.push_back(std::move(row));
}

void SessionWatcher::look_at_processes(TopFrame& frame) const {
  std::map<std::pair<std::uint32_t, std::uint32_t>, const NamedRow*> named_by_slot;
  for (const auto& named : frame.named_workers) {
    if (named.slot != 0) named_by_slot[{named.slot, named.generation}] = &named;
  }
  // Slots at or above next_fresh_slot were never used: no need to look.
  const std::uint32_t used = std::min(map_->header().next_fresh_slot.load(), detail::kMaxWorkerSlots);
  for (std::uint32_t slot = 1; slot < used; ++slot) {
    const auto& record = map_->slot(slot);
    const auto word = record.state_word.load(std::memory_order_acquire);
    const auto state = detail::state_of(word);
    if (state == detail::SlotState::free || state == detail::SlotState::reserved ||
        state == detail::SlotState::terminated) {
      continue;
    }
    ProcessRow row;
    row.slot = slot;
    row.generation = detail::generation_of(word);
    row.pid = record.pid.load();
    row.state = detail::slot_state_name(state);
    row.executable = text_of(record.executable, sizeof record.executable);
    row.messages_in = record.messages_in.load(std::memory_order_relaxed);
    row.messages_out = record.messages_out.load(std::memory_order_relaxed);
    row.usage = read_process_usage(row.pid);
    if (auto named = named_by_slot.find({slot, row.generation}); named != named_by_slot.end()) {
      row.name = named->second->name;
      row.restarts = named->second->restarts;
    }
    frame.workers.push_back(std::move(row));
  }
}

void SessionWatcher::add_rates(TopFrame& frame) const {
  if (!previous_) return;
  const TopFrame& before = *previous_;
  const double seconds = std::chrono::duration<double>(frame.taken - before.taken).count();
  frame.seconds = seconds;
  if (frame.broker_pid == before.broker_pid) {
    frame.broker_cpu_percent = cpu_percent(frame.broker_usage, before.broker_usage, seconds);
  }
  // The same process: same slot, generation and pid.
  std::map<std::tuple<std::uint32_t, std::uint32_t, int>, const ProcessRow*> processes;
  for (const auto& row : before.workers) processes[{row.slot, row.generation, row.pid}] = &row;
  for (auto& row : frame.workers) {
    const auto then = processes.find({row.slot, row.generation, row.pid});
    if (then == processes.end()) continue;
    row.cpu_percent = cpu_percent(row.usage, then->second->usage, seconds);
    row.in_per_s = per_second(row.messages_in, then->second->messages_in, seconds);
    row.out_per_s = per_second(row.messages_out, then->second->messages_out, seconds);
  }
  std::map<std::string_view, const NamedRow*> named;
  for (const auto& row : before.named_workers) named[row.name] = &row;
  for (auto& row : frame.named_workers) {
    if (const auto then = named.find(row.name); then != named.end()) {
      row.handled_per_s = per_second(row.handled, then->second->handled, seconds);
    }
  }
  std::map<std::string_view, const ChannelRow*> channels;
  for (const auto& row : before.channels) channels[row.name] = &row;
  for (auto& row : frame.channels) {
    if (const auto then = channels.find(row.name); then != channels.end()) {
      row.sent_per_s = per_second(row.sent, then->second->sent, seconds);
      row.received_per_s = per_second(row.received, then->second->received, seconds);
    }
  }
}

// --- JSON --------------------------------------------------------------------------------

namespace {

template <class T>
Json or_null(const std::optional<T>& value) {
  return value ? Json(*value) : Json(nullptr);
}

Json pid_or_null(int pid) { return pid > 0 ? Json(pid) : Json(nullptr); }

}  // namespace

Json frame_json(const TopFrame& frame) {
  Json out{{"session", frame.session},
           {"broker_pid", frame.broker_pid},
           {"broker_cpu_percent", or_null(frame.broker_cpu_percent)},
           {"broker_rss_bytes", frame.broker_usage ? Json(frame.broker_usage->rss_bytes) : Json(nullptr)},
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
                           {"rss_bytes", row.usage ? Json(row.usage->rss_bytes) : Json(nullptr)},
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
  for (const auto& row : frame.mutexes) {
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

// Printable text of a name: valid UTF-8 passes, control characters (C0, DEL,
// C1) and broken sequences become '?', so no name can send escape codes.
std::string printable(std::string_view name) {
  std::string out;
  for (std::size_t i = 0; i < name.size();) {
    const auto lead = static_cast<unsigned char>(name[i]);
    if (lead < 0x80) {
      out += (lead < 0x20 || lead == 0x7f) ? '?' : static_cast<char>(lead);
      ++i;
      continue;
    }
    const std::size_t length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc2 ? 2 : 0;
    bool valid = length > 0 && lead < 0xf5 && i + length <= name.size();
    std::uint32_t code = lead & (0x7fu >> length);
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(name[i + k]);
      valid = (next & 0xc0) == 0x80;
      code = (code << 6) | (next & 0x3fu);
    }
    // Overlong forms would hide a control character; U+0080..U+009F are C1 controls.
    valid = valid && code >= 0xa0 && !(length == 3 && code < 0x800) && !(length == 4 && code < 0x10000) &&
            code <= 0x10ffff;
    if (valid) {
      out.append(name.substr(i, length));
      i += length;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
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

std::optional<std::uint64_t> rss_of(const std::optional<ProcessUsage>& usage) {
  return usage ? std::optional<std::uint64_t>(usage->rss_bytes) : std::nullopt;
}

std::string clock_text() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  char text[16] = "";
  if (::localtime_r(&now, &local) != nullptr) std::strftime(text, sizeof text, "%H:%M:%S", &local);
  return text;
}

}  // namespace

std::vector<std::string> frame_lines(const TopFrame& frame, std::uint32_t interval_ms) {
  std::vector<std::string> lines;
  const std::string broker_cpu = frame.broker_cpu_percent ? percent_text(frame.broker_cpu_percent) + "%" : "-";
  lines.push_back(formatted("session %s, broker pid %d (cpu %s, rss %s), shared memory %s in %zu segments, %s, every %u ms",
                            printable(frame.session).c_str(), frame.broker_pid, broker_cpu.c_str(),
                            bytes_text(rss_of(frame.broker_usage)).c_str(), bytes_text(frame.shared_memory_bytes).c_str(),
                            frame.shared_memory_segments, clock_text().c_str(), interval_ms));

  lines.emplace_back();
  lines.push_back(formatted("worker processes (%zu)", frame.workers.size()));
  lines.push_back(formatted("  %5s %8s %-12s %8s %6s %8s %8s %8s  %s", "SLOT", "PID", "STATE", "RESTARTS", "CPU%", "RSS",
                            "IN/S", "OUT/S", "EXECUTABLE OR NAME"));
  for (const auto& row : frame.workers) {
    lines.push_back(formatted("  %5u %8s %-12s %8s %6s %8s %8s %8s  %s", row.slot, pid_text(row.pid).c_str(),
                              row.state.c_str(), row.restarts ? std::to_string(*row.restarts).c_str() : "-",
                              percent_text(row.cpu_percent).c_str(), bytes_text(rss_of(row.usage)).c_str(),
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
  lines.push_back(formatted("mutexes (%zu)", frame.mutexes.size()));
  lines.push_back(formatted("  %-16s %s", "NAME", "HOLDER"));
  for (const auto& row : frame.mutexes) {
    lines.push_back(formatted("  %-16s %s", printable(row.name).c_str(),
                              row.holder_pid > 0 ? ("pid " + std::to_string(row.holder_pid)).c_str() : "free"));
  }
  return lines;
}

}  // namespace colony::cli
