#pragma once
// What the Windows side of colony::process_support shares between its files.

#include <windows.h>

#include <string>
#include <string_view>
#include <vector>

namespace colony::subprocess {

// The exit codes a process ended by kill() or terminate() gets: Windows has
// no signals, and ExitStatus reads these two as signals 9 and 15.
inline constexpr DWORD kKilledExitCode = 0xDEAD0009;
inline constexpr DWORD kTerminatedExitCode = 0xDEAD000F;

std::wstring widen(std::string_view text);
std::string narrow(std::wstring_view text);

// One command line that the child's CommandLineToArgvW (and the C runtime's
// argv) splits back into exactly these words.
std::wstring command_line_of(const std::vector<std::string>& argv);

}  // namespace colony::subprocess
