#pragma once
// What the scale rows read of processes (linux/process_stats.cpp): the
// proportional set size and its part in files, the context switches of every
// thread, and the open-file limit a thousand workers need.

#include <cstdint>
#include <optional>

namespace bench {

// /proc/<pid>/smaps_rollup in bytes (pid 0: this process). Pss shares each
// page among the processes that map it; Pss_File is its part in mapped files
// (the executable and the shared libraries), and Pss_Shmem its share of the
// shared-memory segments' pages it touched. A segment's pages nobody touched
// are in no process's Pss, so the scale row counts the segments in /dev/shm
// instead, beside each process's private memory (total - file - shmem).
struct Pss {
  double total = 0;
  double file = 0;
  double shmem = 0;
  double private_memory() const noexcept { return total - file - shmem; }
};
std::optional<Pss> pss_of(int pid);

// Voluntary and involuntary context switches of every thread of pid (0: this
// process) but except_tid (0: none): how often they woke, as the kernel counts.
std::optional<std::uint64_t> context_switches_of(int pid, int except_tid = 0);
// The calling thread's id, for except_tid.
int current_thread_id() noexcept;

// Raises this process's soft limit of open files to its hard limit (each
// worker holds descriptors of the broker's: its pidfd, its stderr pipe).
void raise_open_file_limit() noexcept;

}  // namespace bench
