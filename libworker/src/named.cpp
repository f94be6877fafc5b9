// A caller's side of CALL WORKER: colony::call and Caller queue a call in a
// named worker's mailbox, ask the broker to run it, and wait for the reply;
// and what a caller may ask of a name (is it defined, its pid, can its
// executable run). The worker's side is serve.cpp.
#include "colony/worker/named.hpp"

#include <atomic>
#include <limits>
#include <thread>

#include "colony/session/broker_link.hpp"
#include "colony/session/crash_log.hpp"
#include "colony/session/protocol.hpp"
#include "colony/session/reply_ring.hpp"
#include "colony/session/session_map.hpp"
#include "colony/shm/cpu_relax.hpp"
#include "colony/shm/process.hpp"
#include "colony/worker/mailbox.hpp"

namespace colony {

using detail::MailboxControl;
using detail::SupervisionState;

namespace {

constexpr auto kBrokerDeadline = std::chrono::seconds(5);
// One reply, reserved per waited call: replies up to 128 KiB.
constexpr std::size_t kReplyCapacity = 256 << 10;
// How often a waited call looks whether its reply can still come (the reply
// itself wakes it at once).
constexpr auto kWatchInterval = std::chrono::milliseconds(100);

enum class SessionEnd { none, ending, broker_dead };

// Whether the session can still handle calls: its broker runs and is not ending it.
// broker_alive(identity): whether the broker of that identity still runs.
template <class BrokerAlive>
SessionEnd session_end(const detail::SessionMap& map, BrokerAlive&& broker_alive) {
  const auto& header = map.header();
  if (header.state.load(std::memory_order_acquire) == static_cast<std::uint32_t>(detail::SessionState::ending)) {
    return SessionEnd::ending;
  }
  return broker_alive(detail::broker_identity(header)) ? SessionEnd::none : SessionEnd::broker_dead;
}

SessionEnd session_end(const detail::SessionMap& map) { return session_end(map, shm::is_alive); }

// The reason of the worker's latest crash report; empty when none can be read.
std::string last_failure_reason(std::string_view session, std::string_view name) {
  try {
    const auto log = CrashLog::open(session, name);
    if (!log) return {};
    const auto text = log->read();
    if (!text) return {};
    const Value reports = Value::from_json(*text);
    if (reports.kind() != Value::Kind::array || reports.size() == 0) return {};
    const Value& last = reports.as_array().back();
    if (!last.contains("reason") || last["reason"].kind() != Value::Kind::string) return {};
    return last["reason"].as_string();
  } catch (const std::exception&) {
    return {};  // the log is the broker's to write: a torn or foreign one tells nothing
  }
}

// What the mailbox control said when the call was queued.
struct BeforePost {
  std::uint32_t starts = 0;
  std::uint32_t crashes = 0;
};

// Throws when the reply of a waited call cannot come: the session ended, the
// worker failed to start after the call was queued, or supervision gave it
// up. A dead broker alone is no reason: a broker that takes the session over
// keeps the mailbox and the caller's reply ring, and answers the call; only
// once the mailbox is gone (colony clean removed the dead session; it never
// removes the reply ring of this live caller) can no answer come.
void refuse_if_no_reply_can_come(const detail::SessionMap& map, const Mailbox& box, std::string_view session,
                                 std::string_view name, const BeforePost& before) {
  const std::string worker = "'" + std::string(name) + "'";
  const SessionEnd end = session_end(map);
  if (end == SessionEnd::ending) {
    throw WorkerError(WorkerErrc::session_gone, "session '" + std::string(session) + "' ended before " + worker + " replied");
  }
  if (end == SessionEnd::broker_dead) {
    const auto mailbox = shm::Segment::open(map.name(shm::SegmentKind::ring, detail::mailbox_object(name)),
                                            shm::Deadline::now());
    if (!mailbox && mailbox.error().code == shm::Errc::not_found) {
      throw WorkerError(WorkerErrc::session_gone,
                        "session '" + std::string(session) + "' ended before " + worker + " replied: its broker (pid " +
                            std::to_string(map.header().broker_pid.load()) + ") died and its segments were removed");
    }
  }
  const MailboxControl& control = box.control();
  if (control.supervision.load(std::memory_order_acquire) == static_cast<std::uint32_t>(SupervisionState::given_up)) {
    const std::string reason = last_failure_reason(session, name);
    throw WorkerError(WorkerErrc::bad_state, "supervision gave up worker " + worker + " after repeated failures" +
                                                 (reason.empty() ? "" : " (last: " + reason + ")") +
                                                 "; the call stays in its mailbox until colony restart " +
                                                 std::string(name));
  }
  // A start made for this call (or after it was queued) that failed, and was
  // reported: the broker records the exit, then the report.
  const bool started_since = control.starts.load(std::memory_order_acquire) != before.starts;
  const bool reported_since = control.crashes.load(std::memory_order_acquire) != before.crashes;
  const bool not_running = control.current_slot.load(std::memory_order_acquire) == 0;
  const bool failed_to_start =
      control.last_exit_kind.load(std::memory_order_acquire) == static_cast<std::uint32_t>(detail::ExitKind::failed_to_start);
  if (started_since && reported_since && not_running && failed_to_start) {
    std::string reason = last_failure_reason(session, name);
    constexpr std::string_view kPrefix = "failed to start: ";
    if (reason.starts_with(kPrefix)) reason.erase(0, kPrefix.size());
    throw WorkerError(WorkerErrc::no_such_executable,
                      "worker " + worker + " failed to start" + (reason.empty() ? "" : ": " + reason) +
                          " (the call stays in its mailbox; colony ps shows the worker's state)");
  }
}

}  // namespace

// find_executable is the platform's: src/<platform>/executable_search.cpp.

std::optional<std::string> why_cannot_execute(const std::string& executable) {
  ExecutableLookup found = find_executable(executable);
  if (found.path.empty()) return std::move(found.why_not);
  return std::nullopt;
}

bool named_worker_exists(std::string_view session, std::string_view name) {
  const auto map = detail::or_throw(detail::SessionMap::open(session, shm::Deadline::after(detail::kSegmentPublishWait)));
  return map->has_entry(detail::kNamedWorkerEntryKind, name);
}

int named_worker_pid(std::string_view session, std::string_view name) {
  const auto map = detail::or_throw(detail::SessionMap::open(session, shm::Deadline::after(detail::kSegmentPublishWait)));
  if (!map->has_entry(detail::kNamedWorkerEntryKind, name)) return 0;
  auto box = Mailbox::open_or_create(session, name);
  const std::uint32_t slot = box.control().current_slot.load(std::memory_order_acquire);
  if (slot == 0 || slot >= detail::kMaxWorkerSlots) return 0;
  const auto& record = map->slot(slot);
  const std::uint64_t word = record.state_word.load(std::memory_order_acquire);
  if (detail::generation_of(word) != box.control().current_generation.load(std::memory_order_relaxed)) return 0;
  const auto state = detail::state_of(word);
  if (state != detail::SlotState::starting && state != detail::SlotState::running) return 0;
  return record.pid.load(std::memory_order_acquire);
}

namespace {

// Counts the waited calls of this process while they wait. Only a call that
// waits alone spins on its reply (CallOptions::reply_spin): callers that
// wait together would take the CPUs from the workers that must answer them
// (8 callers of one worker on the 2-vCPU AMD EPYC VM, spinning as many as there are
// CPUs but one: p99 460-540 us against 130-196 sleeping at once).
class WaitingCall {
 public:
  WaitingCall() : alone_(waiting().fetch_add(1, std::memory_order_relaxed) == 0) {}
  WaitingCall(const WaitingCall&) = delete;
  WaitingCall& operator=(const WaitingCall&) = delete;
  ~WaitingCall() { waiting().fetch_sub(1, std::memory_order_relaxed); }
  bool alone() const noexcept { return alone_; }

