#include <cstdio>
#include <string>

#include "colony/broker/clean.hpp"
#include "commands.hpp"

namespace colony::cli {

Runner add_clean_command(CLI::App& app) {
  auto* command = app.add_subcommand("clean", "Remove the shared-memory segments of sessions whose broker is dead");
  auto session = std::make_shared<std::string>();
  command->add_option("--session", *session, "Only this session")->check(session_name_validator());
  command->footer("Never touches a session whose broker is alive. Prints each segment it removes.");
  return [session]() {
    const CleanReport report = clean_dead_sessions(*session);
    for (const auto& name : report.removed) std::printf("removed %s\n", name.c_str());
    for (const auto& live : report.live_sessions) std::printf("kept session %s: its broker is alive\n", live.c_str());
    for (const auto& name : report.skipped) std::printf("kept %s: its creator is alive or unknown\n", name.c_str());
    if (report.removed.empty()) std::printf("nothing to remove\n");
    return kSuccess;
  };
}

}  // namespace colony::cli
