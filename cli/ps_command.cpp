// colony ps [--json] [--interval MS]: one look at a session, or two for the
// rates between them, as a table or one JSON object.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "commands.hpp"
#include "json_output.hpp"
#include "live_session.hpp"
#include "ps_view.hpp"
#include "session_option.hpp"
#include "session_snapshot.hpp"

namespace colony::cli {

Command setup_ps(CLI::App& command) {
  struct Options {
    std::string session;
    bool json = false;
    std::uint32_t interval_ms = 200;
  };
  auto options = std::make_shared<Options>();
  add_session_option(command, options->session);
  command.add_flag("--json", options->json, "One JSON object");
  command.add_option("--interval", options->interval_ms, "Milliseconds between the two looks the rates come from (0: no rates)")
      ->check(CLI::Range(0u, 60'000u))
      ->capture_default_str();
  return {[options] {
    SessionLooker looker(open_live_session(options->session), LookOptions{true, false});
    SessionSnapshot snapshot = looker.look();
    if (options->interval_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(options->interval_ms));
      snapshot = looker.look();  // with the rates since the first
    }
    if (options->json) {
      std::printf("%s\n", json_text(ps_json(snapshot)).c_str());
    } else {
      print_ps_table(snapshot, stdout);
    }
    return kSuccess;
  }};
}

}  // namespace colony::cli