 private:
  static std::atomic<unsigned>& waiting() noexcept {
    static std::atomic<unsigned> count{0};
    return count;
  }
  bool alone_;
};

}  // namespace

struct Caller::Impl {
  std::string session;
  std::shared_ptr<detail::SessionMap> map;
  std::optional<detail::BrokerLink> broker;  // opened at the first start asked for
  std::map<std::string, Mailbox, std::less<>> boxes;
  // Made at the first waited call; a take-over keeps it, as it keeps the mailboxes.
  std::optional<detail::ReplyRing> reply_ring;
  std::optional<shm::TypedReader> replies;
  shm::ProcessWatch broker_watch;  // the broker of map, watched for its end
  // CallOptions::reply_spin: off after a reply that came later than it, on
  // again after one that came within it.
  bool reply_spin_pays = true;

  // session_end, with the broker's liveness from broker_watch: asked twice
  // per call, where two reads of /proc made a waited call 20 us slower on
  // the AMD VM (75.6 against 55.0 us).
  SessionEnd session_end_now() {
    return session_end(*map, [this](shm::ProcessIdentity identity) {
      if (broker_watch.identity() != identity) broker_watch = shm::ProcessWatch(identity);
      return broker_watch.alive();
    });
  }

  explicit Impl(std::string_view session_name)
      : session(session_name),
        map(detail::or_throw(detail::SessionMap::open(session_name, shm::Deadline::after(detail::kSegmentPublishWait)))) {}

