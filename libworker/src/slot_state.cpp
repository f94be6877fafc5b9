#include "colony/session/slot_state.hpp"

#include <cassert>

namespace colony::detail {

void publish_slot_state(WorkerSlot& slot, std::uint32_t generation, SlotState to, SlotWriter writer) noexcept {
  [[maybe_unused]] const std::uint64_t current = slot.state_word.load(std::memory_order_relaxed);
  assert(generation_of(current) == generation && is_slot_transition(state_of(current), to, writer));
  (void)writer;
  slot.state_word.store(pack_state(generation, to), std::memory_order_release);
}

bool advance_slot_state(WorkerSlot& slot, std::uint32_t generation, SlotState from, std::uint32_t to_generation,
                        SlotState to, SlotWriter writer) noexcept {
  assert(is_slot_transition(from, to, writer));
  (void)writer;
  std::uint64_t expected = pack_state(generation, from);
  return slot.state_word.compare_exchange_strong(expected, pack_state(to_generation, to), std::memory_order_acq_rel);
}

WorkerState public_state(std::uint64_t state_word, std::uint32_t generation) noexcept {
  if (generation_of(state_word) != generation) return WorkerState::terminated;
  switch (state_of(state_word)) {
    case SlotState::reserved:
    case SlotState::created: return WorkerState::created;
    case SlotState::queued: return WorkerState::queued;
    case SlotState::starting: return WorkerState::starting;
    case SlotState::running: return WorkerState::running;
    case SlotState::terminating: return WorkerState::terminating;
    case SlotState::free:
    case SlotState::terminated: break;
  }
  return WorkerState::terminated;
}

std::string_view slot_state_name(SlotState state) noexcept {
  return to_string(public_state(pack_state(0, state), 0));
}

}  // namespace colony::detail
