#pragma once
// `colony clean`: removing what dead sessions left in shared memory.

#include <string>
#include <vector>

namespace colony {

struct CleanReport {
  std::vector<std::string> removed;        // OS names of the segments removed
  std::vector<std::string> live_sessions;  // sessions left alone because their broker runs
  std::vector<std::string> skipped;        // segments whose owner could not be told dead
};

// Removes every segment of every session whose broker is dead (or, for
// segments made without a broker, whose creators are all dead). Never touches
// a session whose broker is alive. With a session name, looks at that one only.
CleanReport clean_dead_sessions(const std::string& only_session = {});

// What a broker starting on the name of a dead session does first: removes the
// session's segments but keeps its named workers' mailboxes and dead-letter
// boxes, whose calls it goes on with once the names are defined again
// (nothing queued is lost to a broker's death).
struct TakeOver {
  std::vector<std::string> kept;     // the segments kept
  std::uint64_t next_object_id = 0;  // the dead session's next id (0: unknown)
};
TakeOver take_over_dead_session(const std::string& session);

// True when the session's control segment names a broker that is alive.
bool session_is_live(const std::string& session);

}  // namespace colony