  // A session whose broker died may have been taken over: its control
  // segment and broker ring are new, its mailboxes and reply rings the same.
  void follow_take_over() {
    if (session_end_now() != SessionEnd::broker_dead) return;
    auto reopened = detail::SessionMap::open(session, shm::Deadline::now());
    // Not (yet) taken over: the old map says why no call can be made.
    if (!reopened || session_end(**reopened) == SessionEnd::broker_dead) return;
    broker.reset();
    map = std::move(*reopened);
  }

  Mailbox& mailbox(std::string_view name) {
    const auto found = boxes.find(name);
    if (found != boxes.end()) return found->second;
    return boxes.emplace(std::string(name), Mailbox::open_or_create(session, name)).first->second;
  }

  shm::TypedReader& reply_reader() {
    if (!replies) {
      reply_ring.emplace(detail::or_throw(detail::ReplyRing::make(*map, kReplyCapacity)));
      replies.emplace(detail::or_throw(reply_ring->reader()));
    }
    return *replies;
  }

  // Whether a call just posted to box needs the broker to start a process.
  // Not while one runs for the name in this session: the broker, when that
  // process ends, stores current_slot = 0 and then looks at the mailbox's
  // depth, each side with a fence between its store and its load, so either
  // this caller sees 0 (and asks) or the broker sees this call queued (and
  // restarts for it, as for any call queued at an exit; under the policy
  // never, after a crash, it is a call queued at the crash and waits for
  // the next call). A slot named by another session's broker (a take-over)
  // is not trusted.
  bool needs_start(const Mailbox& box) const {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const MailboxControl& control = box.control();
    if (control.current_slot.load(std::memory_order_seq_cst) == 0) return true;
    return control.current_session_started_ns.load(std::memory_order_relaxed) !=
           map->header().broker_started_unix_ns;
  }

