#pragma once
// What a session found in shared memory is, as far as this process can
// prove it, and removing what dead sessions left behind (`colony clean`).
//
// The rule: a segment is removed only when it opens and validates as a Colony
// segment of this user and whatever made it is provably gone. A session is
// dead only when its control segment opens, validates, belongs to this user
// and names a broker that is provably gone (its pid is free, or now names a
// process that started at another time). Anything else (another user's
// session, a damaged or squatted control segment, a symlink, a live broker)
// is left untouched and reported with its reason.

#include <cstdint>
#include <string>
#include <vector>

#include "colony/shm/process.hpp"

namespace colony {

enum class SessionVerdict {
  live,          // its broker runs, or is still making the control segment
  dead,          // its control segment is ours and valid, and its broker is gone
  no_control,    // segments but no control segment: made with the shm layer alone, or left half-made
  foreign,       // its control segment belongs to another user
  unverifiable,  // its control segment cannot be opened and validated as ours (reason says why)
};

struct SessionCheck {
  SessionVerdict verdict = SessionVerdict::no_control;
  // For foreign and unverifiable: one line naming the segment and the reason.
  std::string reason;
  shm::ProcessIdentity broker;       // live and dead: the broker the control segment names
  std::uint64_t next_object_id = 0;  // dead: the session's next id, for a take-over
};

SessionCheck check_session(const std::string& session);

// True when the session's control segment names a broker that is alive.
bool session_is_live(const std::string& session);

// Throws WorkerError(session_gone) unless the session is live, saying why:
// no live broker runs it, it belongs to another user, or its control segment
// cannot be validated.
void require_live_session(const std::string& session);

struct SkippedSegment {
  std::string name;    // OS name
  std::string reason;  // why it was left alone
  // True when it was left because it cannot be validated as ours (another
  // user's, damaged, squatted), false when its maker simply still runs.
  bool refused = true;
};

struct CleanReport {
  std::vector<std::string> removed;        // OS names of the segments removed
  std::vector<std::string> live_sessions;  // sessions left alone because their broker runs
  std::vector<SkippedSegment> skipped;     // segments left alone, each with its reason
};

struct CleanOptions {
  std::string only_session;  // empty: every session
  // With only_session: also remove what cannot be validated (a damaged
  // control segment, garbage of this user under the session's prefix),
  // after the caller has listed it, unless any sign of a live broker or
  // worker of the session is found. Never another user's objects.
  bool force = false;
};

// Removes every segment that the rule above allows; reports the rest.
CleanReport clean_dead_sessions(const CleanOptions& options = {});

// The segments of one session that a force clean would remove, with why each
// cannot be validated (for the listing that comes before it).
std::vector<SkippedSegment> unverifiable_segments(const std::string& session);

// What a broker starting on the name of a dead session does first: removes the
// session's segments but keeps its named workers' mailboxes and dead-letter
// boxes, whose calls it goes on with once the names are defined again
// (nothing queued is lost to a broker's death). Only a dead session is taken
// over, and only segments that validate as ours are removed.
struct TakeOver {
  std::vector<std::string> kept;     // the segments kept
  std::uint64_t next_object_id = 0;  // the dead session's next id (0: unknown)
};
TakeOver take_over_dead_session(const std::string& session);

// Shared memory the session's segments hold now, in bytes (what /dev/shm
// accounts for them), and how many segments there are.
struct SessionMemory {
  std::uint64_t bytes = 0;
  std::size_t segments = 0;
};
SessionMemory session_memory(const std::string& session);

// At a session's end, or a failed start: removes the session's segments that
// validate as ours and were made by `creator` or (when also_dead_creators) by
// a process that is gone. Reports what it left.
std::vector<SkippedSegment> remove_session_segments(const std::string& session, shm::ProcessIdentity creator,
                                                    bool also_dead_creators);

}  // namespace colony
