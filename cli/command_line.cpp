// The colony command line: registration, parse, dispatch.
#include "command_line.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <optional>
#include <sstream>

#include "colony/worker/errors.hpp"
#include "session_option.hpp"

namespace colony::cli {
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

ParsedCommandLine refused(int exit_code, std::string errors) {
  ParsedCommandLine parsed;
  parsed.exit_code = exit_code;
  parsed.errors = std::move(errors);
  return parsed;
}

}  // namespace

CommandLine::CommandLine() {
  app_.require_subcommand(1);
  app_.set_help_all_flag("--help-all", "Show the help of every subcommand");
  run_ = add_run_command(app_, executable_arguments_);
  clean_ = add_clean_command(app_);
  broker_ = add_broker_command(app_);
  call_ = add_call_command(app_);
  named_ = add_named_commands(app_);
  data_ = add_data_commands(app_);
  channels_ = add_channel_commands(app_);
  top_ = add_top_command(app_);
  bench_ = add_bench_command(app_);
}

ParsedCommandLine CommandLine::parse(std::vector<std::string> command_line) {
  if (const auto problem = command_word_problem(app_, command_line)) return refused(kUsage, *problem + "\n");
  try {
    command_line = set_aside_executable_arguments(app_, std::move(command_line), executable_arguments_);
    // CLI11 takes the words after the program name, last first.
    std::vector<std::string> words(command_line.rbegin(), command_line.rend() - 1);
    app_.parse(words);
  } catch (const CLI::CallForHelp& e) {
    return help(e);
  } catch (const CLI::CallForAllHelp& e) {
    return help(e);
  } catch (const CLI::ParseError& e) {
    return refused(kUsage, std::string("colony: ") + e.what() + "\nRun 'colony --help' for usage.\n");
  } catch (const UsageError& e) {
    return refused(kUsage, std::string("colony: ") + e.what() + "\n");
  }
  ParsedCommandLine parsed;
  parsed.chosen = true;
  return parsed;
}

ParsedCommandLine CommandLine::help(const CLI::Error& request) const {
  std::ostringstream output;
  std::ostringstream errors;
  ParsedCommandLine parsed;
  parsed.exit_code = app_.exit(request, output, errors);
  parsed.output = output.str();
  parsed.errors = errors.str();
  return parsed;
}

int CommandLine::run() const {
  try {
    if (app_.got_subcommand("run")) return run_();
    if (app_.got_subcommand("clean")) return clean_();
    if (app_.got_subcommand("broker")) return broker_();
    if (app_.got_subcommand("call")) return call_();
    if (app_.got_subcommand("bytes") || app_.got_subcommand("prop")) return data_();
    if (app_.got_subcommand("send") || app_.got_subcommand("recv")) return channels_();
    if (app_.got_subcommand("top")) return top_();
    if (app_.got_subcommand("bench")) return bench_();
    for (const char* command : {"kill", "terminate", "restart", "ps", "deadletters"}) {
      if (app_.got_subcommand(command)) return named_();
    }
  } catch (const UsageError& e) {
    std::fprintf(stderr, "colony: %s\n", e.what());
    return kUsage;
  } catch (const WorkerError& e) {
    std::fprintf(stderr, "colony: %s\n", e.what());
    return kFailure;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "colony: %s\n", e.what());
    return kFailure;
  }
  return kUsage;
}

}  // namespace colony::cli
