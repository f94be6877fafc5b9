#pragma once
// A channel as colony send and colony recv take it: "ch<N>" as colony ps
// lists it, or the bare number N.

#include <memory>
#include <string>

// The session layer's own headers, in one block.
#include "colony/session/channel_core.hpp"

namespace colony::cli {

// The channel in the live session; throws UsageError for a word that names
// no channel, WorkerError when the session is not live or has no such channel.
std::shared_ptr<detail::ChannelCore> open_channel_argument(const std::string& session, const std::string& word);

}  // namespace colony::cli
