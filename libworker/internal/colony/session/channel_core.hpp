#pragma once
// The implementation of a MessageChannel, one per channel per process: the
// ring, this process's writer or reader on it, the registered handlers, and
// the out-of-line path for messages larger than the ring. Internal to
// libworker and the broker (which feeds plain executables' channels).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "colony/session/contract.hpp"
#include "colony/session/session_map.hpp"
#include "colony/shm/byte_array.hpp"
#include "colony/shm/ring.hpp"
#include "colony/shm/typed.hpp"
#include "colony/worker/channel.hpp"

namespace colony {
namespace detail {


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
                           shm::serializer_of(value));
  }
  // Sends as the channel's options say when it is full (block until
  // send_timeout, or fail at once). The clock is read only when it is full.
  template <shm::RegisteredType T>
  SendStatus send(const T& value) {
    return send_serialized(shm::TypeAlias<T>::tag, shm::serialized_size(value), std::nullopt,
                           shm::serializer_of(value));
  }
  // A send in three steps, for loans and batches: begin_send claims room for
  // size bytes (in the ring, or a one-shot segment for a message larger
  // than the ring) and returns where to write them; finish_send publishes
  // them; abandon_send gives the room back unpublished. One send at a time:
  // begin_send throws WorkerError (bad_state) while another is outstanding.
  // With Wake::later, finish_send leaves the receiver's wake to flush_sends
  // (a batch's one fence and one doorbell); a send that must wait for room
  // flushes first, so a batch never leaves its receiver asleep on it.
  enum class Wake { now, later };
  SendStatus send_serialized(std::uint32_t tag, std::size_t size, std::optional<shm::Deadline> deadline,
                             const std::function<void(std::span<std::byte>)>& write, Wake wake = Wake::now);
  SendStatus begin_send(std::uint32_t tag, std::size_t size, std::optional<shm::Deadline> deadline);
  std::span<std::byte> outgoing_payload() const noexcept { return outgoing_.payload; }
  SendStatus finish_send(Wake wake);
  void abandon_send() noexcept;
  void flush_sends() noexcept;
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
  // command): no doorbell is named; it sleeps on the ring's own wait word.
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
  friend shm::ReceiveInfo receive_record(ChannelCore& channel, shm::Deadline deadline, const RecordHandler& decode);
  void attach_reader();
  bool wait_for_record(shm::Deadline deadline, shm::ReceiveInfo& status);
  const RecordHandler* handler_for(std::uint32_t tag) noexcept;
  void count_received() noexcept;
  void count_sent() noexcept;
  void ring_receiver() noexcept;

  // The send between begin_send and finish_send or abandon_send.
  struct Outgoing {
    bool active = false;
    std::uint32_t tag = 0;
    std::size_t size = 0;
    std::span<std::byte> payload;
    shm::Claim claim;                        // in the ring, or
    std::optional<shm::ByteArray> large;     // a one-shot segment, sent as an OutOfLine record
    std::optional<shm::SegmentName> large_name;
    std::string large_object;                // its name within the session
    shm::Deadline deadline = shm::Deadline::now();  // for the OutOfLine record
  };

  std::shared_ptr<SessionMap> session_;
  shm::Ring ring_;
  std::uint64_t id_;
  std::optional<shm::RingWriter> writer_;
  std::optional<shm::RingReader> reader_;
  std::uint32_t seen_error_count_ = 0;
  // The handler found last: a channel usually carries one type.
  std::uint32_t cached_tag_ = 0;
  const RecordHandler* cached_handler_ = nullptr;
  Outgoing outgoing_;
  bool unrung_ = false;  // records published with Wake::later since the last flush_sends
  shm::RecordView pending_;  // received by wait_for_record, delivered next
  bool has_pending_ = false;
};

}  // namespace detail

}  // namespace colony

COLONY_REGISTER_TYPE(colony::detail::OutOfLine, "colony.out_of_line")
