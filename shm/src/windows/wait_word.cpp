// The wait word on Windows. WaitOnAddress wakes only threads of its own
// process, so sleepers of every process meet in a wait table: one named
// mapping per user logon session (Local\colony-wait-table-1), a slot per
// thread that ever slept, and an auto-reset event per slot.
//
// A sleeper's thread owns its slot for its life. To sleep on a word it
// writes the word's key (the mapping's name hash and the word's offset,
// mapping_registry.hpp) and then state = waiting, and only then compares the
// word: a waker changes the word before it looks for sleepers, so either the
// sleeper sees the new value or the waker sees the sleeper (both sides order
// their two steps with a full fence). The waker moves each matching slot
// from waiting to woken with one compare-and-swap, which is what makes each
// wake count once, then sets the slot's event. A sleeper whose deadline
// passes takes its slot back from waiting with a compare-and-swap too: if it
// loses that race, it was woken, and says so.
//
// The table is all zeros when it is new: a zero slot is free, so no process
// has to initialize it, and one killed while creating it leaves nothing half
// made. A slot whose owner died (killed asleep, or holding an idle slot) is
// not counted by a wake, and is taken back when the table is full.
// Each slot is 64 bytes, so a table of 4096 is 256 KiB.
#include <windows.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "colony/shm/process.hpp"
#include "colony/shm/wait_word.hpp"
#include "mapping_registry.hpp"
#include "owner_only.hpp"

namespace colony::shm {
namespace {

using platform::WordKey;

inline constexpr std::uint64_t kWaitTableMagic = 0x3142415454494157ULL;  // "WAITTAB1"
inline constexpr std::uint32_t kWaitSlots = 4096;

// A slot belongs to the thread whose process identity is in owner (0: to
// nobody); it is taken by a compare-and-swap of owner, from 0 or from a dead
// owner's identity, so two claimers never share one.
enum SlotState : std::uint32_t { free_slot = 0, idle = 1, waiting = 2, woken = 3, reclaiming = 4 };

struct WaitSlot {
  std::atomic<std::uint32_t> state;  // SlotState
  std::uint32_t reserved0;
  std::atomic<std::uint64_t> owner;         // pack(ProcessIdentity) of the owning process, 0: free
  std::atomic<std::uint64_t> key_object;    // WordKey, written before state = waiting
  std::atomic<std::uint64_t> key_offset;
  std::uint8_t pad[64 - 32];
};
static_assert(sizeof(WaitSlot) == 64);
static_assert(offsetof(WaitSlot, owner) == 8);
static_assert(offsetof(WaitSlot, key_object) == 16);

struct WaitTable {
  std::atomic<std::uint64_t> magic;       // 0 in a new table, then kWaitTableMagic
  std::atomic<std::uint32_t> high_water;  // slots [0, high_water) have been used
  std::uint8_t pad[64 - 12];
  WaitSlot slots[kWaitSlots];
};
static_assert(offsetof(WaitTable, slots) == 64);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

// The table, mapped once per process for its whole life; nullptr when it
// cannot be had (another user's, or no memory): waits then poll.
WaitTable* wait_table() noexcept {
  static WaitTable* table = [] () -> WaitTable* {
    const std::wstring name = L"Local\\colony-wait-table-1";
    HANDLE mapping = ::CreateFileMappingW(INVALID_HANDLE_VALUE, platform::owner_only_attributes(), PAGE_READWRITE, 0,
                                          static_cast<DWORD>(sizeof(WaitTable)), name.c_str());
    if (mapping == nullptr) return nullptr;
    if (::GetLastError() == ERROR_ALREADY_EXISTS && !platform::owned_by_this_user(mapping)) {
      ::CloseHandle(mapping);
      return nullptr;
    }
    void* view = ::MapViewOfFile(mapping, FILE_MAP_ALL_ACCESS, 0, 0, sizeof(WaitTable));
    if (view == nullptr) {
      ::CloseHandle(mapping);
      return nullptr;
    }
    auto* mapped = static_cast<WaitTable*>(view);
    std::uint64_t magic = 0;
    if (!mapped->magic.compare_exchange_strong(magic, kWaitTableMagic) && magic != kWaitTableMagic) {
      ::UnmapViewOfFile(view);  // not a table of ours: never written to
      ::CloseHandle(mapping);
      return nullptr;
    }
    return mapped;  // the handle stays open: the table lives while this process does
  }();
  return table;
}

std::wstring event_name(std::uint32_t slot) { return L"Local\\colony-wait-1-" + std::to_wstring(slot); }

// Each slot's event, opened once per process.
class EventCache {
 public:
  HANDLE get(std::uint32_t slot) noexcept {
    const std::lock_guard lock(mutex_);
    if (events_.size() <= slot) events_.resize(slot + 1, nullptr);
    if (events_[slot] == nullptr) {
      events_[slot] = ::CreateEventW(platform::owner_only_attributes(), FALSE, FALSE, event_name(slot).c_str());
    }
    return events_[slot];
  }

