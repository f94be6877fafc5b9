// A failpoint's stop on Windows. There is no SIGSTOP: the thread that reached
// the failpoint sets the named event Local\colony-stopped-<pid>, which the
// test waits for (Child::wait_until_stopped), then sleeps on
// Local\colony-resume-<pid> until the test sets it (subprocess::resume) or
// terminates the process. Other threads of the process run on.
#include <windows.h>

#include <string>

#include "failpoint/failpoint_stop.hpp"
#include "owner_only.hpp"

namespace colony::shm::failpoint::platform {

bool claim_once(const char* path) noexcept {
  HANDLE claimed = ::CreateFileA(path, GENERIC_WRITE, 0, nullptr, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (claimed == INVALID_HANDLE_VALUE) return false;
  ::CloseHandle(claimed);
  return true;
}

void stop_this_process() noexcept {
  const std::wstring pid = std::to_wstring(::GetCurrentProcessId());
  SECURITY_ATTRIBUTES* owner_only = shm::platform::owner_only_attributes();
  HANDLE resume = ::CreateEventW(owner_only, FALSE, FALSE, (L"Local\\colony-resume-" + pid).c_str());
  HANDLE stopped = ::CreateEventW(owner_only, TRUE, FALSE, (L"Local\\colony-stopped-" + pid).c_str());
  if (resume == nullptr || stopped == nullptr) {
    ::SuspendThread(::GetCurrentThread());  // still held, though nobody is told
    return;
  }
  ::SetEvent(stopped);
  ::WaitForSingleObject(resume, INFINITE);
  ::ResetEvent(stopped);
  ::CloseHandle(stopped);
  ::CloseHandle(resume);
}

}  // namespace colony::shm::failpoint::platform
