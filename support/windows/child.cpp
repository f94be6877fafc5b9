// Child on Windows: CreateProcess, a process handle to wait on with a
// deadline, TerminateProcess to kill. A child that must not outlive this
// process goes into a job object that kills its processes when its last
// handle closes, which is when this process ends, however it ends (the
// counterpart of PR_SET_PDEATHSIG).
//
// Windows has no signals: a process ended by kill() (or kill_process) exits
// with kKilledExitCode, which ExitStatus reports as signal 9, so that a test
// reads a kill the same way on both platforms.

#include <windows.h>
#include <io.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "colony/subprocess/child.hpp"
#include "windows_support.hpp"

namespace colony::subprocess {
namespace {

constexpr int kKillSignal = 9;
constexpr int kTerminateSignal = 15;

HANDLE as_handle(int handle) noexcept { return reinterpret_cast<HANDLE>(static_cast<std::intptr_t>(handle)); }
int from_handle(HANDLE handle) noexcept { return static_cast<int>(reinterpret_cast<std::intptr_t>(handle)); }

[[noreturn]] void throw_last_error(const std::string& what) {
  throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(), what);
}

// One job for every child that dies with this process; its handle is never
// closed, so the system closes it as this process ends.
HANDLE kill_on_close_job() {
  static HANDLE job = [] {
    HANDLE made = ::CreateJobObjectW(nullptr, nullptr);
    if (made == nullptr) throw_last_error("CreateJobObject");
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    if (!::SetInformationJobObject(made, JobObjectExtendedLimitInformation, &limits, sizeof(limits))) {
      throw_last_error("SetInformationJobObject");
    }
    return made;
  }();
  return job;
}

// The environment block: ours, with options.environment set over it.
std::wstring environment_block(const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::wstring> entries;
  if (LPWCH current = ::GetEnvironmentStringsW()) {
    for (const wchar_t* entry = current; *entry != L'\0'; entry += std::wcslen(entry) + 1) entries.emplace_back(entry);
    ::FreeEnvironmentStringsW(current);
  }
  for (const auto& [name, value] : overrides) {
    const std::wstring prefix = widen(name) + L"=";
    std::erase_if(entries, [&](const std::wstring& entry) { return _wcsnicmp(entry.c_str(), prefix.c_str(), prefix.size()) == 0; });
    entries.push_back(prefix + widen(value));
  }
  std::wstring block;
  for (const auto& entry : entries) block += entry + L'\0';
  block += L'\0';
  return block;
}

// A standard handle for the child, inheritable; nullptr for kInherit.
HANDLE child_std_handle(int fd, DWORD own) {
  HANDLE source = nullptr;
  if (fd == kInherit) {
    source = ::GetStdHandle(own);
  } else if (fd == kNull) {
    SECURITY_ATTRIBUTES inheritable{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
    return ::CreateFileW(L"NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &inheritable,
                         OPEN_EXISTING, 0, nullptr);
  } else {
    source = reinterpret_cast<HANDLE>(::_get_osfhandle(fd));
  }
  if (source == nullptr || source == INVALID_HANDLE_VALUE) return nullptr;
  HANDLE duplicate = nullptr;
  if (!::DuplicateHandle(::GetCurrentProcess(), source, ::GetCurrentProcess(), &duplicate, 0, TRUE,
                         DUPLICATE_SAME_ACCESS)) {
    return nullptr;
  }
  return duplicate;
}

}  // namespace

// ---------------------------------------------------------------------------
// ExitStatus

bool ExitStatus::killed_by_sigkill() const noexcept { return signaled && signal == kKillSignal; }

std::string ExitStatus::signal_name() const {
  if (signal == kKillSignal) return "Killed";
  if (signal == kTerminateSignal) return "Terminated";
  return "signal " + std::to_string(signal);
}

// ---------------------------------------------------------------------------
// Starting

Child Child::spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
  if (argv.empty()) throw std::invalid_argument("Child::spawn: no program");
  std::wstring command_line = command_line_of(argv);
  std::wstring environment = environment_block(options.environment);

  HANDLE std_handles[3] = {child_std_handle(options.stdin_fd, STD_INPUT_HANDLE),
                           child_std_handle(options.stdout_fd, STD_OUTPUT_HANDLE),
                           child_std_handle(options.stderr_fd, STD_ERROR_HANDLE)};
  // Only these three are inherited, whatever else this process has open.
  std::vector<HANDLE> inherited;
  for (HANDLE handle : std_handles) {
    if (handle != nullptr && std::find(inherited.begin(), inherited.end(), handle) == inherited.end()) {
      inherited.push_back(handle);
    }
  }
  SIZE_T attribute_size = 0;
  ::InitializeProcThreadAttributeList(nullptr, 1, 0, &attribute_size);
  std::vector<std::byte> attribute_storage(attribute_size);
  auto* attributes = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(attribute_storage.data());
  const bool have_list = ::InitializeProcThreadAttributeList(attributes, 1, 0, &attribute_size) &&
                         (inherited.empty() || ::UpdateProcThreadAttribute(attributes, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
                                                                           inherited.data(), inherited.size() * sizeof(HANDLE),
                                                                           nullptr, nullptr));
  STARTUPINFOEXW startup{};
  startup.StartupInfo.cb = sizeof(startup);
  startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  startup.StartupInfo.hStdInput = std_handles[0];
  startup.StartupInfo.hStdOutput = std_handles[1];
  startup.StartupInfo.hStdError = std_handles[2];
  startup.lpAttributeList = have_list ? attributes : nullptr;

