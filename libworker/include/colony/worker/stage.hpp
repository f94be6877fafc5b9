#pragma once
// A worker started as a stage of a pipeline file (`colony run --pipeline`)
// finds the channels that connect it to its neighbours here:
//
//   auto stage = colony::stage_channels();
//   for (;;) {
//     auto line = stage.input.receive<std::string>(std::chrono::hours(1));
//     if (line.status == colony::shm::Outcome::closed) break;  // the stage before ended, all read
//     if (!line.ok()) continue;  // a timeout, or a message of another type (its sender is told)
//     const auto sent = stage.output.try_send(transform(*line.value), colony::shm::Deadline::after(std::chrono::minutes(1)));
//     if (sent == colony::SendStatus::closed) break;  // the stage after ended: nobody reads on
//   }
//
// The input is closed once the stage feeding it has ended and everything it
// sent has been received, so a loop like this one ends by itself. Whoever
// started the stage closes its output once it has ended, and its input too,
// so that the stage before learns nobody reads any more (send() throws
// WorkerError then: try_send says SendStatus::closed). A plain executable's
// stage reads lines (std::string) or byte chunks (std::vector<std::byte>) and
// writes one or the other.

#include "colony/worker/channel.hpp"

namespace colony {

struct StageChannels {
  MessageChannel input;   // invalid for a stage that has none (the first)
  MessageChannel output;  // invalid when nothing reads this stage
};

// This worker's channels as the pipeline gave them; both invalid in a worker
// that is not a pipeline stage. Throws WorkerError (not_a_worker) outside a
// session, as Worker::current() does.
StageChannels stage_channels();

// The shared properties the starter sets on a stage before start(): each
// holds a MessageChannel.
inline constexpr const char* kStageInputProperty = "colony.stage.input";
inline constexpr const char* kStageOutputProperty = "colony.stage.output";

}  // namespace colony
