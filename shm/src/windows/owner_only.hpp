#pragma once
// Named kernel objects on Windows (file mappings, the wait table's events,
// mutexes) are created with a security descriptor that admits only the
// creating user: the counterpart of mode 0600 on Linux. Shared by the files
// of this folder; nothing outside shm/src/windows/ includes it.

#include <windows.h>

#include <string>
#include <string_view>

namespace colony::shm::platform {

// For CreateFileMappingW, CreateEventW, CreateMutexW: full access for this
// user only, not inherited by child processes. nullptr when the process's
// token cannot be read (the object then gets the default descriptor).
SECURITY_ATTRIBUTES* owner_only_attributes() noexcept;

// Whether the object behind handle is owned by this process's user.
bool owned_by_this_user(HANDLE handle) noexcept;

// The Windows name of a Colony object: the session-local namespace and the
// name without the POSIX leading slash ("/colony.s1.ring" -> "Local\colony.s1.ring").
std::wstring local_object_name(std::string_view name);

// "the system cannot find the file specified (error 2)".
std::string describe_windows_error(unsigned long code);

// A Win32 error as the errno value the shm layer reports (ENOENT, EEXIST,
// EACCES, ENOMEM...), EIO when it has none.
int errno_of_windows_error(unsigned long code) noexcept;

}  // namespace colony::shm::platform
