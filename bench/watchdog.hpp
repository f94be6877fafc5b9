#pragma once
// The bench's safety net, in one place (the signal handlers behind it are
// in linux/watchdog.cpp):
// - every case runs under a watchdog (an alarm): when it expires the case's
//   peer is killed, blocking system calls of the bench return EINTR and busy
//   loops see watchdog_fired(); the case fails with a timeout;
// - a peer dies with the bench (colony::subprocess::OnParentDeath) and by its
//   own alarm, so it never outlives a hung or killed bench;
// - every named object (Colony segment, Boost queue) is held by a ScopedName,
//   removed when the case ends, and also from SIGINT/SIGTERM/SIGHUP handlers;
//   so are the segments of the brokers the worker rows start (by prefix).

#include <functional>
#include <string>

#include "bench.hpp"

namespace bench {

// Installs the SIGALRM watchdog and the SIGINT/SIGTERM/SIGHUP cleanup
// handlers; a peer that died makes writes fail with EPIPE, not kill the bench.
void install_signal_handlers();

// Arms the watchdog for the current case: it fires a little after deadline.
void arm_watchdog(Clock::time_point deadline);
void disarm_watchdog() noexcept;
bool watchdog_fired() noexcept;
// Throws BenchError("... timed out") when the watchdog fired.
void check_watchdog(const char* what);
// "<what> timed out after 30 s".
std::string timeout_message(const char* what);

// The process the watchdog kills when it fires (the case's peer); -1: none.
void set_watchdog_victim(int pid) noexcept;

// In a peer forked from the bench: the bench's handlers back to their
// defaults, and an alarm of its own a few seconds after deadline, in case
// the bench hangs without dying.
void become_peer_process(Clock::time_point deadline) noexcept;
// In a case process forked from the bench (run_in_child): its standard
// output goes to standard error (the bench's may carry JSON), and it runs
// under a watchdog of its own (alarms are not inherited across fork).
void become_case_process(Clock::time_point deadline);

// Names the sessions of the brokers the worker rows start ("colony.<session>-w"):
// the SIGINT/SIGTERM/SIGHUP handlers also unlink every /dev/shm entry whose
// name starts with it (a broker makes too many segments to hold by name).
void set_cleanup_prefix(const std::string& prefix);

// The handlers also unlink the entries of directory whose names start with
// prefix: files a library makes per process (iceoryx's runtime sockets in
// /tmp) that a process killed with the bench cannot remove itself.
void add_cleanup_prefix(const std::string& directory, const std::string& prefix);

// Holds a named OS object: remove() runs when the holder goes out of scope;
// the OS name (what shm_unlink takes) is also unlinked from a signal handler.
class ScopedName {
 public:
  ScopedName(std::string os_name, std::function<void()> remove);
  ScopedName(ScopedName&&) = delete;
  ScopedName& operator=(ScopedName&&) = delete;
  ~ScopedName();

 private:
  int slot_;
  std::function<void()> remove_;
};

}  // namespace bench
