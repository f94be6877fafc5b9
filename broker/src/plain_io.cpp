#include "plain_io.hpp"

#include "pipes.hpp"

namespace colony::broker_detail {

PlainIo::~PlainIo() {
  close_child_ends();
  close_end(feed_end_);
  close_end(publish_end_);
}

void PlainIo::close_child_ends() noexcept {
  for (int* end : {&child_stdin_, &child_stdout_}) {
    close_end(*end);
    *end = -1;
  }
}

std::optional<std::string> PlainIo::prepare(const std::shared_ptr<detail::SessionMap>& map,
                                            const detail::LaunchRequest& launch) {
  const auto open_channel = [&](std::uint64_t id) -> std::shared_ptr<detail::ChannelCore> {
    auto ring = shm::Ring::open(map->name(shm::SegmentKind::ring, "ch" + std::to_string(id)),
                                shm::Deadline::after(std::chrono::seconds(1)));
    if (!ring) return nullptr;
    return std::make_shared<detail::ChannelCore>(map, std::move(*ring), id);
  };
  if (launch.stdin_channel != 0) {
    input_ = open_channel(launch.stdin_channel);
    if (!input_) return "its input channel " + std::to_string(launch.stdin_channel) + " does not exist";
    try {
      input_->bind_receiver(launch.slot, launch.generation);
    } catch (const std::exception& e) {
      return std::string("its input channel: ") + e.what();
    }
    const auto pipe = make_pipe();
    if (!pipe) return "cannot make a pipe for its input";
    child_stdin_ = pipe->read_end;
    feed_end_ = pipe->write_end;
  } else {
    child_stdin_ = open_empty_input();
  }
  if (launch.stdout_channel != 0) {
    output_ = open_channel(launch.stdout_channel);
    if (!output_) return "its output channel " + std::to_string(launch.stdout_channel) + " does not exist";
    output_->set_sender(launch.slot, launch.generation);
    const auto pipe = make_pipe();
    if (!pipe) return "cannot make a pipe for its output";
    child_stdout_ = pipe->write_end;
    publish_end_ = pipe->read_end;
  }
  return std::nullopt;
}

std::unique_ptr<PlainPumps> PlainIo::start_pumps(bool chunks) {
  auto pumps = std::make_unique<PlainPumps>(input_, feed_end_, output_, publish_end_, chunks);
  feed_end_ = publish_end_ = -1;  // the pumps own them now
  return pumps;
}

}  // namespace colony::broker_detail
