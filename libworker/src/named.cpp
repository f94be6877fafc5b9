#include "colony/worker/named.hpp"

#include <cstring>

#include <cstdlib>

#include "colony/worker/protocol.hpp"
#include "colony/worker/session_map.hpp"
#include "colony/worker/worker.hpp"

namespace colony {
namespace {

constexpr auto kOpenDeadline = std::chrono::seconds(2);
constexpr auto kBrokerDeadline = std::chrono::seconds(5);
// One reply, reserved per waited call: replies up to 128 KiB.
constexpr std::size_t kReplyCapacity = 256 << 10;
constexpr auto kIdlePoll = std::chrono::milliseconds(500);

bool is_reply_ring_name(std::string_view object) {
  return object.size() > 2 && object.size() <= 22 && object.starts_with("rp") &&
         object.find_first_not_of("0123456789", 2) == std::string_view::npos;
}

void ensure_running(const detail::SessionMap& map, std::string_view name, shm::Deadline deadline) {
  auto ring = shm::Ring::open(map.name(shm::SegmentKind::ring, detail::kBrokerRing), shm::Deadline::after(kOpenDeadline));
  if (!ring) throw WorkerError(WorkerErrc::session_gone, "cannot reach the broker: " + ring.error().message);
  auto writer = shm::RingWriter::attach(*ring);
  if (!writer) throw WorkerError(WorkerErrc::session_gone, "cannot reach the broker: " + writer.error().message);
  shm::TypedWriter typed(std::move(*writer));
  const auto sent = typed.send(detail::EnsureNamed{std::string(name)}, deadline);
  if (sent == shm::RingStatus::timed_out) {
    throw WorkerError(WorkerErrc::timed_out, "the broker took no request in time: " + typed.describe(sent));
  }
  if (sent != shm::RingStatus::ok) {
    throw WorkerError(WorkerErrc::session_gone, "the broker takes no request: " + typed.describe(sent));
  }
}

void send_reply(const detail::SessionMap& map, const std::string& reply_ring, const Reply& reply) {
  // The caller may have given up and removed its ring: then nobody listens.
  if (!is_reply_ring_name(reply_ring)) return;
  auto ring = shm::Ring::open(map.name(shm::SegmentKind::ring, reply_ring), shm::Deadline::after(kOpenDeadline));
  if (!ring) return;
  auto writer = shm::RingWriter::attach(*ring);
  if (!writer) return;
  shm::TypedWriter typed(std::move(*writer));
  if (typed.send(reply, shm::Deadline::after(kOpenDeadline)) == shm::RingStatus::too_large) {
    Reply refused{reply.id, false, Value(), "the reply is larger than the caller's reply ring"};
    (void)typed.send(refused, shm::Deadline::after(kOpenDeadline));
  }
}

}  // namespace

bool named_worker_exists(std::string_view session, std::string_view name) {
  const auto map = detail::SessionMap::open(session, shm::Deadline::after(kOpenDeadline));
  return map->has_entry(detail::kNamedWorkerEntryKind, name);
}

int named_worker_pid(std::string_view session, std::string_view name) {
  const auto map = detail::SessionMap::open(session, shm::Deadline::after(kOpenDeadline));
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

std::optional<Value> call(std::string_view session, std::string_view name, std::string_view method, Value args,
                          const CallOptions& options) {
  const auto map = detail::SessionMap::open(session, shm::Deadline::after(kOpenDeadline));
  if (!map->has_entry(detail::kNamedWorkerEntryKind, name)) {
    throw WorkerError(WorkerErrc::not_found,
                      "no worker named '" + std::string(name) + "' in session '" + std::string(session) + "'");
  }
  auto box = Mailbox::open_or_create(session, name);
  Call request;
  request.id = map->header().next_object_id.fetch_add(1, std::memory_order_relaxed);
  request.method = std::string(method);
  request.args = std::move(args);
  std::optional<shm::Ring> reply_ring;
  std::optional<shm::SegmentName> reply_name;
  if (options.wait) {
    request.reply_ring = "rp" + std::to_string(request.id);
    reply_name = map->name(shm::SegmentKind::ring, request.reply_ring);
    shm::RingOptions ring_options;
    ring_options.capacity = kReplyCapacity;
    ring_options.max_message = kReplyCapacity / 2 - sizeof(shm::RecordHeader) - shm::kRecordAlign;
    auto made = shm::Ring::create(*reply_name, ring_options);
    if (!made) throw WorkerError(WorkerErrc::os_error, "cannot make a reply ring: " + made.error().message);
    reply_ring.emplace(std::move(*made));
  }
  // Removes the reply ring on every way out.
  struct RemoveReplyRing {
    const std::optional<shm::SegmentName>& name;
    ~RemoveReplyRing() {
      if (name) shm::Segment::remove(*name);
    }
  } remove_reply_ring{reply_name};

  const auto deadline = shm::Deadline::after(options.timeout);
  const auto posted = box.post(request, deadline);
  if (posted == shm::RingStatus::too_large) {
    throw WorkerError(WorkerErrc::message_too_large, "the call is larger than the mailbox of '" + std::string(name) + "' takes");
  }
  if (posted == shm::RingStatus::timed_out) {
    throw WorkerError(WorkerErrc::timed_out, "the call to '" + std::string(name) + "' was not queued within " +
                                                 std::to_string(options.timeout.count()) + " ms: " + box.describe(posted));
  }
  if (posted != shm::RingStatus::ok) {
    throw WorkerError(WorkerErrc::channel_full,
                      "the mailbox of '" + std::string(name) + "' takes nothing: " + box.describe(posted));
  }
  // Bounded by the call's own timeout: a queued call is not lost if the
  // broker is slow to hear of it (it looks at the mailbox when it starts).
  ensure_running(*map, name, deadline.capped(kBrokerDeadline));
  if (!options.wait) return std::nullopt;

  auto reader = shm::RingReader::attach(*reply_ring);
  if (!reader) throw WorkerError(WorkerErrc::os_error, reader.error().message);
  shm::TypedReader typed(std::move(*reader));
  auto received = typed.receive<Reply>(deadline);
  // A reply for another call (an id of a dead session's caller, answered after
  // a take-over): not ours, skip it.
  while (received.ok() && received.value->id != request.id) received = typed.receive<Reply>(deadline);
  if (received.status == shm::ReceiveStatus::timed_out) {
    throw WorkerError(WorkerErrc::timed_out, "no reply from '" + std::string(name) + "' within " +
                                                 std::to_string(options.timeout.count()) + " ms; the call stays queued");
  }
  if (!received.ok()) throw WorkerError(WorkerErrc::undecodable, "the reply does not decode: " + received.error);
  if (!received.value->ok) throw WorkerError(WorkerErrc::bad_state, received.value->error);
  return std::move(received.value->value);
}

int Methods::serve(std::chrono::milliseconds idle_exit) {
  auto& self = Worker::current();
  const char* name = std::getenv(detail::kWorkerNameEnv);
  if (name == nullptr) {
    throw WorkerError(WorkerErrc::not_a_worker, std::string("not started as a named worker (") +
                                                    detail::kWorkerNameEnv + " is not set)");
  }
  const auto map = detail::SessionMap::open(self.session(), shm::Deadline::after(kOpenDeadline));
  auto box = Mailbox::open_or_create(self.session(), name);
  auto idle_since = shm::Clock::now();
  while (!stop_) {
    if (box.kill_requested()) {
      // KILL WORKER: what was queued at the kill goes, and so do we.
      box.drain_killed();
      return 0;
    }
    auto delivery = box.take(shm::Deadline::after(kIdlePoll));
    if (box.kill_requested()) {
      box.drain_killed();  // the message just taken, if within the kill, goes too
      return 0;
    }
    if (!delivery) {
      if (idle_exit != std::chrono::milliseconds::max() && shm::Clock::now() - idle_since >= idle_exit) return 0;
      continue;
    }
    auto decoded = shm::decode_record<Call>(delivery->record);
    if (!decoded.ok()) {
      std::fprintf(stderr, "colony: worker '%s' dropped a message it cannot read: %s\n", name, decoded.error.c_str());
      box.done();
      continue;
    }
    Call& request = *decoded.value;
    // For a crash report: which method this process may die in.
    auto& method = box.control().in_flight_method;
    const std::size_t length = std::min(request.method.size(), sizeof(method) - 1);
    std::memcpy(method, request.method.data(), length);
    method[length] = '\0';
    request.redelivered = delivery->redelivered;
    request.attempt = delivery->attempt;
    Reply reply;
    reply.id = request.id;
    const auto found = methods_.find(request.method);
    if (found == methods_.end()) {
      reply.ok = false;
      reply.error = "worker '" + std::string(name) + "' has no method '" + request.method + "'";
    } else {
      try {
        reply.value = found->second(request);
      } catch (const std::exception& e) {
        reply.ok = false;
        reply.error = e.what();
      }
    }
    // Replied before the message leaves the box: a death in between means
    // the call is handled (and answered) again, never lost.
    if (!request.reply_ring.empty()) send_reply(*map, request.reply_ring, reply);
    box.done();
    idle_since = shm::Clock::now();
  }
  return 0;
}

}  // namespace colony
