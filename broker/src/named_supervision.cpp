#include "named_supervision.hpp"

#include <chrono>
#include <cstring>
#include <ctime>

#include "colony/session/context.hpp"
#include "colony/worker/exit_status.hpp"

namespace colony::broker_detail {
namespace {

constexpr std::size_t kReportsKept = 8;

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm parts{};
  ::gmtime_r(&seconds, &parts);
  char text[96];  // room for any int the compiler imagines
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1,
                parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, static_cast<int>(millis));
  return text;
}

bool failed(const detail::ChildExit& exit) {
  return !(static_cast<detail::ExitKind>(exit.kind) == detail::ExitKind::exited && exit.code == 0);
}

}  // namespace

NamedWorkerOptions options_of(const detail::DefineNamed& definition) {
  NamedWorkerOptions options;
  options.max_attempts = definition.max_attempts;
  options.restart = definition.restart <= static_cast<std::uint32_t>(RestartPolicy::always)
                        ? static_cast<RestartPolicy>(definition.restart)
                        : RestartPolicy::on_failure;
  options.max_restarts = definition.max_restarts;
  options.restart_window = std::chrono::milliseconds(definition.restart_window_ms);
  options.backoff_initial = std::chrono::milliseconds(definition.backoff_initial_ms);
  options.backoff_max = std::chrono::milliseconds(definition.backoff_max_ms);
  options.handler_timeout = std::chrono::milliseconds(definition.handler_timeout_ms);
  return options;
}

detail::DefineNamed with_options(detail::DefineNamed definition, const NamedWorkerOptions& options) {
  definition.max_attempts = options.max_attempts;
  definition.restart = static_cast<std::uint32_t>(options.restart);
  definition.max_restarts = options.max_restarts;
  definition.restart_window_ms = static_cast<std::uint64_t>(options.restart_window.count());
  definition.backoff_initial_ms = static_cast<std::uint64_t>(options.backoff_initial.count());
  definition.backoff_max_ms = static_cast<std::uint64_t>(options.backoff_max.count());
  definition.handler_timeout_ms = static_cast<std::uint64_t>(options.handler_timeout.count());
  return definition;
}

NamedSupervision::NamedSupervision(std::string name, NamedWorkerOptions options, std::optional<CrashLog> log)
    : name_(std::move(name)), options_(options), log_(std::move(log)) {}

void NamedSupervision::reset() noexcept {
  restarts_.clear();
  failures_.clear();
  restart_at_.reset();
  given_up_ = false;
}

NamedSupervision::Next NamedSupervision::plan_restart(SupervisionClock::time_point now, std::string& action) {
  const auto wait = restart_backoff(options_, restarts_.size());
  restarts_.push_back(now);
  if (wait.count() == 0) {
    action = "restarted at once";
    return Next::start_now;
  }
  restart_at_ = now + wait;
  action = "restarting in " + std::to_string(wait.count()) + " ms (back-off)";
  return Next::start_later;
}

