// The colony command line (a user's or a script's words): the fuzz bytes,
// split at NUL bytes, are the words after "colony". Parsing chooses a command
// or refuses with exit code 2 and a message (help: 0); it runs nothing, and
// never throws or crashes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "command_line.hpp"
#include "fuzz_support.hpp"

using namespace colony;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> words{"colony"};
  std::string word;
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      words.push_back(std::move(word));
      word.clear();
    } else {
      word += static_cast<char>(data[i]);
    }
  }
  if (size > 0) words.push_back(std::move(word));
  if (words.size() > 64) return 0;  // a command line, not a book
  cli::CommandLine command_line;
  const cli::ParsedCommandLine parsed = command_line.parse(words);
  if (!parsed.chosen) {
    fuzz::require(parsed.exit_code == 0 || parsed.exit_code == cli::kUsage, "a refusal with an unexpected exit code");
    fuzz::require(parsed.exit_code == 0 ? !parsed.output.empty() : !parsed.errors.empty(),
                  "a refusal that says nothing");
  }
  return 0;
}
