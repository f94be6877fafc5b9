#pragma once
// --session, defaulting to the environment (so that a command run inside a
// worker finds its session).

#include <cstdlib>
#include <optional>
#include <string>

#include "colony/shm/names.hpp"
#include "colony/worker/errors.hpp"
#include "colony/session/contract.hpp"

namespace colony::cli {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// $COLONY_SESSION, checked as --session is; nullopt when unset or empty.
inline std::optional<std::string> session_from_environment() {
  const char* from_environment = std::getenv(detail::kSessionEnv);
  if (from_environment == nullptr || *from_environment == '\0') return std::nullopt;
  auto valid = shm::validate_name(from_environment, "session", shm::kMaxSessionLength);
  if (!valid) throw UsageError(std::string(detail::kSessionEnv) + ": " + valid.error().message);
  return std::string(from_environment);
}

inline std::string resolve_session(const std::string& given) {
  if (!given.empty()) return given;
  if (auto from_environment = session_from_environment()) return *from_environment;
  throw UsageError(std::string("no session: give --session or set ") + detail::kSessionEnv);
}

// For the commands that start a session (broker start, run): --session, else
// $COLONY_SESSION, else empty (the broker makes a name up).
inline std::string session_to_start(const std::string& given) {
  if (!given.empty()) return given;
  return session_from_environment().value_or("");
}

}  // namespace colony::cli
