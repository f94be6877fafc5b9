#pragma once
// --worker NAME=EXECUTABLE [ARGS...]: a named worker's definition on a command line.

#include <sstream>
#include <string>
#include <vector>

#include "colony/worker/named.hpp"
#include "json_output.hpp"
#include "session_option.hpp"

namespace colony::cli {

struct WorkerSpec {
  std::string name;
  std::string executable;
  std::vector<std::string> arguments;
};

// A definition the session could not serve is refused before anything
// starts: a name that is not UTF-8 (colony ps --json prints it), an
// executable the broker could not start (found as the launcher finds it).
// Returns the problem; empty when there is none.
inline std::string definition_problem(const std::string& name, const std::string& executable) {
  if (!is_utf8(name)) return "worker name '" + name + "' is not valid UTF-8";
  if (const auto why = why_cannot_execute(executable)) {
    return "worker '" + name + "': cannot run '" + executable + "': " + *why;
  }
  return {};
}

// "NAME=EXECUTABLE ARG..." (arguments split on spaces); throws UsageError.
inline WorkerSpec parse_worker(const std::string& text) {
  const auto equals = text.find('=');
  if (equals == std::string::npos || equals == 0 || equals + 1 == text.size()) {
    throw UsageError("--worker wants NAME=EXECUTABLE [ARGS...], got '" + text + "'");
  }
  WorkerSpec spec;
  spec.name = text.substr(0, equals);
  std::istringstream words(text.substr(equals + 1));
  words >> spec.executable;
  for (std::string word; words >> word;) spec.arguments.push_back(word);
  if (const std::string problem = definition_problem(spec.name, spec.executable); !problem.empty()) {
    throw UsageError(problem);
  }
  return spec;
}

}  // namespace colony::cli
