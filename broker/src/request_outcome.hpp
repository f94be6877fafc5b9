#pragma once
// What the broker answers a request with (protocol.hpp's BrokerReply, less
// the correlation id): done, with what it did, or refused, with a code the
// caller can branch on and a message for a person.

#include <string>

#include "colony/worker/errors.hpp"

namespace colony::broker_detail {

struct RequestOutcome {
  bool ok = true;
  WorkerErrc code = WorkerErrc::os_error;  // when !ok
  std::string message;

  static RequestOutcome done(std::string message) { return {true, WorkerErrc::os_error, std::move(message)}; }
  static RequestOutcome refused(WorkerErrc code, std::string message) { return {false, code, std::move(message)}; }
};

}  // namespace colony::broker_detail