 private:
  std::mutex mutex_;
  std::vector<HANDLE> events_;
};

EventCache& events() {
  static EventCache* cache = new EventCache;  // used by thread exits after main
  return *cache;
}

bool owner_alive(const WaitSlot& slot) noexcept {
  const ProcessIdentity owner = unpack_identity(slot.owner.load(std::memory_order_relaxed));
  return owner.pid == current_pid() || is_alive(owner);
}

bool take_free(WaitSlot& slot, std::uint64_t self) noexcept {
  std::uint64_t nobody = 0;
  if (!slot.owner.compare_exchange_strong(nobody, self, std::memory_order_acq_rel)) return false;
  // If this process dies from here on, the slot names it: taken back once the table is full.
  slot.state.store(idle, std::memory_order_release);
  return true;
}

// A slot whose owner died (killed asleep, or holding it idle). Its state
// goes to reclaiming first, so that no waker counts the dead sleeper while
// the slot changes hands and no second reclaimer takes it too; a reclaimer
// that died half-way leaves it reclaiming under a dead owner, which the next
// one takes over.
bool take_from_the_dead(WaitSlot& slot, std::uint64_t self) noexcept {
  std::uint64_t owner = slot.owner.load(std::memory_order_acquire);
  if (owner == 0 || is_alive(unpack_identity(owner))) return false;
  std::uint32_t state = slot.state.load(std::memory_order_acquire);
  if (state != reclaiming && !slot.state.compare_exchange_strong(state, reclaiming, std::memory_order_acq_rel)) {
    return false;
  }
  if (!slot.owner.compare_exchange_strong(owner, self, std::memory_order_acq_rel)) return false;
  slot.state.store(idle, std::memory_order_release);
  return true;
}

void release_slot(WaitSlot& slot) noexcept {
  slot.state.store(free_slot, std::memory_order_relaxed);
  slot.owner.store(0, std::memory_order_release);  // from here another thread may take it
}

// Called as a thread ends with what release_at_thread_exit stored: the slot
// index plus one. A fiber-local value's callback, not a thread_local
// destructor: MinGW runs those after freeing the thread's storage.
void WINAPI release_at_exit(void* value) {
  const auto stored = reinterpret_cast<std::uintptr_t>(value);
  if (stored == 0 || stored > kWaitSlots) return;
  if (WaitTable* table = wait_table()) release_slot(table->slots[stored - 1]);
}

bool release_at_thread_exit(std::uint32_t index) noexcept {
  static const DWORD fls = ::FlsAlloc(release_at_exit);
  return fls != FLS_OUT_OF_INDEXES && ::FlsSetValue(fls, reinterpret_cast<void*>(std::uintptr_t{index} + 1));
}

// This thread's slot, claimed at its first sleep and freed when it ends.
// Trivially destructible, so that thread_local costs nothing at thread exit.
class OwnSlot {
 public:
  bool claimed() const noexcept { return table_ != nullptr; }
  WaitSlot& slot() noexcept { return table_->slots[index_]; }
  std::uint32_t index() const noexcept { return index_; }
  HANDLE event() const noexcept { return event_; }

  bool claim(WaitTable& table) noexcept {
    const std::uint64_t self = pack(current_identity());
    // A free slot (extending the range wakers look at as needed), then, if
    // the table is full, one whose owner died.
    for (int pass = 0; pass < 2; ++pass) {
      std::uint32_t used = std::min(table.high_water.load(std::memory_order_acquire), kWaitSlots);
      for (std::uint32_t i = 0; i < kWaitSlots; ++i) {
        if (i >= used) {
          // Slot i joins the range wakers look at before anyone can wait in it.
          std::uint32_t seen = used;
          while (seen <= i && !table.high_water.compare_exchange_weak(seen, i + 1, std::memory_order_acq_rel)) {
          }
          used = std::max(seen, i + 1);
        }
        WaitSlot& candidate = table.slots[i];
        const bool taken = pass == 0 ? take_free(candidate, self) : take_from_the_dead(candidate, self);
        if (!taken) continue;
        HANDLE event = events().get(i);
        if (event == nullptr || !release_at_thread_exit(i)) {
          release_slot(candidate);
          return false;
        }
        // A wake aimed at a previous owner may have left the event set.
        ::WaitForSingleObject(event, 0);
        table_ = &table;
        index_ = i;
        event_ = event;
        return true;
      }
    }
    return false;
  }

