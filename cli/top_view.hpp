#pragma once
// colony top's renderings of a session snapshot (session_snapshot.hpp): text
// lines for the screen or a pipe, and a JSON object per frame.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "session_snapshot.hpp"

namespace colony::cli {

nlohmann::json frame_json(const SessionSnapshot& frame);
// The text frame, one string per line, without line ends or escape codes.
// Names are the session's (any bytes): they go through printable(), so a
// name cannot drive the terminal.
std::vector<std::string> frame_lines(const SessionSnapshot& frame, std::uint32_t interval_ms);

}  // namespace colony::cli
