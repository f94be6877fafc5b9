#include "broker_loop.hpp"

#include <cstdio>
#include <thread>

#include "colony/session/reply_ring.hpp"
#include "colony/shm/typed.hpp"

namespace colony::broker_detail {

using namespace detail;

namespace {

// After the grace period, how long killed processes may take to be reaped.
constexpr auto kKillWait = std::chrono::seconds(3);
// How long an answer may wait to be written: its reply ring was made for it.
constexpr auto kReplyPatience = std::chrono::milliseconds(100);
// A corrupt request ring is not read again: deaths are waited for in these steps.
constexpr auto kCorruptRingPause = std::chrono::milliseconds(5);

}  // namespace

void BrokerLoop::handle(const shm::RecordView& record) {
  const auto tag = record.type_tag;
  if (tag == shm::TypeAlias<LaunchRequest>::tag) {
    if (auto r = shm::decode_record<LaunchRequest>(record); r.ok()) tree_.on_launch(*r.value);
  } else if (tag == shm::TypeAlias<TerminateRequest>::tag) {
    if (auto r = shm::decode_record<TerminateRequest>(record); r.ok()) tree_.on_terminate(*r.value);
  } else if (tag == shm::TypeAlias<OnlineNotice>::tag) {
    if (auto r = shm::decode_record<OnlineNotice>(record); r.ok()) tree_.on_online(*r.value);
  } else if (tag == shm::TypeAlias<StopRequest>::tag) {
    const auto r = shm::decode_record<StopRequest>(record);
    begin_stop();
    if (r.ok()) answer(r.value->reply, RequestOutcome::done("the session is ending"));
  } else if (tag == shm::TypeAlias<EnsureNamed>::tag) {
    if (auto r = shm::decode_record<EnsureNamed>(record); r.ok()) answer(r.value->reply, named_.ensure_running(r.value->name));
  } else if (tag == shm::TypeAlias<RestartNamed>::tag) {
    if (auto r = shm::decode_record<RestartNamed>(record); r.ok()) answer(r.value->reply, named_.restart(r.value->name));
  } else if (tag == shm::TypeAlias<TerminateNamed>::tag) {
    if (auto r = shm::decode_record<TerminateNamed>(record); r.ok()) answer(r.value->reply, named_.terminate(r.value->name));
  }
  // Anything else is not for us: dropped (deaths and definitions come from
  // this process only, never through the ring). Requests come from
  // processes of this user only (segments are 0600), but a bad record must
  // not stop the broker. A record that does not decode has no reply address
  // to answer: its sender times out, with "the broker did not answer".
}

void BrokerLoop::answer(const ReplyAddress& address, const RequestOutcome& outcome) {
  if (address.reply_to.empty()) return;  // nobody waits
  const BrokerReply reply{address.correlation_id, outcome.ok, static_cast<std::uint32_t>(outcome.code), outcome.message};
  // The ring was made for this one answer and holds nothing else: a send
  // that cannot complete at once means its owner is stopped or gone.
  const auto sent = send_to_reply_ring(map_, address.reply_to, reply, shm::Deadline::after(kReplyPatience));
  if (sent != shm::Outcome::ok) {
    std::fprintf(stderr, "colony broker: could not answer request %llu (%s): %s\n",
                 static_cast<unsigned long long>(address.correlation_id), address.reply_to.c_str(),
                 outcome.message.c_str());
  }
}

void BrokerLoop::handle_internal() {
  InternalQueue::Taken taken = internal_.take();
  if (taken.stop) begin_stop();
  for (const auto& request : taken.requests) {
    try {
      std::visit([this](const auto& r) { handle_internal_request(r); }, request);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "colony broker: %s\n", e.what());
    }
  }
}

void BrokerLoop::handle_internal_request(const ChildEnded& ended) { tree_.on_process_end(ended); }

void BrokerLoop::handle_internal_request(const InternalQueue::DefineCall& call) {
  std::string why;
  try {
    why = named_.define(call.definition);
  } catch (const std::exception& e) {
    why = e.what();
  }
  call.answer->set_value(std::move(why));
}

void BrokerLoop::handle_internal_request(const InternalQueue::RestartCall& call) {
  call.answer->set_value(named_.restart(call.name));
}

void BrokerLoop::begin_stop() {
  if (tree_.ending()) return;
  map_.header().state.store(static_cast<std::uint32_t>(SessionState::ending));
  tree_.begin_stop();
  grace_deadline_ = Clock::now() + limits_.stop_grace;
  hard_deadline_ = grace_deadline_ + kKillWait;
}

BrokerLoop::Clock::time_point BrokerLoop::next_timer() const {
  const auto now = Clock::now();
  auto next = std::min({tree_.next_timer(now), outbox_.next_retry(), named_.next_timer(now)});
  if (tree_.ending()) next = std::min(next, tree_.any_alive() && now < grace_deadline_ ? grace_deadline_ : hard_deadline_);
  return next;
}

void BrokerLoop::run() {
  map_.header().state.store(static_cast<std::uint32_t>(SessionState::running));
  for (;;) {
    // Returns at once while an internal request is pending (handled below,
    // before the checks of this turn, so that a stop ends the loop now).
    const shm::Received received = requests_.receive(shm::Deadline::at(next_timer()), internal_.pending());
    if (received.ok()) {
      try {
        handle(received.record);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "colony broker: %s\n", e.what());
      }
      requests_.commit();
    } else if (received.status == shm::Outcome::corrupt) {
      if (!tree_.ending()) std::fprintf(stderr, "colony broker: the request ring is corrupt; stopping the session\n");
      begin_stop();
      // No more requests can be read: only deaths matter now, and those
      // we wait for without spinning on the broken ring.
      std::this_thread::sleep_for(kCorruptRingPause);
    }
    handle_internal();
    tree_.ring_doorbells_if_due();
    const auto now = Clock::now();
    tree_.check_attach_deadlines(now);
    named_.tick(now);
    outbox_.retry_due(now);
    tree_.finalize_drained();
    if (tree_.ending()) {
      if (!tree_.any_alive() && !tree_.any_exit_untold()) break;
      if (now >= grace_deadline_) tree_.kill_all();
      if (now >= hard_deadline_) break;  // unkillable (D state): give up waiting, never hang
    }
  }
}

}  // namespace colony::broker_detail
