// The typed layer's decoders (flat_codec.hpp, archive.hpp through typed.hpp)
// on a record payload another process wrote: every registered type a Colony
// process receives, built-in and protocol alike. Decoding never throws and
// never crashes; what decodes encodes again to bytes that decode.
//
//   [0]    which type (modulo their number); bit 7: take the type tag from
//          [1..4] instead of the type's own (a record of another type)
//   [1..4] u32 type tag, when bit 7 is set
//   rest   the payload
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "colony/session/channel_core.hpp"
#include "colony/shm/typed.hpp"
#include "colony/worker/channel.hpp"
#include "colony/worker/named.hpp"
#include "colony/worker/properties.hpp"
#include "colony/session/protocol.hpp"
#include "colony/worker/value.hpp"
#include "colony/worker/value_record.hpp"
#include "fuzz_support.hpp"

using namespace colony;

namespace {

template <shm::RegisteredType T>
void decode_as(std::uint32_t tag, std::span<const std::byte> payload) {
  const shm::RecordView record{tag, 1, payload};
  const shm::TypedReceived<T> received = shm::decode_record<T>(record);
  if (tag != shm::TypeAlias<T>::tag) {
    fuzz::require(!received.ok(), "a record of another type decoded");
    return;
  }
  if (!received.ok()) {
    fuzz::require(received.status == shm::Outcome::undecodable && !received.error.empty(),
                  "a failed decode without its reason");
    return;
  }
  // What a process received it can send on: its encoding decodes again.
  std::vector<std::byte> again(shm::serialized_size(*received.value));
  shm::serialize_into(*received.value, std::span<std::byte>(again));
  const shm::RecordView echoed{tag, 2, std::span<const std::byte>(again)};
  fuzz::require(shm::decode_record<T>(echoed).ok(), "a decoded value re-encodes to bytes that do not decode");
  // The reusing decode agrees with the fresh one on whether it decodes.
  T reused = *received.value;
  fuzz::require(shm::decode_record_into(record, reused).ok(), "decode_record_into refuses what decode_record took");
}

using Decoder = void (*)(std::uint32_t, std::span<const std::byte>);
template <class T>
constexpr std::pair<Decoder, std::uint32_t> entry() {
  return {&decode_as<T>, shm::TypeAlias<T>::tag};
}

constexpr std::array kDecoders = {
    entry<bool>(), entry<std::int32_t>(), entry<std::int64_t>(), entry<std::uint32_t>(), entry<std::uint64_t>(),
    entry<double>(), entry<std::string>(), entry<std::vector<std::byte>>(), entry<std::vector<std::uint8_t>>(),
    entry<Value>(), entry<Call>(), entry<Reply>(), entry<detail::LaunchRequest>(), entry<detail::TerminateRequest>(),
    entry<detail::OnlineNotice>(), entry<detail::ChildEnded>(), entry<detail::StopRequest>(),
    entry<detail::DefineNamed>(), entry<detail::EnsureNamed>(), entry<detail::TerminateNamed>(),
    entry<detail::RestartNamed>(), entry<detail::LaunchResult>(), entry<detail::ChildOnline>(),
    entry<detail::ChildExit>(), entry<detail::ErrorReport>(), entry<detail::OutOfLine>(), entry<detail::BrokerReply>(),
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::InputReader input(data, size);
  const auto selector = input.take<std::uint8_t>();
  const auto& [decode, own_tag] = kDecoders[(selector & 0x7f) % kDecoders.size()];
  std::uint32_t tag = own_tag;
  if ((selector & 0x80) != 0) tag = input.take<std::uint32_t>();
  const auto payload_bytes = input.rest();
  const std::span<const std::byte> payload(reinterpret_cast<const std::byte*>(payload_bytes.data()), payload_bytes.size());
  decode(tag, payload);
  // What the colony command makes of any record it shows (recv, deadletters).
  if (const auto shown = value_of_record(shm::RecordView{tag, 1, payload})) (void)shown->to_json();
  return 0;
}