 private:
  WaitTable* table_ = nullptr;
  std::uint32_t index_ = 0;
  HANDLE event_ = nullptr;
};

static_assert(std::is_trivially_destructible_v<OwnSlot>);
thread_local OwnSlot own_slot;

DWORD milliseconds_until(Deadline deadline) noexcept {
  if (deadline.is_never()) return INFINITE;
  const auto remaining = deadline.remaining();
  // Rounded up: a wait never ends before its deadline.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(remaining).count();
  return static_cast<DWORD>(std::clamp<long long>(ms, 0, INFINITE - 1));
}

// Without a table (none could be mapped): sleep in slices and look again.
Outcome poll_while_equal(const std::atomic<std::uint32_t>& word, std::uint32_t expected, Deadline deadline) noexcept {
  while (word.load(std::memory_order_acquire) == expected) {
    if (deadline.passed()) return Outcome::timed_out;
    ::Sleep(1);
  }
  return Outcome::ok;
}

}  // namespace

Outcome wait_while_equal(const std::atomic<std::uint32_t>& word, std::uint32_t expected, Deadline deadline) noexcept {
  if (deadline.passed()) return Outcome::timed_out;
  WaitTable* table = wait_table();
  if (table == nullptr || (!own_slot.claimed() && !own_slot.claim(*table))) {
    if (word.load(std::memory_order_acquire) != expected) return Outcome::not_equal;
    return poll_while_equal(word, expected, deadline);
  }
  WaitSlot& slot = own_slot.slot();
  const WordKey key = platform::key_of(&word);
  slot.key_object.store(key.object, std::memory_order_relaxed);
  slot.key_offset.store(key.offset, std::memory_order_relaxed);
  slot.state.store(waiting, std::memory_order_seq_cst);
  // Pairs with the waker's fence between its change of the word and its look at the table.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (word.load(std::memory_order_seq_cst) != expected) {
    // Not asleep after all; a waker that saw us meanwhile counted a wake, which is ours.
    const bool was_woken = slot.state.exchange(idle, std::memory_order_acq_rel) == woken;
    return was_woken ? Outcome::ok : Outcome::not_equal;
  }
  for (;;) {
    const DWORD waited = ::WaitForSingleObject(own_slot.event(), milliseconds_until(deadline));
    if (slot.state.load(std::memory_order_acquire) == woken) break;
    // Set for a previous sleep of this slot, or the deadline: look again.
    if (waited == WAIT_FAILED || deadline.passed()) {
      std::uint32_t state = waiting;
      if (slot.state.compare_exchange_strong(state, idle, std::memory_order_acq_rel)) {
        return waited == WAIT_FAILED ? Outcome::ok : Outcome::timed_out;  // failed: callers re-check
      }
      break;  // woken as the deadline passed: the wake counted us
    }
  }
  slot.state.store(idle, std::memory_order_release);
  return Outcome::ok;
}

int wake_waiters(const std::atomic<std::uint32_t>& word, int count) noexcept {
  WaitTable* table = wait_table();
  if (table == nullptr || count <= 0) return 0;
  const WordKey key = platform::key_of(&word);
  // Pairs with the sleeper's fence: the caller changed the word before this.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  int woken_count = 0;
  const std::uint32_t used = std::min(table->high_water.load(std::memory_order_acquire), kWaitSlots);
  for (std::uint32_t i = 0; i < used && woken_count < count; ++i) {
    WaitSlot& slot = table->slots[i];
    if (slot.state.load(std::memory_order_seq_cst) != waiting) continue;
    if (slot.key_object.load(std::memory_order_relaxed) != key.object ||
        slot.key_offset.load(std::memory_order_relaxed) != key.offset) {
      continue;
    }
    if (!owner_alive(slot)) continue;  // killed in its sleep: nobody to wake
    std::uint32_t state = waiting;
    if (!slot.state.compare_exchange_strong(state, woken, std::memory_order_acq_rel)) continue;
    // If this process dies here, the sleeper is woken by its deadline, as
    // after a waker killed between its change of the word and its wake.
    if (HANDLE event = events().get(i)) ::SetEvent(event);
    ++woken_count;
  }
  return woken_count;
}

}  // namespace colony::shm
