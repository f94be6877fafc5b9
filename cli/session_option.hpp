#pragma once
// --session, defaulting to the environment (so that a command run inside a
// worker finds its session).

#include <cstdlib>
#include <string>

#include "colony/worker/errors.hpp"
#include "colony/worker/session_layout.hpp"

namespace colony::cli {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline std::string resolve_session(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* from_environment = std::getenv(detail::kSessionEnv)) return from_environment;
  throw UsageError(std::string("no session: give --session or set ") + detail::kSessionEnv);
}

}  // namespace colony::cli
