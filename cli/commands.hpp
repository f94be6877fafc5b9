#pragma once
// Each subcommand registers its options on the app and returns the function
// that runs it; main() picks the one the command line chose.

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "colony/shm/names.hpp"

namespace colony::cli {

// Exit codes shared by every subcommand (documented in the README).
inline constexpr int kSuccess = 0;
inline constexpr int kFailure = 1;      // the command could not do what was asked
inline constexpr int kUsage = 2;        // bad arguments
inline constexpr int kTimedOut = 3;     // no answer before --timeout
inline constexpr int kCannotRun = 127;  // colony run: the worker could not be started

using Runner = std::function<int()>;

// Refuses a session name the naming rules refuse, as a usage error.
inline const CLI::Validator& session_name_validator() {
  static const CLI::Validator validator(
      [](std::string& name) -> std::string {
        auto valid = shm::validate_name(name, "session", shm::kMaxSessionLength);
        return valid ? std::string() : valid.error().message;
      },
      "SESSION");
  return validator;
}

// colony run [OPTIONS] EXE ARGS...: ARGS are EXE's alone, as with env, nohup
// or timeout, so CLI11 never sees them (it would take an option name among
// them for run's own and split "[a,b]" into a list). main() hands the whole
// command line to set_aside_executable_arguments, which moves ARGS into
// executable_arguments and returns the rest for CLI11; the runner reads
// executable_arguments when it runs.
Runner add_run_command(CLI::App& app, const std::vector<std::string>& executable_arguments);
std::vector<std::string> set_aside_executable_arguments(const CLI::App& app, std::vector<std::string> command_line,
                                                        std::vector<std::string>& executable_arguments);
Runner add_clean_command(CLI::App& app);
Runner add_broker_command(CLI::App& app);
Runner add_call_command(CLI::App& app);
// kill, terminate, restart, ps and deadletters share one runner.
Runner add_named_commands(CLI::App& app);
// bytes and prop share one runner.
Runner add_data_commands(CLI::App& app);
// send and recv share one runner.
Runner add_channel_commands(CLI::App& app);
Runner add_top_command(CLI::App& app);
Runner add_bench_command(CLI::App& app);

}  // namespace colony::cli
