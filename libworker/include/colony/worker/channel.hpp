#pragma once
// MessageChannel: one-way, one sender, one receiver (AIR's MessageChannel).
//
// The sender creates it; the receiver gets it through a shared property or
// inside a message (a channel serializes as a reference), then either
// registers handlers that its event loop dispatches, or blocks in receive().
// A value sent is a copy. close() by the sender lets the receiver drain what
// was sent; then the channel is closed.
//
//   auto jobs = colony::MessageChannel::create();
//   worker.set_shared_property("jobs", jobs);   // the child reads it, binds, receives
//   jobs.send(std::string("work"));
//
// A message larger than the channel's ring but within the session's message
// limit (16 MiB by default) travels out of line, in a one-shot segment.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <span>

#include "colony/shm/ring.hpp"
#include "colony/shm/typed.hpp"
#include "colony/worker/errors.hpp"

namespace colony {

enum class ChannelState { open, closing, closed };
std::string_view to_string(ChannelState state) noexcept;

// What a full channel does to send(): wait for space until send_timeout, or fail at once.
enum class WhenFull { block, fail };

struct ChannelOptions {
  std::size_t capacity = 0;  // bytes of ring; 0 takes the session's default
  WhenFull when_full = WhenFull::block;
  std::chrono::milliseconds send_timeout{30'000};
};

enum class SendStatus { ok, full, timed_out, closed, too_large, receiver_gone };
std::string_view to_string(SendStatus status) noexcept;

// A message that could not be handled: the receiver could not decode it, or
// had no handler for its type. Raised on the receiver's side and, through the
// channel, on the sender's side (sent == true).
struct MessageError {
  std::string message;
  bool sent = false;
};

namespace detail {

// The channel's implementation (colony/session/channel_core.hpp, internal to
// libworker). The templates below reach it through these functions only.
class ChannelCore;

// Decodes one record and, when it decodes, hands the value to a user handler.
using RecordHandler = std::function<shm::ReceiveInfo(const shm::RecordView&)>;
using RecordWriter = std::function<void(std::span<std::byte>)>;

// Sends one record of size bytes that write fills in. No deadline: as the
// channel's options say when it is full (the clock is read only then).
SendStatus send_record(ChannelCore& channel, std::uint32_t tag, std::size_t size,
                       std::optional<shm::Deadline> deadline, const RecordWriter& write);
// The handler the receiver's event loop calls for records of tag.
void add_handler(ChannelCore& channel, std::uint32_t tag, RecordHandler handler);
// Blocks until a record or the deadline, hands it to decode and commits it. A
// record decode refuses is consumed and reported back to the sender.
shm::ReceiveInfo receive_record(ChannelCore& channel, shm::Deadline deadline, const RecordHandler& decode);

template <shm::RegisteredType T>
SendStatus send_value(ChannelCore& channel, const T& value, std::optional<shm::Deadline> deadline = std::nullopt) {
  return send_record(channel, shm::TypeAlias<T>::tag, shm::serialized_size(value), deadline,
                     shm::serializer_of(value));
}

template <shm::RegisteredType T>
shm::TypedReceived<T> receive_value(ChannelCore& channel, shm::Deadline deadline) {
  shm::TypedReceived<T> result;
  static_cast<shm::ReceiveInfo&>(result) = receive_record(channel, deadline, [&](const shm::RecordView& record) {
    auto decoded = shm::decode_record<T>(record);
    result.value = std::move(decoded.value);
    return static_cast<shm::ReceiveInfo>(decoded);
  });
  return result;
}

template <shm::RegisteredType T, class F>
RecordHandler make_handler(F&& handler) {
  return [h = std::forward<F>(handler)](const shm::RecordView& record) {
    auto decoded = shm::decode_record<T>(record);
    if (decoded.ok()) h(std::move(*decoded.value));
    return static_cast<shm::ReceiveInfo>(decoded);
  };
}

}  // namespace detail

class MessageChannel {
 public:
  MessageChannel() = default;  // no channel: valid() is false

  // A new channel whose sender is the calling worker.
  static MessageChannel create(ChannelOptions options = {});

  bool valid() const noexcept { return core_ != nullptr; }
  std::uint64_t id() const;
  friend bool operator==(const MessageChannel& a, const MessageChannel& b) noexcept { return a.core_ == b.core_; }

  // Copies value into the channel. Throws WorkerError when it cannot:
  // closed, too large, full past the deadline (or at once under WhenFull::fail).
  template <shm::RegisteredType T>
  void send(const T& value) {
    const SendStatus status = detail::send_value(sender_core(), value);
    if (status != SendStatus::ok) throw_send_failure(status);
  }
  // Like send, but returns the status instead of throwing for full, closed and too large.
  template <shm::RegisteredType T>
  SendStatus try_send(const T& value, shm::Deadline deadline = shm::Deadline::now()) {
    return detail::send_value(sender_core(), value, deadline);
  }

  // Registers the handler the receiver's event loop calls for each T; binds
  // this process as the receiver.
  template <shm::RegisteredType T, class F>
  void on_message(F&& handler) {
    detail::add_handler(receiver_core(), shm::TypeAlias<T>::tag, detail::make_handler<T>(std::forward<F>(handler)));
  }
  void on_messageerror(std::function<void(const MessageError&)> handler);

  // Blocks until a message arrives, the channel is closed and drained, or the
  // timeout passes; binds this process as the receiver. A message that does
  // not decode as T is consumed, reported back to the sender, and returned
  // with its status.
  template <shm::RegisteredType T>
  shm::TypedReceived<T> receive(std::chrono::milliseconds timeout) {
    return detail::receive_value<T>(receiver_core(), shm::Deadline::after(timeout));
  }

  ChannelState state() const;
  std::size_t available() const;  // messages sent and not yet received
  std::size_t capacity() const;   // bytes
  // Sender: no more sends; the receiver drains what was sent, then sees closed.
  void close();

  // References: a channel serializes as its id; loading it in any process of
  // the session gives a handle to the same channel (the same one each time).
  template <class A> void save(A& archive) const { archive(id()); }
  template <class A> void load(A& archive) {
    std::uint64_t channel_id = 0;
    archive(channel_id);
    *this = resolve(channel_id);
  }

  explicit MessageChannel(std::shared_ptr<detail::ChannelCore> core) : core_(std::move(core)) {}
  const std::shared_ptr<detail::ChannelCore>& core() const noexcept { return core_; }

 private:
  static MessageChannel resolve(std::uint64_t channel_id);
  detail::ChannelCore& sender_core();
  detail::ChannelCore& receiver_core();
  [[noreturn]] void throw_send_failure(SendStatus status) const;
  std::shared_ptr<detail::ChannelCore> core_;
};

}  // namespace colony

COLONY_REGISTER_TYPE(colony::MessageChannel, "colony.ref.channel")
