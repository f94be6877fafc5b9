#include "plain_pumps.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include "pipes.hpp"

namespace colony::broker_detail {
namespace {

constexpr auto kSlice = std::chrono::milliseconds(50);
constexpr std::size_t kChunk = 64 << 10;

}  // namespace

PlainPumps::PlainPumps(std::shared_ptr<detail::ChannelCore> input, int stdin_write_fd,
                       std::shared_ptr<detail::ChannelCore> output, int stdout_read_fd, bool chunks) {
  if (stdin_write_fd >= 0) {
    input_thread_ = std::thread([this, input, stdin_write_fd] { feed(input, stdin_write_fd); });
  }
  if (stdout_read_fd >= 0) {
    output_thread_ = std::thread([this, output, stdout_read_fd, chunks] { publish(output, stdout_read_fd, chunks); });
  } else {
    output_done_.store(true);
  }
}

PlainPumps::~PlainPumps() {
  stopping_.store(true);
  if (input_thread_.joinable()) input_thread_.join();
  if (output_thread_.joinable()) output_thread_.join();
}

void PlainPumps::feed(std::shared_ptr<detail::ChannelCore> input, int fd) {
  // A process that stops reading makes the write fail instead of killing
  // the broker.
  const BrokenPipeGuard broken_pipe;
  // Lines (std::string, written with a newline) and byte chunks (written as
  // they are) both feed it, whatever the stage before it sends.
  bool open = true;
  const auto write_record = [&](const shm::RecordView& record) {
    if (record.type_tag == shm::TypeAlias<std::string>::tag) {
      if (auto line = shm::decode_record<std::string>(record); line.ok()) {
        line.value->push_back('\n');
        open = write_all(fd, line.value->data(), line.value->size());
        return;
      }
    } else if (record.type_tag == shm::TypeAlias<std::vector<std::byte>>::tag) {
      if (auto chunk = shm::decode_record<std::vector<std::byte>>(record); chunk.ok()) {
        open = write_all(fd, chunk.value->data(), chunk.value->size());
        return;
      }
    }
    throw MessageError{"a plain executable's input takes lines (std::string) or byte chunks (std::vector<std::byte>), not " +
                           shm::TypeRegistry::describe(record.type_tag),
                       false};
  };
  while (open && !stopping_.load() && !process_ended_.load()) {
    const auto received = input->receive_any(shm::Deadline::after(kSlice), write_record);
    if (received.status == shm::Outcome::closed || received.status == shm::Outcome::corrupt) open = false;
  }
  // End of input for the process: it sees EOF on its standard input.
  close_end(fd);
}

void PlainPumps::publish(std::shared_ptr<detail::ChannelCore> output, int fd, bool chunks) {
  std::string pending;  // lines mode: what came after the last newline
  // Room for the record's own framing under the session's message limit.
  const std::size_t max_line = output->max_message() > 64 ? output->max_message() - 64 : output->max_message();
  bool warned_long_line = false;
  std::vector<char> buffer(kChunk);
  const auto send = [&](auto value) {
    // Back-pressure: waits while the channel is full, but gives up when the
    // broker stops (the session is ending).
    for (;;) {
      const SendStatus status = output->send(value, shm::Deadline::after(kSlice));
      if (status != SendStatus::timed_out && status != SendStatus::full) return status == SendStatus::ok;
      if (stopping_.load()) return false;
    }
  };
  bool open = true;
  while (open) {
    const Readiness ready = wait_readable(fd, kSlice);
    if (ready == Readiness::failed) break;
    if (ready == Readiness::timed_out) {
      if (stopping_.load()) break;
      continue;
    }
    const long n = read_some(fd, buffer.data(), buffer.size());
    if (n <= 0) break;  // its end: the process (and any child holding it) closed its output
    if (chunks) {
      open = send(std::vector<std::byte>(reinterpret_cast<const std::byte*>(buffer.data()),
                                         reinterpret_cast<const std::byte*>(buffer.data()) + n));
      continue;
    }
    pending.append(buffer.data(), static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t newline; open && (newline = pending.find('\n', start)) != std::string::npos; start = newline + 1) {
      open = send(pending.substr(start, newline - start));
    }
    pending.erase(0, start);
    // A line longer than a message can be: sent in pieces rather than lost,
    // and said once on stderr.
    while (open && pending.size() > max_line) {
      if (!warned_long_line) {
        std::fprintf(stderr, "colony: a line of output is longer than a message (%zu bytes): sent in pieces\n", max_line);
        warned_long_line = true;
      }
      open = send(pending.substr(0, max_line));
      pending.erase(0, max_line);
    }
  }
  if (open && !pending.empty() && !chunks) (void)send(pending);  // a last line without a newline
  close_end(fd);
  output->close();
  output_done_.store(true, std::memory_order_release);
}

}  // namespace colony::broker_detail
