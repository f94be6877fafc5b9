#pragma once
// --worker NAME=EXECUTABLE [ARGS...]: a named worker's definition on a command line.

#include <sstream>
#include <string>
#include <vector>

#include "session_option.hpp"

namespace colony::cli {

struct WorkerSpec {
  std::string name;
  std::string executable;
  std::vector<std::string> arguments;
};

// "NAME=EXECUTABLE ARG..." (arguments split on spaces).
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
  return spec;
}

}  // namespace colony::cli
