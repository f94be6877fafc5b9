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
#include <unordered_map>

#include "colony/shm/ring.hpp"
#include "colony/shm/typed.hpp"
#include "colony/worker/errors.hpp"
#include "colony/worker/session_map.hpp"

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

// Names the session reserves for libworker's own segments: "ol<N>" (out-of-
// line messages), "ch<N>" (channels), "w<N>g<G>-..." (a worker's own).
bool is_out_of_line_name(std::string_view object) noexcept;
bool is_reserved_object_name(std::string_view object) noexcept;

// Decodes one record and, when it decodes, hands the value to a user handler.
using RecordHandler = std::function<shm::ReceiveInfo(const shm::RecordView&)>;

// A large message's record: the payload lives in a one-shot bytes segment.
struct OutOfLine {
  std::uint32_t type_tag = 0;
  std::uint64_t size = 0;
  std::string object;  // bytes.<object> in the session
  template <class A> void serialize(A& a) { a(type_tag, size, object); }
};

class ChannelCore {
 public:
  ChannelCore(std::shared_ptr<SessionMap> session, shm::Ring ring, std::uint64_t id);
  ChannelCore(const ChannelCore&) = delete;
  ChannelCore& operator=(const ChannelCore&) = delete;
  ~ChannelCore();

  std::uint64_t id() const noexcept { return id_; }
  shm::Ring& ring() noexcept { return ring_; }
  ChannelControl& control() const noexcept { return *reinterpret_cast<ChannelControl*>(ring_.user_area()); }
  const std::shared_ptr<SessionMap>& session() const noexcept { return session_; }

  // --- sender side ---
  void set_sender(std::uint32_t slot, std::uint32_t generation) noexcept;
  // Names the intended receiver before it binds (the default channels).
  void set_receiver(std::uint32_t slot, std::uint32_t generation) noexcept;
  // The receiver that bound (or was named) has terminated.
  bool receiver_gone() const noexcept;
  // Sends with an explicit deadline for space.
  template <shm::RegisteredType T>
  SendStatus send(const T& value, shm::Deadline deadline) {
    return send_serialized(shm::TypeAlias<T>::tag, shm::serialized_size(value), deadline,
                           [&value](std::span<std::byte> out) { shm::serialize_into(value, out); });
  }
  // Sends as the channel's options say when it is full (block until
  // send_timeout, or fail at once). The clock is read only when it is full.
  template <shm::RegisteredType T>
  SendStatus send(const T& value) {
    return send_serialized(shm::TypeAlias<T>::tag, shm::serialized_size(value), std::nullopt,
                           [&value](std::span<std::byte> out) { shm::serialize_into(value, out); });
  }
  SendStatus send_serialized(std::uint32_t tag, std::size_t size, std::optional<shm::Deadline> deadline,
                             const std::function<void(std::span<std::byte>)>& write);
  std::string describe_failure(SendStatus status, std::size_t size) const;
  ChannelOptions options;
  std::size_t last_send_size = 0;
  bool tracked_as_sender = false;  // by this process's context

  // Reports since the sender last looked; the caller dispatches them.
  std::optional<MessageError> take_sent_error();

  // --- receiver side ---
  // Attaches this process as the receiver; throws WorkerError if another live
  // process is the receiver.
  void bind_receiver(std::uint32_t slot, std::uint32_t generation);
  bool bound() const noexcept { return reader_.has_value(); }
  // Attaches as the receiver for a process that is not a worker (the colony
  // command): no doorbell is named; it sleeps on the ring's own futex.
  void bind_reader_only();
  // Receives the next record of any type, hands it to handle (an out-of-line
  // one resolved), then frees it. The status: ok, timed_out, closed, corrupt,
  // or undecodable when the record could not be delivered.
  shm::ReceiveInfo receive_any(shm::Deadline deadline, const std::function<void(const shm::RecordView&)>& handle);
  // Receives the next record, resolves an out-of-line one, and hands it to
  // handle; commits after handle returned. Returns false when nothing was there.
  // Bad records are reported to report (and back to the sender) and consumed.
  bool deliver_one(const std::function<void(const shm::RecordView&)>& handle,
                   const std::function<void(const MessageError&)>& report);
  // Takes the next record into pending_ (if none is there), running nothing;
  // false when empty.
  bool peek() noexcept;
  // Dispatches to the registered handlers: what the event loop calls.
  bool dispatch_one(const std::function<void(const MessageError&)>& report_error);
  bool dispatch_slow(const std::function<void(const MessageError&)>& report_error);
  // Blocks until a record or the deadline; the result as receive<T> gives it.
  template <shm::RegisteredType T>
  shm::TypedReceived<T> receive(shm::Deadline deadline);
  void report_to_sender(const std::string& message) noexcept;

