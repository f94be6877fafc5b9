#pragma once
// Every name a session gives its segments, built and parsed here and nowhere
// else. A segment's OS name is /colony.<session>.<kind>.<object> (see
// shm/names.hpp); this file owns the <object> part:
//
//   ctl.session                        the session's control block (contract.hpp)
//   ring.broker                        requests to the broker
//   ring.w<S>g<G>-ev                   broker -> worker S (generation G): its children's events
//   ring.w<S>g<G>-in, ring.w<S>g<G>-out  the worker's default channel pair with its parent
//   bytes.w<S>g<G>-props, mutex.w<S>g<G>-props  the worker's shared properties
//   ring.ch<N>                         channel N (a MessageChannel)
//   bytes.ol<N>                        a message too large for its ring, sent out of line
//   ring.mb-<E>, ring.dl-<E>           named worker <E>'s mailbox and dead-letter box
//   bytes.cr-<E>                       named worker <E>'s crash reports
//   ring.rp<16 hex digits>             a caller's reply ring, unguessable
//   bytes.<name>, mutex.<name>, cond.<name>  shared objects; unnamed ones <prefix><N>
//
// <N> is a decimal id from SessionHeader::next_object_id; <E> is a worker
// name encoded to the segment alphabet (encode_worker_name). Everything a
// user may name is checked against is_reserved_object_name, so a user object
// never takes a name the session gives its own segments.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "colony/shm/names.hpp"

namespace colony::detail {

inline constexpr std::string_view kSessionControl = "session";
inline constexpr std::string_view kBrokerRing = "broker";

// "w<slot>g<generation>-<suffix>": one worker's own segments.
std::string worker_object(std::uint32_t slot, std::uint32_t generation, std::string_view suffix);
inline constexpr std::string_view kEventsSuffix = "ev";
inline constexpr std::string_view kToWorkerSuffix = "in";
inline constexpr std::string_view kToParentSuffix = "out";
inline constexpr std::string_view kPropertiesSuffix = "props";

std::string channel_object(std::uint64_t id);
// The id of "ch<N>"; with accept_bare_id, "<N>" too (what the CLI accepts).
std::optional<std::uint64_t> parse_channel_object(std::string_view object, bool accept_bare_id = false) noexcept;
std::string out_of_line_object(std::uint64_t id);
bool is_out_of_line_name(std::string_view object) noexcept;

// Worker names are case-sensitive and may hold any character: letters,
// digits and '-' stay, any other byte becomes "_xx" (hex).
std::string encode_worker_name(std::string_view name);
std::string mailbox_object(std::string_view worker_name);
std::string dead_letter_object(std::string_view worker_name);
std::string crash_log_object(std::string_view worker_name);
// The longest encoded worker name the segment names hold.
inline constexpr std::size_t kMaxEncodedWorkerName = shm::kMaxNameLength - 3;

// "rp" and 16 hex digits from the OS's entropy: a name another local process
// could guess and squat would make every waited call fail.
std::string random_reply_ring_object();
bool is_reply_ring_object(std::string_view object) noexcept;

// A name the session gives its own segments (a user's object may not take it).
bool is_reserved_object_name(std::string_view object) noexcept;
// What a broker taking over a dead session keeps: mailboxes, dead-letter
// boxes, and the reply rings of callers still waiting on a call queued there.
bool is_kept_on_take_over(const shm::SegmentName& name) noexcept;

}  // namespace colony::detail
