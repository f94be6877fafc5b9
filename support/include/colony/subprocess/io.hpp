#pragma once
// Descriptors between a parent and its children: pipes, a socket pair, a
// log file, and exact-size reads and writes on them.
//
// A signal that interrupts a transfer (the bench's watchdog alarm) asks the
// caller's StopCheck whether to give up: Io::interrupted if so, otherwise the
// transfer goes on. System errors throw std::system_error.

#include <chrono>
#include <cstddef>
#include <span>
#include <string>

namespace colony::subprocess {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const noexcept { return fd_; }
  void reset() noexcept;

 private:
  int fd_ = -1;
};

// Both ends are closed on exec: a spawned child gets only what SpawnOptions
// hands it, and a forked one closes the end it does not use.
struct FdPair {
  Fd first;
  Fd second;
};
FdPair make_pipe();         // first: read end, second: write end
FdPair make_socket_pair();  // a connected Unix stream socket pair
// A file for writing, created or truncated, readable by its owner only.
Fd create_file(const std::string& path);

enum class Io { done, closed, interrupted };
using StopCheck = bool (*)() noexcept;

// Writes or reads exactly bytes.size() bytes. Io::closed: the other end was
// closed (read: end of file before the last byte).
Io write_all(int fd, std::span<const std::byte> bytes, StopCheck stop = nullptr);
Io read_exact(int fd, std::span<std::byte> bytes, StopCheck stop = nullptr);

// Appends what arrives on fd to text until end of file (true), or until the
// deadline passes or stop() says so (false).
bool read_to_end(int fd, std::string& text, std::chrono::steady_clock::time_point deadline, StopCheck stop = nullptr);

// True once fd has something to read (or its other end closed) within timeout.
bool wait_readable(int fd, std::chrono::milliseconds timeout);

}  // namespace colony::subprocess
