#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "colony/broker/clean.hpp"
#include "commands.hpp"

namespace colony::cli {

Runner add_clean_command(CLI::App& app) {
  struct Options {
    std::string session;
    bool json = false;
  };
  auto options = std::make_shared<Options>();
  auto* command = app.add_subcommand("clean", "Remove the shared-memory segments of sessions whose broker is dead");
  command->add_option("--session", options->session, "Only this session")->check(session_name_validator());
  command->add_flag("--json", options->json, "One JSON object: removed, kept_sessions, kept_segments");
  command->footer("Never touches a session whose broker is alive. Prints each segment it removes.");
  return [options]() {
    const CleanReport report = clean_dead_sessions(options->session);
    if (options->json) {
      const nlohmann::json listed{
          {"removed", report.removed}, {"kept_sessions", report.live_sessions}, {"kept_segments", report.skipped}};
      std::printf("%s\n", listed.dump().c_str());
      return kSuccess;
    }
    for (const auto& name : report.removed) std::printf("removed %s\n", name.c_str());
    for (const auto& live : report.live_sessions) std::printf("kept session %s: its broker is alive\n", live.c_str());
    for (const auto& name : report.skipped) std::printf("kept %s: its creator is alive or unknown\n", name.c_str());
    if (report.removed.empty()) std::printf("nothing to remove\n");
    return kSuccess;
  };
}

}  // namespace colony::cli
