#pragma once
// Running another program from colony, as the platform does it
// (cli/linux/child_process.cpp): colony bench hands itself over to
// colony_bench this way.

#include <string>
#include <vector>

namespace colony::cli {

// The path of the colony executable running; empty when the platform cannot say.
std::string this_executable_path();

// Whether path names a regular file this user may execute.
bool is_executable_file(const std::string& path);

// Runs executable with arguments (argv[0] is the executable) as the job
// colony hands the terminal over to, and returns its exit code: 128+N when
// it died by signal N. It starts with default signal dispositions and none
// blocked, whatever colony changed. While it runs, the terminal's interrupt
// and quit, which reach both processes, are left to it (as system() does);
// a request to end colony itself (terminate, hang-up) is passed on to it.
// Throws std::runtime_error when it cannot be started or waited for.
int run_in_foreground(const std::string& executable, const std::vector<std::string>& arguments);

}  // namespace colony::cli
