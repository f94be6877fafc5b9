#pragma once
// What the worker tests share: the test worker's path, broker options with a
// unique session and short deadlines, and bounded waits that dispatch events.

#include <chrono>
#include <functional>
#include <string>

#include "colony/broker/broker.hpp"

namespace colony::test {

const std::string& worker_path();
// A unique session per broker, short attach and stop deadlines.
BrokerOptions broker_options();
// Dispatches the host's events until predicate holds or the timeout passes.
bool dispatch_until(Worker& host, const std::function<bool()>& predicate,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));
// Pids of live processes whose command line contains needle.
std::vector<int> processes_matching(const std::string& needle);

}  // namespace colony::test
