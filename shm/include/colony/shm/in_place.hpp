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
  using Element = typename Container::value_type;
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
  if (received.record.type_tag != TypeAlias<Container>::tag) {
    Container unused;  // the typed layer's check and message; it returns before touching the value
    return decode_record_into(received.record, unused);
  }
  const std::span<const std::byte> payload = received.record.payload;
  std::uint64_t count = 0;
  if (payload.size() >= sizeof count) std::memcpy(&count, payload.data(), sizeof count);
  // The count is untrusted: it must describe exactly the bytes present.
  if (payload.size() < sizeof count || count != (payload.size() - sizeof count) / sizeof(Element) ||
      (payload.size() - sizeof count) % sizeof(Element) != 0) {
    info.status = Outcome::undecodable;
    info.error = "cannot view '" + std::string(TypeAlias<Container>::name) + "': its element count does not match its " +
                 std::to_string(payload.size()) + " bytes";
    return info;
  }
  // The record is ours until the commit at exit: no writer reuses its space before.
  handle(std::span<const Element>(reinterpret_cast<const Element*>(payload.data() + sizeof count),
                                  static_cast<std::size_t>(count)));
  return info;
}

// Claims a record for count elements of a Container, hands the elements to
// write (uninitialized: write sets every one), then publishes the record.
// If write throws, the claim is dropped and nothing is published. Returns
// the claim's outcome: ok, or too_large, full and timed_out as for send.
template <FlatArray Container, class Writer>
  requires std::invocable<Writer&, std::span<typename Container::value_type>>
Outcome send_in_place(TypedWriter& writer, std::size_t count, Deadline deadline, Writer&& write) {
  using Element = typename Container::value_type;
  if (count > (std::size_t{1} << 48)) return Outcome::too_large;  // larger than any ring, and no overflow below
  const std::size_t payload_size = sizeof(std::uint64_t) + count * sizeof(Element);
  RingWriter& ring = writer.raw();
  const Claim claimed = ring.claim(TypeAlias<Container>::tag, payload_size, deadline);
  if (!claimed.ok()) return claimed.status;
  ring.write_and_commit(claimed, [&](std::span<std::byte> out) {
    const std::uint64_t stored_count = count;
    std::memcpy(out.data(), &stored_count, sizeof stored_count);
    write(std::span<Element>(reinterpret_cast<Element*>(out.data() + sizeof stored_count), count));
  });
  return Outcome::ok;
}

}  // namespace colony::shm
