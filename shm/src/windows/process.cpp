// Process identity and liveness on Windows.
#include <windows.h>

#include "colony/shm/process.hpp"

namespace colony::shm {
namespace {

// The creation time in 10 ms units, low 32 bits (0 reserved for unknown).
std::uint32_t start_word(HANDLE process) noexcept {
  FILETIME created{}, exited{}, kernel{}, user{};
  if (!::GetProcessTimes(process, &created, &exited, &kernel, &user)) return 0;
  const std::uint64_t hundred_ns = (std::uint64_t{created.dwHighDateTime} << 32) | created.dwLowDateTime;
  const auto word = static_cast<std::uint32_t>(hundred_ns / 100'000);
  return word == 0 ? 1 : word;
}

}  // namespace

int current_pid() noexcept { return static_cast<int>(::GetCurrentProcessId()); }

ProcessIdentity current_identity() noexcept {
  return {current_pid(), start_word(::GetCurrentProcess())};
}

ProcessIdentity identity_of(int pid) noexcept {
  if (pid <= 0) return {};
  HANDLE process = ::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, static_cast<DWORD>(pid));
  if (process == nullptr) return {pid, 0};
  const ProcessIdentity identity{pid, start_word(process)};
  ::CloseHandle(process);
  return identity;
}

bool process_is_alive(int pid) noexcept {
  if (pid <= 0) return false;
  HANDLE process = ::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, static_cast<DWORD>(pid));
  if (process == nullptr) return ::GetLastError() == ERROR_ACCESS_DENIED;  // exists, not ours to query
  DWORD exit_code = 0;
  const bool running = ::GetExitCodeProcess(process, &exit_code) && exit_code == STILL_ACTIVE;
  ::CloseHandle(process);
  return running;
}

bool is_alive(ProcessIdentity identity) noexcept {
  if (identity.pid <= 0) return false;
  HANDLE process = ::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, static_cast<DWORD>(identity.pid));
  if (process == nullptr) return ::GetLastError() == ERROR_ACCESS_DENIED;
  DWORD exit_code = 0;
  bool running = ::GetExitCodeProcess(process, &exit_code) && exit_code == STILL_ACTIVE;
  if (running && identity.start != 0) {
    const std::uint32_t start = start_word(process);
    running = start == 0 || start == identity.start;
  }
  ::CloseHandle(process);
  return running;
}

ProcessWatch::ProcessWatch(ProcessIdentity identity) noexcept : identity_(identity) {
  if (identity.pid <= 0) return;
  HANDLE process = ::OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, static_cast<DWORD>(identity.pid));
  if (process == nullptr) {
    // Access denied: it exists, not ours to watch; judged by identity at each look.
    if (::GetLastError() == ERROR_ACCESS_DENIED) how_ = How::by_identity;
    return;
  }
  // Opened first, checked second: the handle may name a process that got the
  // pid after ours ended, and then its creation time says so now.
  const std::uint32_t start = start_word(process);
  if (identity.start != 0 && start != 0 && start != identity.start) {
    ::CloseHandle(process);
    return;
  }
  handle_ = reinterpret_cast<std::intptr_t>(process);
  how_ = How::handle;
}

ProcessWatch::ProcessWatch(ProcessWatch&& other) noexcept
    : identity_(other.identity_), how_(std::exchange(other.how_, How::none)), handle_(std::exchange(other.handle_, -1)) {}

ProcessWatch& ProcessWatch::operator=(ProcessWatch&& other) noexcept {
  if (this != &other) {
    if (how_ == How::handle) ::CloseHandle(reinterpret_cast<HANDLE>(handle_));
    identity_ = other.identity_;
    how_ = std::exchange(other.how_, How::none);
    handle_ = std::exchange(other.handle_, -1);
  }
  return *this;
}

ProcessWatch::~ProcessWatch() {
  if (how_ == How::handle) ::CloseHandle(reinterpret_cast<HANDLE>(handle_));
}

bool ProcessWatch::alive() const noexcept {
  switch (how_) {
    case How::none: return false;
    case How::by_identity: return is_alive(identity_);
    case How::handle: break;
  }
  return ::WaitForSingleObject(reinterpret_cast<HANDLE>(handle_), 0) == WAIT_TIMEOUT;
}

}  // namespace colony::shm
