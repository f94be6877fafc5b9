#pragma once
// colony top's view of a session: what one look at its shared memory and at
// /proc finds, the rates against the previous look, and the two renderings
// (text lines, a JSON object).
//
// Looking only reads. The counters it shows already live in the session (the
// workers keep them for themselves and for `colony ps`) and in /proc, so a
// watched session pays nothing for being watched; nothing here writes to a
// segment, claims a reader or writer role, or creates a missing mailbox.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "colony/shm/mutex.hpp"
#include "colony/shm/ring.hpp"
#include "colony/session/session_map.hpp"

namespace colony::cli {

// One process's CPU time and memory, from /proc/PID/stat.
struct ProcessUsage {
  std::uint64_t cpu_ticks = 0;    // utime + stime, in clock ticks
  std::uint64_t start_ticks = 0;  // its start time: tells a reused pid apart
  std::uint64_t rss_bytes = 0;
};
// nullopt when the process is gone or there is no procfs.
std::optional<ProcessUsage> read_process_usage(int pid);

// Rates are over the time since the previous look; nullopt on the first look
// and for anything that was not there both times.
struct ProcessRow {
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  int pid = 0;  // 0 until spawned
  std::string state;
  std::string executable;
  std::string name;                       // the named worker it runs, or empty
  std::optional<std::uint32_t> restarts;  // named workers only
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::optional<ProcessUsage> usage;
  std::optional<double> cpu_percent;
  std::optional<double> in_per_s;
  std::optional<double> out_per_s;
};

struct NamedRow {
  std::string name;
  int pid = 0;                  // 0: no process now
  std::uint32_t slot = 0;       // its process's worker slot; 0: none
  std::uint32_t generation = 0;
  std::string state;            // "idle" without a process
  std::uint32_t restarts = 0;
  std::uint64_t queued = 0;
  std::uint64_t dead_letters = 0;
  std::uint64_t handled = 0;
  std::optional<double> handled_per_s;
};

struct ChannelRow {
  std::string name;
  std::uint64_t depth = 0;
  std::uint64_t capacity_bytes = 0;
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  bool closed = false;
  std::optional<double> sent_per_s;
  std::optional<double> received_per_s;
};

struct MutexRow {
  std::string name;
  int holder_pid = 0;  // 0: free
};

struct TopFrame {
  std::string session;
  int broker_pid = 0;
  std::chrono::steady_clock::time_point taken;
  double seconds = 0;  // since the previous look; 0 on the first
  std::optional<ProcessUsage> broker_usage;
  std::optional<double> broker_cpu_percent;
  std::uint64_t shared_memory_bytes = 0;  // all the session's segments, as /dev/shm accounts them
  std::size_t shared_memory_segments = 0;
  std::vector<NamedRow> named_workers;
  std::vector<ProcessRow> workers;
  std::vector<ChannelRow> channels;
  std::vector<MutexRow> mutexes;
};

// Looks at one live session, again and again. Keeps the segments it opened
// (registry entries are never reused), so a look after the first costs no
// shm_open or mmap for what it saw before.
class SessionWatcher {
 public:
  explicit SessionWatcher(std::shared_ptr<detail::SessionMap> map);
  // A look at the session now, with rates against the previous look.
  TopFrame look();
  // The broker is ending the session, or is dead.
  bool session_ended() const;
  const std::string& session() const { return map_->session(); }

 private:
  struct MailboxRings {
    shm::Ring box;
    std::optional<shm::Ring> dead;  // made lazily by the broker: may come later
  };
  void look_at_entries(TopFrame& frame);
  void look_at_named(TopFrame& frame, std::uint32_t entry, const std::string& name);
  void look_at_processes(TopFrame& frame) const;
  void add_rates(TopFrame& frame) const;

  std::shared_ptr<detail::SessionMap> map_;
  std::map<std::uint32_t, shm::Ring> channels_;  // by registry entry
  std::map<std::uint32_t, shm::Mutex> mutexes_;
  std::map<std::uint32_t, MailboxRings> mailboxes_;
  std::optional<TopFrame> previous_;
};

nlohmann::json frame_json(const TopFrame& frame);
// The text frame, one string per line, without line ends or escape codes.
// Names are the session's (any bytes): control characters come out as '?',
// so a name cannot drive the terminal.
std::vector<std::string> frame_lines(const TopFrame& frame, std::uint32_t interval_ms);

}  // namespace colony::cli
