#pragma once
// colony ps's view of a session: one look at its control segment and the
// segments it lists (as JSON), the rates between two looks, and the table.
// Everything it reads comes from shared memory that any process of the
// session may have written: names and counters are shown, never trusted.

#include <cstdio>
#include <string_view>

#include <nlohmann/json.hpp>

#include "colony/session/session_map.hpp"

namespace colony::cli {

// Named workers (their mailboxes are opened, made if absent, as a call
// would), worker processes, channels and shared objects.
nlohmann::json ps_snapshot(const detail::SessionMap& map);

// The named worker's latest crash reports, oldest first, as its crash log
// (crash_log.hpp) holds them; an empty array when there are none or the log
// does not read as a JSON array.
nlohmann::json ps_crash_reports(std::string_view session, std::string_view name);

// Rates over the interval between two snapshots: channels (sent and received
// per second), processes (messages in and out), named workers (calls handled).
// null where the thing was not there both times.
void add_ps_rates(nlohmann::json& after, const nlohmann::json& before, double seconds);

// The snapshot as the table `colony ps` prints.
void print_ps_table(const nlohmann::json& snapshot, std::FILE* out);

}  // namespace colony::cli
