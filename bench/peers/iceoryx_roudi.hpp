#pragma once
// iox-roudi, iceoryx's daemon, one per run: the first iceoryx row starts it
// (found in PATH) as a child of the bench with a config file of its own,
// waits until it is ready, and the run's end stops it (SIGTERM, SIGKILL
// after 10 s) and removes whatever it left in /dev/shm and /tmp that did not
// exist before. It stops with the bench (SIGTERM when the bench dies).

#include <memory>
#include <string>
#include <vector>

#include "bench.hpp"
#include "colony/subprocess/child.hpp"

namespace bench {

class Roudi {
 public:
  Roudi();
  Roudi(const Roudi&) = delete;
  Roudi& operator=(const Roudi&) = delete;

  // Starts iox-roudi the first time a row asks; throws CaseAbsent when it
  // cannot run here (then and for every later row).
  static void ensure_running(const std::shared_ptr<Roudi>& self, RunContext& context);

  // Runtime names of this run's processes: the prefix and the process id.
  const std::string& runtime_prefix() const noexcept { return runtime_prefix_; }

 private:
  enum class State { not_started, running, failed };

  void start(const Placement& placement);
  void stop_process() noexcept;
  void stop();

  State state_ = State::not_started;
  std::string failure_;
  bool failure_is_error_ = false;
  std::string runtime_prefix_;
  colony::subprocess::Child daemon_;
  std::string directory_;  // the config file and RouDi's output
  std::string log_;
  std::vector<std::string> existed_before_;
};

}  // namespace bench
