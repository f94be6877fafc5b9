#pragma once
// Pipes between the broker and a worker's standard streams: what a plain
// executable reads and writes, and a named worker's standard error. The
// platform layer (linux/pipes.cpp); ends are plain descriptors owned by
// whoever holds them.

#include <chrono>
#include <cstddef>
#include <optional>

namespace colony::broker_detail {

// Both ends close on exec: the spawn hands the child its end explicitly.
struct Pipe {
  int read_end = -1;
  int write_end = -1;
};
std::optional<Pipe> make_pipe() noexcept;
// An input that is at its end at once, for a child that reads none.
int open_empty_input() noexcept;
void close_end(int end) noexcept;  // -1: nothing

enum class Readiness { readable, timed_out, failed };
// Whether end has bytes (or its end) to read within timeout.
Readiness wait_readable(int end, std::chrono::milliseconds timeout) noexcept;
// Bytes read, 0 at the end of the stream, -1 on an error (an interrupted
// read is tried again).
long read_some(int end, char* buffer, std::size_t size) noexcept;
// Writes all of it; false once the reader is gone.
bool write_all(int end, const void* data, std::size_t size) noexcept;

// While it lives, a write to a pipe whose reader is gone fails on this
// thread instead of ending the process; a notice of it left pending is
// discarded at the end.
class BrokenPipeGuard {
 public:
  BrokenPipeGuard() noexcept;
  ~BrokenPipeGuard();
  BrokenPipeGuard(const BrokenPipeGuard&) = delete;
  BrokenPipeGuard& operator=(const BrokenPipeGuard&) = delete;
};

}  // namespace colony::broker_detail
