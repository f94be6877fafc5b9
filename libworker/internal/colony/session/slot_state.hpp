#pragma once
// A worker slot's life (WorkerSlot::state_word, contract.hpp), as one table:
// every change of a slot's state by anyone goes through publish_slot_state or
// advance_slot_state below, which refuse a transition the table lacks.
//
//   from                              to           writer   how, and what a peer sees if the writer dies next
//   free, terminated                  reserved     creator  CAS, with a new generation (creator_pid claimed first:
//                                                           the broker frees the slot when it sees the creator end)
//   reserved                          created      creator  CAS (the broker may have taken it back meanwhile)
//   reserved                          terminated   creator  its segments could not be made
//   created                           queued       broker   start() under the running-worker cap
//   created, queued                   starting     broker   published before the process exists
//   starting                          created      broker   the spawn failed: new again, the parent told
//   starting                          running      broker   CAS: it attached (a plain executable: spawned)
//   starting, running                 terminating  broker   being ended, children first
//   reserved, created, queued,        terminated   broker   released (release store, owner fields cleared
//   starting, running, terminating                          first): claimable again from here
//
// The public WorkerState is this state seen from a handle: public_state is
// the one mapping.

#include <array>
#include <cstdint>
#include <string_view>

#include "colony/session/contract.hpp"
#include "colony/worker/worker.hpp"

namespace colony::detail {

enum class SlotWriter : std::uint8_t { creator, broker };

struct SlotTransition {
  SlotState from;
  SlotState to;
  SlotWriter writer;
};

inline constexpr std::array<SlotTransition, 17> kSlotTransitions{{
    {SlotState::free, SlotState::reserved, SlotWriter::creator},
    {SlotState::terminated, SlotState::reserved, SlotWriter::creator},
    {SlotState::reserved, SlotState::created, SlotWriter::creator},
    {SlotState::reserved, SlotState::terminated, SlotWriter::creator},
    {SlotState::created, SlotState::queued, SlotWriter::broker},
    {SlotState::created, SlotState::starting, SlotWriter::broker},
    {SlotState::queued, SlotState::starting, SlotWriter::broker},
    {SlotState::starting, SlotState::created, SlotWriter::broker},
    {SlotState::starting, SlotState::running, SlotWriter::broker},
    {SlotState::starting, SlotState::terminating, SlotWriter::broker},
    {SlotState::running, SlotState::terminating, SlotWriter::broker},
    {SlotState::reserved, SlotState::terminated, SlotWriter::broker},
    {SlotState::created, SlotState::terminated, SlotWriter::broker},
    {SlotState::queued, SlotState::terminated, SlotWriter::broker},
    {SlotState::starting, SlotState::terminated, SlotWriter::broker},
    {SlotState::running, SlotState::terminated, SlotWriter::broker},
    {SlotState::terminating, SlotState::terminated, SlotWriter::broker},
}};

constexpr bool is_slot_transition(SlotState from, SlotState to, SlotWriter writer) noexcept {
  for (const auto& t : kSlotTransitions) {
    if (t.from == from && t.to == to && t.writer == writer) return true;
  }
  return false;
}

// For a writer that owns the slot at this step (no one else may change it):
// a release store of (generation, to). A transition from the slot's current
// state that the table lacks is a bug, stopped in debug builds.
void publish_slot_state(WorkerSlot& slot, std::uint32_t generation, SlotState to, SlotWriter writer) noexcept;
// For a step another party may race: (generation, from) -> (to_generation, to)
// only if the slot still holds (generation, from). Returns whether it did.
bool advance_slot_state(WorkerSlot& slot, std::uint32_t generation, SlotState from, std::uint32_t to_generation,
                        SlotState to, SlotWriter writer) noexcept;

// The slot's state as a handle of that generation sees it: a slot reused by
// another generation means this worker is terminated.
WorkerState public_state(std::uint64_t state_word, std::uint32_t generation) noexcept;
// As colony ps and colony top show it: to_string of the public state.
std::string_view slot_state_name(SlotState state) noexcept;

}  // namespace colony::detail
