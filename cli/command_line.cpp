// The colony command line: registration, parse, dispatch.
#include "command_line.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <optional>
#include <sstream>

#include "colony/worker/errors.hpp"
#include "command_table.hpp"

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
  for (const CommandEntry& entry : command_table()) {
    CLI::App* command = app_.add_subcommand(entry.name, entry.summary);
    commands_.emplace(command, entry.setup(*command));
  }
}

ParsedCommandLine CommandLine::parse(std::vector<std::string> command_line) {
  if (const auto problem = command_word_problem(app_, command_line)) return refused(kUsage, *problem + "\n");
  try {
    for (const auto& [command, handlers] : commands_) {
      if (handlers.set_aside && command_line.size() >= 2 && command_line[1] == command->get_name()) {
        command_line = handlers.set_aside(std::move(command_line));
        break;
      }
    }
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
  const auto chosen = std::find_if(commands_.begin(), commands_.end(), [](const auto& command) { return command.first->parsed(); });
  if (chosen == commands_.end()) {
    // parse() refuses a command line without a command: a bug if it comes to this.
    std::fprintf(stderr, "colony: no command was chosen; run 'colony --help' for usage\n");
    return kUsage;
  }
  try {
    return chosen->second.run();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "colony: %s\n", e.what());
    return kUsage;
  } catch (const WorkerError& e) {
    std::fprintf(stderr, "colony: %s\n", e.what());
    return exit_code_for(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "colony: %s\n", e.what());
    return kFailure;
  }
}

}  // namespace colony::cli
