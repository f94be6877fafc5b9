#pragma once
// Sending one request to a session's broker, for commands that are not workers.

#include <chrono>
#include <string>

#include "colony/session/broker_link.hpp"

namespace colony::cli {

template <shm::RegisteredType Request>
void send_to_broker(const detail::SessionMap& map, const Request& request) {
  detail::BrokerLink(map).post(request, shm::Deadline::after(std::chrono::seconds(5)));
}

}  // namespace colony::cli
