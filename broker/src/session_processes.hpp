#pragma once
// Which live processes belong to a session, seen from outside it: a worker
// carries COLONY_SESSION=<session> in its environment. `colony clean --force`
// refuses to remove a session that still has one.

#include <string>
#include <vector>

namespace colony::broker_detail {

// Pids of live processes (zombies excluded) whose environment names session;
// only processes this user may read are seen.
std::vector<int> processes_in_session(const std::string& session);

}  // namespace colony::broker_detail
