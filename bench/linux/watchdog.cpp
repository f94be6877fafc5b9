// The watchdog and the cleanup on signals, on Linux: alarm(2), signal
// handlers that use async-signal-safe calls only (kill, shm_unlink, and
// getdents64/unlinkat to remove entries by prefix).

#include "watchdog.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <utility>

namespace bench {
namespace {

// ---------------------------------------------------------------------------
// State the signal handlers read: lock-free atomics and fixed buffers only.

std::atomic<int> g_watchdog_fired{0};
std::atomic<pid_t> g_victim_pid{-1};

constexpr int kNameSlots = 64;
struct NameSlot {
  std::atomic<bool> used{false};
  char os_name[256] = {};
};
std::array<NameSlot, kNameSlots> g_names;

// The prefix of set_cleanup_prefix, and whether it is set.
char g_cleanup_prefix[256] = {};
std::atomic<bool> g_cleanup_prefix_set{false};

// The (directory, prefix) pairs of add_cleanup_prefix.
struct PrefixSlot {
  std::atomic<bool> used{false};
  char directory[128] = {};
  char prefix[128] = {};
};
std::array<PrefixSlot, 4> g_prefixes;

static_assert(std::atomic<int>::is_always_lock_free && std::atomic<pid_t>::is_always_lock_free &&
              std::atomic<bool>::is_always_lock_free);

extern "C" void on_alarm(int) {
  g_watchdog_fired.store(1);
  const pid_t victim = g_victim_pid.load();
  if (victim > 0) ::kill(victim, SIGKILL);
}

// Unlinks the entries of directory_path whose names start with prefix, with
// async-signal-safe calls only (open, getdents64, unlinkat, close). Rescans
// after a pass that removed something, as removing entries while reading a
// directory may make the reading skip some.
void unlink_prefixed(const char* directory_path, const char* prefix) noexcept {
  const int directory = ::open(directory_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory < 0) return;
  alignas(8) char buffer[8192];
  for (int pass = 0; pass < 8; ++pass) {
    bool removed = false;
    if (::lseek(directory, 0, SEEK_SET) != 0) break;
    for (;;) {
      const long n = ::syscall(SYS_getdents64, directory, buffer, sizeof(buffer));
      if (n <= 0) break;
      // struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, char d_name[].
      for (long offset = 0; offset < n;) {
        unsigned short length = 0;
        std::memcpy(&length, buffer + offset + 16, sizeof(length));
        const char* name = buffer + offset + 19;
        std::size_t i = 0;
        while (prefix[i] != '\0' && name[i] == prefix[i]) ++i;
        if (prefix[i] == '\0' && ::unlinkat(directory, name, 0) == 0) removed = true;
        if (length == 0) break;
        offset += length;
      }
    }
    if (!removed) break;
  }
  ::close(directory);
}

// The /dev/shm entries of the brokers' sessions (set_cleanup_prefix), and
// those of add_cleanup_prefix.
void unlink_prefixed_shm() noexcept {
  if (g_cleanup_prefix_set.load()) unlink_prefixed("/dev/shm", g_cleanup_prefix);
  for (const PrefixSlot& slot : g_prefixes) {
    if (slot.used.load()) unlink_prefixed(slot.directory, slot.prefix);
  }
}

// SIGINT/SIGTERM/SIGHUP: kill the peer, unlink every named object, then die
// of the same signal.
extern "C" void on_terminate(int signal_number) {
  const pid_t victim = g_victim_pid.load();
  if (victim > 0) ::kill(victim, SIGKILL);
  for (NameSlot& slot : g_names) {
    if (slot.used.load()) ::shm_unlink(slot.os_name);
  }
  unlink_prefixed_shm();
  static const char message[] = "colony_bench: interrupted; removed its shared-memory objects\n";
  [[maybe_unused]] const ssize_t ignored = ::write(STDERR_FILENO, message, sizeof(message) - 1);
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

constexpr std::array kTerminationSignals{SIGINT, SIGTERM, SIGHUP};

// Seconds of an alarm that fires margin after deadline.
unsigned alarm_seconds(Clock::time_point deadline, int margin) {
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - Clock::now());
  return static_cast<unsigned>(std::max<std::int64_t>(left.count(), 0) + margin);
}

}  // namespace

void install_signal_handlers() {
  struct sigaction alarm_action {};
  alarm_action.sa_handler = on_alarm;
  sigemptyset(&alarm_action.sa_mask);
  alarm_action.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR
  ::sigaction(SIGALRM, &alarm_action, nullptr);

  struct sigaction terminate_action {};
  terminate_action.sa_handler = on_terminate;
  sigemptyset(&terminate_action.sa_mask);
  for (const int signal_number : kTerminationSignals) ::sigaddset(&terminate_action.sa_mask, signal_number);
  for (const int signal_number : kTerminationSignals) ::sigaction(signal_number, &terminate_action, nullptr);

  ::signal(SIGPIPE, SIG_IGN);
}

void arm_watchdog(Clock::time_point deadline) {
  g_watchdog_fired.store(0);
  // Fires after the deadline that Colony, futex and Boost waits use, so those
  // report their own timeout first; it catches the waits that have none.
  ::alarm(alarm_seconds(deadline, 2));
}

void disarm_watchdog() noexcept { ::alarm(0); }

bool watchdog_fired() noexcept { return g_watchdog_fired.load(std::memory_order_relaxed) != 0; }

std::string timeout_message(const char* what) {
  return std::string(what) + " timed out after " + std::to_string(kCaseTimeout.count()) + " s";
}

void check_watchdog(const char* what) {
  if (watchdog_fired()) throw BenchError(timeout_message(what));
}

void set_watchdog_victim(int pid) noexcept { g_victim_pid.store(pid); }

void become_peer_process(Clock::time_point deadline) noexcept {
  for (const int signal_number : {SIGALRM, SIGINT, SIGTERM, SIGHUP}) ::signal(signal_number, SIG_DFL);
  ::alarm(alarm_seconds(deadline, 5));
}

void become_case_process(Clock::time_point deadline) {
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  arm_watchdog(deadline);
}

void set_cleanup_prefix(const std::string& prefix) {
  if (prefix.empty() || prefix.size() >= sizeof(g_cleanup_prefix)) throw BenchError("bad cleanup prefix: " + prefix);
  g_cleanup_prefix_set.store(false);
  std::memcpy(g_cleanup_prefix, prefix.c_str(), prefix.size() + 1);
  g_cleanup_prefix_set.store(true);
}

void add_cleanup_prefix(const std::string& directory, const std::string& prefix) {
  if (directory.empty() || directory.size() >= sizeof(PrefixSlot::directory) || prefix.empty() ||
      prefix.size() >= sizeof(PrefixSlot::prefix)) {
    throw BenchError("bad cleanup prefix: " + directory + "/" + prefix);
  }
  for (PrefixSlot& slot : g_prefixes) {
    if (slot.used.load()) {
      if (directory == slot.directory && prefix == slot.prefix) return;
      continue;
    }
    std::memcpy(slot.directory, directory.c_str(), directory.size() + 1);
    std::memcpy(slot.prefix, prefix.c_str(), prefix.size() + 1);
    slot.used.store(true);
    return;
  }
  throw BenchError("too many cleanup prefixes");
}

ScopedName::ScopedName(std::string os_name, std::function<void()> remove) : slot_(-1), remove_(std::move(remove)) {
  if (os_name.size() >= sizeof(NameSlot::os_name)) throw BenchError("object name too long: " + os_name);
  for (int i = 0; i < kNameSlots; ++i) {
    NameSlot& slot = g_names[static_cast<std::size_t>(i)];
    if (slot.used.load()) continue;
    std::memcpy(slot.os_name, os_name.c_str(), os_name.size() + 1);
    slot.used.store(true);
    slot_ = i;
    return;
  }
  throw BenchError("too many named objects at once");
}

ScopedName::~ScopedName() {
  try {
    if (remove_) remove_();
  } catch (...) {
    // Removal is best effort; the signal path covers the same name.
  }
  if (slot_ >= 0) g_names[static_cast<std::size_t>(slot_)].used.store(false);
}

}  // namespace bench
