#pragma once
// Running a command from a test: with its output captured and a timeout, or
// in the background. Implemented per platform, under this file's name in
// linux/ (a Windows port adds windows/).

#include <chrono>
#include <string>
#include <vector>

namespace colony::test {

struct CommandResult {
  bool finished = false;  // false: killed at the timeout
  int exit_code = -1;     // the shell convention: 128 + N for death by signal N
  std::string out;
  std::string err;
  // The command's peak resident memory in KiB, from the kernel's accounting
  // of that one child (its own children not included).
  long peak_rss_kib = 0;
};
// Runs argv[0] (a path) with its arguments and extra environment entries;
// kills it if it runs past timeout, and reports what it printed, how it ended
// and its peak memory. The COLONY_ variables of this process are
// not passed on, but for COLONY_TEST_RUN, the mark of this ctest run.
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::vector<std::string>& extra_environment = {});
// Starts a command in the background, its output discarded; the caller reaps it.
int spawn_command(const std::vector<std::string>& argv);
// Reaps pid and returns its wait status; kills it first (and returns -1) if it
// has not ended by the timeout.
int reap(int pid, std::chrono::milliseconds timeout);

}  // namespace colony::test
