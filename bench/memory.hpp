#pragma once
// The memory of a process, as the workers-64 row reports it (linux/memory.cpp).

#include <optional>

namespace bench {

// VmRSS, VmHWM and RssShmem (the part of VmRSS that is shared memory, here
// mostly the rings' pages the process touched), in bytes; empty when the
// system did not say.
struct Memory {
  std::optional<double> rss;
  std::optional<double> hwm;
  std::optional<double> shmem;
};

Memory memory_of_self();
Memory memory_of(int pid);

// Resets this process's VmHWM to its current VmRSS, so that the peak read
// later is the row's; false when the kernel refused.
bool reset_peak_memory();

}  // namespace bench
