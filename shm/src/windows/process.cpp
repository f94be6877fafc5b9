// Process identity and liveness on Windows.
#include <windows.h>

#include "colony/shm/process.hpp"

namespace colony::shm {

int current_pid() noexcept { return static_cast<int>(::GetCurrentProcessId()); }

bool process_is_alive(int pid) noexcept {
  if (pid <= 0) return false;
  HANDLE process = ::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, static_cast<DWORD>(pid));
  if (process == nullptr) return ::GetLastError() == ERROR_ACCESS_DENIED;  // exists, not ours to query
  DWORD exit_code = 0;
  const bool running = ::GetExitCodeProcess(process, &exit_code) && exit_code == STILL_ACTIVE;
  ::CloseHandle(process);
  return running;
}

}  // namespace colony::shm
