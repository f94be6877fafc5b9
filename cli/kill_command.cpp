// colony kill NAME: 4D's KILL WORKER from a shell. The calls queued for NAME
// are dropped, and its process ends after its current call.
#include <cstdio>
#include <memory>
#include <string>

#include "colony/worker/mailbox.hpp"
#include "commands.hpp"
#include "live_session.hpp"
#include "session_option.hpp"

namespace colony::cli {

Command setup_kill(CLI::App& command) {
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
    auto box = Mailbox::open_or_create(map->session(), options->name);
    const Mailbox::KillReport report = box.kill();
    // The call a handler runs on is not dropped: it finishes and is answered.
    std::printf("killed worker %s: %zu queued calls dropped%s\n", options->name.c_str(), report.dropped,
                report.in_flight_finishes ? "; the call in flight finishes and is answered" : "");
    return kSuccess;
  }};
}

}  // namespace colony::cli
