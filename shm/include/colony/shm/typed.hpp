#pragma once
// The typed layer over rings: any cereal-serializable type with a registered
// alias (type_registry.hpp) travels as one record whose type tag is the
// alias's hash.
//
// Sending counts the serialized size, claims exactly that, and serializes
// straight into the ring: one copy in. Receiving decodes straight from the
// ring into the value: one copy out. A value larger than the ring's
// max_message is refused at send with nothing written.
//
// Receiving never throws and never crashes on bad bytes: a record of another
// type, of an unregistered type, or that does not decode (truncated, forged
// sizes, trailing garbage) is consumed and reported with a status and a
// message, and the reader goes on with the next record.

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <optional>
#include <string>

#include "colony/shm/archive.hpp"
#include "colony/shm/flat_codec.hpp"
#include "colony/shm/ring.hpp"
#include "colony/shm/type_registry.hpp"
#include "colony/shm/outcome.hpp"

namespace colony::shm {

// What a receive found, without the value. Its outcome is one of ok, empty
// (try_receive), timed_out, closed (closed and drained), corrupt (the ring
// failed validation), wrong_type (a registered type other than the one asked
// for), unknown_type (a tag this process has no alias for) and undecodable.
struct ReceiveInfo {
  Outcome status = Outcome::empty;
  std::uint32_t type_tag = 0;
  std::uint64_t sequence = 0;
  std::string error;  // set for every status but ok, empty and timed_out
  bool ok() const noexcept { return status == Outcome::ok; }
};

template <class T>
struct TypedReceived : ReceiveInfo {
  std::optional<T> value;
};

template <RegisteredType T>
std::size_t serialized_size(const T& value) {
  if constexpr (FlatCodec<T>::enabled) {
    return FlatCodec<T>::size(value);
  } else {
    SpanOutputArchive counter;
    counter(value);
    return counter.bytes_written();
  }
}

// Serializes value into exactly serialized_size(value) bytes.
template <RegisteredType T>
void serialize_into(const T& value, std::span<std::byte> out) {
  if constexpr (FlatCodec<T>::enabled) {
    FlatCodec<T>::write(value, out.data());
  } else {
    SpanOutputArchive archive(out);
    archive(value);
  }
}

// What writes value into its serialized_size(value) bytes, for a caller that
// claims the space itself (RingWriter::write_and_commit, the worker's channels).
template <RegisteredType T>
auto serializer_of(const T& value) {
  return [&value](std::span<std::byte> out) { serialize_into(value, out); };
}

// Decodes a record's payload into value, reusing what value already holds
// (a vector's capacity, say); on any status but ok, value is unspecified.
// Never throws.
template <RegisteredType T>
ReceiveInfo decode_record_into(const RecordView& record, T& value) {
  ReceiveInfo info{Outcome::ok, record.type_tag, record.sequence, {}};
  if (record.type_tag != TypeAlias<T>::tag) {
    const bool known = TypeRegistry::alias_of(record.type_tag).has_value();
    info.status = known ? Outcome::wrong_type : Outcome::unknown_type;
    // Built by append: g++ 12 at -O3 flags operator+ chains with a bogus
    // -Warray-bounds (GCC bug 105651).
    info.error.assign("expected '").append(TypeAlias<T>::name).append("', got ");
    info.error.append(TypeRegistry::describe(record.type_tag));
    return info;
  }
  try {
    if constexpr (FlatCodec<T>::enabled) {
      FlatCodec<T>::read(record.payload, value);
    } else {
      BoundedInputArchive archive(record.payload);
      archive(value);
      if (archive.remaining() != 0) {
        throw cereal::Exception(std::to_string(archive.remaining()) + " bytes left over after decoding");
      }
    }
  } catch (const std::exception& e) {
    info.status = Outcome::undecodable;
    info.error = "cannot decode '" + std::string(TypeAlias<T>::name) + "': " + e.what();
  } catch (...) {
    info.status = Outcome::undecodable;
    info.error = "cannot decode '" + std::string(TypeAlias<T>::name) + "': unknown exception";
  }
  return info;
}

// Decodes a record's payload as a new T. Never throws.
template <RegisteredType T>
TypedReceived<T> decode_record(const RecordView& record) {
  TypedReceived<T> result;
  T value{};
  static_cast<ReceiveInfo&>(result) = decode_record_into(record, value);
  if (result.ok()) result.value = std::move(value);
  return result;
}

class TypedWriter {
 public:
  explicit TypedWriter(RingWriter writer) : writer_(std::move(writer)) {}

