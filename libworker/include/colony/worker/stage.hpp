#pragma once
// A worker started as a stage of a pipeline file (`colony run --pipeline`)
// finds the channels that connect it to its neighbours here:
//
//   auto stage = colony::stage_channels();
//   for (;;) {
//     auto line = stage.input.receive<std::string>(std::chrono::hours(1));
//     if (!line.ok()) break;  // closed: the stage before ended and all of it was read
//     stage.output.send(transform(*line.value));
//   }
//
// The input is closed once the stage feeding it has ended and everything it
// sent has been received, so a loop like this one ends by itself. Whoever
// started the stage closes its output once it has ended; a stage may close it
// earlier. A plain executable's stage reads and writes lines (std::string) or
// byte chunks (std::vector<std::byte>); send those to it, expect those from it.

#include "colony/worker/channel.hpp"

namespace colony {

struct StageChannels {
  MessageChannel input;   // invalid for a stage that has none (the first)
  MessageChannel output;  // invalid when nothing reads this stage
};

// This worker's channels as the pipeline gave them; both invalid in a worker
// that is not a pipeline stage.
StageChannels stage_channels();

// The shared properties the starter sets on a stage before start(): each
// holds a MessageChannel.
inline constexpr const char* kStageInputProperty = "colony.stage.input";
inline constexpr const char* kStageOutputProperty = "colony.stage.output";

}  // namespace colony
