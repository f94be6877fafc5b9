#include "colony/broker/clean.hpp"

#include <map>

#include "colony/shm/names.hpp"
#include "colony/shm/process.hpp"
#include "colony/shm/segment.hpp"
#include "colony/worker/session_layout.hpp"
#include "colony/worker/session_map.hpp"

namespace colony {
namespace {

constexpr auto kReadyWait = std::chrono::milliseconds(200);

// The broker pid a session's control segment names; 0 when there is no
// usable control segment (its creator died before READY, foreign, or gone);
// -1 while a live broker is still making it.
int broker_pid_of(const std::string& session) {
  auto name = shm::SegmentName::make(session, shm::SegmentKind::control, detail::kSessionControl);
  if (!name) return 0;
  auto segment = shm::Segment::open(*name, shm::Deadline::after(kReadyWait));
  if (!segment) return segment.error().code == shm::Errc::not_ready ? -1 : 0;
  const auto& header = *reinterpret_cast<const detail::SessionHeader*>(segment->control());
  if (header.magic != detail::kSessionMagic) return 0;
  return header.broker_pid.load();
}

bool control_segment_exists(const std::string& session) {
  return !shm::Segment::list(shm::SegmentName::session_prefix(session) + "ctl." + std::string(detail::kSessionControl))
              .empty();
}

}  // namespace

bool session_is_live(const std::string& session) {
  const int pid = broker_pid_of(session);
  return pid == -1 || (pid > 0 && shm::process_is_alive(pid));
}

CleanReport clean_dead_sessions(const std::string& only_session) {
  CleanReport report;
  const std::string prefix = only_session.empty() ? "colony." : shm::SegmentName::session_prefix(only_session);
  std::map<std::string, std::vector<std::string>> by_session;
  for (const auto& os_name : shm::Segment::list(prefix)) {
    if (auto parsed = shm::SegmentName::parse(os_name)) by_session[parsed->session()].push_back(os_name);
  }
  for (const auto& [session, names] : by_session) {
    if (control_segment_exists(session)) {
      if (session_is_live(session)) {
        report.live_sessions.push_back(session);
        continue;
      }
      // The broker is dead (or died before its session was ready): all of it goes.
      for (const auto& name : names) {
        if (shm::Segment::remove_os_name(name.c_str())) report.removed.push_back(name);
      }
      continue;
    }
    // No broker: segments made directly with the shm layer. Each goes once its
    // creator is dead; one we cannot open (not ready, not ours) is left alone
    // unless its creator is known dead.
    for (const auto& name : names) {
      auto parsed = shm::SegmentName::parse(name);
      auto segment = shm::Segment::open(*parsed, shm::Deadline::after(kReadyWait));
      int creator = 0;
      if (segment) {
        creator = segment->header().creator_pid;
      } else if (segment.error().code == shm::Errc::creator_died) {
        creator = -1;
      }
      if (creator == -1 || (creator > 0 && !shm::process_is_alive(creator))) {
        if (shm::Segment::remove_os_name(name.c_str())) report.removed.push_back(name);
      } else {
        report.skipped.push_back(name);
      }
    }
  }
  return report;
}

TakeOver take_over_dead_session(const std::string& session) {
  TakeOver result;
  std::vector<std::string>& kept = result.kept;
  if (!control_segment_exists(session)) {
    (void)clean_dead_sessions(session);
    return result;
  }
  if (session_is_live(session)) return result;
  if (auto name = shm::SegmentName::make(session, shm::SegmentKind::control, detail::kSessionControl)) {
    if (auto segment = shm::Segment::open(*name, shm::Deadline::after(kReadyWait))) {
      const auto& header = *reinterpret_cast<const detail::SessionHeader*>(segment->control());
      if (header.magic == detail::kSessionMagic) result.next_object_id = header.next_object_id.load();
    }
  }
  for (const auto& os_name : shm::Segment::list(shm::SegmentName::session_prefix(session))) {
    const auto parsed = shm::SegmentName::parse(os_name);
    // Mailboxes and dead-letter boxes, and the reply rings of callers still
    // waiting for an answer to a call queued there.
    const bool mailbox = parsed && parsed->kind() == shm::SegmentKind::ring &&
                         (parsed->name().starts_with("mb-") || parsed->name().starts_with("dl-") ||
                          parsed->name().starts_with("rp"));
    if (mailbox) {
      kept.push_back(os_name);
    } else {
      (void)shm::Segment::remove_os_name(os_name.c_str());
    }
  }
  return result;
}

}  // namespace colony
