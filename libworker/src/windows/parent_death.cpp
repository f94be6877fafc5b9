// Placeholder until the Win32 launcher (issue 13): there the broker puts each
// worker in a job object that kills it when the broker's handle closes, so
// this has nothing to arm. Until then a worker outlives a killed broker.
#include "../parent_death.hpp"

namespace colony::detail {

void die_with_parent(int) {}

}  // namespace colony::detail
