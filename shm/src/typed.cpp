#include "colony/shm/typed.hpp"

namespace colony::shm {

std::string_view to_string(ReceiveStatus status) noexcept {
  switch (status) {
    case ReceiveStatus::ok: return "ok";
    case ReceiveStatus::empty: return "empty";
    case ReceiveStatus::timed_out: return "timed out";
    case ReceiveStatus::closed: return "closed";
    case ReceiveStatus::corrupt: return "corrupt";
    case ReceiveStatus::wrong_type: return "wrong type";
    case ReceiveStatus::unknown_type: return "unknown type";
    case ReceiveStatus::undecodable: return "undecodable";
  }
  return "unknown";
}

}  // namespace colony::shm
