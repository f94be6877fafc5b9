#pragma once
// What colony_bench prints: the machine, the table, JSON lines and the
// target ratios the issue asks for.

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "bench.hpp"

namespace bench {

struct RowResult {
  const Case* row;
  std::optional<Measurement> measured;  // empty when the case failed or is absent
  std::string error;
  std::string absent;  // why the case cannot run on this machine (not a failure)
};

void print_machine(std::FILE* out, const Placement& placement);
void print_table(std::FILE* out, const std::vector<RowResult>& results);
void print_targets(std::FILE* out, const std::vector<RowResult>& results);
void print_json(std::FILE* out, const std::vector<RowResult>& results);

// "341 ns", "43.53 us", "-" for none; "31.06 M/s" with unit "/s".
std::string format_time(const std::optional<double>& ns);
std::string format_rate(const std::optional<double>& value, const char* unit);
// "AMD EPYC, 2 cores online; g++ 12.2.0": for titles.
std::string machine_summary();

// --plot FILE (.svg or .png): the round trips and the 64 B and 64 KiB
// throughput rows, one bar per transport, drawn by gnuplot (a child process
// fed a generated script). Returns false after printing one line to stderr
// when gnuplot is missing or fails.
bool plot_results(const std::string& file, const std::vector<RowResult>& results);

}  // namespace bench
