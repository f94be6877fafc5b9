// A failpoint's stop on Windows, a placeholder until issue 13 ports the crash
// tests: the thread that reached the failpoint suspends itself, and the test
// would find it suspended, then resume it or terminate the process.
#include <windows.h>

#include "failpoint/failpoint_stop.hpp"

namespace colony::shm::failpoint::platform {

bool claim_once(const char* path) noexcept {
  HANDLE claimed = ::CreateFileA(path, GENERIC_WRITE, 0, nullptr, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (claimed == INVALID_HANDLE_VALUE) return false;
  ::CloseHandle(claimed);
  return true;
}

void stop_this_process() noexcept { ::SuspendThread(::GetCurrentThread()); }

}  // namespace colony::shm::failpoint::platform
