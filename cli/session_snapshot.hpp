#pragma once
// One look at a live session, behind both colony ps and colony top: its named
// workers, worker processes, channels and shared objects as its control
// segment and the segments it lists show them, with the rates since the
// previous look. ps_view and top_view render it.
//
// Looking only reads. Segments are opened, never created (a named worker
// whose mailbox is missing is shown as such, not given a new one); no reader
// or writer role is claimed (what waits in a ring is counted from its
// counters, not received); nothing is written. So a watched session pays
// nothing for being watched, and a dead-letter reader of another process
// keeps its role. Everything read comes from shared memory that any process
// of the session may have written: names and counters are shown, never
// trusted, and an entry that cannot be read is marked or skipped, never the
// end of the look.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "colony/shm/byte_array.hpp"
#include "colony/shm/mutex.hpp"
#include "colony/shm/ring.hpp"
#include "process_stats.hpp"
// The session layer's own headers, in one block.
#include "colony/session/session_map.hpp"

namespace colony::cli {

// Rates are per second over the time since the previous look: nullopt on the
// first look, and for anything that was not there both times.

struct NamedWorkerRow {
  std::string name;
  // Why part of it could not be read (its mailbox is missing, or its name
  // makes no segment name); empty when all of it was. Its counters are 0 then.
  std::string problem;
  bool has_process = false;     // a live process runs it now: slot, generation, pid, messages
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  int pid = 0;
  // Its process's state; else supervision's when not normal; else "idle".
  std::string state = "idle";
  std::string supervision = "normal";  // SupervisionState: normal, backing-off, given-up
  std::uint32_t starts = 0;
  std::uint32_t restarts = 0;  // starts after the first
  std::uint32_t last_exit_kind = 0;  // detail::ExitKind
  std::int32_t last_exit_code = 0;
  std::int32_t last_exit_signal = 0;
  std::uint64_t queued = 0;
  std::uint64_t dead_letters = 0;
  std::uint64_t handled = 0;
  std::uint64_t redelivered = 0;
  std::uint32_t crashes = 0;
  // From the broker's notice of the last failure to its replacement's spawn.
  std::optional<double> last_restart_latency_us;
  std::uint64_t messages_in = 0;  // its process's, with has_process
  std::uint64_t messages_out = 0;
  // Its latest crash reports, oldest first, as its crash log holds them: an
  // array of whatever JSON stands there. Read only when asked (LookOptions).
  nlohmann::json crash_reports = nlohmann::json::array();
  std::optional<double> handled_per_s;
};

struct ProcessRow {
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  int pid = 0;  // 0 until spawned
  std::string state;
  std::string executable;
  std::uint32_t parent_slot = 0;
  std::string name;                       // the named worker it runs, or empty
  std::optional<std::uint32_t> restarts;  // named workers only
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::optional<ProcessStats> stats;  // when asked (LookOptions) and the OS tells
  std::optional<double> cpu_percent;
  std::optional<double> in_per_s;
  std::optional<double> out_per_s;
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

struct SharedObjectRow {
  enum class Kind { bytes, mutex, condition };
  std::string name;
  Kind kind = Kind::bytes;
  std::uint64_t capacity_bytes = 0;  // bytes
  int holder_pid = 0;                // mutex; 0: free
};
std::string_view kind_name(SharedObjectRow::Kind kind);

struct SessionSnapshot {
  std::string session;
  int broker_pid = 0;
  std::chrono::steady_clock::time_point taken;
  double seconds = 0;  // since the previous look; 0 on the first
  std::optional<ProcessStats> broker_stats;
  std::optional<double> broker_cpu_percent;
  std::uint64_t shared_memory_bytes = 0;  // all the session's segments, as /dev/shm accounts them
  std::size_t shared_memory_segments = 0;
  std::vector<NamedWorkerRow> named_workers;
  std::vector<ProcessRow> workers;
  std::vector<ChannelRow> channels;
  std::vector<SharedObjectRow> objects;
};

// What a look reads beyond the session's shared counters.
struct LookOptions {
  bool crash_reports = false;  // each named worker's crash log (colony ps)
  bool process_stats = false;  // each process's CPU time and memory from the OS (colony top)
};

// Looks at one live session, again and again. Keeps the segments it opened
// (registry entries are never reused), so a look after the first costs no
// open or mapping for what it saw before.
class SessionLooker {
 public:
  SessionLooker(std::shared_ptr<detail::SessionMap> map, LookOptions options);
  // A look at the session now, with rates against the previous look.
  SessionSnapshot look();
  // The broker is ending the session, or is dead.
  bool session_ended() const;
  const std::string& session() const { return map_->session(); }

 private:
  struct MailboxRings {
    shm::Ring box;
    std::optional<shm::Ring> dead;  // opened at a later look when it was not there yet
  };
  void look_at_entries(SessionSnapshot& snapshot);
  void look_at_named(SessionSnapshot& snapshot, std::uint32_t entry, const std::string& name);
  void look_at_processes(SessionSnapshot& snapshot) const;

  std::shared_ptr<detail::SessionMap> map_;
  LookOptions options_;
  std::map<std::uint32_t, shm::Ring> channels_;  // by registry entry
  std::map<std::uint32_t, shm::Mutex> mutexes_;
  std::map<std::uint32_t, shm::ByteArray> byte_arrays_;
  std::map<std::uint32_t, MailboxRings> mailboxes_;
  std::optional<SessionSnapshot> previous_;
};

// A named worker's latest crash reports, oldest first, as its crash log
// (crash_log.hpp) holds them; an empty array when there are none, or the log
// does not read as a JSON array.
nlohmann::json read_crash_reports(std::string_view session, std::string_view name);

// The process a named worker runs on now, as its mailbox says, read as a
// look reads it; nullopt when it has no process, or no mailbox to say.
struct NamedProcess {
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
};
std::optional<NamedProcess> current_process_of(const detail::SessionMap& map, std::string_view name);

}  // namespace colony::cli
