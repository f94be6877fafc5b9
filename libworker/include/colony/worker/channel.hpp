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
#include <limits>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <span>

#include "colony/shm/in_place.hpp"
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

// What a send did. Anything but ok wrote nothing: full (no space now, and the
// send was not to wait), timed_out (full until the deadline), closed,
// too_large (over the session's message limit), receiver_gone (its receiver
// ended while the send waited for space), no_space (/dev/shm has no room for
// the ring's next pages: a worker's default channels reserve theirs as they
// are first written; a send after room is made goes through).
enum class SendStatus { ok, full, timed_out, closed, too_large, receiver_gone, no_space };
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

// Loaned sends and batches (MessageChannel::loan, send_all), through the
// channel's begin/finish steps. begin_loan and send_loan throw WorkerError
// as send() does.
std::span<std::byte> begin_loan(ChannelCore& channel, std::uint32_t tag, std::size_t size);
void send_loan(ChannelCore& channel);
void drop_loan(ChannelCore& channel) noexcept;
SendStatus send_in_batch(ChannelCore& channel, std::uint32_t tag, std::size_t size, const RecordWriter& write);
void flush_batch(ChannelCore& channel) noexcept;
[[noreturn]] void throw_send_failure(const ChannelCore& channel, SendStatus status);

template <shm::FlatArray T, class F>
RecordHandler make_view_handler(F&& handler) {
  return [h = std::forward<F>(handler)](const shm::RecordView& record) mutable {
    shm::ReceiveInfo info{shm::Outcome::ok, record.type_tag, record.sequence, {}};
    if (const auto elements = shm::view_record<T>(record, info)) h(*elements);
    return info;
  };
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

// A message of T (a flat array: std::string, std::vector<std::byte>, a
// std::vector of an arithmetic type) written in place in the channel: room
// for its elements is claimed by MessageChannel::loan, the caller fills
// elements(), and send() publishes it; a loan destroyed unsent is dropped,
// and nothing of it is ever seen. A channel lends one message at a time.
//
// What a receiver sees if the sender dies holding a loan: nothing. Its
// record was never published, and the ring's next writer starts before it.
// A loan larger than the ring lives in a one-shot segment of the session,
// which then stays until the session ends (colony clean removes it).
template <shm::FlatArray T>
class Loan {
 public:
  using Element = typename T::value_type;
  Loan(Loan&& other) noexcept : channel_(std::move(other.channel_)), elements_(other.elements_) {}
  Loan& operator=(Loan&&) = delete;
  ~Loan() { drop(); }

  // Uninitialized: set every element before send().
  std::span<Element> elements() const noexcept { return elements_; }
  // Publishes the message; throws WorkerError as MessageChannel::send does
  // (a loan larger than the ring can still find the channel full or closed).
  void send() {
    const auto channel = std::move(channel_);
    if (!channel) throw WorkerError(WorkerErrc::bad_state, "this loan was already sent or dropped");
    detail::send_loan(*channel);
  }
  void drop() noexcept {
    if (const auto channel = std::move(channel_)) detail::drop_loan(*channel);
  }

 private:
  friend class MessageChannel;
  Loan(std::shared_ptr<detail::ChannelCore> channel, std::span<Element> elements)
      : channel_(std::move(channel)), elements_(elements) {}
  std::shared_ptr<detail::ChannelCore> channel_;
  std::span<Element> elements_;
};

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

  // Batching: sends every value of a range as send() would, with one fence
  // and one wake of the receiver for the whole run instead of one per value
  // (a receiver that is awake takes each value as soon as it is published;
  // one that sleeps wakes at the end, or as soon as the channel fills).
  // Throws WorkerError at the first value that cannot be sent; the values
  // before it are sent.
  template <std::ranges::input_range Range>
    requires shm::RegisteredType<std::ranges::range_value_t<Range>>
  void send_all(const Range& values) {
    using T = std::ranges::range_value_t<Range>;
    detail::ChannelCore& channel = sender_core();
    struct FlushAtExit {
      detail::ChannelCore& channel;
      ~FlushAtExit() { detail::flush_batch(channel); }
    } flush_at_exit{channel};
    for (const T& value : values) {
      const SendStatus status =
          detail::send_in_batch(channel, shm::TypeAlias<T>::tag, shm::serialized_size(value), shm::serializer_of(value));
      if (status != SendStatus::ok) throw_send_failure(status);
    }
  }

  // Loaned send (see Loan): room for count elements of T, written in place.
  // Throws WorkerError when the room cannot be had, as send() does.
  template <shm::FlatArray T>
  Loan<T> loan(std::size_t count) {
    detail::ChannelCore& channel = sender_core();
    const auto size = shm::flat_payload_size<T>(count);
    const std::span<std::byte> payload =
        detail::begin_loan(channel, shm::TypeAlias<T>::tag, size ? *size : std::numeric_limits<std::size_t>::max());
    return Loan<T>(core_, shm::start_flat_payload<T>(payload, count));
  }

  // Registers the handler the receiver's event loop calls for each T; binds
  // this process as the receiver.
  template <shm::RegisteredType T, class F>
  void on_message(F&& handler) {
    detail::add_handler(receiver_core(), shm::TypeAlias<T>::tag, detail::make_handler<T>(std::forward<F>(handler)));
  }
  void on_messageerror(std::function<void(const MessageError&)> handler);

  // Zero-copy receive: as on_message, for a flat array T, but the handler is
  // given its elements where they lie (a std::span<const Element>, valid
  // until it returns) instead of a copy, and the message is freed after it
  // returns. A message larger than the ring is viewed in its one-shot
  // segment. What a sender sees if the receiver dies inside the handler: the
  // message is still in the channel, and the channel's next receiver gets it
  // again, as with on_message.
  template <shm::FlatArray T, class F>
  void on_view(F&& handler) {
    detail::add_handler(receiver_core(), shm::TypeAlias<T>::tag,
                        detail::make_view_handler<T>(std::forward<F>(handler)));
  }
  // As receive, with the message viewed in place by handler.
  template <shm::FlatArray T, class F>
  shm::ReceiveInfo receive_view(std::chrono::milliseconds timeout, F&& handler) {
    return detail::receive_record(receiver_core(), shm::Deadline::after(timeout),
                                  detail::make_view_handler<T>(std::forward<F>(handler)));
  }

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
