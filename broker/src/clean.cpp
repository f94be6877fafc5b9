#include "colony/broker/clean.hpp"

#include <map>

#include "colony/shm/names.hpp"
#include "colony/shm/ring.hpp"
#include "colony/shm/segment.hpp"
#include "colony/worker/errors.hpp"
#include "colony/session/contract.hpp"
#include "colony/session/session_map.hpp"
#include "session_processes.hpp"

namespace colony {
namespace {

// How long an opener waits for a segment that is still being made.
constexpr auto kReadyWait = std::chrono::milliseconds(200);

// A segment of a session, as far as opening it can prove.
struct SegmentState {
  enum Kind {
    ours,        // opens and validates as a Colony segment of this user (or its creator died making it)
    being_made,  // ours, not READY yet, and its creator runs
    not_ours,    // cannot be validated: another user's, a symlink, garbage, another layout...
  } kind = not_ours;
  shm::ProcessIdentity creator;  // ours: who made it (pid 0: unknown, its creator died making it)
  bool creator_alive = false;
  std::string reason;  // being_made and not_ours
};

SegmentState inspect(const std::string& os_name) {
  SegmentState state;
  const auto parsed = shm::SegmentName::parse(os_name);
  if (!parsed) {
    state.reason = "its name is not a Colony segment name";
    return state;
  }
  auto segment = shm::Segment::open(*parsed, shm::Deadline::after(kReadyWait));
  if (segment) {
    state.kind = SegmentState::ours;
    state.creator = segment->creator();
    state.creator_alive = shm::is_alive(state.creator);
    return state;
  }
  switch (segment.error().code) {
    case shm::Errc::creator_died: state.kind = SegmentState::ours; break;
    case shm::Errc::not_ready: state.kind = SegmentState::being_made; break;
    default: break;
  }
  state.reason = segment.error().message;
  return state;
}

std::string control_os_name(const std::string& session) {
  std::string name(1, '/');
  name.append(shm::SegmentName::session_prefix(session)).append("ctl.").append(detail::kSessionControl);
  return name;
}

SessionCheck unverifiable(std::string reason) {
  SessionCheck check;
  check.verdict = SessionVerdict::unverifiable;
  check.reason = std::move(reason);
  return check;
}

// Signs that something of the session still runs although its control
// segment cannot say: a live reader of its broker ring, a live creator of
// one of its segments, a live process whose environment names it.
std::string sign_of_life(const std::string& session, const std::vector<std::string>& names) {
  if (auto ring_name = shm::SegmentName::make(session, shm::SegmentKind::ring, detail::kBrokerRing)) {
    if (auto ring = shm::Ring::open(*ring_name, shm::Deadline::after(kReadyWait))) {
      const auto reader = shm::unpack_identity(ring->control().reader.load(std::memory_order_acquire));
      if (reader.pid != 0 && shm::is_alive(reader)) {
        return "its broker ring is read by pid " + std::to_string(reader.pid) + ", which runs";
      }
    }
  }
  for (const auto& name : names) {
    const SegmentState state = inspect(name);
    if ((state.kind == SegmentState::ours && state.creator_alive) || state.kind == SegmentState::being_made) {
      return name + " was made by pid " + std::to_string(state.creator.pid) + ", which runs";
    }
  }
  if (const auto pids = broker_detail::processes_in_session(session); !pids.empty()) {
    return "pid " + std::to_string(pids.front()) + " runs in it";
  }
  return {};
}

void skip_all(CleanReport& report, const std::vector<std::string>& names, const std::string& reason) {
  for (const auto& name : names) report.skipped.push_back({name, reason});
}

// A session whose broker is provably gone, or that never had one: every
// segment that validates as ours and whose creator is gone goes.
void clean_segments(CleanReport& report, const std::vector<std::string>& names) {
  for (const auto& name : names) {
    const SegmentState state = inspect(name);
    if (state.kind == SegmentState::ours && !state.creator_alive) {
      if (shm::Segment::remove_os_name(name.c_str())) report.removed.push_back(name);
    } else if (state.kind == SegmentState::ours) {
      report.skipped.push_back({name, "made by pid " + std::to_string(state.creator.pid) + ", which still runs", false});
    } else {
      report.skipped.push_back({name, state.reason, state.kind == SegmentState::not_ours});
    }
  }
}

// --force for one session whose control segment cannot be validated.
void force_clean(CleanReport& report, const std::string& session, const std::vector<std::string>& names) {
  if (const std::string alive = sign_of_life(session, names); !alive.empty()) {
    for (const auto& name : names) report.skipped.push_back({name, "not removed even with --force: " + alive, false});
    return;
  }
  for (const auto& name : names) {
    const shm::EntryOwner owner = shm::Segment::owner_of(name);
    if (!owner.exists) continue;
    if (!owner.ours) {
      report.skipped.push_back({name, "not removed even with --force: it " + owner.description});
      continue;
    }
    if (shm::Segment::remove_os_name(name.c_str())) report.removed.push_back(name);
  }
}

}  // namespace

SessionCheck check_session(const std::string& session) {
  auto name = shm::SegmentName::make(session, shm::SegmentKind::control, detail::kSessionControl);
  if (!name) return unverifiable(name.error().message);
  auto segment = shm::Segment::open(*name, shm::Deadline::after(kReadyWait));
  SessionCheck check;
  if (!segment) {
    switch (segment.error().code) {
      case shm::Errc::not_found: check.verdict = SessionVerdict::no_control; return check;
      case shm::Errc::not_ready: check.verdict = SessionVerdict::live; return check;  // a broker is making it
      case shm::Errc::creator_died: check.verdict = SessionVerdict::dead; return check;
      case shm::Errc::foreign_owner:
        check.verdict = SessionVerdict::foreign;
        check.reason = segment.error().message;
        return check;
      default: return unverifiable(segment.error().message);
    }
  }
  const auto& header = *reinterpret_cast<const detail::SessionHeader*>(segment->control());
  const std::string what = "control segment " + name->os_name();
  if (header.magic != detail::kSessionMagic) return unverifiable(what + " does not hold a Colony session (bad magic)");
  if (header.version != detail::kSessionVersion) {
    return unverifiable(what + " has session layout version " + std::to_string(header.version) +
                        ", this build reads version " + std::to_string(detail::kSessionVersion));
  }
  if (header.slot_count != detail::kMaxWorkerSlots || segment->data_size() != detail::kSessionDataSize) {
    return unverifiable(what + " has a size this build does not make");
  }
  check.broker = detail::broker_identity(header);
  const shm::ProcessIdentity creator = segment->creator();
  if (check.broker.pid <= 0 || check.broker != creator) {
    return unverifiable(what + " names broker pid " + std::to_string(check.broker.pid) + " but was made by pid " +
                        std::to_string(creator.pid));
  }
  check.verdict = shm::is_alive(check.broker) ? SessionVerdict::live : SessionVerdict::dead;
  check.next_object_id = header.next_object_id.load(std::memory_order_relaxed);
  return check;
}

bool session_is_live(const std::string& session) { return check_session(session).verdict == SessionVerdict::live; }

void require_live_session(const std::string& session) {
  const SessionCheck check = check_session(session);
  switch (check.verdict) {
    case SessionVerdict::live: return;
    case SessionVerdict::foreign:
      throw WorkerError(WorkerErrc::session_gone,
                        "session '" + session + "' is not accessible to this user: " + check.reason);
    case SessionVerdict::unverifiable:
      throw WorkerError(WorkerErrc::session_gone, "session '" + session + "' cannot be read: " + check.reason);
    case SessionVerdict::dead:
    case SessionVerdict::no_control: break;
  }
  throw WorkerError(WorkerErrc::session_gone, "no live broker runs session '" + session + "'");
}

CleanReport clean_dead_sessions(const CleanOptions& options) {
  CleanReport report;
  const std::string prefix =
      options.only_session.empty() ? "colony." : shm::SegmentName::session_prefix(options.only_session);
  std::map<std::string, std::vector<std::string>> by_session;
  for (const auto& os_name : shm::Segment::list(prefix)) {
    if (auto parsed = shm::SegmentName::parse(os_name)) {
      by_session[parsed->session()].push_back(os_name);
    } else {
      report.skipped.push_back({os_name, "its name is not a Colony segment name"});
    }
  }
  for (const auto& [session, names] : by_session) {
    const SessionCheck check = check_session(session);
    switch (check.verdict) {
      case SessionVerdict::live: report.live_sessions.push_back(session); break;
      case SessionVerdict::foreign: skip_all(report, names, "session '" + session + "': " + check.reason); break;
      case SessionVerdict::unverifiable:
        if (options.force && options.only_session == session) {
          force_clean(report, session, names);
        } else {
          skip_all(report, names,
                   "session '" + session + "' cannot be told dead: " + check.reason +
                       " (colony clean --force --session " + session + " removes it once no process of it runs)");
        }
        break;
      case SessionVerdict::dead:
      case SessionVerdict::no_control: clean_segments(report, names); break;
    }
  }
  return report;
}

std::vector<SkippedSegment> unverifiable_segments(const std::string& session) {
  std::vector<SkippedSegment> found;
  for (const auto& name : shm::Segment::list(shm::SegmentName::session_prefix(session))) {
    const SegmentState state = inspect(name);
    if (state.kind == SegmentState::not_ours || name == control_os_name(session)) {
      found.push_back({name, state.kind == SegmentState::not_ours ? state.reason : "the session's control segment"});
    }
  }
  return found;
}

TakeOver take_over_dead_session(const std::string& session) {
  TakeOver result;
  const SessionCheck check = check_session(session);
  if (check.verdict == SessionVerdict::no_control) {
    (void)clean_dead_sessions({session, false});
    return result;
  }
  if (check.verdict != SessionVerdict::dead) return result;
  result.next_object_id = check.next_object_id;
  for (const auto& os_name : shm::Segment::list(shm::SegmentName::session_prefix(session))) {
    const auto parsed = shm::SegmentName::parse(os_name);
    if (parsed && detail::is_kept_on_take_over(*parsed)) {
      result.kept.push_back(os_name);
      continue;
    }
    const SegmentState state = inspect(os_name);
    if (state.kind == SegmentState::ours && !state.creator_alive) (void)shm::Segment::remove_os_name(os_name.c_str());
  }
  return result;
}

SessionMemory session_memory(const std::string& session) {
  SessionMemory memory;
  for (const auto& os_name : shm::Segment::list(shm::SegmentName::session_prefix(session))) {
    const shm::EntryOwner entry = shm::Segment::owner_of(os_name);
    if (!entry.exists) continue;
    memory.bytes += entry.bytes;
    ++memory.segments;
  }
  return memory;
}

std::vector<SkippedSegment> remove_session_segments(const std::string& session, shm::ProcessIdentity creator,
                                                    bool also_dead_creators) {
  std::vector<SkippedSegment> left;
  for (const auto& os_name : shm::Segment::list(shm::SegmentName::session_prefix(session))) {
    const SegmentState state = inspect(os_name);
    const bool mine = state.kind == SegmentState::ours && state.creator == creator;
    const bool dead = state.kind == SegmentState::ours && !state.creator_alive;
    if (mine || (also_dead_creators && dead)) {
      (void)shm::Segment::remove_os_name(os_name.c_str());
    } else {
      left.push_back({os_name,
                      state.kind == SegmentState::ours
                          ? "made by pid " + std::to_string(state.creator.pid) + ", which still runs"
                          : state.reason,
                      state.kind == SegmentState::not_ours});
    }
  }
  return left;
}

}  // namespace colony
