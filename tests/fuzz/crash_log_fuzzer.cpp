// A named worker's crash log (crash_log.hpp) as colony ps reads and shows it,
// its bytes written by another process: the fuzz bytes are the log's byte
// array from offset 0 (u32 generation, u32 length, the text). Reading gives
// the text or nothing; showing it gives a table; never a crash, a read out
// of bounds or an escaping exception.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

#include "colony/session/names.hpp"
#include "colony/shm/byte_array.hpp"
#include "colony/session/crash_log.hpp"
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
    (void)CrashLog::create(session, kWorker);  // names and sizes it as the broker does
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
  const nlohmann::json reports = cli::ps_crash_reports(l.session, kWorker);
  fuzz::require(reports.is_array(), "crash reports that are not an array");
  // The named-worker row colony ps prints with them.
  nlohmann::json worker{{"name", kWorker}, {"pid", nullptr}, {"state", "idle"}, {"starts", 2u},
                        {"last_exit", {{"signal", 9}}}, {"queued", 0u}, {"dead_letters", 0u},
                        {"handled", 0u}, {"handled_per_s", nullptr}, {"crash_reports", reports}};
  const nlohmann::json snapshot{{"session", l.session},     {"broker_pid", 1},
                                {"named_workers", {worker}}, {"workers", nlohmann::json::array()},
                                {"channels", nlohmann::json::array()}, {"objects", nlohmann::json::array()}};
  (void)cli::json_text(snapshot);
  cli::print_ps_table(snapshot, fuzz::null_output());
  return 0;
}
