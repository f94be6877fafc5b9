// colony restart NAME: the broker starts NAME again after supervision gave it
// up, its failure history cleared.
#include <cstdio>
#include <string>

#include "broker_link.hpp"
#include "live_session.hpp"
// The session layer's own headers, in one block.
#include "colony/session/protocol.hpp"

namespace colony::cli {

Command setup_restart(CLI::App& command) {
  return named_worker_command(command, [](const detail::SessionMap& map, const std::string& name) {
    std::printf("%s\n", ask_broker(map, detail::RestartNamed{name, {}}).c_str());
  });
}

}  // namespace colony::cli
