// One look at a live session, and the rates between two looks.
#include "session_snapshot.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <tuple>

// shm::is_alive comes with clean.hpp, whose SessionCheck names the broker by
// its shm::ProcessIdentity.
#include "colony/broker/clean.hpp"
// The session layer's own headers, in one block.
#include "colony/session/contract.hpp"
#include "colony/session/crash_log.hpp"
#include "colony/session/names.hpp"
#include "colony/session/slot_state.hpp"

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

// A named worker's rings (Mailbox::open_or_create makes them); an error when
// its name makes no segment name.
shm::Expected<shm::SegmentName> mailbox_segment(std::string_view session, std::string_view name) {
  return shm::SegmentName::make(session, shm::SegmentKind::ring, detail::mailbox_object(name));
}
shm::Expected<shm::SegmentName> dead_letter_segment(std::string_view session, std::string_view name) {
  return shm::SegmentName::make(session, shm::SegmentKind::ring, detail::dead_letter_object(name));
}

// Never waits: a segment still being made is looked at again next time,
// rather than holding up the look.
template <class Segment>
shm::Expected<Segment> open_now(const shm::Expected<shm::SegmentName>& name) {
  if (!name) return name.error();
  return Segment::open(*name, shm::Deadline::now());
}

// The mailbox's control block, once its creator has published it.
const detail::MailboxControl* control_of(const shm::Ring& box) {
  auto& control = *reinterpret_cast<detail::MailboxControl*>(box.user_area());
  // Its creator publishes the control block by this store; before it, zeros.
  const auto magic = std::atomic_ref<std::uint64_t>(control.magic).load(std::memory_order_acquire);
  return magic == detail::kMailboxMagic ? &control : nullptr;
}

std::string_view supervision_name(std::uint32_t state) {
  switch (static_cast<detail::SupervisionState>(state)) {
    case detail::SupervisionState::normal: return "normal";
    case detail::SupervisionState::backing_off: return "backing-off";
    case detail::SupervisionState::given_up: return "given-up";
  }
  return "unknown";
}

std::optional<double> per_second(std::uint64_t now, std::uint64_t then, double seconds) {
  // A counter that went back belongs to something else now: no rate.
  if (seconds <= 0 || now < then) return std::nullopt;
  return static_cast<double>(now - then) / seconds;
}

std::optional<double> cpu_percent(const std::optional<ProcessStats>& now, const std::optional<ProcessStats>& then,
                                  double seconds) {
  if (!now || !then || seconds <= 0 || now->started != then->started || now->cpu_time < then->cpu_time) {
    return std::nullopt;
  }
  return std::chrono::duration<double>(now->cpu_time - then->cpu_time).count() / seconds * 100.0;
}

void add_rates(SessionSnapshot& now, const SessionSnapshot& before) {
  const double seconds = std::chrono::duration<double>(now.taken - before.taken).count();
  now.seconds = seconds;
  if (now.broker_pid == before.broker_pid) now.broker_cpu_percent = cpu_percent(now.broker_stats, before.broker_stats, seconds);
  // The same process: same slot, generation and pid.
  std::map<std::tuple<std::uint32_t, std::uint32_t, int>, const ProcessRow*> processes;
  for (const auto& row : before.workers) processes[{row.slot, row.generation, row.pid}] = &row;
  for (auto& row : now.workers) {
    const auto then = processes.find({row.slot, row.generation, row.pid});
    if (then == processes.end()) continue;
    row.cpu_percent = cpu_percent(row.stats, then->second->stats, seconds);
    row.in_per_s = per_second(row.messages_in, then->second->messages_in, seconds);
    row.out_per_s = per_second(row.messages_out, then->second->messages_out, seconds);
  }
  std::map<std::string_view, const NamedWorkerRow*> named;
  for (const auto& row : before.named_workers) named[row.name] = &row;
  for (auto& row : now.named_workers) {
    if (const auto then = named.find(row.name); then != named.end()) {
      row.handled_per_s = per_second(row.handled, then->second->handled, seconds);
    }
  }
  std::map<std::string_view, const ChannelRow*> channels;
  for (const auto& row : before.channels) channels[row.name] = &row;
  for (auto& row : now.channels) {
    if (const auto then = channels.find(row.name); then != channels.end()) {
      row.sent_per_s = per_second(row.sent, then->second->sent, seconds);
      row.received_per_s = per_second(row.received, then->second->received, seconds);
    }
  }
}

}  // namespace

