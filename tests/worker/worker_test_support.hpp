#pragma once
// What the worker tests share: the test worker's path, broker options with a
// unique session and short deadlines, and bounded waits that dispatch events.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "colony/broker/broker.hpp"

namespace colony::test {

const std::string& worker_path();
// A unique session per broker, short attach and stop deadlines.
BrokerOptions broker_options();
// Dispatches the host's events until predicate holds or the timeout passes.
bool dispatch_until(Worker& host, const std::function<bool()>& predicate,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

struct CommandResult {
  bool finished = false;  // false: killed at the timeout
  int exit_code = -1;     // the shell convention: 128 + N for death by signal N
  std::string out;
  std::string err;
};
// Runs argv[0] (a path) with its arguments and extra environment entries;
// kills it if it runs past timeout.
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::vector<std::string>& extra_environment = {});
const std::string& cli_path();
// Starts a command in the background, its output discarded; the caller reaps it.
int spawn_command(const std::vector<std::string>& argv);
// Reaps pid and returns its wait status; kills it first (and returns -1) if it
// has not ended by the timeout.
int reap(int pid, std::chrono::milliseconds timeout);
// A session name unique to this test process, for sessions a command creates.
std::string unique_session(const char* what);
// Live (not zombie) processes whose environment puts them in the session.
std::vector<int> processes_in_session(const std::string& session);
// Entries of /dev/shm whose name starts with the session's prefix.
std::vector<std::string> session_segments(const std::string& session);

}  // namespace colony::test
