#include "event_outbox.hpp"

#include <algorithm>
#include <variant>

namespace colony::broker_detail {

void EventOutbox::open(std::uint32_t slot, std::uint32_t generation) {
  addressees_.erase(slot);
  addressees_[slot].generation = generation;
}

void EventOutbox::close(std::uint32_t slot) noexcept { addressees_.erase(slot); }

void EventOutbox::post(std::uint32_t slot, detail::BrokerEvent event) {
  const auto found = addressees_.find(slot);
  if (found == addressees_.end()) return;  // the addressee is gone: nobody to tell
  Addressee& to = found->second;
  if (to.unreachable) {
    drop(1);  // its events ring could not be opened: nothing will ever reach it
    return;
  }
  to.backlog.push_back(std::move(event));
  flush(slot, to, Clock::now());
  if (to.backlog.size() > backlog_limit_) {
    // Its ring is full and so is its backlog: it runs no event loop (or
    // nothing that keeps up with its children). What it lost is counted.
    to.backlog.pop_back();
    drop(1);
  }
}

void EventOutbox::retry_due(Clock::time_point now) {
  for (auto& [slot, to] : addressees_) {
    if (!to.backlog.empty() && to.retry_at <= now) flush(slot, to, now);
  }
}

EventOutbox::Clock::time_point EventOutbox::next_retry() const noexcept {
  auto next = Clock::time_point::max();
  for (const auto& [slot, to] : addressees_) {
    if (!to.backlog.empty()) next = std::min(next, to.retry_at);
  }
  return next;
}

std::size_t EventOutbox::backlog_size() const noexcept {
  std::size_t size = 0;
  for (const auto& [slot, to] : addressees_) size += to.backlog.size();
  return size;
}

void EventOutbox::drop(std::size_t count) noexcept {
  if (count > 0) map_->header().events_dropped.fetch_add(count, std::memory_order_relaxed);
}

void EventOutbox::give_up_on(Addressee& to) noexcept {
  drop(to.backlog.size());
  to.backlog.clear();
  to.unreachable = true;
}

void EventOutbox::flush(std::uint32_t slot, Addressee& to, Clock::time_point now) {
  using namespace detail;
  if (!to.writer) {
    auto ring = shm::Ring::open(map_->name(shm::SegmentKind::ring, worker_object(slot, to.generation, kEventsSuffix)),
                                shm::Deadline::after(std::chrono::seconds(1)));
    if (!ring) {
      give_up_on(to);
      return;
    }
    to.ring.emplace(std::move(*ring));
    auto writer = shm::RingWriter::attach(*to.ring);
    if (!writer) {
      to.ring.reset();
      give_up_on(to);
      return;
    }
    to.writer.emplace(std::move(*writer));
  }
  bool sent = false;
  while (!to.backlog.empty()) {
    const auto status = std::visit([&](const auto& e) { return to.writer->try_send(e); }, to.backlog.front());
    if (status == shm::Outcome::full) break;
    to.backlog.pop_front();
    if (status == shm::Outcome::ok) {
      sent = true;
    } else {
      drop(1);  // larger than the ring takes, or the ring is broken: counted, not kept
    }
  }
  if (sent) map_->ring_doorbell(slot);
  if (to.backlog.empty()) return;
  // The ring is full. Soon again while the addressee reads; a reader that
  // reads nothing is looked at less and less often.
  const std::uint64_t read = to.ring->records_read();
  to.retry_after = read != to.read_at_last_try ? Clock::duration(kRetryFirst)
                                               : std::min<Clock::duration>(to.retry_after * 2, kRetryMost);
  to.read_at_last_try = read;
  to.retry_at = now + to.retry_after;
}

}  // namespace colony::broker_detail
