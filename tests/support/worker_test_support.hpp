#pragma once
// What the tests above shm share (tests/worker, broker, cli, pipeline, all in
// colony_worker_tests): the test worker's path, broker options with a
// unique session and short deadlines, and bounded waits that dispatch events.

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "colony/broker/broker.hpp"
#include "command.hpp"  // run_command, spawn_command, reap

namespace colony::test {

const std::string& worker_path();
// A unique session per broker, short attach and stop deadlines.
BrokerOptions broker_options();
// Dispatches the host's events until predicate holds or the timeout passes.
bool dispatch_until(Worker& host, const std::function<bool()>& predicate,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

const std::string& cli_path();
// A session name unique to this test process, for sessions a command creates.
std::string unique_session(const char* what);
// Live (not zombie) processes whose environment puts them in the session.
std::vector<int> processes_in_session(const std::string& session);
// The names (without the leading slash) of the shared-memory objects of the session.
std::vector<std::string> session_segments(const std::string& session);

// A directory of the test's own in the temporary directory, for files that
// workers write (what ran shows even after its process is gone); removed,
// with what it holds, when it goes.
class ScratchDirectory {
 public:
  explicit ScratchDirectory(const char* what);
  ~ScratchDirectory();
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  // The path of a file in it.
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The whole text of the file at path; empty when there is none.
std::string read_file(const std::string& path);

}  // namespace colony::test
