// Descriptors on Windows: the C runtime's file descriptors over pipe and file
// handles (no socket pairs: make_socket_pair throws). A pipe's read end is
// watched with PeekNamedPipe, so a read with a deadline never blocks past it.

#include <fcntl.h>
#include <io.h>
#include <sys/stat.h>
#include <windows.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <thread>

#include "colony/subprocess/io.hpp"
#include "windows_support.hpp"

namespace colony::subprocess {
namespace {

[[noreturn]] void throw_errno(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

HANDLE os_handle(int fd) noexcept { return reinterpret_cast<HANDLE>(::_get_osfhandle(fd)); }

// Bytes waiting in a pipe; -1 once its other end is closed. A file is always readable.
long long available(int fd) noexcept {
  DWORD bytes = 0;
  if (::PeekNamedPipe(os_handle(fd), nullptr, 0, nullptr, &bytes, nullptr)) return bytes;
  return ::GetLastError() == ERROR_BROKEN_PIPE ? -1 : 1;
}

}  // namespace

void Fd::reset() noexcept {
  if (fd_ >= 0) ::_close(fd_);
  fd_ = -1;
}

FdPair make_pipe() {
  int ends[2];
  // Not inheritable: Child::spawn passes a child only the handles it names.
  if (::_pipe(ends, 64 * 1024, _O_BINARY | _O_NOINHERIT) != 0) throw_errno("_pipe");
  return FdPair{Fd(ends[0]), Fd(ends[1])};
}

FdPair make_socket_pair() {
  throw std::system_error(ENOSYS, std::generic_category(), "Unix socket pairs are not available on Windows");
}

Fd create_file(const std::string& path) {
  const int fd = ::_wopen(widen(path).c_str(), _O_WRONLY | _O_CREAT | _O_TRUNC | _O_BINARY | _O_NOINHERIT,
                          _S_IREAD | _S_IWRITE);
  if (fd < 0) throw_errno(("cannot create " + path).c_str());
  return Fd(fd);
}

Io write_all(int fd, std::span<const std::byte> bytes, StopCheck stop) {
  while (!bytes.empty()) {
    if (stop != nullptr && stop()) return Io::interrupted;
    const auto chunk = static_cast<unsigned>(std::min<std::size_t>(bytes.size(), 1u << 20));
    const int written = ::_write(fd, bytes.data(), chunk);
    if (written < 0) {
      if (errno == EPIPE || errno == EINVAL) return Io::closed;
      throw_errno("write");
    }
    bytes = bytes.subspan(static_cast<std::size_t>(written));
  }
  return Io::done;
}

Io read_exact(int fd, std::span<std::byte> bytes, StopCheck stop) {
  while (!bytes.empty()) {
    if (stop != nullptr && stop()) return Io::interrupted;
    const auto chunk = static_cast<unsigned>(std::min<std::size_t>(bytes.size(), 1u << 20));
    const int got = ::_read(fd, bytes.data(), chunk);
    if (got == 0) return Io::closed;
    if (got < 0) {
      if (errno == EPIPE) return Io::closed;
      throw_errno("read");
    }
    bytes = bytes.subspan(static_cast<std::size_t>(got));
  }
  return Io::done;
}

bool read_to_end(int fd, std::string& text, std::chrono::steady_clock::time_point deadline, StopCheck stop) {
  char buffer[4096];
  for (;;) {
    if (stop != nullptr && stop()) return false;
    const long long waiting = available(fd);
    if (waiting == 0) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    const int got = ::_read(fd, buffer, sizeof buffer);
    if (got <= 0) return true;  // end of file, or the writer's end closed
    text.append(buffer, static_cast<std::size_t>(got));
  }
}

bool wait_readable(int fd, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (available(fd) != 0) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace colony::subprocess
