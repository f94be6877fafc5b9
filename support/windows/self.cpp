// This process and others by pid, on Windows: process handles, the failpoint
// stop's named events, the system's process and thread information.

#include <windows.h>
#include <winternl.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <system_error>
#include <vector>

#include "colony/subprocess/child.hpp"
#include "windows_support.hpp"

namespace colony::subprocess {
namespace {

bool end_process(int pid, DWORD exit_code) noexcept {
  if (pid <= 0) return false;
  HANDLE process = ::OpenProcess(PROCESS_TERMINATE, FALSE, static_cast<DWORD>(pid));
  if (process == nullptr) return false;
  const bool ended = ::TerminateProcess(process, exit_code) != 0;
  ::CloseHandle(process);
  return ended;
}

bool set_named_event(const std::wstring& name) noexcept {
  HANDLE event = ::OpenEventW(EVENT_MODIFY_STATE, FALSE, name.c_str());
  if (event == nullptr) return false;
  const bool set = ::SetEvent(event) != 0;
  ::CloseHandle(event);
  return set;
}

// Whether the process used no CPU time over a short look: asleep in a
// wait, as far as anyone outside can tell. The thread states that
// NtQuerySystemInformation reports would say it directly on Windows, but
// Wine reports every thread as initialized (state 0); CPU times it keeps,
// in 10 ms ticks, so the look lasts several of them.
bool used_no_cpu(HANDLE process) {
  const auto cpu_time = [process]() -> std::optional<std::uint64_t> {
    FILETIME created{}, exited{}, kernel{}, user{};
    if (!::GetProcessTimes(process, &created, &exited, &kernel, &user)) return std::nullopt;
    const auto ticks = [](const FILETIME& time) {
      return (std::uint64_t{time.dwHighDateTime} << 32) | time.dwLowDateTime;
    };
    return ticks(kernel) + ticks(user);
  };
  const auto before = cpu_time();
  ::Sleep(50);
  const auto after = cpu_time();
  return before && after && *before == *after;
}

}  // namespace

std::wstring widen(std::string_view text) {
  if (text.empty()) return {};
  const int length = ::MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), nullptr, 0);
  std::wstring wide(static_cast<std::size_t>(length), L'\0');
  ::MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), wide.data(), length);
  return wide;
}

std::string narrow(std::wstring_view text) {
  if (text.empty()) return {};
  const int length =
      ::WideCharToMultiByte(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), nullptr, 0, nullptr, nullptr);
  std::string bytes(static_cast<std::size_t>(length), '\0');
  ::WideCharToMultiByte(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), bytes.data(), length, nullptr, nullptr);
  return bytes;
}

std::wstring command_line_of(const std::vector<std::string>& argv) {
  // The rules of CommandLineToArgvW: backslashes are literal unless they
  // precede a quote, where each pair is one backslash.
  std::wstring line;
  for (const std::string& word : argv) {
    if (!line.empty()) line += L' ';
    const std::wstring wide = widen(word);
    if (!wide.empty() && wide.find_first_of(L" \t\n\v\"") == std::wstring::npos) {
      line += wide;
      continue;
    }
    line += L'"';
    std::size_t backslashes = 0;
    for (const wchar_t c : wide) {
      if (c == L'\\') {
        ++backslashes;
        continue;
      }
      if (c == L'"') line.append(backslashes * 2 + 1, L'\\');
      else line.append(backslashes, L'\\');
      backslashes = 0;
      line += c;
    }
    line.append(backslashes * 2, L'\\');
    line += L'"';
  }
  return line;
}

bool kill_process(int pid) noexcept { return end_process(pid, kKilledExitCode); }
bool ask_to_end(int pid) noexcept { return end_process(pid, kTerminatedExitCode); }
// No console of its own to send Ctrl-C to: ended, as an unhandled Ctrl-C would.
bool interrupt(int pid) noexcept { return end_process(pid, STATUS_CONTROL_C_EXIT); }
bool resume(int pid) noexcept { return pid > 0 && set_named_event(L"Local\\colony-resume-" + std::to_wstring(pid)); }

void stop_self() noexcept {
  const std::wstring pid = std::to_wstring(::GetCurrentProcessId());
  HANDLE resume_event = ::CreateEventW(nullptr, FALSE, FALSE, (L"Local\\colony-resume-" + pid).c_str());
  HANDLE stopped = ::CreateEventW(nullptr, TRUE, FALSE, (L"Local\\colony-stopped-" + pid).c_str());
  if (resume_event == nullptr || stopped == nullptr) return;
  ::SetEvent(stopped);
  ::WaitForSingleObject(resume_event, INFINITE);
  ::ResetEvent(stopped);
  ::CloseHandle(stopped);
  ::CloseHandle(resume_event);
}

// The parent put this process into its kill-on-close job (Child::spawn).
bool die_with_parent() noexcept { return true; }

void set_environment_variable(const std::string& name, const std::optional<std::string>& value) {
  // _putenv_s changes the C runtime's copy and the process's own (which
  // CreateProcess hands on); an empty value removes the variable.
  ::_putenv_s(name.c_str(), value ? value->c_str() : "");
}

std::string self_executable() {
  std::vector<wchar_t> path(MAX_PATH);
  for (;;) {
    const DWORD length = ::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
    if (length == 0) throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(), "GetModuleFileName");
    if (length < path.size()) return narrow(std::wstring_view(path.data(), length));
    path.resize(path.size() * 2);
  }
}

std::optional<std::string> find_in_path(std::string_view program) {
  const char* path = std::getenv("PATH");
  std::string_view directories = path != nullptr ? path : "";
  const std::vector<std::string> suffixes{"", ".exe", ".bat", ".cmd"};
  while (!directories.empty()) {
    const auto separator = directories.find(';');
    const std::filesystem::path directory(std::string(directories.substr(0, separator)));
    for (const auto& suffix : suffixes) {
      const auto candidate = directory / (std::string(program) + suffix);
      std::error_code error;
      if (std::filesystem::is_regular_file(candidate, error)) return candidate.string();
    }
    if (separator == std::string_view::npos) break;
    directories.remove_prefix(separator + 1);
  }
  return std::nullopt;
}

RunState run_state(int pid) {
  if (pid <= 0) return RunState::gone;
  HANDLE process = ::OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, static_cast<DWORD>(pid));
  if (process == nullptr) return RunState::gone;
  struct Closer {
    HANDLE handle;
    ~Closer() { ::CloseHandle(handle); }
  } closer{process};
  if (::WaitForSingleObject(process, 0) == WAIT_OBJECT_0) return RunState::gone;
  // Held at a failpoint or by stop_self: its stopped event is set.
  const std::wstring stopped_name = L"Local\\colony-stopped-" + std::to_wstring(pid);
  if (HANDLE stopped = ::OpenEventW(SYNCHRONIZE, FALSE, stopped_name.c_str())) {
    const bool set = ::WaitForSingleObject(stopped, 0) == WAIT_OBJECT_0;
    ::CloseHandle(stopped);
    if (set) return RunState::stopped;
  }
  return used_no_cpu(process) ? RunState::sleeping : RunState::running;
}

}  // namespace colony::subprocess
