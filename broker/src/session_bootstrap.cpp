#include "session_bootstrap.hpp"

#include <cstdio>
#include <set>

#include "colony/broker/clean.hpp"
#include "colony/shm/entropy.hpp"
#include "colony/shm/segment.hpp"
#include "launcher.hpp"
#include "unix_time.hpp"

namespace colony::broker_detail {

using namespace detail;

namespace {

// Requests are small (a launch carries its arguments); reserved at creation.
constexpr std::size_t kRequestRingCapacity = 512 << 10;
constexpr std::size_t kRequestMaxMessage = 128 << 10;

std::string random_session_name() {
  // 10 base-36 digits from 64 bits (36^10 < 2^52: the slight bias of the
  // remainders is of no use to a guesser).
  std::uint64_t bits = shm::random_bits();
  std::string name = "s";
  for (int i = 0; i < 10; ++i) {
    const auto d = static_cast<unsigned>(bits % 36);
    bits /= 36;
    name += static_cast<char>(d < 10 ? '0' + d : 'a' + (d - 10));
  }
  return name;
}

}  // namespace

void SessionBootstrap::create(const BrokerOptions& options) {
  if (children_are_auto_reaped()) {
    throw WorkerError(WorkerErrc::bad_state,
                      "SIGCHLD is ignored (or SA_NOCLDWAIT set) in this process: the kernel would reap the "
                      "workers and the broker could not learn how they end; restore SIGCHLD's default first");
  }
  session_ = options.session.empty() ? random_session_name() : options.session;
  if (auto valid = shm::validate_name(session_, "session", shm::kMaxSessionLength); !valid) {
    throw WorkerError(WorkerErrc::bad_state, valid.error().message);
  }
  existing_before_start_ = shm::Segment::list(shm::SegmentName::session_prefix(session_));
  // Only a session that is provably dead is taken over; anything we cannot
  // prove ours and dead is refused and left as it is.
  const SessionCheck check = check_session(session_);
  switch (check.verdict) {
    case SessionVerdict::live:
      throw WorkerError(WorkerErrc::bad_state, "session '" + session_ + "' is already run by a live broker" +
                                                   (check.broker.pid > 0 ? " (pid " + std::to_string(check.broker.pid) + ")"
                                                                         : std::string()));
    case SessionVerdict::foreign:
      throw WorkerError(WorkerErrc::bad_state, "session '" + session_ + "' is not accessible to this user: " + check.reason);
    case SessionVerdict::unverifiable:
      throw WorkerError(WorkerErrc::bad_state, "session '" + session_ + "' cannot be started: " + check.reason +
                                                   "; `colony clean --force --session " + session_ +
                                                   "` removes it once no process of it runs");
    case SessionVerdict::dead:
    case SessionVerdict::no_control: break;
  }
  // A dead broker's session: its mailboxes stay, for us to go on with.
  const auto taken_over = take_over_dead_session(session_);
  if (!taken_over.kept.empty()) {
    std::fprintf(stderr, "colony broker: session '%s' was left by a dead broker: taking over %zu mailbox segments\n",
                 session_.c_str(), taken_over.kept.size());
  }

  auto control_name = shm::SegmentName::make(session_, shm::SegmentKind::control, kSessionControl);
  auto segment = shm::Segment::create(*control_name, kSessionDataSize);
  if (!segment) throw WorkerError(WorkerErrc::os_error, "cannot create the session: " + segment.error().message);
  auto& header = *reinterpret_cast<SessionHeader*>(segment->control());
  header.magic = kSessionMagic;
  header.version = kSessionVersion;
  header.slot_count = kMaxWorkerSlots;
  const shm::ProcessIdentity self = shm::current_identity();
  header.broker_pid.store(self.pid);
  header.broker_start = self.start;
  header.state.store(static_cast<std::uint32_t>(SessionState::starting));
  header.broker_started_unix_ns = unix_ns();
  header.max_running = options.limits.max_running;
  header.over_cap_policy = options.limits.over_cap == BrokerLimits::OverCap::fail ? 1 : 0;
  header.max_message = options.limits.max_message;
  header.channel_capacity = options.limits.channel_capacity;
  header.attach_timeout_ms = static_cast<std::uint32_t>(options.limits.attach_timeout.count());
  // After a take-over, calls of the dead session still name their reply
  // rings by id: ours go on from its next id, with a margin.
  header.next_object_id.store(taken_over.kept.empty() ? 1 : taken_over.next_object_id + (1u << 20));
  header.next_fresh_slot.store(1);
  // Slot 0 is the host: this process.
  auto& host = *reinterpret_cast<WorkerSlot*>(segment->data());
  host.pid.store(shm::current_pid());
  host.state_word.store(pack_state(1, SlotState::running));
  segment->mark_ready();
  map_ = SessionMap::adopt(std::move(*segment));

  shm::RingOptions ring_options;
  ring_options.capacity = kRequestRingCapacity;
  ring_options.max_message = kRequestMaxMessage;
  ring_options.variant = shm::RingVariant::many_writers;
  auto ring = shm::Ring::create(map_->name(shm::SegmentKind::ring, kBrokerRing), ring_options);
  if (!ring) throw WorkerError(WorkerErrc::os_error, "cannot create the broker ring: " + ring.error().message);
  requests_ring_.emplace(std::move(*ring));
  auto reader = shm::RingReader::attach(*requests_ring_);
  if (!reader) throw WorkerError(WorkerErrc::os_error, reader.error().message);
  requests_.emplace(std::move(*reader));

  or_throw(create_worker_segments(*map_, kHostSlot, 1));
  host_context_ = Context::create_host(map_);
  install_host_context(host_context_);
}

void SessionBootstrap::uninstall_host_context() noexcept {
  install_host_context(nullptr);
  host_context_.reset();
}

void SessionBootstrap::remove_session_segments() {
  for (const auto& left : colony::remove_session_segments(session_, shm::current_identity(), true)) {
    std::fprintf(stderr, "colony broker: left %s: %s\n", left.name.c_str(), left.reason.c_str());
  }
}

void SessionBootstrap::remove_own_segments() noexcept {
  if (session_.empty()) return;
  try {
    const auto before = std::set<std::string>(existing_before_start_.begin(), existing_before_start_.end());
    for (const auto& name : shm::Segment::list(shm::SegmentName::session_prefix(session_))) {
      if (before.contains(name)) continue;
      const auto parsed = shm::SegmentName::parse(name);
      if (!parsed) continue;
      auto segment = shm::Segment::open(*parsed, shm::Deadline::now());
      if (segment && segment->creator() == shm::current_identity()) (void)shm::Segment::remove_os_name(name.c_str());
    }
  } catch (...) {
  }
}

}  // namespace colony::broker_detail
