#pragma once
// Text from shared memory made safe for a terminal. Names, executables and
// crash reports come from any process of the session: printed raw, one
// holding an escape sequence could drive the terminal of whoever runs
// colony ps or colony top.

#include <string>
#include <string_view>

namespace colony::cli {

// Valid UTF-8 passes; control characters (C0, DEL, C1) and broken sequences
// become '?'.
std::string printable(std::string_view text);

}  // namespace colony::cli