std::string_view kind_name(SharedObjectRow::Kind kind) {
  switch (kind) {
    case SharedObjectRow::Kind::bytes: return "bytes";
    case SharedObjectRow::Kind::mutex: return "mutex";
    case SharedObjectRow::Kind::condition: return "condition";
  }
  return "unknown";
}

Json read_crash_reports(std::string_view session, std::string_view name) {
  std::optional<CrashLog> log;
  try {
    log = CrashLog::open(session, name);
  } catch (const std::exception&) {
    return Json::array();  // a name that makes no segment name has no log
  }
  if (!log) return Json::array();
  const auto text = log->read();
  if (!text || text->empty()) return Json::array();
  Json parsed = Json::parse(*text, nullptr, false);
  return parsed.is_array() ? parsed : Json::array();
}

std::optional<NamedProcess> current_process_of(const detail::SessionMap& map, std::string_view name) {
  const auto box = open_now<shm::Ring>(mailbox_segment(map.session(), name));
  if (!box) return std::nullopt;
  const detail::MailboxControl* control = control_of(*box);
  if (control == nullptr) return std::nullopt;
  const NamedProcess process{control->current_slot.load(std::memory_order_acquire), control->current_generation.load()};
  if (process.slot == 0 || process.slot >= detail::kMaxWorkerSlots) return std::nullopt;
  if (detail::generation_of(map.slot(process.slot).state_word.load(std::memory_order_acquire)) != process.generation) {
    return std::nullopt;
  }
  return process;
}

SessionLooker::SessionLooker(std::shared_ptr<detail::SessionMap> map, LookOptions options)
    : map_(std::move(map)), options_(options) {}

bool SessionLooker::session_ended() const {
  const auto& header = map_->header();
  return header.state.load(std::memory_order_acquire) == static_cast<std::uint32_t>(detail::SessionState::ending) ||
         !shm::is_alive(detail::broker_identity(header));
}

SessionSnapshot SessionLooker::look() {
  SessionSnapshot snapshot;
  snapshot.session = map_->session();
  snapshot.broker_pid = map_->header().broker_pid.load();
  snapshot.taken = std::chrono::steady_clock::now();
  if (options_.process_stats && snapshot.broker_pid > 0) snapshot.broker_stats = read_process_stats(snapshot.broker_pid);
  const SessionMemory memory = session_memory(snapshot.session);
  snapshot.shared_memory_bytes = memory.bytes;
  snapshot.shared_memory_segments = memory.segments;
  look_at_entries(snapshot);  // named workers first: the process rows name theirs
  look_at_processes(snapshot);
  if (previous_) add_rates(snapshot, *previous_);
  previous_ = snapshot;
  return snapshot;
}

