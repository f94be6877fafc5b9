#pragma once
// colony ps's renderings of a session snapshot (session_snapshot.hpp): one
// JSON object, or the table.

#include <cstdio>

#include <nlohmann/json.hpp>

#include "session_snapshot.hpp"

namespace colony::cli {

// Every rate field is there, null where the snapshot has no rate: a script
// reads one shape with or without --interval.
nlohmann::json ps_json(const SessionSnapshot& snapshot);

// The table `colony ps` prints. Text from shared memory goes through
// printable(): no name can send the terminal escape codes.
void print_ps_table(const SessionSnapshot& snapshot, std::FILE* out);

}  // namespace colony::cli
