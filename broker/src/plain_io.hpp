#pragma once
// A plain executable's standard input and output: the channels its launch
// names and the pipes to its standard streams, from before its spawn until
// its pumps (plain_pumps.hpp) own the broker's ends.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "colony/session/channel_core.hpp"
#include "colony/worker/channel.hpp"
#include "colony/session/protocol.hpp"
#include "colony/session/session_map.hpp"
#include "plain_pumps.hpp"

namespace colony::broker_detail {

class PlainIo {
 public:
  PlainIo() = default;
  PlainIo(const PlainIo&) = delete;
  PlainIo& operator=(const PlainIo&) = delete;
  ~PlainIo();

  // Opens the channels launch names and makes the pipes (close-on-exec: the
  // spawn's copies onto 0 and 1 are what the child keeps); why it could not.
  std::optional<std::string> prepare(const std::shared_ptr<detail::SessionMap>& map,
                                     const detail::LaunchRequest& launch);
  // The child's ends, for the spawn; -1: it inherits ours.
  int child_stdin() const noexcept { return child_stdin_; }
  int child_stdout() const noexcept { return child_stdout_; }
  // After the spawn, spawned or not: the child has its copies.
  void close_child_ends() noexcept;
  // The process runs: its pumps take the broker's ends.
  std::unique_ptr<PlainPumps> start_pumps(bool chunks);

 private:
  std::shared_ptr<detail::ChannelCore> input_;
  std::shared_ptr<detail::ChannelCore> output_;
  int child_stdin_ = -1;
  int child_stdout_ = -1;
  int feed_end_ = -1;     // the broker writes the process's input here
  int publish_end_ = -1;  // and reads its output here
};

}  // namespace colony::broker_detail
