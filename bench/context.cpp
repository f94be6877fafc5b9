// RunContext and the small naming and file helpers of bench.hpp.

#include <algorithm>
#include <cstdio>
#include <exception>
#include <system_error>
#include <utility>

#include "bench.hpp"
#include "colony/subprocess/child.hpp"

namespace bench {

std::string_view kind_name(CaseKind kind) noexcept {
  switch (kind) {
    case CaseKind::latency_spin:
      return "latency-spin";
    case CaseKind::latency_block:
      return "latency-block";
    case CaseKind::throughput:
      return "throughput";
    case CaseKind::worker_start:
      return "worker-start";
    case CaseKind::workers:
      return "workers-64";
    case CaseKind::restart:
      return "restart";
    case CaseKind::pipeline:
      return "pipeline";
    case CaseKind::scale:
      return "scale-1000";
    case CaseKind::call:
      return "call";
  }
  return "unknown";
}

std::string format_size(std::size_t bytes) {
  if (bytes == 0) return "-";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes / 1024) + " KiB";
  return std::to_string(bytes) + " B";
}

std::string Case::label() const {
  return std::string(kind_name(kind)) + " " + transport + " " + format_size(size_bytes);
}

RunContext::RunContext(const Options& options, Placement placement, std::string session)
    : session_(std::move(session)), placement_(placement), quick_(options.quick) {}

std::string RunContext::unique(std::string_view stem) { return std::string(stem) + std::to_string(++counter_); }

std::string RunContext::broker_session() { return session_ + "-w" + std::to_string(++counter_); }

void RunContext::start_case() { deadline_ = Clock::now() + kCaseTimeout; }

std::size_t RunContext::pilot_messages(std::size_t message_size) const noexcept {
  const std::size_t full = std::clamp<std::size_t>((std::size_t{8} << 20) / message_size, 256, 100'000);
  return quick_ ? std::max<std::size_t>(full / 8, 64) : full;
}

std::filesystem::path bench_directory() {
  return std::filesystem::path(colony::subprocess::self_executable()).parent_path();
}

std::string bench_file(std::string_view name, std::string_view what) {
  const std::filesystem::path path = bench_directory() / name;
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    throw BenchError(std::string(what) + " " + path.string() + " is missing (it is built with colony_bench)");
  }
  return path.string();
}

void RunContext::at_run_end(std::function<void()> stop) { run_end_.push_back(std::move(stop)); }

void RunContext::end_run() noexcept {
  while (!run_end_.empty()) {
    const std::function<void()> stop = std::move(run_end_.back());
    run_end_.pop_back();
    try {
      stop();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "colony_bench: at the end of the run: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "colony_bench: at the end of the run: unknown exception\n");
    }
  }
}

}  // namespace bench