  // Registered by on_message. A channel without any is read with receive():
  // the event loop leaves its records alone.
  std::unordered_map<std::uint32_t, RecordHandler> handlers;
  // One record type of libworker's own (a worker's error reports, on the
  // channel from it), handled whichever way the channel is read.
  std::uint32_t internal_tag = 0;
  RecordHandler internal_handler;
  std::function<void(const MessageError&)> on_messageerror;

  ChannelState state() const noexcept;
  std::size_t available() const noexcept;
  std::size_t max_message() const noexcept;  // the session's message limit
  void close() noexcept;

 private:
  void attach_reader();
  bool wait_for_record(shm::Deadline deadline, shm::ReceiveInfo& status);
  const RecordHandler* handler_for(std::uint32_t tag) noexcept;
  void count_received() noexcept;
  SendStatus send_out_of_line(std::uint32_t tag, std::size_t size, shm::Deadline deadline,
                              const std::function<void(std::span<std::byte>)>& write);

  std::shared_ptr<SessionMap> session_;
  shm::Ring ring_;
  std::uint64_t id_;
  std::optional<shm::RingWriter> writer_;
  std::optional<shm::RingReader> reader_;
  std::uint32_t seen_error_count_ = 0;
  // The handler found last: a channel usually carries one type.
  std::uint32_t cached_tag_ = 0;
  const RecordHandler* cached_handler_ = nullptr;
  shm::RecordView pending_;  // received by wait_for_record, delivered next
  bool has_pending_ = false;
};

template <shm::RegisteredType T>
shm::TypedReceived<T> ChannelCore::receive(shm::Deadline deadline) {
  shm::TypedReceived<T> result;
  if (!wait_for_record(deadline, result)) return result;
  deliver_one(
      [&](const shm::RecordView& record) {
        auto decoded = shm::decode_record<T>(record);
        static_cast<shm::ReceiveInfo&>(result) = decoded;
        result.value = std::move(decoded.value);
        if (!result.ok()) throw MessageError{result.error, false};
      },
      [&](const MessageError& error) {
        // A record that could not be delivered at all (a bad out-of-line reference).
        if (result.status == shm::ReceiveStatus::ok || result.status == shm::ReceiveStatus::empty) {
          result.status = shm::ReceiveStatus::undecodable;
        }
        result.error = error.message;
      });
  return result;
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
    const SendStatus status = sender_core().send(value);
    if (status != SendStatus::ok) throw_send_failure(status);
  }
  // Like send, but returns the status instead of throwing for full, closed and too large.
  template <shm::RegisteredType T>
  SendStatus try_send(const T& value, shm::Deadline deadline = shm::Deadline::now()) {
    auto& core = sender_core();
    return core.send(value, deadline);
  }

  // Registers the handler the receiver's event loop calls for each T; binds
  // this process as the receiver.
  template <shm::RegisteredType T, class F>
  void on_message(F&& handler) {
    auto& core = receiver_core();
    core.handlers[shm::TypeAlias<T>::tag] = [h = std::forward<F>(handler)](const shm::RecordView& record) {
      auto decoded = shm::decode_record<T>(record);
      if (decoded.ok()) h(std::move(*decoded.value));
      return static_cast<shm::ReceiveInfo>(decoded);
    };
  }
  void on_messageerror(std::function<void(const MessageError&)> handler);

  // Blocks until a message arrives, the channel is closed and drained, or the
  // timeout passes; binds this process as the receiver. A message that does
  // not decode as T is consumed, reported back to the sender, and returned
  // with its status.
  template <shm::RegisteredType T>
  shm::TypedReceived<T> receive(std::chrono::milliseconds timeout) {
    return receiver_core().template receive<T>(shm::Deadline::after(timeout));
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
COLONY_REGISTER_TYPE(colony::detail::OutOfLine, "colony.out_of_line")