  // Without a reply address: the call is in the mailbox whatever the broker
  // does, and a waited call learns of a start that failed from the mailbox
  // control (refuse_if_no_reply_can_come), so no one waits for this answer.
  void ensure_running(std::string_view name, shm::Deadline deadline) {
    if (!broker) broker.emplace(detail::or_throw(detail::BrokerLink::open(*map)));
    detail::or_throw(broker->post(detail::EnsureNamed{std::string(name), {}}, deadline));
  }
};

Caller::Caller(std::string_view session) : impl_(std::make_unique<Impl>(session)) {}
Caller::Caller(Caller&&) noexcept = default;
Caller& Caller::operator=(Caller&&) noexcept = default;
Caller::~Caller() = default;

std::optional<Value> call(std::string_view session, std::string_view name, std::string_view method, Value args,
                          const CallOptions& options) {
  return Caller(session).call(name, method, std::move(args), options);
}

std::optional<Value> Caller::call(std::string_view name, std::string_view method, Value args,
                                  const CallOptions& options) {
  const std::string_view session = impl_->session;
  // Queued, such a call would be dropped by the worker as unreadable: refused here.
  if (args.depth() > Value::kMaxDepth) {
    throw WorkerError(WorkerErrc::undecodable, "the arguments of a call to '" + std::string(name) +
                                                   "' are nested deeper than " + std::to_string(Value::kMaxDepth) +
                                                   ": no worker could decode them");
  }
  impl_->follow_take_over();
  const detail::SessionMap& map = *impl_->map;
  if (const SessionEnd end = impl_->session_end_now(); end != SessionEnd::none) {
    throw WorkerError(WorkerErrc::session_gone,
                      "no live broker runs session '" + std::string(session) + "' (" +
                          (end == SessionEnd::ending ? std::string("it is ending")
                                                     : "its broker, pid " + std::to_string(map.header().broker_pid.load()) +
                                                           ", is dead") +
                          ")");
  }
  if (!map.has_entry(detail::kNamedWorkerEntryKind, name)) {
    throw WorkerError(WorkerErrc::not_found,
                      "no worker named '" + std::string(name) + "' in session '" + std::string(session) + "'");
  }
  Mailbox& box = impl_->mailbox(name);
  const BeforePost before{box.control().starts.load(std::memory_order_acquire),
                          box.control().crashes.load(std::memory_order_acquire)};
  Call request;
  request.id = map.header().next_object_id.fetch_add(1, std::memory_order_relaxed);
  request.method = std::string(method);
  request.args = std::move(args);
  shm::TypedReader* replies = nullptr;
  if (options.wait) {
    replies = &impl_->reply_reader();
    request.reply_ring = impl_->reply_ring->object();
  }

  const auto deadline = shm::Deadline::after(options.timeout);
  const auto posted = box.post(request, deadline);
  if (posted == shm::Outcome::too_large) {
    throw WorkerError(WorkerErrc::message_too_large, "the call is larger than the mailbox of '" + std::string(name) + "' takes");
  }
  if (posted == shm::Outcome::timed_out) {
    throw WorkerError(WorkerErrc::timed_out, "the call to '" + std::string(name) + "' was not queued within " +
                                                 std::to_string(options.timeout.count()) + " ms: " + box.describe(posted));
  }
  if (posted != shm::Outcome::ok) {
    throw WorkerError(WorkerErrc::channel_full,
                      "the mailbox of '" + std::string(name) + "' takes nothing: " + box.describe(posted));
  }
  // Bounded by the call's own timeout: a queued call is not lost if the
  // broker is slow to hear of it (it looks at the mailbox when it starts).
  if (impl_->needs_start(box)) impl_->ensure_running(name, deadline.capped(kBrokerDeadline));
  if (!options.wait) return std::nullopt;

  std::uint32_t spin_left = options.spin;
  const auto posted_at = shm::Clock::now();
  const bool timed_spin = spin_left == 0 && options.reply_spin.count() > 0;
  const WaitingCall waiting;
  if (timed_spin && impl_->reply_spin_pays && waiting.alone()) spin_left = std::numeric_limits<std::uint32_t>::max();
  const auto spin_until = std::min(posted_at + options.reply_spin, deadline.when());
  for (;;) {
    auto received = spin_left != 0 ? replies->try_receive<Reply>() : replies->receive<Reply>(deadline.capped(kWatchInterval));
    if (spin_left != 0 && received.status == shm::Outcome::empty) {
      --spin_left;
      // The spin ends at the call's deadline too (looked at every 1024 turns).
      if (spin_left % 1024 == 0 && deadline.passed()) spin_left = 0;
      if (timed_spin) {
        if (shm::Clock::now() >= spin_until) spin_left = 0;
        // Yielding, not pausing: a caller that spins gives its CPU to
        // whatever else can run there, such as the worker that answers it.
        std::this_thread::yield();
      } else {
        shm::cpu_relax();
      }
      continue;
    }
    if (received.ok()) {
      // A reply for another call (an earlier call of this caller that timed
      // out, or an id of a dead session's caller answered after a
      // take-over): not ours, skip it.
      if (received.value->id != request.id) continue;
      if (timed_spin) impl_->reply_spin_pays = shm::Clock::now() - posted_at <= options.reply_spin;
      if (!received.value->ok) throw WorkerError(WorkerErrc::bad_state, received.value->error);
      return std::move(received.value->value);
    }
    if (received.status != shm::Outcome::timed_out) {
      throw WorkerError(WorkerErrc::undecodable, "the reply does not decode: " + received.error);
    }
    if (deadline.passed()) {
      const std::string late =
          "no reply from '" + std::string(name) + "' within " + std::to_string(options.timeout.count()) + " ms";
      if (session_end(map) == SessionEnd::broker_dead) {
        throw WorkerError(WorkerErrc::timed_out, late + ": the broker of session '" + std::string(session) + "' (pid " +
                                                     std::to_string(map.header().broker_pid.load()) +
                                                     ") died while the call waited; the call stays in its mailbox for "
                                                     "a broker that takes the session over");
      }
      throw WorkerError(WorkerErrc::timed_out, late + "; the call stays queued");
    }
    refuse_if_no_reply_can_come(map, box, session, name, before);
  }
}

}  // namespace colony
