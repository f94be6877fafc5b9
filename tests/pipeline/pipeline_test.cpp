// `colony run --pipeline FILE`: stages that are Colony workers or plain
// executables, connected by channels, run through the real colony binary.
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "child_process.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

namespace {

// A directory of pipeline files, removed with everything in it.
class PipelineDirectory {
 public:
  PipelineDirectory() {
    std::string pattern = (std::filesystem::temp_directory_path() / "colony-pipeline-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~PipelineDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  PipelineDirectory(const PipelineDirectory&) = delete;
  PipelineDirectory& operator=(const PipelineDirectory&) = delete;

  std::string write(const std::string& name, const std::string& text) const {
    const auto file = path_ / name;
    std::ofstream(file) << text;
    return file.string();
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

test::CommandResult run_pipeline(const std::string& file, std::chrono::milliseconds timeout = 60s) {
  return test::run_command({test::cli_path(), "run", "--pipeline", file}, timeout);
}

}  // namespace

TEST_CASE("a pipeline file runs a Colony producer, tr and a Colony checker, and prints the last stage", "[ipc]") {
  PipelineDirectory directory;
  const std::string session = test::unique_session("pipe");
  const auto file = directory.write("upper.toml", "[session]\nname = " + quoted(session) +
                                                      "\n\n"
                                                      "[[stage]]\nname = \"source\"\nexec = " +
                                                      quoted(test::worker_path()) +
                                                      "\nargs = [\"stage-produce\", \"20000\"]\n\n"
                                                      "[[stage]]\nname = \"upper\"\nexec = \"tr\"\n"
                                                      "args = [\"a-z\", \"A-Z\"]\nplain = true\n\n"
                                                      "[[stage]]\nname = \"check\"\nexec = " +
                                                      quoted(test::worker_path()) + "\nargs = [\"stage-check\"]\n");
  const auto result = run_pipeline(file);
  CHECK(result.exit_code == 0);
  CHECK(result.err.empty());
  // A string as a line, a colony::Value as JSON.
  CHECK(result.out == "checked 20000 lines, 0 wrong\n{\"received\":20000}\n");
  CHECK(test::session_segments(session).empty());
  CHECK(test::processes_in_session(session).empty());
}

TEST_CASE("a stage that ends early stops the stages feeding it, as in a shell pipeline", "[ipc]") {
  PipelineDirectory directory;
  SECTION("a Colony producer of a million lines into head -n 3") {
    const auto file =
        directory.write("head.toml", "[[stage]]\nname = \"source\"\nexec = " + quoted(test::worker_path()) +
                                         "\nargs = [\"stage-produce\", \"1000000\"]\n"
                                         "[[stage]]\nname = \"head\"\nexec = \"head\"\n"
                                         "args = [\"-n\", \"3\"]\nplain = true\n");
    const auto result = run_pipeline(file);
    CHECK(result.exit_code == 0);
    CHECK(result.out == "line 0\nline 1\nline 2\n");
  }
  SECTION("yes into head -n 2: yes dies of SIGPIPE, which is no failure") {
    const auto file =
        directory.write("yes.toml",
                        "[[stage]]\nname = \"yes\"\nexec = \"yes\"\nplain = true\n"
                        "[[stage]]\nname = \"head\"\nexec = \"head\"\nargs = [\"-n\", \"2\"]\nplain = true\n");
    const auto result = run_pipeline(file);
    CHECK(result.exit_code == 0);
    CHECK(result.out == "y\ny\n");
    CHECK(result.err.empty());
  }
}

TEST_CASE("a failing stage is named on stderr and gives the pipeline its exit code", "[ipc]") {
  PipelineDirectory directory;
  SECTION("a stage that exits with code 4 after its output") {
    const auto file = directory.write(
        "fail.toml",
        "[[stage]]\nname = \"talk\"\nexec = \"sh\"\nargs = [\"-c\", \"echo one; echo two; exit 4\"]\nplain = true\n"
        "[[stage]]\nname = \"upper\"\nexec = \"tr\"\nargs = [\"a-z\", \"A-Z\"]\nplain = true\n");
    const auto result = run_pipeline(file);
    CHECK(result.exit_code == 4);
    CHECK(result.out == "ONE\nTWO\n");
    CHECK(result.err == "colony: stage 'talk' (sh) exited with code 4\n");
  }
  SECTION("a stage that cannot start: 127, and the stages already started are ended") {
    const auto file = directory.write("missing.toml",
                                      "[[stage]]\nname = \"wait\"\nexec = \"sleep\"\nargs = [\"60\"]\nplain = true\n"
                                      "[[stage]]\nname = \"gone\"\nexec = \"./no-such-worker\"\n");
    const auto started = std::chrono::steady_clock::now();
    const auto result = run_pipeline(file);
    CHECK(result.exit_code == 127);
    CHECK(result.err.find("stage 'gone'") != std::string::npos);
    CHECK(result.err.find("no such file") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - started < 30s);  // sleep 60 did not hold it
  }
  SECTION("a stage that cannot start after one that filled its channel: 127, no hang") {
    const auto file = directory.write(
        "full.toml", "[[stage]]\nname = \"numbers\"\nexec = \"seq\"\nargs = [\"1000000\"]\nplain = true\n"
                     "[[stage]]\nname = \"gone\"\nexec = \"./no-such-worker\"\n");
    const auto result = run_pipeline(file, 30s);
    CHECK(result.finished);
    CHECK(result.exit_code == 127);
  }
}

TEST_CASE("a plain stage reads lines and chunks alike, and closed output ends the session cleanly", "[ipc]") {
  PipelineDirectory directory;
  const auto file = directory.write("mixed.toml",
                                    "[[stage]]\nname = \"numbers\"\nexec = \"seq\"\nargs = [\"3\"]\nplain = true\n"
                                    "[[stage]]\nname = \"bytes\"\nexec = \"cat\"\nplain = true\noutput = \"chunks\"\n"
                                    "[[stage]]\nname = \"lines\"\nexec = \"cat\"\nplain = true\n");
  const auto result = run_pipeline(file);
  CHECK(result.exit_code == 0);
  CHECK(result.out == "1\n2\n3\n");

  const std::string session = test::unique_session("closed");
  const auto endless = directory.write(
      "endless.toml", "[session]\nname = " + quoted(session) + "\n[[stage]]\nname = \"yes\"\nexec = \"yes\"\nplain = true\n");
  const auto piped = test::run_command(
      {"/bin/bash", "-c", test::cli_path() + " run -p " + endless + " | head -n 2; echo \"colony ${PIPESTATUS[0]}\""}, 30s);
  CHECK(piped.out == "y\ny\ncolony 141\n");
  CHECK(test::session_segments(session).empty());
  CHECK(test::processes_in_session(session).empty());
}

TEST_CASE("a pipeline file finds ./executables next to itself and gives each stage its channels", "[ipc]") {
  PipelineDirectory directory;
  std::filesystem::create_symlink(test::worker_path(), directory.path() / "worker");
  // A single stage: no input, and an output nobody reads but colony.
  const auto file =
      directory.write("one.toml", "[[stage]]\nname = \"alone\"\nexec = \"./worker\"\nargs = [\"stage-channels\"]\n");
  const auto result = test::run_command({test::cli_path(), "run", "-p", file}, 30s);
  CHECK(result.exit_code == 0);
  CHECK(result.out == "input no output yes\n");
  // The same executable run directly is not a stage.
  const auto direct = test::run_command({test::cli_path(), "run", test::worker_path(), "stage-channels"}, 30s);
  CHECK(direct.exit_code == 0);
  CHECK(direct.out == "input no output no\n");
}

TEST_CASE("input = NAME reads a stage written later in the file, and input = none reads nothing", "[ipc]") {
  PipelineDirectory directory;
  // Without their inputs, "tagged" would read nothing, "probe" would read
  // "tagged" and "numbers" would read "probe".
  const auto file = directory.write(
      "wired.toml", "[[stage]]\nname = \"tagged\"\nexec = \"sed\"\nargs = [\"s/^/n/\"]\nplain = true\ninput = \"numbers\"\n\n"
                    "[[stage]]\nname = \"probe\"\nexec = " +
                        quoted(test::worker_path()) +
                        "\nargs = [\"stage-channels\"]\ninput = \"none\"\n\n"
                        "[[stage]]\nname = \"numbers\"\nexec = \"seq\"\nargs = [\"3\"]\nplain = true\ninput = \"none\"\n");
  const auto result = run_pipeline(file);
  INFO(result.err);
  CHECK(result.exit_code == 0);
  // Two outputs nobody reads are printed ("tagged" and "probe", which sends
  // nothing but prints its channels itself), in no fixed order between them.
  std::vector<std::string> lines;
  std::istringstream out(result.out);
  for (std::string line; std::getline(out, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  CHECK(lines == std::vector<std::string>{"input no output yes", "n1", "n2", "n3"});
}

TEST_CASE("named workers of a pipeline file serve calls from its stages", "[ipc]") {
  PipelineDirectory directory;
  const std::string calls =
      test::cli_path() + " call counter add 2 --wait && " + test::cli_path() + " call counter add 3 --wait";
  const auto file =
      directory.write("workers.toml", "[[worker]]\nname = \"counter\"\nexec = " + quoted(test::worker_path()) +
                                          "\nargs = [\"named\"]\n\n"
                                          "[[stage]]\nname = \"client\"\nexec = \"sh\"\nargs = [\"-c\", " +
                                          quoted(calls) + "]\nplain = true\n");
  const auto result = run_pipeline(file);
  CHECK(result.exit_code == 0);
  CHECK(result.out == "2\n5\n");  // each stage finds its session in its environment
}

TEST_CASE("a pipeline file of named workers only serves calls until a stop signal", "[ipc]") {
  PipelineDirectory directory;
  const std::string session = test::unique_session("serve");
  const auto file =
      directory.write("serve.toml", "[session]\nname = " + quoted(session) +
                                        "\n[[worker]]\nname = \"counter\"\nexec = " + quoted(test::worker_path()) +
                                        "\nargs = [\"named\"]\n");
  const int pid = test::spawn_command({test::cli_path(), "run", "--pipeline", file});
  const auto call = [&] {
    return test::run_command({test::cli_path(), "call", "--session", session, "counter", "add", "4", "--wait"}, 10s);
  };
  REQUIRE(test::eventually([&] { return call().exit_code == 0; }, 20s));
  CHECK(call().out == "8\n");
  REQUIRE(subprocess::ask_to_end(pid));
  const int status = test::reap(pid, 30s);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 128 + SIGTERM);
  CHECK(test::session_segments(session).empty());
  CHECK(test::processes_in_session(session).empty());
}

TEST_CASE("SIGINT stops a running pipeline with 130 and leaves nothing behind", "[ipc]") {
  PipelineDirectory directory;
  const std::string session = test::unique_session("sigint");
  const auto file = directory.write("long.toml", "[session]\nname = " + quoted(session) +
                                                     "\n[[stage]]\nname = \"wait\"\nexec = \"sleep\"\nargs = [\"60\"]\n"
                                                     "plain = true\n"
                                                     "[[stage]]\nname = \"check\"\nexec = " +
                                                     quoted(test::worker_path()) + "\nargs = [\"stage-check\"]\n");
  const int pid = test::spawn_command({test::cli_path(), "run", "--pipeline", file});
  REQUIRE(test::eventually([&] { return test::processes_in_session(session).size() == 2; }, 20s));
  REQUIRE(subprocess::interrupt(pid));
  const int status = test::reap(pid, 30s);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 128 + SIGINT);
  CHECK(test::session_segments(session).empty());
  CHECK(test::processes_in_session(session).empty());
}

TEST_CASE("pipeline files with mistakes are refused with the file, the line and what is wrong", "[unit]") {
  PipelineDirectory directory;
  struct Case {
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {"[[stage]]\nname = \"a\"\nexec =\n", ":3: Error while parsing key-value pair"},
      {"[[stage]]\nname = \"a\"\nexec = \"cat\"\narg = [\"x\"]\n", ":4: unknown key 'arg' in a [[stage]]"},
      {"[[stage]]\nname = \"a\"\nexec = \"cat\"\ninput = \"b\"\n", ":1: stage 'a' reads 'b', which is no stage"},
      {"[[stage]]\nname = \"a\"\nexec = \"cat\"\n[[stage]]\nname = \"a\"\nexec = \"cat\"\n",
       ":4: two stages are named 'a'"},
      {"[[stage]]\nname = \"a\"\nexec = \"cat\"\ninput = \"b\"\n[[stage]]\nname = \"b\"\nexec = \"cat\"\n",
       ":1: stage 'a' is in a cycle of stages"},
      {"[[stage]]\nname = \"a\"\nexec = \"cat\"\n[[stage]]\nname = \"b\"\nexec = \"cat\"\n"
       "[[stage]]\nname = \"c\"\nexec = \"cat\"\ninput = \"a\"\n",
       ":7: stages 'b' and 'c' both read 'a': a channel has one reader"},
      {"[[stage]]\nname = \"a b\"\nexec = \"cat\"\n", ":1: stage name 'a b'"},
      {"[[stage]]\nname = \"a\"\nexec = \"cat\"\nargs = [\"x\", 3]\n",
       ":4: 'args' in stage 'a' must hold strings only"},
      {"[[stage]]\nname = \"a\"\nexec = \"cat\"\noutput = \"chunks\"\n", ":4: 'output' applies to plain stages only"},
      {"[[stage]]\nname = \"a\"\nexec = \"cat\"\ncapacity = 10\n", ":4: 'capacity' in stage 'a' must be an integer"},
      {"[session]\nname = \"no/slash\"\n[[stage]]\nname = \"a\"\nexec = \"cat\"\n", ":2: session name 'no/slash'"},
      {"stage = 3\n", ":1: 'stage' must be written [[stage]]"},
      {"[[stage]]\nexec = \"cat\"\n", ":1: a [[stage]] has no 'name'"},
      {"[[worker]]\nname = \"w\"\n", ":1: worker 'w' has no 'exec'"},
      {"[[worker]]\nname = \"w\"\nexec = \"cat\"\n[[worker]]\nname = \"w\"\nexec = \"cat\"\n",
       ":4: two workers are named 'w'"},
      {"", ": neither a [[stage]] nor a [[worker]]: nothing to run"},
      {"[[worker]]\nname = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n"
       "exec = \"cat\"\n",
       ":1: worker name 'aaaaaaaaaaaaaaaaaaaa...' is longer than 103 bytes"},
      {"[[worker]]\nname = \"w\"\nexec = \"cat\"\nrestart = \"sometimes\"\n", ":4: 'restart' in worker 'w' must be"},
  };
  for (const auto& c : cases) {
    const auto file = directory.write("bad.toml", c.text);
    const auto result = run_pipeline(file, 10s);
    INFO(c.text);
    CHECK(result.exit_code == 2);
    CHECK(result.err.find(file + c.expected) != std::string::npos);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);  // one line
    CHECK(result.out.empty());
  }
  const auto missing = run_pipeline((directory.path() / "absent.toml").string(), 10s);
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("absent.toml: no such file") != std::string::npos);
  const auto capped = run_pipeline(directory.write("cap.toml", "[session]\nmax_workers = 1\n"
                                                                 "[[stage]]\nname = \"a\"\nexec = \"yes\"\nplain = true\n"
                                                                 "[[stage]]\nname = \"b\"\nexec = \"head\"\nplain = true\n"),
                                   10s);
  CHECK(capped.exit_code == 2);
  CHECK(capped.err.find("need max_workers of at least 2") != std::string::npos);
  const auto both = test::run_command({test::cli_path(), "run", "-p", "x.toml", "/bin/true"}, 10s);
  CHECK(both.exit_code == 2);
  CHECK(both.err.find("not both") != std::string::npos);
}
