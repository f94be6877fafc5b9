#include "colony/session/contract.hpp"
#include "colony/session/names.hpp"
#include "colony/session/session_map.hpp"
#include "colony/worker/mailbox.hpp"

#include <algorithm>
#include <cstring>
#include <thread>

#include "colony/shm/failpoint.hpp"

namespace colony {

using detail::kKillRequested;
using detail::kMailboxMagic;
using detail::MailboxControl;

namespace {

constexpr std::size_t kDeadLetterCapacity = 1 << 20;
constexpr std::size_t kMinCapacity = 4096;
// What a DeadLetter adds to the message it keeps (its fields, the vector's size).
constexpr std::size_t kDeadLetterOverhead = 64;

shm::SegmentName segment_name(std::string_view session, const std::string& object) {
  auto name = shm::SegmentName::make(session, shm::SegmentKind::ring, object);
  if (!name) throw WorkerError(WorkerErrc::bad_state, "mailbox: " + name.error().message);
  return std::move(*name);
}

// Creates the ring, or opens it when another process made it first.
shm::Ring create_or_open(const shm::SegmentName& name, const shm::RingOptions& options, bool* created) {
  for (int tries = 0; tries < 3; ++tries) {
    auto made = shm::Ring::create(name, options);
    if (made) {
      *created = true;
      return std::move(*made);
    }
    if (made.error().code != shm::Errc::already_exists) {
      throw WorkerError(WorkerErrc::os_error, "mailbox: " + made.error().message);
    }
    auto opened = shm::Ring::open(name, shm::Deadline::after(detail::kSegmentPublishWait));
    if (opened) {
      *created = false;
      return std::move(*opened);
    }
    if (opened.error().code != shm::Errc::not_found) {
      throw WorkerError(WorkerErrc::os_error, "mailbox: " + opened.error().message);
    }
    // Removed between our create and open: try again.
  }
  throw WorkerError(WorkerErrc::os_error, "mailbox " + name.os_name() + " keeps appearing and vanishing");
}

}  // namespace

struct Mailbox::Impl {
  std::string session;
  shm::Ring box;
  shm::Ring dead;
  std::optional<shm::TypedWriter> writer;
  std::optional<shm::RingReader> reader;
  std::optional<shm::TypedWriter> dead_writer;
  // Where the reader's doorbell is: mapped at the first post that finds a
  // reader, mapped again after a take-over.
  std::shared_ptr<detail::SessionMap> session_map;
  bool delivering = false;

  MailboxControl& control() const { return *reinterpret_cast<MailboxControl*>(box.user_area()); }

  // The dead-letter box's reader, for one pass over it (list, replay, drop).
  shm::RingReader dead_reader() {
    auto attached = shm::RingReader::attach(dead);
    if (!attached) throw WorkerError(WorkerErrc::bad_state, "dead-letter box: " + attached.error().message);
    return std::move(*attached);
  }

  void bury(const shm::RecordView& record, std::uint32_t attempts) {
    if (!dead_writer) {
      auto writer_attached = shm::RingWriter::attach(dead);
      if (!writer_attached) throw WorkerError(WorkerErrc::bad_state, "dead-letter box: " + writer_attached.error().message);
      dead_writer.emplace(std::move(*writer_attached));
    }
    DeadLetter letter{record.sequence, attempts, record.type_tag,
                      std::vector<std::byte>(record.payload.begin(), record.payload.end())};
    // Written before the message leaves the box: a death in between leaves
    // it in both, and the next reader buries it again (a duplicate dead
    // letter, never a lost message).
    const auto status = dead_writer->send(letter, shm::Deadline::after(std::chrono::seconds(5)));
    if (status != shm::Outcome::ok) {
      throw WorkerError(WorkerErrc::channel_full, "the dead-letter box takes nothing: " +
                                                     std::string(shm::to_string(status)));
    }
    COLONY_FAILPOINT("mailbox.bury.after_send");
  }

