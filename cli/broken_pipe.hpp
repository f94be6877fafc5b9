#pragma once
// A reader of colony's output that goes away (`colony run ... | head`): the
// platform's signal for it (cli/linux/broken_pipe.cpp), ignored so that it
// shows as a failed write, and named so that a stage's death by it can be
// told from a crash.

namespace colony::cli {

// From here on a write nobody reads fails instead of ending the process.
// Worker processes start with the default again (the launcher resets
// ignored signals).
void ignore_broken_pipe();

// The signal a process dies of when it writes to a pipe nobody reads
// (SIGPIPE), as an exit status names it.
int broken_pipe_signal();

}  // namespace colony::cli
