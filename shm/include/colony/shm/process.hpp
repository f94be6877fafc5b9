#pragma once
// Liveness of other processes, as the shm layer needs it to recover from a
// dead peer (a ring writer killed mid-record, a creator killed before READY).

namespace colony::shm {

// The calling process's id, cached (getpid is a syscall-free vDSO call on
// some systems only).
int current_pid() noexcept;

// False when pid names no process or a zombie (dead, not yet reaped).
// A pid can be reused by an unrelated process after its owner died; callers
// that know a death for certain (the broker, through waitpid) act on that
// knowledge instead.
bool process_is_alive(int pid) noexcept;

}  // namespace colony::shm