  PROCESS_INFORMATION process{};
  const DWORD flags = CREATE_UNICODE_ENVIRONMENT | CREATE_SUSPENDED | (have_list ? EXTENDED_STARTUPINFO_PRESENT : 0);
  const std::wstring program = widen(argv.front());
  const BOOL created = ::CreateProcessW(program.c_str(), command_line.data(), nullptr, nullptr, !inherited.empty(),
                                        flags, environment.data(), nullptr, &startup.StartupInfo, &process);
  const DWORD error = ::GetLastError();
  if (have_list) ::DeleteProcThreadAttributeList(attributes);
  for (HANDLE handle : inherited) ::CloseHandle(handle);
  if (!created) {
    throw std::system_error(static_cast<int>(error), std::system_category(), "cannot start " + argv.front());
  }
  // In the job before it runs a single instruction: it cannot outlive us even then.
  if (options.on_parent_death != OnParentDeath::nothing && !::AssignProcessToJobObject(kill_on_close_job(), process.hProcess)) {
    const DWORD job_error = ::GetLastError();
    ::TerminateProcess(process.hProcess, 1);
    ::CloseHandle(process.hThread);
    ::CloseHandle(process.hProcess);
    throw std::system_error(static_cast<int>(job_error), std::system_category(), "AssignProcessToJobObject");
  }
  ::ResumeThread(process.hThread);
  ::CloseHandle(process.hThread);
  return Child(static_cast<int>(process.dwProcessId), from_handle(process.hProcess));
}

Child Child::run(const std::function<int()>&, OnParentDeath, Ending) {
  throw std::system_error(ENOSYS, std::generic_category(),
                          "Child::run forks this process, which Windows cannot: spawn a program instead");
}

void Child::release() noexcept {
  if (running()) kill_and_reap();
  if (handle_ != -1) ::CloseHandle(as_handle(handle_));
  handle_ = -1;
}

void Child::reaped(int exit_code) noexcept {
  ExitStatus status;
  if (static_cast<DWORD>(exit_code) == kKilledExitCode) {
    status.signaled = true;
    status.signal = kKillSignal;
  } else if (static_cast<DWORD>(exit_code) == kTerminatedExitCode) {
    status.signaled = true;
    status.signal = kTerminateSignal;
  } else {
    status.exited = true;
    status.code = exit_code;
  }
  status_ = status;
}

// ---------------------------------------------------------------------------
// Waiting

std::optional<ExitStatus> Child::try_wait() { return wait_until(Clock::now()); }

std::optional<ExitStatus> Child::wait_until(Clock::time_point deadline) {
  if (!running()) return status_;
  for (;;) {
    const auto left = std::max<long long>(0, std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count());
    const DWORD waited = ::WaitForSingleObject(as_handle(handle_), static_cast<DWORD>(std::min<long long>(left, 60'000)));
    if (waited == WAIT_OBJECT_0) {
      DWORD code = 0;
      if (::GetExitCodeProcess(as_handle(handle_), &code)) {
        reaped(static_cast<int>(code));
      } else {
        status_ = ExitStatus{};
      }
      return status_;
    }
    if (waited == WAIT_FAILED || Clock::now() >= deadline) return std::nullopt;
  }
}

bool Child::wait_until_stopped(Clock::time_point deadline) {
  // The failpoint's stop (shm/src/windows/failpoint_stop.cpp) sets this event.
  const std::wstring name = L"Local\\colony-stopped-" + std::to_wstring(pid_);
  while (running()) {
    if (HANDLE stopped = ::OpenEventW(SYNCHRONIZE, FALSE, name.c_str())) {
      const auto left = std::max<long long>(0, std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count());
      HANDLE either[2] = {stopped, as_handle(handle_)};
      const DWORD waited = ::WaitForMultipleObjects(2, either, FALSE, static_cast<DWORD>(left));
      ::CloseHandle(stopped);
      if (waited == WAIT_OBJECT_0) return true;
      if (waited == WAIT_OBJECT_0 + 1) {
        (void)try_wait();
        return false;
      }
      return false;
    }
    // Not made yet: the child has not reached its failpoint.
    if (auto status = try_wait()) return false;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

// ---------------------------------------------------------------------------
// Ending

void Child::kill() noexcept {
  if (running()) ::TerminateProcess(as_handle(handle_), kKilledExitCode);
}

void Child::terminate() noexcept {
  if (running()) ::TerminateProcess(as_handle(handle_), kTerminatedExitCode);
}

void Child::resume() noexcept {
  if (running()) subprocess::resume(pid_);
}

ExitStatus Child::kill_and_reap() noexcept {
  if (running()) {
    ::TerminateProcess(as_handle(handle_), kKilledExitCode);
    if (!wait_until(Clock::now() + std::chrono::seconds(30))) status_ = ExitStatus{};
  }
  return status_.value_or(ExitStatus{});
}

}  // namespace colony::subprocess
