#include "colony/shm/outcome.hpp"

namespace colony::shm {

std::string_view to_string(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::ok: return "ok";
    case Outcome::timed_out: return "timed out";
    case Outcome::full: return "full";
    case Outcome::empty: return "empty";
    case Outcome::would_block: return "held by another owner";
    case Outcome::owner_died: return "acquired from a dead owner";
    case Outcome::not_equal: return "not equal";
    case Outcome::interrupted: return "interrupted";
    case Outcome::too_large: return "too large";
    case Outcome::no_space: return "no space";
    case Outcome::closed: return "closed";
    case Outcome::corrupt: return "corrupt";
    case Outcome::wrong_type: return "wrong type";
    case Outcome::unknown_type: return "unknown type";
    case Outcome::undecodable: return "undecodable";
    case Outcome::failed: return "failed";
  }
  return "unknown";
}

}  // namespace colony::shm
