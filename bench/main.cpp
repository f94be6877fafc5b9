// colony_bench: Colony's rings against their peers, two processes, one run;
// and Colony's workers (start, API round trip, 64 at once) against theirs.
//
//   colony_bench [--quick] [--json] [--case FILTER] [--repeat N] [--diagnostics] [--list]
//                [--plot FILE.svg|FILE.png]
//
// Prints the machine, a table and the target ratios of the issue. With
// --json, stdout carries one JSON object per row and the human-readable
// report goes to stderr. With --plot, gnuplot then draws the comparison.
// Exits non-zero when a case failed or the plot could not be drawn.

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "bench.hpp"
#include "colony/shm/names.hpp"
#include "placement.hpp"
#include "report.hpp"
#include "watchdog.hpp"

namespace {

using namespace bench;

constexpr const char* kUsage =
    "usage: colony_bench [--quick] [--json] [--case FILTER] [--repeat N] [--diagnostics] [--list]\n"
    "                    [--plot FILE.svg|FILE.png]\n"
    "  --quick        short run (fewer round trips, ~0.05 s per throughput row)\n"
    "  --json         one JSON object per row on stdout; the report goes to stderr\n"
    "  --case FILTER  only rows whose \"<case> <transport> <size>\" contains FILTER\n"
    "  --repeat N     N interleaved passes over the rows; each row shows its median pass\n"
    "  --diagnostics  also run rows that take Colony's numbers apart (typed layer, ring, polling)\n"
    "  --list         list the rows and exit\n"
    "  --plot FILE    after the table, draw round trips and 64 B / 64 KiB throughput per\n"
    "                 transport into FILE (.svg or .png) with gnuplot (Debian: gnuplot-nox);\n"
    "                 repeat it for more files\n";

bool plot_file_ok(const std::string& file) {
  const auto ends_with = [&file](const char* suffix) {
    const std::size_t n = std::strlen(suffix);
    return file.size() > n && file.compare(file.size() - n, n, suffix) == 0;
  };
  return ends_with(".svg") || ends_with(".png");
}

bool parse(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--quick") {
      options.quick = true;
    } else if (arg == "--diagnostics") {
      options.diagnostics = true;
    } else if (arg == "--list") {
      options.list = true;
    } else if (arg == "--repeat" && i + 1 < argc) {
      options.repeat = std::atoi(argv[++i]);
      if (options.repeat < 1 || options.repeat > 100) {
        std::fprintf(stderr, "colony_bench: --repeat takes 1..100\n");
        return false;
      }
    } else if (arg == "--case" && i + 1 < argc) {
      options.filter = argv[++i];
    } else if (arg.rfind("--case=", 0) == 0) {
      options.filter = arg.substr(7);
    } else if ((arg == "--plot" && i + 1 < argc) || arg.rfind("--plot=", 0) == 0) {
      options.plots.push_back(arg == "--plot" ? argv[++i] : arg.substr(7));
      if (!plot_file_ok(options.plots.back())) {
        std::fprintf(stderr, "colony_bench: --plot takes a file name ending in .svg or .png\n");
        return false;
      }
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else {
      std::fprintf(stderr, "colony_bench: unknown argument '%s'\n%s", arg.c_str(), kUsage);
      return false;
    }
  }
  return true;
}

// Every list of rows (bench.hpp declares them), and where its rows stand in
// a group of the table: Colony's first, then the floors, then the peers. A
// new list adds its function here, its declaration to bench.hpp and its
// source to CMakeLists.txt.
enum class Standing { colony, floor, peer };
struct CaseList {
  std::vector<Case> (*rows)();
  Standing standing;
};
constexpr CaseList kCaseLists[] = {
    {colony_cases, Standing::colony},      {worker_cases, Standing::colony}, {supervision_cases, Standing::colony},
    {call_cases, Standing::colony},        {scale_cases, Standing::colony},
    {floor_cases, Standing::floor},        {peer_cases, Standing::peer},
};

// Every row, grouped by case kind then size; within a group Colony's rows,
// the floors, then the peers, each in the order of its list.
std::vector<Case> selected_cases(const Options& options) {
  std::vector<std::pair<Standing, Case>> rows;
  for (const CaseList& list : kCaseLists) {
    for (Case& row : list.rows()) rows.emplace_back(list.standing, std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    if (a.second.kind != b.second.kind) return a.second.kind < b.second.kind;
    if (a.second.size_bytes != b.second.size_bytes) return a.second.size_bytes < b.second.size_bytes;
    return a.first < b.first;
  });
  std::vector<Case> cases;
  for (auto& [standing, row] : rows) {
    if ((row.diagnostic && !options.diagnostics) || row.label().find(options.filter) == std::string::npos) continue;
    cases.push_back(std::move(row));
  }
  return cases;
}

RowResult run_case(const Case& row, RunContext& context) {
  RowResult result{&row, std::nullopt, {}, {}};
  context.start_case();
  arm_watchdog(context.deadline());
  try {
    result.measured = row.run(context);
  } catch (const CaseAbsent& e) {
    result.absent = e.what();
  } catch (const std::exception& e) {
    result.error = e.what();
  } catch (...) {
    result.error = "unknown exception";
  }
  disarm_watchdog();
  return result;
}