  template <RegisteredType T>
  Outcome send(const T& value, Deadline deadline) {
    return fill(value, writer_.claim(TypeAlias<T>::tag, serialized_size(value), deadline));
  }
  // Waits for no space; a many-writer ring's claim lock is waited for at most
  // RingWriter::kClaimLockPatience.
  template <RegisteredType T>
  Outcome try_send(const T& value) {
    return fill(value, writer_.try_claim(TypeAlias<T>::tag, serialized_size(value)));
  }

  RingWriter& raw() noexcept { return writer_; }
  // Why the last send failed with status, naming the ring (RingWriter::describe).
  std::string describe(Outcome status) const { return writer_.describe(status); }

 private:
  template <RegisteredType T>
  Outcome fill(const T& value, const Claim& claimed) {
    if (!claimed.ok()) return claimed.status;
    writer_.write_and_commit(claimed, serializer_of(value));
    return Outcome::ok;
  }

  RingWriter writer_;
};

enum class CommitMode {
  immediately,  // the record is freed as soon as it is decoded (with any received before it)
  later,        // the caller calls commit() once it has acted on the value
};

class TypedReader {
 public:
  explicit TypedReader(RingReader reader) : reader_(std::move(reader)) {}

  template <RegisteredType T>
  TypedReceived<T> receive(Deadline deadline, CommitMode mode = CommitMode::immediately) {
    return finish<T>(reader_.receive(deadline), mode);
  }
  template <RegisteredType T>
  TypedReceived<T> try_receive(CommitMode mode = CommitMode::immediately) {
    return finish<T>(reader_.try_receive(), mode);
  }
  // Like receive, but decodes into value, reusing its storage: no allocation
  // per message for a value whose buffers are already large enough.
  template <RegisteredType T>
  ReceiveInfo receive_into(T& value, Deadline deadline, CommitMode mode = CommitMode::immediately) {
    const Received received = reader_.receive(deadline);
    ReceiveInfo info;
    if (!ring_status_into(received.status, info)) return info;
    info = decode_record_into(received.record, value);
    settle(info, mode);
    return info;
  }

  void commit() noexcept { reader_.commit(); }
  RingReader& raw() noexcept { return reader_; }

 private:
  // Frees the record just decoded as the mode asks. One that cannot be decoded
  // is freed as well (left in place it would block the ring; the caller has
  // its status and message), but only when nothing else is pending: commit()
  // frees every record received so far, and with CommitMode::later earlier
  // records may still await the caller's own commit, which then frees this
  // one with them. A crash before that delivers it again, reported again.
  void settle(const ReceiveInfo& info, CommitMode mode) noexcept {
    if (mode == CommitMode::immediately || (!info.ok() && reader_.uncommitted() == 1)) reader_.commit();
  }

  // A ring receive's outcome (ok, empty, timed_out, closed, corrupt) is the
  // typed receive's too; closed and corrupt get a message. True when there
  // is a record to decode.
  bool ring_status_into(Outcome status, ReceiveInfo& info) const {
    if (status == Outcome::ok) return true;
    info.status = status;
    if (status == Outcome::closed || status == Outcome::corrupt) {
      info.error = "ring " + reader_.ring().name().os_name() + " is " + std::string(to_string(status));
    }
    return false;
  }

  template <RegisteredType T>
  TypedReceived<T> finish(const Received& received, CommitMode mode) {
    TypedReceived<T> result;
    if (!ring_status_into(received.status, result)) return result;
    result = decode_record<T>(received.record);
    settle(result, mode);
    return result;
  }

  RingReader reader_;
};

}  // namespace colony::shm
