#pragma once
// Liveness of other processes, as the shm layer needs it to recover from a
// dead peer (a ring writer killed mid-record, a creator killed before READY)
// and as `colony clean` needs it to tell a dead session from a live one.
//
// A pid alone cannot say: once its process is gone the kernel may give the
// same pid to an unrelated process, which would then keep a dead peer
// "alive" (or, judged the other way, a live peer dead). So what is recorded
// in shared memory is a ProcessIdentity: the pid and the process's start time
// as the kernel keeps it (clock ticks since boot on Linux), which a reused pid
// does not share.
//
// One implementation per platform, under this file's name in src/linux/ and
// src/windows/.

#include <cstdint>
#include <utility>

namespace colony::shm {

struct ProcessIdentity {
  std::int32_t pid = 0;
  // The low 32 bits of the start time, never 0 for a known one (0 means
  // unknown: judged by pid alone, as records of an older writer are). At 100
  // ticks a second, two processes of one pid collide only if they started a
  // multiple of 497 days apart.
  std::uint32_t start = 0;
  friend bool operator==(const ProcessIdentity&, const ProcessIdentity&) = default;
};

// One 64-bit word, for slots that are claimed with a single compare-and-swap.
constexpr std::uint64_t pack(ProcessIdentity identity) noexcept {
  return (std::uint64_t{identity.start} << 32) | static_cast<std::uint32_t>(identity.pid);
}
constexpr ProcessIdentity unpack_identity(std::uint64_t word) noexcept {
  return {static_cast<std::int32_t>(static_cast<std::uint32_t>(word)), static_cast<std::uint32_t>(word >> 32)};
}

// The calling process's id, not cached across fork (a child sees its own).
int current_pid() noexcept;
// The calling process's identity; read from the kernel once per process.
ProcessIdentity current_identity() noexcept;
// The identity the process with this pid has now; start 0 if there is none.
ProcessIdentity identity_of(int pid) noexcept;

// False when pid names no process or a zombie (dead, not yet reaped). A pid
// alone may be reused: prefer is_alive(identity) where one was recorded.
bool process_is_alive(int pid) noexcept;
// True when the process that recorded this identity still runs: its pid is
// alive and, when the start is known, that pid's process started at start.
bool is_alive(ProcessIdentity identity) noexcept;

// One process watched for its end, cheaply enough to ask before every call:
// a handle to that very process (a pidfd on Linux, a process handle on
// Windows) whose end is polled, where is_alive reads the process's state
// from the system each time (a waited call on the AMD VM spent about 20 us
// in two such reads). Made for an identity: a process that no longer has it
// when the watch is made (its pid reused) counts as ended from the start.
// Where no handle can be had, alive() is is_alive(identity) each time.
class ProcessWatch {
 public:
  ProcessWatch() noexcept = default;  // watches nothing: alive() is false
  explicit ProcessWatch(ProcessIdentity identity) noexcept;
  ProcessWatch(ProcessWatch&& other) noexcept;
  ProcessWatch& operator=(ProcessWatch&& other) noexcept;
  ProcessWatch(const ProcessWatch&) = delete;
  ProcessWatch& operator=(const ProcessWatch&) = delete;
  ~ProcessWatch();

  const ProcessIdentity& identity() const noexcept { return identity_; }
  bool alive() const noexcept;

 private:
  enum class How { none, handle, by_identity };
  ProcessIdentity identity_;
  How how_ = How::none;
  std::intptr_t handle_ = -1;  // the platform's handle while how_ == handle
};

}  // namespace colony::shm
