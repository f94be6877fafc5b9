#include "../parent_death.hpp"

namespace colony::detail {

// Without PR_SET_PDEATHSIG (or a job object, on Windows: to be filled in with
// the Win32 launcher) a worker outlives a killed broker.
void die_with_parent(int) {}

}  // namespace colony::detail
