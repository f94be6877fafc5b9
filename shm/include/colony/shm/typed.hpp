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
#include "colony/shm/ring.hpp"
#include "colony/shm/type_registry.hpp"

namespace colony::shm {

enum class ReceiveStatus {
  ok,
  empty,         // try_receive: nothing committed yet
  timed_out,
  closed,        // closed and drained
  corrupt,       // the ring failed validation
  wrong_type,    // a registered type other than the one asked for
  unknown_type,  // a type tag this process has no alias for
  undecodable,   // the bytes do not decode as the type their tag names
};

std::string_view to_string(ReceiveStatus status) noexcept;

template <class T>
struct TypedReceived {
  ReceiveStatus status = ReceiveStatus::empty;
  std::optional<T> value;
  std::uint32_t type_tag = 0;
  std::uint64_t sequence = 0;
  std::string error;  // set for every status but ok, empty and timed_out
  bool ok() const noexcept { return status == ReceiveStatus::ok; }
};

template <RegisteredType T>
std::size_t serialized_size(const T& value) {
  SpanOutputArchive counter;
  counter(value);
  return counter.bytes_written();
}

// Decodes a record's payload as T. Never throws.
template <RegisteredType T>
TypedReceived<T> decode_record(const RecordView& record) {
  TypedReceived<T> result;
  result.type_tag = record.type_tag;
  result.sequence = record.sequence;
  if (record.type_tag != TypeAlias<T>::tag) {
    const bool known = TypeRegistry::alias_of(record.type_tag).has_value();
    result.status = known ? ReceiveStatus::wrong_type : ReceiveStatus::unknown_type;
    result.error = "expected '" + std::string(TypeAlias<T>::name) + "', got " + TypeRegistry::describe(record.type_tag);
    return result;
  }
  try {
    BoundedInputArchive archive(record.payload);
    T value{};
    archive(value);
    if (archive.remaining() != 0) {
      throw cereal::Exception(std::to_string(archive.remaining()) + " bytes left over after decoding");
    }
    result.value = std::move(value);
    result.status = ReceiveStatus::ok;
  } catch (const std::exception& e) {
    result.status = ReceiveStatus::undecodable;
    result.error = "cannot decode '" + std::string(TypeAlias<T>::name) + "': " + e.what();
  } catch (...) {
    result.status = ReceiveStatus::undecodable;
    result.error = "cannot decode '" + std::string(TypeAlias<T>::name) + "': unknown exception";
  }
  return result;
}

class TypedWriter {
 public:
  explicit TypedWriter(RingWriter writer) : writer_(std::move(writer)) {}

  template <RegisteredType T>
  RingStatus send(const T& value, Deadline deadline) {
    const std::size_t size = serialized_size(value);
    const Claim claimed = writer_.claim(TypeAlias<T>::tag, size, deadline);
    if (!claimed.ok()) return claimed.status;
    try {
      SpanOutputArchive archive(claimed.payload);
      archive(value);
    } catch (...) {
      writer_.drop(claimed);  // nothing half-written becomes visible
      throw;
    }
    writer_.commit(claimed);
    return RingStatus::ok;
  }
  template <RegisteredType T>
  RingStatus try_send(const T& value) {
    return send(value, Deadline::now());
  }

  RingWriter& raw() noexcept { return writer_; }

 private:
  RingWriter writer_;
};

enum class CommitMode {
  immediately,  // the record is freed as soon as it is decoded
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
  void commit() noexcept { reader_.commit(); }
  RingReader& raw() noexcept { return reader_; }

 private:
  template <RegisteredType T>
  TypedReceived<T> finish(const Received& received, CommitMode mode) {
    TypedReceived<T> result;
    switch (received.status) {
      case RingStatus::ok: break;
      case RingStatus::empty: result.status = ReceiveStatus::empty; return result;
      case RingStatus::timed_out: result.status = ReceiveStatus::timed_out; return result;
      case RingStatus::closed:
        result.status = ReceiveStatus::closed;
        result.error = "ring " + reader_.ring().name().os_name() + " is closed";
        return result;
      default:
        result.status = ReceiveStatus::corrupt;
        result.error = "ring " + reader_.ring().name().os_name() + " is corrupt";
        return result;
    }
    result = decode_record<T>(received.record);
    // A record that cannot be decoded is consumed: leaving it would block the
    // ring forever. The caller has its status and message.
    if (mode == CommitMode::immediately || !result.ok()) reader_.commit();
    return result;
  }

  RingReader reader_;
};

}  // namespace colony::shm