void SessionLooker::look_at_entries(SessionSnapshot& snapshot) {
  const std::uint32_t count =
      std::min(map_->header().object_entries.load(std::memory_order_acquire), detail::kMaxObjectEntries);
  for (std::uint32_t i = 0; i < count; ++i) {
    const auto& entry = map_->object_entry(i);
    if (entry.state.load(std::memory_order_acquire) != kEntryPublished) continue;
    const std::string name = text_of(entry.name, sizeof entry.name);
    // What cannot be opened is not listed (it may be on its way, or gone);
    // only a named worker, which the registry alone defines, is shown regardless.
    if (entry.kind == detail::kNamedWorkerEntryKind) {
      look_at_named(snapshot, i, name);
    } else if (entry.kind == static_cast<std::uint32_t>(shm::SegmentKind::ring)) {
      auto found = channels_.find(i);
      if (found == channels_.end()) {
        auto ring = open_now<shm::Ring>(shm::SegmentName::make(snapshot.session, shm::SegmentKind::ring, name));
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
      snapshot.channels.push_back(std::move(row));
    } else if (entry.kind == static_cast<std::uint32_t>(shm::SegmentKind::bytes)) {
      auto found = byte_arrays_.find(i);
      if (found == byte_arrays_.end()) {
        auto bytes = open_now<shm::ByteArray>(shm::SegmentName::make(snapshot.session, shm::SegmentKind::bytes, name));
        if (!bytes) continue;
        found = byte_arrays_.emplace(i, std::move(*bytes)).first;
      }
      snapshot.objects.push_back(SharedObjectRow{name, SharedObjectRow::Kind::bytes, found->second.capacity(), 0});
    } else if (entry.kind == static_cast<std::uint32_t>(shm::SegmentKind::mutex)) {
      auto found = mutexes_.find(i);
      if (found == mutexes_.end()) {
        auto mutex = open_now<shm::Mutex>(shm::SegmentName::make(snapshot.session, shm::SegmentKind::mutex, name));
        if (!mutex) continue;
        found = mutexes_.emplace(i, std::move(*mutex)).first;
      }
      snapshot.objects.push_back(SharedObjectRow{name, SharedObjectRow::Kind::mutex, 0, found->second.holder_pid()});
    } else if (entry.kind == static_cast<std::uint32_t>(shm::SegmentKind::condition)) {
      snapshot.objects.push_back(SharedObjectRow{name, SharedObjectRow::Kind::condition, 0, 0});
    }
  }
}

void SessionLooker::look_at_named(SessionSnapshot& snapshot, std::uint32_t entry, const std::string& name) {
  NamedWorkerRow row;
  row.name = name;
  if (options_.crash_reports) row.crash_reports = read_crash_reports(snapshot.session, name);
  auto found = mailboxes_.find(entry);
  if (found == mailboxes_.end()) {
    auto box = open_now<shm::Ring>(mailbox_segment(snapshot.session, name));
    if (!box) {
      row.problem = box.error().code == shm::Errc::not_found ? "its mailbox segment is missing"
                                                              : "its mailbox cannot be read: " + box.error().message;
      snapshot.named_workers.push_back(std::move(row));
      return;
    }
    found = mailboxes_.emplace(entry, MailboxRings{std::move(*box), std::nullopt}).first;
  }
  MailboxRings& rings = found->second;
  if (!rings.dead) {
    auto dead = open_now<shm::Ring>(dead_letter_segment(snapshot.session, name));
    if (dead) rings.dead.emplace(std::move(*dead));
  }
  if (const detail::MailboxControl* control = control_of(rings.box)) {
    row.starts = control->starts.load();
    row.restarts = row.starts > 0 ? row.starts - 1 : 0;
    row.last_exit_kind = control->last_exit_kind.load();
    row.last_exit_code = control->last_exit_code.load();
    row.last_exit_signal = control->last_exit_signal.load();
    row.handled = control->handled.load();
    row.redelivered = control->redelivered.load();
    const std::uint32_t supervision = control->supervision.load();
    row.supervision = supervision_name(supervision);
    row.crashes = control->crashes.load();
    const auto noticed = control->death_noticed_ns.load();
    const auto replaced = control->replaced_ns.load();
    if (control->restarts.load() > 0 && noticed > 0 && replaced >= noticed) {
      row.last_restart_latency_us = static_cast<double>(replaced - noticed) / 1e3;
    }
    const std::uint32_t slot = control->current_slot.load(std::memory_order_acquire);
    const std::uint32_t generation = control->current_generation.load();
    if (slot != 0 && slot < detail::kMaxWorkerSlots) {
      const auto& record = map_->slot(slot);
      const auto word = record.state_word.load(std::memory_order_acquire);
      if (detail::generation_of(word) == generation) {
        row.has_process = true;
        row.slot = slot;
        row.generation = generation;
        row.pid = record.pid.load();
        row.state = detail::slot_state_name(detail::state_of(word));
        row.messages_in = record.messages_in.load(std::memory_order_relaxed);
        row.messages_out = record.messages_out.load(std::memory_order_relaxed);
      }
    }
    if (!row.has_process && supervision != 0) row.state = row.supervision;
  }
  row.queued = backlog(rings.box);
  row.dead_letters = rings.dead ? backlog(*rings.dead) : 0;
  snapshot.named_workers.push_back(std::move(row));
}

void SessionLooker::look_at_processes(SessionSnapshot& snapshot) const {
  std::map<std::pair<std::uint32_t, std::uint32_t>, const NamedWorkerRow*> named_by_slot;
  for (const auto& named : snapshot.named_workers) {
    if (named.has_process) named_by_slot[{named.slot, named.generation}] = &named;
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
    row.parent_slot = record.parent_slot.load();
    row.messages_in = record.messages_in.load(std::memory_order_relaxed);
    row.messages_out = record.messages_out.load(std::memory_order_relaxed);
    if (options_.process_stats && row.pid > 0) row.stats = read_process_stats(row.pid);
    if (auto named = named_by_slot.find({slot, row.generation}); named != named_by_slot.end()) {
      row.name = named->second->name;
      row.restarts = named->second->restarts;
    }
    snapshot.workers.push_back(std::move(row));
  }
}

}  // namespace colony::cli
