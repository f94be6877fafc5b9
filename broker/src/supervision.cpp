#include "colony/broker/supervision.hpp"

namespace colony {

std::string_view to_string(RestartPolicy policy) noexcept {
  switch (policy) {
    case RestartPolicy::never: return "never";
    case RestartPolicy::on_failure: return "on-failure";
    case RestartPolicy::always: return "always";
  }
  return "unknown";
}

std::optional<RestartPolicy> parse_restart_policy(std::string_view text) noexcept {
  if (text == "never") return RestartPolicy::never;
  if (text == "on-failure") return RestartPolicy::on_failure;
  if (text == "always") return RestartPolicy::always;
  return std::nullopt;
}

}  // namespace colony
