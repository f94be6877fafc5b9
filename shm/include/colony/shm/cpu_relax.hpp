#pragma once
// The pause a spin loop executes between two looks at shared memory: it tells
// the core that this is a spin, saving power and the pipeline flush when the
// awaited store arrives.

namespace colony::shm {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace colony::shm
