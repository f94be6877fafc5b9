// The two Colony stages of demos/words.toml, one executable:
//   colony_demo_words generate LINES   sends LINES lines of generated text
//   colony_demo_words count TOP        counts the words it reads, then sends
//                                      the total and the TOP most frequent
// Between them in the pipeline file runs `tr`, a plain executable.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "colony/worker/stage.hpp"

namespace {

constexpr const char* kVocabulary[] = {"shared", "memory", "ring",    "worker", "process", "message", "channel",
                                       "mutex",  "broker", "segment", "crash",  "restart", "queue",   "deadline"};

int generate(long lines) {
  auto stage = colony::stage_channels();
  std::uint64_t state = 42;  // a fixed seed: every run prints the same counts
  const auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::size_t>(state >> 33);
  };
  for (long i = 0; i < lines; ++i) {
    std::string line;
    const std::size_t words = 3 + next() % 6;
    for (std::size_t w = 0; w < words; ++w) {
      line.append(w == 0 ? "" : " ").append(kVocabulary[next() % std::size(kVocabulary)]);
    }
    // closed: the stage reading us has ended, so nobody wants the rest.
    if (stage.output.try_send(line, colony::shm::Deadline::after(std::chrono::seconds(30))) != colony::SendStatus::ok) {
      return 0;
    }
  }
  return 0;
}

int count(std::size_t top) {
  auto stage = colony::stage_channels();
  std::map<std::string, long> counts;
  long total = 0;
  for (;;) {
    auto word = stage.input.receive<std::string>(std::chrono::minutes(10));
    if (word.status == colony::shm::Outcome::closed) break;  // the stage before ended, all read
    if (!word.ok()) {
      std::fprintf(stderr, "count: %s\n", word.error.c_str());
      return 1;
    }
    if (word.value->empty()) continue;
    ++counts[*word.value];
    ++total;
  }
  std::vector<std::pair<std::string, long>> ranked(counts.begin(), counts.end());
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  stage.output.send("words " + std::to_string(total) + ", distinct " + std::to_string(ranked.size()));
  for (std::size_t i = 0; i < std::min(top, ranked.size()); ++i) {
    stage.output.send(ranked[i].first + " " + std::to_string(ranked[i].second));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "generate" && argc == 3) return generate(std::atol(argv[2]));
  if (mode == "count" && argc == 3) return count(static_cast<std::size_t>(std::atol(argv[2])));
  std::fprintf(stderr, "usage: colony_demo_words generate LINES | count TOP (a stage of demos/words.toml)\n");
  return 2;
}