// The pass with the median p50 (round trips) or median rate (throughput),
// whole, so that its p99 or bytes/s stay consistent with it.
Measurement median_pass(std::vector<Measurement> passes) {
  const auto key = [](const Measurement& m) { return m.p50_ns ? *m.p50_ns : m.msgs_per_s.value_or(0.0); };
  std::sort(passes.begin(), passes.end(), [&](const Measurement& a, const Measurement& b) { return key(a) < key(b); });
  return passes[(passes.size() - 1) / 2];
}

// Runs every row options.repeat times. Passes are interleaved (every row,
// then every row again) so that a slow phase of a noisy machine hits all rows
// alike; a row that fails, or cannot run here (absent), is not run again.
std::vector<RowResult> run_all(const std::vector<Case>& cases, const Options& options, RunContext& context) {
  const bool progress = ::isatty(STDERR_FILENO) != 0;
  std::vector<std::vector<Measurement>> passes(cases.size());
  std::vector<std::string> errors(cases.size());
  std::vector<std::string> absent(cases.size());
  for (int pass = 1; pass <= options.repeat; ++pass) {
    for (std::size_t i = 0; i < cases.size(); ++i) {
      if (!errors[i].empty() || !absent[i].empty()) continue;
      if (progress) {
        std::fprintf(stderr, "\r\033[K[pass %d/%d, %zu/%zu] %s", pass, options.repeat, i + 1, cases.size(),
                     cases[i].label().c_str());
      }
      RowResult result = run_case(cases[i], context);
      if (progress) std::fprintf(stderr, "\r\033[K");
      if (result.measured) {
        passes[i].push_back(*result.measured);
      } else if (!result.absent.empty()) {
        absent[i] = result.absent;
      } else {
        std::fprintf(stderr, "colony_bench: FAILED %s: %s\n", cases[i].label().c_str(), result.error.c_str());
        errors[i] = result.error;
      }
    }
  }
  std::vector<RowResult> results;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (!absent[i].empty()) {
      results.push_back(RowResult{&cases[i], std::nullopt, {}, absent[i]});
    } else if (errors[i].empty()) {
      results.push_back(RowResult{&cases[i], median_pass(passes[i]), {}, {}});
    } else {
      results.push_back(RowResult{&cases[i], std::nullopt, errors[i], {}});
    }
  }
  return results;
}

// "colony.<session>-w": how the /dev/shm names of the segments of this run's
// brokers (sessions "<session>-w<N>", see RunContext::broker_session) begin.
std::string broker_segments_stem(const std::string& session) {
  const std::string prefix = colony::shm::SegmentName::session_prefix(session + "-w");
  return prefix.substr(0, prefix.size() - 1);
}

// Objects of this run still in /dev/shm: a bug in the bench (or, for the
// sessions of the worker rows' brokers, "<session>-w<N>", in the broker);
// removed and reported.
std::vector<std::string> remove_leftovers(const std::string& session) {
  std::vector<std::string> left;
  const std::string colony_prefix = colony::shm::SegmentName::session_prefix(session);
  const std::string broker_stem = broker_segments_stem(session);
  const std::string queue_prefix = "colony_" + session + "_";
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(colony_prefix, 0) == 0 || name.rfind(broker_stem, 0) == 0 || name.rfind(queue_prefix, 0) == 0) {
      left.push_back(name);
      std::filesystem::remove(entry.path(), error);
    }
  }
  return left;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse(argc, argv, options)) return 2;
  const std::vector<Case> cases = selected_cases(options);
  if (options.list) {
    for (const Case& row : cases) std::printf("%s\n", row.label().c_str());
    return 0;
  }
  if (cases.empty()) {
    std::fprintf(stderr, "colony_bench: no case matches '%s' (see --list)\n", options.filter.c_str());
    return 2;
  }

  install_signal_handlers();
  const Placement placement = pin_bench_process();
  const std::string session = "bench" + std::to_string(::getpid());
  set_cleanup_prefix(broker_segments_stem(session));
  RunContext context(options, placement, session);
  std::FILE* report = options.json ? stderr : stdout;
  print_machine(report, placement);
  std::fflush(report);

  std::vector<RowResult> results = run_all(cases, options, context);
  const bool failed =
      std::any_of(results.begin(), results.end(), [](const RowResult& r) { return !r.measured && r.absent.empty(); });
  if (options.repeat > 1) std::fprintf(report, "each row: the median of %d passes\n", options.repeat);
  print_table(report, results);
  print_targets(report, results);
  if (options.json) print_json(stdout, results);
  std::fflush(nullptr);

  // Daemons the rows started for the run (iox-roudi) stop before the check.
  context.end_run();
  const std::vector<std::string> left = remove_leftovers(session);
  for (const std::string& name : left)
    std::fprintf(stderr, "colony_bench: FAILED: /dev/shm/%s was left behind (now removed)\n", name.c_str());
  bool plotted = true;
  for (const std::string& file : options.plots) plotted = plot_results(file, results) && plotted;
  return failed || !left.empty() || !plotted ? 1 : 0;
}
