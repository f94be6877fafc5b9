#pragma once
// Messages used where they lie in the ring, for the flat arrays of the typed
// layer (std::string, std::vector<std::byte>, std::vector of an arithmetic
// type): the same records the typed layer writes and reads, without one of
// its two copies.
//
//   receive_view   the handler gets a span over the record's elements in the
//                  ring; the record is freed when the handler returns. A large
//                  message is copied once (into the ring) instead of twice.
//   send_in_place  claims the record, lets the caller write the elements in
//                  the ring, then publishes it: for a caller that builds the
//                  message itself instead of copying a finished one in.
//
//   reader:  receive_view<std::vector<std::byte>>(reader, deadline,
//                [&](std::span<const std::byte> bytes) { hash(bytes); });
//   writer:  send_in_place<std::vector<float>>(writer, samples.size(), deadline,
//                [&](std::span<float> out) { render(out); });
//
// Crash windows, as for the copying paths:
// - a reader that dies inside the handler has freed nothing: the next reader
//   of the ring gets the same record again (a view is never freed under a
//   handler that still runs);
// - a writer that dies while it writes in place leaves a claimed record that
//   was never published: the reader finds its writer dead and skips it as
//   padding (ring.hpp), so no half-written message is ever seen.
// A handler that throws ends its message as one that returned does (the
// record is freed, the exception goes on to the caller): an exception is
// not a reason to deliver the same message again.

#include <concepts>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "colony/shm/typed.hpp"

namespace colony::shm {

// The typed layer's flat arrays: a 64-bit element count, then the elements.
// In the ring, elements start 8 bytes into a payload that starts 32 bytes
// into a 64-byte-aligned record, so elements aligned to 8 bytes or less can
// be viewed in place.
template <class Container>
concept FlatArray = RegisteredType<Container> && FlatCodec<Container>::enabled && requires {
  typename Container::value_type;
} && std::is_trivially_copyable_v<typename Container::value_type> && (alignof(typename Container::value_type) <= 8);

// A committed record of a Container, as a span of its elements where they
// lie; nothing (info says why: wrong_type, unknown_type, undecodable) when it
// is another type or its element count does not describe its bytes. The span
// is valid while the record is: until the reader commits it.
template <FlatArray Container>
std::optional<std::span<const typename Container::value_type>> view_record(const RecordView& record,
                                                                           ReceiveInfo& info) {
  using Element = typename Container::value_type;
  if (record.type_tag != TypeAlias<Container>::tag) {
    Container unused;  // the typed layer's check and message; it returns before touching the value
    info = decode_record_into(record, unused);
    return std::nullopt;
  }
  const std::span<const std::byte> payload = record.payload;
  std::uint64_t count = 0;
  if (payload.size() >= sizeof count) std::memcpy(&count, payload.data(), sizeof count);
  // The count is untrusted: it must describe exactly the bytes present.
  if (payload.size() < sizeof count || count != (payload.size() - sizeof count) / sizeof(Element) ||
      (payload.size() - sizeof count) % sizeof(Element) != 0) {
    info.status = Outcome::undecodable;
    info.error = "cannot view '" + std::string(TypeAlias<Container>::name) + "': its element count does not match its " +
                 std::to_string(payload.size()) + " bytes";
    return std::nullopt;
  }
  return std::span<const Element>(reinterpret_cast<const Element*>(payload.data() + sizeof count),
                                  static_cast<std::size_t>(count));
}

// The next record, if it is a Container, shown to handle as a span of its
// elements; freed once handle returns (or throws). Returns what the receive
// found: ok once handle ran; for a record of another type or a malformed one,
// the typed layer's statuses (wrong_type, unknown_type, undecodable), the
// record freed without handle running; empty, timed_out, closed or corrupt as
// for a receive. Waits up to the deadline. Frees, with the record, whatever
// the reader received before it and left uncommitted (CommitMode::later).
template <FlatArray Container, class Handler>
  requires std::invocable<Handler&, std::span<const typename Container::value_type>>
ReceiveInfo receive_view(TypedReader& reader, Deadline deadline, Handler&& handle) {
  RingReader& ring = reader.raw();
  const Received received = ring.receive(deadline);
  ReceiveInfo info{received.status, received.record.type_tag, received.record.sequence, {}};
  if (!received.ok()) {
    if (received.status == Outcome::closed || received.status == Outcome::corrupt) {
      info.error = "ring " + ring.ring().name().os_name() + " is " + std::string(to_string(received.status));
    }
    return info;
  }
  // From here on the record is freed on every way out, with whatever this
  // reader received before it and left uncommitted.
  struct FreeAtExit {
    RingReader& ring;
    ~FreeAtExit() { ring.commit(); }
  } free_at_exit{ring};
  const auto elements = view_record<Container>(received.record, info);
  // The record is ours until the commit at exit: no writer reuses its space before.
  if (elements) handle(*elements);
  return info;
}

// A flat array's record for count elements: its payload size, or nothing
// when no ring could hold it (and the size would overflow).
template <FlatArray Container>
std::optional<std::size_t> flat_payload_size(std::size_t count) noexcept {
  if (count > (std::size_t{1} << 48)) return std::nullopt;
  return sizeof(std::uint64_t) + count * sizeof(typename Container::value_type);
}

// Writes the count into a flat array's payload and returns its elements.
template <FlatArray Container>
std::span<typename Container::value_type> start_flat_payload(std::span<std::byte> payload, std::size_t count) noexcept {
  const std::uint64_t stored_count = count;
  std::memcpy(payload.data(), &stored_count, sizeof stored_count);
  return {reinterpret_cast<typename Container::value_type*>(payload.data() + sizeof stored_count), count};
}

// Claims a record for count elements of a Container, hands the elements to
// write (uninitialized: write sets every one), then publishes the record.
// If write throws, the claim is dropped and nothing is published. Returns
// the claim's outcome: ok, or too_large, full and timed_out as for send.
template <FlatArray Container, class Writer>
  requires std::invocable<Writer&, std::span<typename Container::value_type>>
Outcome send_in_place(TypedWriter& writer, std::size_t count, Deadline deadline, Writer&& write) {
  const auto payload_size = flat_payload_size<Container>(count);
  if (!payload_size) return Outcome::too_large;
  RingWriter& ring = writer.raw();
  const Claim claimed = ring.claim(TypeAlias<Container>::tag, *payload_size, deadline);
  if (!claimed.ok()) return claimed.status;
  ring.write_and_commit(claimed, [&](std::span<std::byte> out) { write(start_flat_payload<Container>(out, count)); });
  return Outcome::ok;
}

}  // namespace colony::shm
