// colony kill NAME: 4D's KILL WORKER from a shell. The calls queued for NAME
// are dropped, and its process ends after its current call.
#include <cstdio>
#include <string>

#include "colony/worker/mailbox.hpp"
#include "live_session.hpp"

namespace colony::cli {

Command setup_kill(CLI::App& command) {
  return named_worker_command(command, [](const detail::SessionMap& map, const std::string& name) {
    auto box = Mailbox::open_or_create(map.session(), name);
    const Mailbox::KillReport report = box.kill();
    // The call a handler runs on is not dropped: it finishes and is answered.
    std::printf("killed worker %s: %zu queued calls dropped%s\n", name.c_str(), report.dropped,
                report.in_flight_finishes ? "; the call in flight finishes and is answered" : "");
  });
}

}  // namespace colony::cli
