#pragma once
// One request to a session's broker, for commands that are not workers: it
// is answered once (protocol.hpp's BrokerReply), and the answer is returned
// (what the broker did) or thrown as a WorkerError (why it could not).

#include <chrono>
#include <string>

#include "colony/session/broker_link.hpp"

namespace colony::cli {

inline constexpr auto kBrokerAnswerDeadline = std::chrono::seconds(5);

// The broker's error (or the link's) reaches CommandLine::run as a
// WorkerError, which maps its code to the exit code (exit_code_for).
template <shm::RegisteredType Request>
std::string ask_broker(const detail::SessionMap& map, Request request) {
  auto link = detail::or_throw(detail::BrokerLink::open(map));
  return detail::or_throw(link.ask(std::move(request), shm::Deadline::after(kBrokerAnswerDeadline)));
}

}  // namespace colony::cli
