#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "../parent_death.hpp"

namespace colony::detail {

void die_with_parent(int broker_pid) {
  // The kernel sends SIGKILL when the thread that spawned us ends; the broker
  // spawns from the thread that lives as long as the session.
  (void)::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != broker_pid) {
    std::fprintf(stderr, "colony: the broker (pid %d) is gone; exiting\n", broker_pid);
    ::_exit(1);
  }
}

}  // namespace colony::detail
