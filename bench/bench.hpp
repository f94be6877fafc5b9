#pragma once
// Shared vocabulary of colony_bench: options, the case list, results and the
// per-run context every case receives.
//
// A case is one row of the table: (kind, transport, message size) plus the
// function that measures it. Rows are listed one line each: Colony's in
// cases_colony.cpp, cases_worker.cpp and cases_supervision.cpp, the floors
// in cases_floors.cpp and linux/, the peers in peers/ (a library of their
// own, see peers/CMakeLists.txt); drivers.hpp turns a transport class into
// a row. main.cpp's kCaseLists names every list.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "colony/shm/deadline.hpp"

namespace bench {

using Clock = std::chrono::steady_clock;

// Any failure of a case: setup, a peer's error, a timeout, bad data.
struct BenchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A case that cannot run on this machine (python3 missing, say): the row is
// shown as absent, with the reason, and does not fail the run.
struct CaseAbsent : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline std::int64_t to_ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
inline std::int64_t now_ns() { return to_ns(Clock::now()); }

enum class CaseKind {
  latency_spin,   // round trip, both sides busy-wait
  latency_block,  // round trip, both sides sleep in the kernel
  throughput,     // one way, sender to receiver
  worker_start,   // start of a process until it answered (or, for the floors, ended)
  workers,        // many worker processes exchanging messages with the parent at once
  restart,        // a supervised worker SIGKILLed until its replacement was spawned
  pipeline,       // the demo pipeline's blocks per second, with and without chaos
  call,           // a waited call to a named worker, until its reply
  scale,          // 1,000 workers on one broker: their start, their idle cost, their echoes
};
std::string_view kind_name(CaseKind kind) noexcept;

struct Options {
  bool json = false;
  bool quick = false;
  bool list = false;
  bool diagnostics = false;  // also run the rows marked diagnostic
  int repeat = 1;            // passes over every row; the table shows each row's median pass
  std::string filter;        // substring of "<case> <transport>"; empty: every case
  std::vector<std::string> plots;  // --plot FILE (.svg or .png): draw the comparison with gnuplot
};

// What a case measured; a field left empty does not apply to the case.
struct Measurement {
  std::optional<double> p50_ns;
  std::optional<double> p99_ns;
  std::optional<double> msgs_per_s;
  std::optional<double> bytes_per_s;
  // Only some rows fill these: the table shows them in its notes column.
  std::optional<double> p90_ns;
  std::optional<std::size_t> samples;                 // timed round trips, starts, ...
  std::vector<std::pair<std::string, double>> extra;  // more JSON fields (name, value)
  std::string note;                                   // free text after the row
};

// CPUs the two processes are pinned to, when the machine allows it.
struct Placement {
  std::optional<int> bench_cpu;
  std::optional<int> peer_cpu;
};

// Everything a case needs from the run: names, counts, the deadline.
class RunContext {
 public:
  RunContext(const Options& options, Placement placement, std::string session);

  const std::string& session() const noexcept { return session_; }
  const Placement& placement() const noexcept { return placement_; }

  // A name unique in this run: stem followed by a counter ("lat3").
  std::string unique(std::string_view stem);
  // A session name for a Broker of this run: "<session>-w<counter>".
  std::string broker_session();

  bool quick() const noexcept { return quick_; }

  // Every wait of a case ends by its deadline, set when the case starts.
  void start_case();
  Clock::time_point deadline() const noexcept { return deadline_; }
  colony::shm::Deadline shm_deadline() const noexcept { return colony::shm::Deadline::at(deadline_); }

  std::size_t latency_warmup() const noexcept { return quick_ ? 200 : 2'000; }
  std::size_t latency_iterations() const noexcept { return quick_ ? 2'000 : 20'000; }
  // Target duration of the timed part of a throughput case.
  double throughput_seconds() const noexcept { return quick_ ? 0.05 : 0.5; }
  // Messages of the calibration (and warm-up) pass of a throughput case.
  std::size_t pilot_messages(std::size_t message_size) const noexcept;
  // Process starts a worker-start row times, after its untimed warm-up ones.
  std::size_t start_count() const noexcept { return quick_ ? 20 : 100; }
  std::size_t start_warmup() const noexcept { return quick_ ? 1 : 3; }

  // Something a case started for the whole run (a daemon such as iox-roudi)
  // and that must stop when the run ends: main calls end_run() after the
  // last case, which runs these in reverse order of registration.
  void at_run_end(std::function<void()> stop);
  void end_run() noexcept;

 private:
  std::string session_;
  Placement placement_;
  bool quick_;
  std::size_t counter_ = 0;
  Clock::time_point deadline_{};
  std::vector<std::function<void()>> run_end_;
};

inline constexpr std::chrono::seconds kCaseTimeout{30};

struct Case {
  CaseKind kind;
  std::string transport;
  std::size_t size_bytes;
  std::function<Measurement(RunContext&)> run;
  bool diagnostic = false;  // explains a Colony row; runs only with --diagnostics

  std::string label() const;  // "latency-block boost-mq 64 B"
};

// The rows of each list, in table order within a kind.
std::vector<Case> colony_cases();       // cases_colony.cpp
std::vector<Case> worker_cases();       // cases_worker.cpp
std::vector<Case> supervision_cases();  // cases_supervision.cpp
std::vector<Case> call_cases();         // cases_calls.cpp
std::vector<Case> scale_cases();        // cases_scale.cpp
std::vector<Case> floor_cases();        // cases_floors.cpp, with linux/'s
std::vector<Case> peer_cases();         // peers/: a peer not built gives absent rows

// Files built next to colony_bench: the worker the worker rows launch, the
// scripts some rows run.
inline constexpr const char* kWorkerExecutable = "colony_bench_worker";
std::filesystem::path bench_directory();
// bench_directory() / name; throws BenchError("<what> <path> is missing") when
// it is not there.
std::string bench_file(std::string_view name, std::string_view what);

// Sizes of the one-way throughput rows.
inline constexpr std::size_t kSmall = 64;
inline constexpr std::size_t kMedium = 1024;
inline constexpr std::size_t kLarge = 64 * 1024;
// Message size of the round-trip rows.
inline constexpr std::size_t kPingSize = 64;
// The worker API rows (and their raw-ring reference) carry one std::uint64_t.
inline constexpr std::size_t kApiSize = 8;

std::string format_size(std::size_t bytes);  // "-" for 0 (rows without messages)

}  // namespace bench
