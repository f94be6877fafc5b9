#include "broken_pipe.hpp"

#include <signal.h>

namespace colony::cli {

void ignore_broken_pipe() { ::signal(SIGPIPE, SIG_IGN); }

int broken_pipe_signal() { return SIGPIPE; }

}  // namespace colony::cli
