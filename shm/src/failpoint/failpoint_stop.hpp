#pragma once
// What a reached failpoint asks of the OS: one implementation per platform
// (linux/failpoint_stop.cpp, windows/failpoint_stop.cpp), built only with
// COLONY_FAILPOINTS. Called between fork and exec too: neither allocates, and
// both are async-signal-safe.

namespace colony::shm::failpoint::platform {

// Creates path exclusively: false when it exists already (another process
// stopped at the failpoint first) or cannot be made.
bool claim_once(const char* path) noexcept;

// Holds this process where it stands until its parent lets it go on or kills
// it, and lets the parent see that it is held there.
void stop_this_process() noexcept;

}  // namespace colony::shm::failpoint::platform
