#include "colony/shm/error.hpp"

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
    case Errc::os_error: return "system error";
  }
  return "unknown error";
}

Error os_error(std::string_view what, int errno_value) {
  std::string message(what);
  message += ": ";
  message += std::strerror(errno_value);
  return Error{Errc::os_error, std::move(message)};
}

}  // namespace colony::shm
