// The system's floors on Linux, in table order.

#include "floors.hpp"

#include "linux/system_floors.hpp"

namespace bench {

std::vector<Case> system_floor_cases() {
  std::vector<Case> rows = {raw_futex_case()};
  for (Case& row : spawn_floor_cases()) rows.push_back(std::move(row));
  return rows;
}

}  // namespace bench