  // A record received from the box, as take() hands it out: its attempt
  // recorded; nullopt when it had used up its attempts and went to the
  // dead-letter box instead.
  std::optional<Delivery> admit(const shm::RecordView& record) {
    MailboxControl& c = control();
    const bool seen_before = c.in_flight.load(std::memory_order_acquire) == record.sequence;
    const std::uint32_t attempt = seen_before ? c.attempts.load(std::memory_order_relaxed) + 1 : 1;
    if (seen_before && attempt > c.max_attempts.load(std::memory_order_relaxed)) {
      // Every earlier delivery of it ended with the reader's death.
      bury(record, attempt - 1);
      reader->commit();
      c.dead_lettered.fetch_add(1, std::memory_order_relaxed);
      c.in_flight.store(0, std::memory_order_release);
      return std::nullopt;
    }
    COLONY_FAILPOINT("mailbox.take.before_attempt");
    c.attempts.store(attempt, std::memory_order_relaxed);
    c.in_flight_method[0] = '\0';
    c.in_flight_since_ns.store(static_cast<std::uint64_t>(shm::Clock::now().time_since_epoch().count()),
                               std::memory_order_relaxed);
    // Publishing point: a death from here on counts as an attempt, and the
    // broker times the handler from the store above.
    c.in_flight.store(record.sequence, std::memory_order_release);
    COLONY_FAILPOINT("mailbox.take.after_attempt");
    if (seen_before) c.redelivered.fetch_add(1, std::memory_order_relaxed);
    delivering = true;
    return Delivery{record, seen_before, attempt};
  }
};

Mailbox Mailbox::open_or_create(std::string_view session, std::string_view name, const MailboxOptions& options) {
  if (name.empty()) throw WorkerError(WorkerErrc::bad_state, "a worker name is empty");
  if (detail::encode_worker_name(name).size() > detail::kMaxEncodedWorkerName) {
    throw WorkerError(WorkerErrc::bad_state, "the worker name '" + std::string(name) + "' is too long");
  }
  if (options.max_attempts == 0) throw WorkerError(WorkerErrc::bad_state, "max_attempts must be at least 1");
  if (options.capacity < kMinCapacity) {
    throw WorkerError(WorkerErrc::bad_state, "a mailbox's capacity must be at least " + std::to_string(kMinCapacity) + " bytes");
  }
  shm::RingOptions box_options;
  box_options.capacity = options.capacity;
  // A message must also fit its dead letter, in a dead-letter box at least as large.
  box_options.max_message = shm::largest_message(options.capacity) - kDeadLetterOverhead;
  box_options.variant = shm::RingVariant::many_writers;
  bool created = false;
  shm::Ring box = create_or_open(segment_name(session, detail::mailbox_object(name)), box_options, &created);
  auto& control = *reinterpret_cast<MailboxControl*>(box.user_area());
  if (created) {
    control.max_attempts.store(options.max_attempts, std::memory_order_relaxed);
    // Publishing point of the mailbox's own state (the ring itself is READY
    // already): an opener that sees no magic yet waits for it below.
    std::atomic_ref<std::uint64_t>(control.magic).store(kMailboxMagic, std::memory_order_release);
  } else {
    const auto until = shm::Clock::now() + detail::kSegmentPublishWait;
    while (std::atomic_ref<std::uint64_t>(control.magic).load(std::memory_order_acquire) != kMailboxMagic) {
      if (shm::Clock::now() >= until) {
        throw WorkerError(WorkerErrc::session_gone, "mailbox '" + std::string(name) + "' was never initialized");
      }
      std::this_thread::yield();
    }
  }
  shm::RingOptions dead_options;
  dead_options.capacity = std::max(kDeadLetterCapacity, box.capacity());
  dead_options.max_message = shm::largest_message(dead_options.capacity);
  dead_options.variant = shm::RingVariant::many_writers;
  bool dead_created = false;
  shm::Ring dead = create_or_open(segment_name(session, detail::dead_letter_object(name)), dead_options, &dead_created);
  auto impl = std::make_unique<Impl>(Impl{std::string(session), std::move(box), std::move(dead), {}, {}, {}, {}, false});
  Mailbox mailbox(std::move(impl));
  mailbox.name_ = std::string(name);
  return mailbox;
}

Mailbox::Mailbox(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Mailbox::Mailbox(Mailbox&&) noexcept = default;
Mailbox& Mailbox::operator=(Mailbox&&) noexcept = default;
Mailbox::~Mailbox() = default;

shm::TypedWriter& Mailbox::writer() {
  if (!impl_->writer) {
    auto attached = shm::RingWriter::attach(impl_->box);
    if (!attached) throw WorkerError(WorkerErrc::bad_state, "mailbox '" + name_ + "': " + attached.error().message);
    impl_->writer.emplace(std::move(*attached));
  }
  return *impl_->writer;
}

shm::RingReader& Mailbox::reader() {
  if (!impl_->reader) {
    auto attached = shm::RingReader::attach(impl_->box);
    if (!attached) {
      throw WorkerError(WorkerErrc::bad_state, "mailbox '" + name_ + "' has another reader: " + attached.error().message);
    }
    impl_->reader.emplace(std::move(*attached));
  }
  return *impl_->reader;
}

void Mailbox::ring_reader_doorbell() noexcept {
  const MailboxControl& c = impl_->control();
  const std::uint32_t slot = c.current_slot.load(std::memory_order_acquire);
  if (slot == 0 || slot >= detail::kMaxWorkerSlots) return;  // no process runs for the name: it looks at the box when it starts
  const std::uint64_t session_started = c.current_session_started_ns.load(std::memory_order_relaxed);
  auto& map = impl_->session_map;
  if (!map || map->header().broker_started_unix_ns != session_started) {
    // Never a wait in a post: the broker that launched the reader published the session first.
    auto reopened = detail::SessionMap::open(impl_->session, shm::Deadline::now());
    if (!reopened) {
      // The session is ending or gone: its broker ends the reader.
      map.reset();
      return;
    }
    map = std::move(*reopened);
  }
  map->ring_doorbell_after_fence(slot);
}

void Mailbox::flush_posts() noexcept {
  if (!impl_->writer) return;  // nothing posted
  impl_->writer->raw().flush();
  ring_reader_doorbell();
}

const MailboxControl& Mailbox::control() const noexcept { return impl_->control(); }
MailboxControl& Mailbox::control() noexcept { return impl_->control(); }

bool Mailbox::kill_requested() const noexcept { return control().kill_upto.load(std::memory_order_acquire) != 0; }

MailboxStats Mailbox::stats() const noexcept {
  const MailboxControl& c = control();
  MailboxStats stats;
  stats.depth = depth();
  stats.handling = c.in_flight.load(std::memory_order_acquire) != 0;
  stats.handled = c.handled.load(std::memory_order_relaxed);
  stats.dead_lettered = c.dead_lettered.load(std::memory_order_relaxed);
  stats.redelivered = c.redelivered.load(std::memory_order_relaxed);
  stats.starts = c.starts.load(std::memory_order_relaxed);
  stats.restarts = c.restarts.load(std::memory_order_relaxed);
  stats.crashes = c.crashes.load(std::memory_order_relaxed);
  stats.kills = c.kills.load(std::memory_order_relaxed);
  return stats;
}

Mailbox::KillReport Mailbox::kill() {
  auto& c = impl_->control();
  const std::uint64_t written = impl_->box.records_written();
  KillReport report;
  report.queued = depth();
  // Counted first: the broker sees a process that ends after the kill as
  // killed, never as one to restart.
  c.kills.fetch_add(1, std::memory_order_release);
  // Publishing point: from here the reader drops everything up to `written`.
  c.kill_upto.store(kKillRequested | written, std::memory_order_seq_cst);
  // Read after the kill is published: a handler running now finishes before
  // its reader looks at the kill again.
  const bool in_handler = c.in_flight.load(std::memory_order_seq_cst) != 0;
  // Then the wake: an idle reader's take() returns and drains. A death
  // before it leaves the kill to be seen at the reader's next message.
  c.kill_wake.store(true, std::memory_order_seq_cst);
  impl_->box.wake_reader();
  std::atomic_thread_fence(std::memory_order_seq_cst);  // the kill, published before we look for the reader's loop
  ring_reader_doorbell();
  if (!impl_->reader) {
    auto attached = shm::RingReader::attach(impl_->box);
    if (!attached) {
      // A live reader has it: it drains after its current message.
      report.in_flight_finishes = in_handler && report.queued > 0;
      report.dropped = report.queued - (report.in_flight_finishes ? 1 : 0);
      return report;
    }
    impl_->reader.emplace(std::move(*attached));
  }
  // No live reader: a message marked in flight is a dead reader's, and goes too.
  drain_killed();
  impl_->reader.reset();  // leave the box to the next process
  report.dropped = report.queued;
  return report;
}

void Mailbox::drain_killed() {
  auto& c = impl_->control();
  const std::uint64_t kill = c.kill_upto.load(std::memory_order_acquire);
  if (kill == 0) return;
  // A reader that died draining left the kill pending: its successor, which
  // has taken nothing yet, drains the rest.
  if (!impl_->reader) {
    auto attached = shm::RingReader::attach(impl_->box);
    if (!attached) return;  // a live reader has the box: it drains
    impl_->reader.emplace(std::move(*attached));
  }
  const std::uint64_t upto = kill & ~kKillRequested;
  impl_->delivering = false;
  // take() may hold one message already: if everything the kill covers is
  // gone, that one came after the kill and stays (uncommitted) for the next
  // process; otherwise it is within the kill and goes with the others.
  if (impl_->box.records_read() < upto) {
    while (impl_->box.records_read() + impl_->reader->uncommitted() < upto) {
      // A death in this loop: kill_upto stays and the next reader drains the rest.
      if (!impl_->reader->try_receive().ok()) break;
      COLONY_FAILPOINT("mailbox.drain_killed.received");
    }
    impl_->reader->commit();
  }
  c.in_flight.store(0, std::memory_order_release);
  c.kill_wake.store(false, std::memory_order_relaxed);
  c.kill_upto.store(0, std::memory_order_release);
}

std::size_t Mailbox::replay_dead_letters() {
  std::size_t moved = 0;
  auto reader = impl_->dead_reader();
  for (;;) {
    const shm::Received received = reader.try_receive();
    if (!received.ok()) break;
    auto decoded = shm::decode_record<DeadLetter>(received.record);
    if (decoded.ok()) {
      // Back into the box as it came, tag and payload: a fresh message with fresh attempts.
      const auto status = writer().raw().send(decoded.value->type_tag, decoded.value->payload,
                                              shm::Deadline::after(std::chrono::seconds(5)));
      if (status != shm::Outcome::ok) break;  // the rest stays dead-lettered
      ++moved;
    }
    reader.commit();  // moved (or unreadable): it leaves the dead-letter box
  }
  if (moved != 0) ring_reader_doorbell();  // each send's commit ended with a full fence
  return moved;
}

std::size_t Mailbox::drop_dead_letters() {
  std::size_t dropped = 0;
  auto reader = impl_->dead_reader();
  while (reader.try_receive().ok()) ++dropped;
  reader.commit();
  return dropped;
}

std::size_t Mailbox::depth() const noexcept {
  const auto written = impl_->box.records_written();
  const auto read = impl_->box.records_read();
  return written > read ? static_cast<std::size_t>(written - read) : 0;
}

std::optional<Mailbox::Delivery> Mailbox::take(shm::Deadline deadline) {
  if (impl_->delivering) throw WorkerError(WorkerErrc::bad_state, "take() before done() of the last delivery");
  shm::RingReader& records = reader();
  auto& control = impl_->control();
  for (;;) {
    // One wait for a message and for a kill alike (kill_wake).
    const shm::Received received = records.receive(deadline, control.kill_wake);
    if (received.status == shm::Outcome::timed_out || received.status == shm::Outcome::empty) {
      const auto killed = [&] { return control.kill_upto.load(std::memory_order_seq_cst) != 0; };
      if (!control.kill_wake.load(std::memory_order_seq_cst) || killed()) return std::nullopt;
      // A wake that outlived its kill. Cleared, then the kill looked at again:
      // a kill whose flag this store overwrote is seen here.
      control.kill_wake.store(false, std::memory_order_seq_cst);
      if (killed() || deadline.passed()) return std::nullopt;
      continue;
    }
    if (!received.ok()) {
      throw WorkerError(WorkerErrc::session_gone, "mailbox '" + name_ + "': " + std::string(shm::to_string(received.status)));
    }
    if (auto delivery = impl_->admit(received.record)) return delivery;
  }
}

std::optional<Mailbox::Delivery> Mailbox::try_take() {
  if (impl_->delivering) throw WorkerError(WorkerErrc::bad_state, "try_take() before done() of the last delivery");
  shm::RingReader& records = reader();
  for (;;) {
    const shm::Received received = records.try_receive();
    if (received.status == shm::Outcome::empty) return std::nullopt;
    if (!received.ok()) {
      throw WorkerError(WorkerErrc::session_gone, "mailbox '" + name_ + "': " + std::string(shm::to_string(received.status)));
    }
    if (auto delivery = impl_->admit(received.record)) return delivery;
  }
}

void Mailbox::done() {
  if (!impl_->delivering) return;
  impl_->delivering = false;
  auto& control = impl_->control();
  // The message leaves the box; dying right after leaves in_flight naming a
  // sequence no later record has.
  impl_->reader->commit();
  COLONY_FAILPOINT("mailbox.done.after_commit");
  control.handled.fetch_add(1, std::memory_order_relaxed);
  control.in_flight.store(0, std::memory_order_release);
}

std::vector<DeadLetter> Mailbox::dead_letters() {
  std::vector<DeadLetter> letters;
  auto reader = impl_->dead_reader();
  // Received, never committed: the reader detaches and leaves them all.
  for (;;) {
    const shm::Received received = reader.try_receive();
    if (!received.ok()) break;
    auto decoded = shm::decode_record<DeadLetter>(received.record);
    if (decoded.ok()) letters.push_back(std::move(*decoded.value));
  }
  return letters;
}

}  // namespace colony
