#include "colony/session/channel_core.hpp"

#include <cstring>

#include "colony/shm/byte_array.hpp"
#include "colony/shm/failpoint.hpp"
#include "colony/shm/process.hpp"

namespace colony {

std::string_view to_string(ChannelState state) noexcept {
  switch (state) {
    case ChannelState::open: return "open";
    case ChannelState::closing: return "closing";
    case ChannelState::closed: return "closed";
  }
  return "unknown";
}

std::string_view to_string(SendStatus status) noexcept {
  switch (status) {
    case SendStatus::ok: return "ok";
    case SendStatus::full: return "full";
    case SendStatus::timed_out: return "timed_out";
    case SendStatus::closed: return "closed";
    case SendStatus::too_large: return "too_large";
    case SendStatus::receiver_gone: return "receiver_gone";
    case SendStatus::no_space: return "no_space";
  }
  return "unknown";
}

namespace detail {

SendStatus send_record(ChannelCore& channel, std::uint32_t tag, std::size_t size,
                       std::optional<shm::Deadline> deadline, const RecordWriter& write) {
  return channel.send_serialized(tag, size, deadline, write);
}

void add_handler(ChannelCore& channel, std::uint32_t tag, RecordHandler handler) {
  channel.handlers[tag] = std::move(handler);
}

std::span<std::byte> begin_loan(ChannelCore& channel, std::uint32_t tag, std::size_t size) {
  const SendStatus status = channel.begin_send(tag, size, std::nullopt);
  if (status != SendStatus::ok) throw_send_failure(channel, status);
  return channel.outgoing_payload();
}

void send_loan(ChannelCore& channel) {
  const SendStatus status = channel.finish_send(ChannelCore::Wake::now);
  if (status != SendStatus::ok) throw_send_failure(channel, status);
}

void drop_loan(ChannelCore& channel) noexcept { channel.abandon_send(); }

SendStatus send_in_batch(ChannelCore& channel, std::uint32_t tag, std::size_t size, const RecordWriter& write) {
  return channel.send_serialized(tag, size, std::nullopt, write, ChannelCore::Wake::later);
}

void flush_batch(ChannelCore& channel) noexcept { channel.flush_sends(); }

shm::ReceiveInfo receive_record(ChannelCore& channel, shm::Deadline deadline, const RecordHandler& decode) {
  shm::ReceiveInfo result;
  if (!channel.wait_for_record(deadline, result)) return result;
  channel.deliver_one(
      [&](const shm::RecordView& record) {
        result = decode(record);
        if (!result.ok()) throw MessageError{result.error, false};
      },
      [&](const MessageError& error) {
        // A record that could not be delivered at all (a bad out-of-line reference).
        if (result.status == shm::Outcome::ok || result.status == shm::Outcome::empty) {
          result.status = shm::Outcome::undecodable;
        }
        result.error = error.message;
      });
  return result;
}

namespace {

constexpr auto kLivenessSlice = std::chrono::milliseconds(50);

SendStatus from_ring(shm::Outcome status) {
  switch (status) {
    case shm::Outcome::ok: return SendStatus::ok;
    case shm::Outcome::full: return SendStatus::full;
    case shm::Outcome::timed_out: return SendStatus::timed_out;
    case shm::Outcome::closed: return SendStatus::closed;
    case shm::Outcome::too_large: return SendStatus::too_large;
    case shm::Outcome::no_space: return SendStatus::no_space;
    default: return SendStatus::closed;  // a corrupt ring takes nothing more
  }
}

}  // namespace

ChannelCore::ChannelCore(std::shared_ptr<SessionMap> session, shm::Ring ring, std::uint64_t id)
    : session_(std::move(session)), ring_(std::move(ring)), id_(id) {
  seen_error_count_ = control().error_count.load(std::memory_order_acquire);
}

ChannelCore::~ChannelCore() = default;

void ChannelCore::set_sender(std::uint32_t slot, std::uint32_t generation) noexcept {
  control().sender_generation.store(generation, std::memory_order_relaxed);
  control().sender_slot_plus_one.store(slot + 1, std::memory_order_release);
}

SendStatus ChannelCore::send_serialized(std::uint32_t tag, std::size_t size, std::optional<shm::Deadline> wait_until,
                                        const std::function<void(std::span<std::byte>)>& write, Wake wake) {
  const SendStatus claimed = begin_send(tag, size, wait_until);
  if (claimed != SendStatus::ok) return claimed;
  try {
    write(outgoing_.payload);
  } catch (...) {
    abandon_send();  // nothing half-written becomes visible
    throw;
  }
  return finish_send(wake);
}

SendStatus ChannelCore::begin_send(std::uint32_t tag, std::size_t size, std::optional<shm::Deadline> wait_until) {
  if (outgoing_.active) {
    throw WorkerError(WorkerErrc::bad_state, "channel " + std::to_string(id_) +
                                                 " has a loaned message outstanding: send or drop it first");
  }
  last_send_size = size;
  if (size > session_->header().max_message) return SendStatus::too_large;
  if (!writer_) {
    auto attached = shm::RingWriter::attach(ring_);
    if (!attached) {
      throw WorkerError(WorkerErrc::bad_state, "cannot send on channel " + std::to_string(id_) + ": " +
                                                   attached.error().message);
    }
    writer_.emplace(std::move(*attached));
  }
  const auto deadline = [&] {
    if (wait_until) return *wait_until;
    return options.when_full == WhenFull::fail ? shm::Deadline::now() : shm::Deadline::after(options.send_timeout);
  };
  if (size > ring_.max_message()) {
    const std::uint64_t object_id = session_->header().next_object_id.fetch_add(1, std::memory_order_relaxed);
    const std::string object = out_of_line_object(object_id);
    auto name = session_->name(shm::SegmentKind::bytes, object);
    // A process that dies between here and finish_send leaves this segment
    // unreferenced: it goes with the session (colony clean removes it).
    auto bytes = shm::ByteArray::create(name, size, size);
    if (!bytes) throw WorkerError(WorkerErrc::os_error, "out-of-line message: " + bytes.error().message);
    outgoing_.payload = bytes->bytes().first(size);
    outgoing_.large.emplace(std::move(*bytes));
    outgoing_.large_name.emplace(std::move(name));
    outgoing_.large_object = object;
    outgoing_.deadline = deadline();
  } else {
    shm::Claim claimed = writer_->try_claim(tag, size);
    if (claimed.status == shm::Outcome::full) {
      // The receiver may sleep on a batch's records: wake it before waiting for it.
      if (unrung_) flush_sends();
      // Full: wait for space in slices, so that a receiver that died does not
      // hold the sender for the whole deadline.
      const shm::Deadline until = deadline();
      if (until.expired()) return SendStatus::full;
      do {
        claimed = writer_->claim(tag, size, until.capped(kLivenessSlice));
        if (claimed.status != shm::Outcome::timed_out || until.expired()) break;
      } while (!receiver_gone());
      if (claimed.status == shm::Outcome::timed_out && !until.expired()) return SendStatus::receiver_gone;
    }
    if (!claimed.ok()) return from_ring(claimed.status);
    outgoing_.claim = claimed;
    outgoing_.payload = claimed.payload;
  }
  outgoing_.active = true;
  outgoing_.tag = tag;
  outgoing_.size = size;
  return SendStatus::ok;
}

SendStatus ChannelCore::finish_send(Wake wake) {
  outgoing_.active = false;
  if (outgoing_.large) {
    // The bytes are written; what travels in the ring is their reference.
    outgoing_.large.reset();
    const shm::SegmentName name = std::move(*outgoing_.large_name);
    outgoing_.large_name.reset();
    const SendStatus status =
        send(OutOfLine{outgoing_.tag, outgoing_.size, std::move(outgoing_.large_object)}, outgoing_.deadline);
    if (status != SendStatus::ok) shm::Segment::remove(name);
    return status;
  }
  // Publishing point: after it the receiver may take the record; dying
  // before it leaves nothing visible.
  count_sent();
  if (wake == Wake::later) {
    // Visible from here; the receiver is woken by flush_sends. A sender
    // that dies before it leaves a receiver in its event loop asleep on the
    // batch only until the broker, seeing the sender end, rings every
    // doorbell; one blocked in receive() sleeps until its deadline, as after
    // a sender killed between a commit's publication and its wake.
    writer_->publish(outgoing_.claim);
    unrung_ = true;
    return SendStatus::ok;
  }
  writer_->commit(outgoing_.claim);
  ring_receiver();
  return SendStatus::ok;
}

void ChannelCore::abandon_send() noexcept {
  if (!outgoing_.active) return;
  outgoing_.active = false;
  if (outgoing_.large) {
    outgoing_.large.reset();
    shm::Segment::remove(*outgoing_.large_name);
    outgoing_.large_name.reset();
  } else {
    writer_->drop(outgoing_.claim);
  }
}

void ChannelCore::flush_sends() noexcept {
  if (!unrung_) return;
  unrung_ = false;
  writer_->flush();
  ring_receiver();
}

void ChannelCore::count_sent() noexcept {
  const std::uint32_t sender = control().sender_slot_plus_one.load(std::memory_order_relaxed);
  if (sender != 0 && sender <= kMaxWorkerSlots) {
    auto& counter = session_->slot(sender - 1).messages_out;
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
}

void ChannelCore::ring_receiver() noexcept {
  // The ring's commit (or flush) ends with a full fence (ring.hpp), which
  // also orders this load after the publication: a receiver binding or
  // falling asleep concurrently either sees the record or is seen here.
  const std::uint32_t receiver = control().receiver_slot_plus_one.load(std::memory_order_relaxed);
  // A sender that dies here leaves a record its receiver may sleep on: the
  // broker rings every doorbell when it sees a process end.
  COLONY_FAILPOINT("channel.send.before_doorbell");
  if (receiver != 0) session_->ring_doorbell_after_fence(receiver - 1);
}

bool ChannelCore::receiver_gone() const noexcept {
  const std::uint32_t receiver = control().receiver_slot_plus_one.load(std::memory_order_acquire);
  if (receiver == 0 || receiver > kMaxWorkerSlots) return false;  // nobody bound yet: one may come
  const std::uint64_t word = session_->slot(receiver - 1).state_word.load(std::memory_order_acquire);
  return generation_of(word) != control().receiver_generation.load(std::memory_order_relaxed) ||
         state_of(word) == SlotState::terminated || state_of(word) == SlotState::free;
}

void ChannelCore::set_receiver(std::uint32_t slot, std::uint32_t generation) noexcept {
  control().receiver_generation.store(generation, std::memory_order_relaxed);
  control().receiver_slot_plus_one.store(slot + 1, std::memory_order_seq_cst);
}

std::string ChannelCore::describe_failure(SendStatus status, std::size_t size) const {
  const std::string channel = "channel " + std::to_string(id_);
  switch (status) {
    case SendStatus::too_large:
      return "message of " + std::to_string(size) + " bytes exceeds the session's limit of " +
             std::to_string(session_->header().max_message) + " bytes (" + channel + ")";
    case SendStatus::full: return channel + " is full";
    case SendStatus::timed_out: return channel + " stayed full until the send deadline";
    case SendStatus::closed: return channel + " is closed";
    case SendStatus::receiver_gone: return "the receiver of " + channel + " is gone";
    case SendStatus::no_space:
      return writer_ ? writer_->describe(shm::Outcome::no_space) + " (" + channel + ")"
                     : channel + ": no room in shared memory for the message";
    case SendStatus::ok: break;
  }
  return channel + ": sent";
}

std::optional<MessageError> ChannelCore::take_sent_error() {
  const std::uint32_t count = control().error_count.load(std::memory_order_acquire);
  if (count == seen_error_count_) return std::nullopt;
  const std::uint32_t missed = count - seen_error_count_ - 1;
  seen_error_count_ = count;
  const std::size_t length = std::min<std::size_t>(control().error_length.load(std::memory_order_relaxed),
                                                   sizeof(control().error_text));
  std::string text(control().error_text, length);
  if (missed > 0) text += " (and " + std::to_string(missed) + " earlier)";
  return MessageError{"the receiver could not handle a message: " + text, true};
}

void ChannelCore::report_to_sender(const std::string& message) noexcept {
  auto& c = control();
  const std::size_t length = std::min(message.size(), sizeof(c.error_text));
  std::memcpy(c.error_text, message.data(), length);
  c.error_length.store(static_cast<std::uint32_t>(length), std::memory_order_relaxed);
  // A receiver that dies here has written a text the sender never reads.
  COLONY_FAILPOINT("channel.report_to_sender.before_count");
  // Publishing point: the sender reads the text once it sees the count move.
  c.error_count.fetch_add(1, std::memory_order_release);
  const std::uint32_t sender = c.sender_slot_plus_one.load(std::memory_order_acquire);
  if (sender != 0) session_->ring_doorbell(sender - 1);
}

void ChannelCore::attach_reader() {
  auto attached = shm::RingReader::attach(ring_);
  if (!attached) {
    throw WorkerError(WorkerErrc::bad_state,
                      "cannot receive on channel " + std::to_string(id_) + ": " + attached.error().message);
  }
  reader_.emplace(std::move(*attached));
}

void ChannelCore::bind_receiver(std::uint32_t slot, std::uint32_t generation) {
  if (reader_) return;
  attach_reader();
  set_receiver(slot, generation);
}

void ChannelCore::bind_reader_only() {
  if (reader_) return;
  attach_reader();
  control().receiver_slot_plus_one.store(0, std::memory_order_seq_cst);
}

shm::ReceiveInfo ChannelCore::receive_any(shm::Deadline deadline,
                                          const std::function<void(const shm::RecordView&)>& handle) {
  shm::ReceiveInfo info;
  if (!wait_for_record(deadline, info)) return info;
  info.status = shm::Outcome::ok;
  deliver_one(handle, [&](const MessageError& error) {
    info.status = shm::Outcome::undecodable;
    info.error = error.message;
  });
  return info;
}

bool ChannelCore::peek() noexcept {
  if (has_pending_) return true;
  if (!reader_) return false;
  const shm::Received received = reader_->try_receive();
  if (!received.ok()) return false;
  pending_ = received.record;
  has_pending_ = true;
  return true;
}

const RecordHandler* ChannelCore::handler_for(std::uint32_t tag) noexcept {
  if (tag == internal_tag && internal_handler) return &internal_handler;
  // Elements of an unordered_map keep their address until erased, and
  // handlers are only ever added or replaced in place.
  if (tag == cached_tag_ && cached_handler_ != nullptr) return cached_handler_;
  const auto found = handlers.find(tag);
  if (found == handlers.end()) return nullptr;
  cached_tag_ = tag;
  cached_handler_ = &found->second;
  return cached_handler_;
}

bool ChannelCore::wait_for_record(shm::Deadline deadline, shm::ReceiveInfo& status) {
  if (!reader_) throw WorkerError(WorkerErrc::bad_state, "channel " + std::to_string(id_) + " is not bound");
  for (;;) {
    if (!has_pending_) {
      // Received, not committed: deliver_one takes it from pending_ and commits it.
      const shm::Received received = reader_->receive(deadline);
      // The ring's outcome is the receive's: ok, timed_out, empty, closed or corrupt.
      if (!received.ok()) {
        status.status = received.status;
        if (received.status == shm::Outcome::closed || received.status == shm::Outcome::corrupt) {
          status.error = "channel " + std::to_string(id_) + " is " + std::string(shm::to_string(received.status));
        }
        return false;
      }
      pending_ = received.record;
      has_pending_ = true;
    }
    // libworker's own records are handled here and not returned.
    if (pending_.type_tag != internal_tag || !internal_handler) return true;
    dispatch_slow({});
  }
}

bool ChannelCore::deliver_one(const std::function<void(const shm::RecordView&)>& handle,
                              const std::function<void(const MessageError&)>& report) {
  if (!reader_) return false;
  shm::RecordView record;
  if (has_pending_) {
    record = pending_;
    has_pending_ = false;
  } else {
    const shm::Received received = reader_->try_receive();
    if (!received.ok()) return false;
    record = received.record;
  }
  count_received();
  // Frees the record (and an out-of-line segment) whatever the handler does.
  struct Release {
    ChannelCore& channel;
    std::optional<shm::SegmentName> out_of_line;
    ~Release() {
      channel.reader_->commit();
      if (out_of_line) shm::Segment::remove(*out_of_line);
    }
  } release{*this, std::nullopt};

  const auto fail = [&](const std::string& message) {
    report_to_sender(message);
    MessageError error{message, false};
    if (report) report(error);
  };

  std::optional<shm::ByteArray> large;
  if (record.type_tag == shm::TypeAlias<OutOfLine>::tag) {
    auto decoded = shm::decode_record<OutOfLine>(record);
    if (!decoded.ok()) {
      fail(decoded.error);
      return true;
    }
    // Only an out-of-line segment may be named here: the receiver removes it
    // after delivery, and a forged record must not make it remove another.
    if (!is_out_of_line_name(decoded.value->object)) {
      fail("out-of-line message names '" + decoded.value->object + "', not an out-of-line segment");
      return true;
    }
    auto name = shm::SegmentName::make(session_->session(), shm::SegmentKind::bytes, decoded.value->object);
    if (!name) {
      fail("out-of-line message: " + name.error().message);
      return true;
    }
    release.out_of_line = *name;
    auto opened = shm::ByteArray::open(*name, shm::Deadline::after(std::chrono::seconds(1)));
    if (!opened || opened->capacity() < decoded.value->size) {
      fail("out-of-line message " + name->os_name() + " is missing or short");
      return true;
    }
    large.emplace(std::move(*opened));
    record = shm::RecordView{decoded.value->type_tag, record.sequence,
                             std::span<const std::byte>(large->bytes().data(), decoded.value->size)};
  }
  try {
    handle(record);
  } catch (const MessageError& error) {
    fail(error.message);
  }
  return true;
}

void ChannelCore::count_received() noexcept {
  const std::uint32_t receiver = control().receiver_slot_plus_one.load(std::memory_order_relaxed);
  if (receiver != 0 && receiver <= kMaxWorkerSlots) {
    auto& counter = session_->slot(receiver - 1).messages_in;
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
}

bool ChannelCore::dispatch_one(const std::function<void(const MessageError&)>& report_error) {
  if (!peek()) return false;
  const std::uint32_t tag = pending_.type_tag;
  const RecordHandler* handler = handler_for(tag);
  // Nobody handles this channel by handler: it is read with receive().
  if (handler == nullptr && handlers.empty()) return false;
  if (handler == nullptr || tag == shm::TypeAlias<OutOfLine>::tag) return dispatch_slow(report_error);
  // The common case inline: a record of a type with a handler, in the ring.
  const shm::RecordView record = pending_;
  has_pending_ = false;
  count_received();
  struct CommitAtEnd {
    shm::RingReader& reader;
    ~CommitAtEnd() { reader.commit(); }
  } commit{*reader_};
  const shm::ReceiveInfo info = (*handler)(record);
  if (!info.ok()) {
    report_to_sender(info.error);
    if (report_error) report_error(MessageError{info.error, false});
  }
  return true;
}

bool ChannelCore::dispatch_slow(const std::function<void(const MessageError&)>& report_error) {
  return deliver_one(
      [this](const shm::RecordView& record) {
        const RecordHandler* handler = handler_for(record.type_tag);
        if (handler == nullptr) {
          throw MessageError{"no handler for messages of type " + shm::TypeRegistry::describe(record.type_tag) +
                                 " on channel " + std::to_string(id_),
                             false};
        }
        const shm::ReceiveInfo info = (*handler)(record);
        if (!info.ok()) throw MessageError{info.error, false};
      },
      report_error);
}

ChannelState ChannelCore::state() const noexcept {
  if (!ring_.is_closed()) return ChannelState::open;
  return available() == 0 ? ChannelState::closed : ChannelState::closing;
}

std::size_t ChannelCore::max_message() const noexcept { return session_->header().max_message; }

std::size_t ChannelCore::available() const noexcept {
  const std::uint64_t written = ring_.records_written();
  const std::uint64_t read = ring_.records_read();
  return written > read ? static_cast<std::size_t>(written - read) : 0;
}

void ChannelCore::close() noexcept {
  ring_.close();
  const std::uint32_t receiver = control().receiver_slot_plus_one.load(std::memory_order_acquire);
  if (receiver != 0) session_->ring_doorbell(receiver - 1);
}

}  // namespace detail
}  // namespace colony