NamedSupervision::Next NamedSupervision::on_end(const NamedEnd& end, bool queued, MailboxControl& control,
                                                SupervisionClock::time_point now) {
  kills_when_planned_ = control.kills.load(std::memory_order_acquire);
  for (auto* window : {&restarts_, &failures_}) {
    while (!window->empty() && now - window->front() > options_.restart_window) window->pop_front();
  }
  const bool clean = !failed(end.exit) && !end.handler_timed_out;
  // A kill ends a worker cleanly; one that crashed before it saw the kill crashed.
  const bool killed = end.killed && clean;
  // Exiting, even with code 0, inside a handler is a death on that call.
  const bool failure = !killed && (!clean || end.in_handler);
  std::string action;
  if (!failure) {
    control.supervision.store(static_cast<std::uint32_t>(SupervisionState::normal), std::memory_order_release);
    // Calls still queued (those after a kill too) start the next process, as
    // at first use; `always` restarts it anyway. Both through the back-off, so
    // a worker that keeps exiting at once cannot make a storm of starts.
    const bool again = queued || (!killed && options_.restart == RestartPolicy::always);
    if (!again || given_up_) return Next::stay_down;
    const Next next = plan_restart(now, action);
    if (next == Next::start_later) {
      control.supervision.store(static_cast<std::uint32_t>(SupervisionState::backing_off), std::memory_order_release);
    }
    return next;
  }
  control.death_noticed_ns.store(end.noticed_ns, std::memory_order_relaxed);
  Next next = Next::stay_down;
  if (options_.restart == RestartPolicy::never) {
    action = queued ? "not restarted (policy never): the next call starts it" : "not restarted (policy never)";
  } else if (failures_.size() >= options_.max_restarts) {
    given_up_ = true;
    next = Next::given_up;
    action = "given up: " + std::to_string(failures_.size()) + " restarts within " +
             std::to_string(options_.restart_window.count()) + " ms; its mailbox is kept (colony restart " + name_ +
             ")";
  } else {
    control.restarts.fetch_add(1, std::memory_order_relaxed);
    failures_.push_back(now);
    next = plan_restart(now, action);
  }
  const auto state = next == Next::given_up     ? SupervisionState::given_up
                     : next == Next::start_later ? SupervisionState::backing_off
                                                 : SupervisionState::normal;
  // The report first: whoever sees the new state finds the report that explains it.
  publish(crash_report(end, control, action), control);
  control.supervision.store(static_cast<std::uint32_t>(state), std::memory_order_release);
  return next;
}

Value NamedSupervision::crash_report(const NamedEnd& end, const MailboxControl& control,
                                     const std::string& action) const {
  Value::Map report;
  report["time"] = utc_now();
  report["pid"] = end.pid;
  const ExitStatus status = detail::exit_status_from(end.exit);
  if (status.kind == ExitStatus::Kind::signaled) {
    report["signal"] = end.exit.signal;
  } else {
    report["code"] = end.exit.code;
  }
  if (end.handler_timed_out) {
    report["reason"] = "its handler ran past " + std::to_string(options_.handler_timeout.count()) + " ms and was killed";
  } else if (status.ok()) {
    report["reason"] = "exited with code 0 inside a handler";
  } else {
    report["reason"] = status.describe();
  }
  report["restarts"] = static_cast<long long>(control.restarts.load(std::memory_order_relaxed));
  const std::uint64_t in_flight = control.in_flight.load(std::memory_order_acquire);
  if (in_flight != 0) {
    char method[sizeof control.in_flight_method + 1] = {};
    std::memcpy(method, control.in_flight_method, sizeof control.in_flight_method);
    report["in_flight"] = Value::Map{{"sequence", static_cast<long long>(in_flight)},
                                     {"attempt", static_cast<long long>(control.attempts.load())},
                                     {"method", std::string(method)}};
  } else {
    report["in_flight"] = Value();
  }
  Value::Array lines;
  std::size_t start = 0;
  while (start < end.stderr_tail.size()) {
    std::size_t newline = end.stderr_tail.find('\n', start);
    if (newline == std::string::npos) newline = end.stderr_tail.size();
    lines.emplace_back(end.stderr_tail.substr(start, newline - start));
    start = newline + 1;
  }
  report["stderr_tail"] = std::move(lines);
  report["action"] = action;
  return Value(std::move(report));
}

void NamedSupervision::publish(Value report, MailboxControl& control) {
  reports_.push_back(std::move(report));
  while (reports_.size() > kReportsKept) reports_.pop_front();
  control.crashes.fetch_add(1, std::memory_order_relaxed);
  if (!log_) return;
  Value::Array all(reports_.begin(), reports_.end());
  std::string text = Value(all).to_json();
  // Too long for the log (long stderr lines): keep the newest that fit.
  while (text.size() > detail::kCrashLogTextCapacity && all.size() > 1) {
    all.erase(all.begin());
    text = Value(all).to_json();
  }
  log_->publish(text);
}

}  // namespace colony::broker_detail
