#include "internal_queue.hpp"

namespace colony::broker_detail {

void InternalQueue::post(Request request) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(request));
  }
  wake();
}

void InternalQueue::post_stop() noexcept {
  stop_.store(true, std::memory_order_release);
  wake();
}

void InternalQueue::wake() noexcept {
  // Flag first, then the bump of the ring's signal that the loop sleeps on
  // (see RingReader::receive with an interrupt).
  pending_.store(true, std::memory_order_seq_cst);
  wake_.wake_reader();
}

InternalQueue::Taken InternalQueue::take() {
  Taken taken;
  if (!pending_.load(std::memory_order_acquire)) return taken;
  {
    std::lock_guard lock(mutex_);
    // Cleared under the lock, before we take the queue: a request posted
    // after this sets it again and is handled on the next turn.
    pending_.store(false, std::memory_order_relaxed);
    taken.requests.swap(queue_);
  }
  taken.stop = stop_.exchange(false, std::memory_order_acq_rel);
  return taken;
}

}  // namespace colony::broker_detail
