#pragma once
// The session a command works on, opened once it is proven live: the one way
// a command that needs a running broker gets at its session, and at a named
// worker the session defines.

#include <functional>
#include <memory>
#include <string>

#include "commands.hpp"

// The session layer's own headers, in one block.
#include "colony/session/session_map.hpp"

namespace colony::cli {

// --session as given (empty: $COLONY_SESSION), checked live, its control
// segment mapped. Throws UsageError when no session is given, WorkerError
// when it is not live (saying why: no live broker, another user's, damaged).
std::shared_ptr<detail::SessionMap> open_live_session(const std::string& given_session);

// The control segment of a session already known live.
std::shared_ptr<detail::SessionMap> open_session_map(const std::string& session);

// Throws WorkerError(not_found) unless the session defines a worker of that name.
void require_named_worker(const detail::SessionMap& map, const std::string& name);

// A command on one named worker of a live session (`colony kill|terminate|
// restart [--session S] NAME`): registers --session and NAME, and runs act
// once the session is live and defines NAME.
using NamedWorkerAction = std::function<void(const detail::SessionMap& map, const std::string& name)>;
Command named_worker_command(CLI::App& command, NamedWorkerAction act);

}  // namespace colony::cli
