// colony clean [--session NAME] [--force]: removes what dead sessions left in shared memory.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "colony/broker/clean.hpp"
#include "commands.hpp"
#include "session_option.hpp"

namespace colony::cli {

Command setup_clean(CLI::App& command) {
  struct Options {
    std::string session;
    bool json = false;
    bool force = false;
  };
  auto options = std::make_shared<Options>();
  command.add_option("--session", options->session, "Only this session")->check(session_name_validator());
  command.add_flag("--json", options->json, "One JSON object: removed, kept_sessions, kept_segments, skipped");
  command.add_flag("--force", options->force,
                    "With --session: also remove what cannot be validated (listed first), unless a process of the "
                    "session runs");
  command.footer(
      "Removes a segment only when it validates as a Colony segment of this user and its session's broker (or, "
      "without a broker, its creator) is provably gone; never touches a live session or another user's objects. "
      "Prints each segment it removes and each it keeps, with the reason. Exits 1 when it refused a segment it "
      "cannot validate as ours (another user's, damaged, squatted), else 0.");
  return {[options]() {
    if (options->force && options->session.empty()) {
      std::fprintf(stderr, "colony: clean --force needs --session NAME: it never forces more than one session\n");
      return kUsage;
    }
    if (options->force && !options->json) {
      for (const auto& segment : unverifiable_segments(options->session)) {
        std::printf("cannot validate %s: %s\n", segment.name.c_str(), segment.reason.c_str());
      }
    }
    const CleanReport report = clean_dead_sessions({options->session, options->force});
    if (options->json) {
      nlohmann::json skipped = nlohmann::json::array();
      nlohmann::json kept_names = nlohmann::json::array();
      for (const auto& segment : report.skipped) {
        skipped.push_back({{"segment", segment.name}, {"reason", segment.reason}, {"refused", segment.refused}});
        kept_names.push_back(segment.name);
      }
      const nlohmann::json listed{{"removed", report.removed},
                                  {"kept_sessions", report.live_sessions},
                                  {"kept_segments", kept_names},
                                  {"skipped", skipped}};
      std::printf("%s\n", listed.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      for (const auto& name : report.removed) std::printf("removed %s\n", name.c_str());
      for (const auto& live : report.live_sessions) std::printf("kept session %s: its broker is alive\n", live.c_str());
      for (const auto& segment : report.skipped) std::printf("kept %s: %s\n", segment.name.c_str(), segment.reason.c_str());
      if (report.removed.empty()) std::printf("nothing to remove\n");
    }
    const bool refused = std::any_of(report.skipped.begin(), report.skipped.end(),
                                     [](const SkippedSegment& segment) { return segment.refused; });
    return refused ? kFailure : kSuccess;
  }};
}

}  // namespace colony::cli
