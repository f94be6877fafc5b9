#pragma once
// Failpoints: named places in the product where a crash test stops a process.
//
// The code names its crash windows in comments ("if we die before this line
// ..."). A test aims a real SIGKILL at such a window only if the process can
// be held there: COLONY_FAILPOINT("ring.commit.before_publication") marks the
// place, and a process started with the environment variable
//
//   COLONY_FAILPOINT=ring.commit.before_publication[@N][,once=PATH]
//
// stops itself the N-th time (default: the first) it passes there (on Linux
// with SIGSTOP: src/linux/failpoint_stop.cpp). Its parent sees it stopped,
// then kills it, or lets it go on. With once=PATH only the first process of
// all those that inherit the variable stops (it creates PATH exclusively): a
// restarted worker runs through.
//
// Names are "<component>.<operation>.<where>", unique across the product.
// The variable is read once, before main. Failpoints exist only in builds
// configured with -DCOLONY_FAILPOINTS=ON (the debug, asan and tsan presets);
// elsewhere the macro is nothing. Compiled in, an unarmed failpoint costs one
// load and one predictable branch. Safe between fork and exec: reaching one
// allocates nothing and calls only async-signal-safe functions.

namespace colony::shm::failpoint {

// True when this process was started with COLONY_FAILPOINT set.
extern bool g_armed;
// Stops the process if name is the armed failpoint and this is the pass asked for.
void reached(const char* name) noexcept;

}  // namespace colony::shm::failpoint

#if defined(COLONY_FAILPOINTS)
#define COLONY_FAILPOINT(name)                                                         \
  do {                                                                                 \
    if (__builtin_expect(::colony::shm::failpoint::g_armed, false)) {                  \
      ::colony::shm::failpoint::reached(name);                                         \
    }                                                                                  \
  } while (false)
#else
#define COLONY_FAILPOINT(name) \
  do {                         \
  } while (false)
#endif
