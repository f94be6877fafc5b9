#pragma once
// The rows of linux/, which system_floors.cpp lists in table order.

#include <vector>

#include "bench.hpp"

namespace bench {

Case raw_futex_case();                 // raw_futex.cpp
std::vector<Case> spawn_floor_cases();  // spawn_floors.cpp

}  // namespace bench
