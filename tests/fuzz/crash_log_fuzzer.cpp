// A named worker's crash log (crash_log.hpp) as colony ps reads and shows it,
// its bytes written by another process: the fuzz bytes are the log's byte
// array from offset 0 (u32 generation, u32 length, the text). Reading gives
// the text or nothing; showing it gives a table; never a crash, a read out
// of bounds or an escaping exception.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

#include "colony/session/contract.hpp"
#include "colony/session/crash_log.hpp"
#include "colony/session/names.hpp"
#include "colony/shm/byte_array.hpp"
#include "colony/worker/mailbox.hpp"
#include "fuzz_support.hpp"
#include "json_output.hpp"
#include "ps_view.hpp"

using namespace colony;

namespace {

constexpr std::string_view kWorker = "crashy worker";

struct Log {
  std::string session = fuzz::session_for("crash");
  shm::ByteArray bytes = make();

  shm::ByteArray make() const {
    fuzz::require(CrashLog::create(session, kWorker).has_value(), "cannot make the crash log");  // as the broker does
    auto name = shm::SegmentName::make(session, shm::SegmentKind::bytes, detail::crash_log_object(kWorker));
    auto opened = shm::ByteArray::open(*name, shm::Deadline::now());
    fuzz::require(opened.has_value(), "cannot open the crash log just made");
    return std::move(*opened);
  }
  ~Log() { fuzz::remove_session(session); }
};

Log& log() {
  static Log made;
  return made;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::remove_stale_sessions("crash");
  (void)log();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Log& l = log();
  const std::span<std::byte> bytes = l.bytes.bytes();
  const std::size_t n = std::min(size, bytes.size());
  std::memset(bytes.data(), 0, bytes.size());
  if (n > 0) std::memcpy(bytes.data(), data, n);

  // Reads the log (CrashLog::read) as colony ps does; once per input, as a
  // torn log costs the reader its retries.
  cli::NamedWorkerRow worker;
  worker.name = kWorker;
  worker.crash_reports = cli::read_crash_reports(l.session, kWorker);
  fuzz::require(worker.crash_reports.is_array(), "crash reports that are not an array");
  // The named-worker row colony ps prints with them.
  worker.starts = 2;
  worker.restarts = 1;
  worker.last_exit_kind = static_cast<std::uint32_t>(detail::ExitKind::signaled);
  worker.last_exit_signal = 9;
  cli::SessionSnapshot snapshot;
  snapshot.session = l.session;
  snapshot.broker_pid = 1;
  snapshot.named_workers.push_back(std::move(worker));
  (void)cli::json_text(cli::ps_json(snapshot));
  cli::print_ps_table(snapshot, fuzz::null_output());
  return 0;
}
