// colony terminate NAME: the broker ends NAME's process at once; the calls
// queued for it stay, for its next process.
#include <cstdio>
#include <memory>
#include <string>

#include "broker_link.hpp"
#include "commands.hpp"
#include "live_session.hpp"
#include "session_option.hpp"
// The session layer's own headers, in one block.
#include "colony/session/protocol.hpp"

namespace colony::cli {

Command setup_terminate(CLI::App& command) {
  struct Options {
    std::string session;
    std::string name;
  };
  auto options = std::make_shared<Options>();
  add_session_option(command, options->session);
  command.add_option("name", options->name, "The worker's name")->required();
  return {[options] {
    const auto map = open_live_session(options->session);
    require_named_worker(*map, options->name);
    send_to_broker(*map, detail::TerminateNamed{options->name});
    std::printf("terminating worker %s\n", options->name.c_str());
    return kSuccess;
  }};
}

}  // namespace colony::cli
