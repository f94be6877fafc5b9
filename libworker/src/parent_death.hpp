#pragma once
// Ties this process's life to the broker's: one implementation per platform,
// linux/parent_death.cpp and windows/parent_death.cpp.

namespace colony::detail {

// Arranges for this process to be killed when the broker (its parent) dies,
// and exits at once if the broker is already gone.
void die_with_parent(int broker_pid);

}  // namespace colony::detail
