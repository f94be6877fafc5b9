// colony: launch, call, kill and inspect workers.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "colony/worker/errors.hpp"
#include "commands.hpp"
#include "session_option.hpp"

namespace {

std::string names_of(const CLI::App& command) {
  std::string names;
  for (const auto* sub : command.get_subcommands({})) names += (names.empty() ? "" : ", ") + sub->get_name();
  return names;
}

// A command word that is missing or unknown, said with the words that exist
// (CLI11 would answer `colony broker strat` with "A subcommand is required").
// Looks at the words that pick a (sub)command only; options go to CLI11.
std::optional<std::string> command_word_problem(const CLI::App& app, const std::vector<std::string>& command_line) {
  const CLI::App* current = &app;
  std::string chosen = "colony";  // the command words so far
  for (std::size_t at = 1;; ++at) {
    const auto subs = current->get_subcommands({});
    if (subs.empty()) return std::nullopt;
    const std::string kind = current == &app ? "command" : "subcommand";
    if (at >= command_line.size()) {
      if (current->get_require_subcommand_min() == 0) return std::nullopt;
      return chosen + ": give a " + kind + ": " + names_of(*current) + "\nRun '" + chosen + " --help' for usage.";
    }
    const std::string& word = command_line[at];
    if (word.empty() || word[0] == '-') return std::nullopt;
    const auto found = std::find_if(subs.begin(), subs.end(), [&](const CLI::App* sub) { return sub->get_name() == word; });
    if (found == subs.end()) {
      return chosen + ": unknown " + kind + " '" + word + "' (" + kind + "s: " + names_of(*current) + ")\nRun '" +
             chosen + " --help' for usage.";
    }
    current = *found;
    chosen += " " + word;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"colony: a multi-process IPC broker on shared memory", "colony"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show the help of every subcommand");
  std::vector<std::string> executable_arguments;  // colony run EXE's, set aside before parsing
  const auto run = colony::cli::add_run_command(app, executable_arguments);
  const auto clean = colony::cli::add_clean_command(app);
  const auto broker = colony::cli::add_broker_command(app);
  const auto call = colony::cli::add_call_command(app);
  const auto named = colony::cli::add_named_commands(app);
  const auto data = colony::cli::add_data_commands(app);
  const auto channels = colony::cli::add_channel_commands(app);
  const auto top = colony::cli::add_top_command(app);
  const auto bench = colony::cli::add_bench_command(app);
  std::vector<std::string> command_line(argv, argv + argc);
  if (const auto problem = command_word_problem(app, command_line)) {
    std::fprintf(stderr, "%s\n", problem->c_str());
    return colony::cli::kUsage;
  }
  try {
    command_line = colony::cli::set_aside_executable_arguments(app, std::move(command_line), executable_arguments);
    // CLI11 takes the words after the program name, last first.
    std::vector<std::string> words(command_line.rbegin(), command_line.rend() - 1);
    app.parse(words);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "colony: %s\nRun 'colony --help' for usage.\n", e.what());
    return colony::cli::kUsage;
  } catch (const colony::cli::UsageError& e) {
    std::fprintf(stderr, "colony: %s\n", e.what());
    return colony::cli::kUsage;
  }
  try {
    if (app.got_subcommand("run")) return run();
    if (app.got_subcommand("clean")) return clean();
    if (app.got_subcommand("broker")) return broker();
    if (app.got_subcommand("call")) return call();
    if (app.got_subcommand("bytes") || app.got_subcommand("prop")) return data();
    if (app.got_subcommand("send") || app.got_subcommand("recv")) return channels();
    if (app.got_subcommand("top")) return top();
    if (app.got_subcommand("bench")) return bench();
    for (const char* command : {"kill", "terminate", "restart", "ps", "deadletters"}) {
      if (app.got_subcommand(command)) return named();
    }
  } catch (const colony::cli::UsageError& e) {
    std::fprintf(stderr, "colony: %s\n", e.what());
    return colony::cli::kUsage;
  } catch (const colony::WorkerError& e) {
    std::fprintf(stderr, "colony: %s\n", e.what());
    return colony::cli::kFailure;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "colony: %s\n", e.what());
    return colony::cli::kFailure;
  }
  return colony::cli::kUsage;
}
