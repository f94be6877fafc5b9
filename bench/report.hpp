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

}  // namespace bench
