// A pipeline file (colony run --pipeline FILE, a user's TOML): read_pipeline_file
// gives a checked pipeline or throws UsageError naming the file and the line;
// never another exception or a crash. The fuzz bytes are written to a file of
// this process's own in the temporary directory, removed at exit.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_support.hpp"
#include "pipeline_file.hpp"
#include "session_option.hpp"

using namespace colony;

namespace {

struct File {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("colony-fuzz-pipeline-" + std::to_string(::getpid()) + ".toml");
  ~File() {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }
};

File& file() {
  static File made;
  return made;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = file().path.string();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    fuzz::require(static_cast<bool>(out), "cannot write the pipeline file");
  }
  try {
    const cli::PipelineSpec spec = cli::read_pipeline_file(path);
    fuzz::require(!spec.stages.empty() || !spec.workers.empty(), "a pipeline with nothing to run was accepted");
    for (std::size_t i = 0; i < spec.stages.size(); ++i) {
      // Ordered so that every stage comes after the stage it reads.
      if (spec.stages[i].input) fuzz::require(*spec.stages[i].input < i, "a stage comes before its input");
    }
  } catch (const cli::UsageError& e) {
    fuzz::require(std::string_view(e.what()).starts_with(path), "an error that does not name the file");
  }
  return 0;
}
