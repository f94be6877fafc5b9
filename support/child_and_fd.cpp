// What a Child and an Fd are on every platform: ownership moves, the waits
// built on wait_until, and how an ending reads. The system calls are in
// linux/ and windows/.
#include <utility>

#include "colony/subprocess/child.hpp"
#include "colony/subprocess/io.hpp"

namespace colony::subprocess {

std::string ExitStatus::describe() const {
  if (exited) return "exited with code " + std::to_string(code);
  if (signaled) return "killed by signal " + signal_name();
  return "still running (timed out)";
}

Child::Child(Child&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), handle_(std::exchange(other.handle_, -1)), status_(other.status_) {
  other.status_.reset();
}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = std::exchange(other.pid_, -1);
    handle_ = std::exchange(other.handle_, -1);
    status_ = other.status_;
    other.status_.reset();
  }
  return *this;
}

Child::~Child() { release(); }

std::optional<ExitStatus> Child::wait_for(std::chrono::milliseconds timeout) {
  return wait_until(Clock::now() + timeout);
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

}  // namespace colony::subprocess
