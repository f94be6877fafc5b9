// colony terminate NAME: the broker ends NAME's process at once; the calls
// queued for it stay, for its next process.
#include <cstdio>
#include <string>

#include "broker_link.hpp"
#include "live_session.hpp"
// The session layer's own headers, in one block.
#include "colony/session/protocol.hpp"

namespace colony::cli {

Command setup_terminate(CLI::App& command) {
  return named_worker_command(command, [](const detail::SessionMap& map, const std::string& name) {
    std::printf("%s\n", ask_broker(map, detail::TerminateNamed{name, {}}).c_str());
  });
}

}  // namespace colony::cli
