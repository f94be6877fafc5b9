#include "colony/shm/error.hpp"

#include <cerrno>
#include <cstring>

namespace colony::shm {

std::string_view to_string(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_name: return "invalid name";
    case Errc::invalid_argument: return "invalid argument";
    case Errc::already_exists: return "already exists";
    case Errc::not_found: return "not found";
    case Errc::foreign_owner: return "owned by another user";
    case Errc::bad_mode: return "permissions are not 0600";
    case Errc::bad_magic: return "not a Colony segment";
    case Errc::bad_version: return "unsupported layout version";
    case Errc::wrong_kind: return "wrong segment kind";
    case Errc::bad_size: return "size mismatch";
    case Errc::creator_died: return "creator died before the segment was ready";
    case Errc::not_ready: return "segment not ready before the deadline";
    case Errc::busy: return "busy";
    case Errc::corrupt: return "corrupt";
    case Errc::no_space: return "out of shared memory";
    case Errc::not_permitted: return "not permitted";
    case Errc::os_error: return "system error";
  }
  return "unknown error";
}

namespace {

// errno values are the C library's: the same names on Linux and in the
// Windows C runtime; Win32's own codes are mapped by its platform files.
Errc errc_of(int errno_value) noexcept {
  switch (errno_value) {
    case ENOENT:
    case ENOTDIR: return Errc::not_found;
    case EACCES:
    case EPERM:
    case ENOEXEC: return Errc::not_permitted;
    case EEXIST: return Errc::already_exists;
    case ENOSPC: return Errc::no_space;
    default: return Errc::os_error;
  }
}

}  // namespace

Error os_error(std::string_view what, int errno_value) {
  std::string message(what);
  message += ": ";
  message += std::strerror(errno_value);
  return Error{errc_of(errno_value), std::move(message), errno_value};
}

}  // namespace colony::shm
