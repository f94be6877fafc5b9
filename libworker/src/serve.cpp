// A named worker's side of CALL WORKER: Methods::serve, the worker's event
// loop with its mailbox as one more source. One sleep on the worker's
// doorbell wakes it for a call, a kill, and everything its channels and
// children bring; the calling side is named.cpp.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "colony/shm/failpoint.hpp"
#include "colony/session/context.hpp"
#include "colony/session/contract.hpp"
#include "colony/session/protocol.hpp"
#include "colony/session/reply_ring.hpp"
#include "colony/session/session_map.hpp"
#include "colony/worker/mailbox.hpp"
#include "colony/worker/named.hpp"

namespace colony {
namespace {

void send_reply(detail::ReplyRingCache& rings, const detail::SessionMap& map, const std::string& reply_ring,
                const Reply& reply) {
  const auto deadline = shm::Deadline::after(detail::kSegmentPublishWait);
  if (rings.send(map, reply_ring, reply, deadline) == shm::Outcome::too_large) {
    Reply refused{reply.id, false, Value(), "the reply is larger than the caller's reply ring"};
    (void)rings.send(map, reply_ring, refused, deadline);
  }
}

// A handler's ValueError, said in terms of the call: which method, which argument.
std::string argument_error(const Call& request, const ValueError& error) {
  const std::string method = request.method.empty() ? "the startup method" : "method '" + request.method + "'";
  if (error.value() == &request.args) {
    if (const auto index = error.missing_index()) {
      const std::size_t wanted = *index + 1;
      return method + " takes at least " + std::to_string(wanted) + (wanted == 1 ? " argument" : " arguments") + ", got " +
             std::to_string(request.args.size());
    }
    return method + " arguments: " + error.what();
  }
  if (request.args.kind() == Value::Kind::array) {
    const auto& list = request.args.as_array();
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (&list[i] == error.value()) return method + " argument " + std::to_string(i + 1) + ": " + error.what();
    }
  }
  return method + ": " + error.what();
}

// Removes the loop's work source however serve() ends.
struct WorkSourceInstalled {
  detail::Context& context;
  WorkSourceInstalled(detail::Context& c, std::function<bool()> source) : context(c) {
    context.set_work_source(std::move(source));
  }
  ~WorkSourceInstalled() { context.set_work_source({}); }
  WorkSourceInstalled(const WorkSourceInstalled&) = delete;
  WorkSourceInstalled& operator=(const WorkSourceInstalled&) = delete;
};

}  // namespace

// What serve() does with the mailbox at each pass of the event loop.
class Methods::Server {
 public:
  Server(Methods& methods, std::string name, detail::Context& context)
      : methods_(methods),
        name_(std::move(name)),
        context_(context),
        box_(Mailbox::open_or_create(context.session().session(), name_)) {}

  // One call handled, or the kill carried out: whether there was work.
  bool handle_next() {
    // A handler that dispatches the loop (join, dispatch) runs in the middle
    // of its own call: the next call waits until it returned.
    // After stop() (from a method or any handler) or a kill, no call more.
    if (handling_ || ended()) return false;
    if (box_.kill_requested()) return end_by_kill();
    auto delivery = box_.try_take();
    // KILL WORKER between the look above and the take: the message just
    // taken, if within the kill, goes with the rest.
    if (box_.kill_requested()) return end_by_kill();
    if (!delivery) return false;
    handling_ = true;
    handle(*delivery);
    handling_ = false;
    COLONY_FAILPOINT("named.serve.before_done");
    box_.done();
    idle_since_ = shm::Clock::now();
    return true;
  }

  bool ended() const noexcept { return ended_ || methods_.stop_; }
  shm::Clock::time_point idle_since() const noexcept { return idle_since_; }

 private:
  bool end_by_kill() {
    // KILL WORKER: what was queued at the kill goes, and so do we.
    box_.drain_killed();
    ended_ = true;
    return true;
  }

  void handle(const Mailbox::Delivery& delivery) {
    auto decoded = shm::decode_record<Call>(delivery.record);
    if (!decoded.ok()) {
      std::fprintf(stderr, "colony: worker '%s' dropped a message it cannot read: %s\n", name_.c_str(),
                   decoded.error.c_str());
      return;
    }
    Call& request = *decoded.value;
    // For a crash report: which method this process may die in.
    auto& method = box_.control().in_flight_method;
    const std::size_t length = std::min(request.method.size(), sizeof(method) - 1);
    std::memcpy(method, request.method.data(), length);
    method[length] = '\0';
    request.redelivered = delivery.redelivered;
    request.attempt = delivery.attempt;
    Reply reply;
    reply.id = request.id;
    const auto found = methods_.methods_.find(request.method);
    if (found == methods_.methods_.end()) {
      reply.ok = false;
      reply.error = "worker '" + name_ + "' has no method '" + request.method + "'";
    } else {
      try {
        reply.value = found->second(request);
      } catch (const ValueError& e) {
        reply.ok = false;
        reply.error = argument_error(request, e);
      } catch (const std::exception& e) {
        reply.ok = false;
        reply.error = e.what();
      } catch (...) {
        reply.ok = false;
        reply.error = "method '" + request.method + "' threw something that is not a std::exception";
      }
    }
    // Replied before the message leaves the box: a death in between means
    // the call is handled (and answered) again, never lost.
    if (!request.reply_ring.empty()) send_reply(reply_rings_, context_.session(), request.reply_ring, reply);
  }

  Methods& methods_;
  std::string name_;
  detail::Context& context_;
  Mailbox box_;
  detail::ReplyRingCache reply_rings_;  // the recent callers' reply rings, kept mapped
  bool handling_ = false;
  bool ended_ = false;  // killed; stop() is methods_.stop_
  shm::Clock::time_point idle_since_ = shm::Clock::now();
};

int Methods::serve(std::chrono::milliseconds idle_exit) {
  const char* name = std::getenv(detail::kWorkerNameEnv);
  if (name == nullptr) {
    throw WorkerError(WorkerErrc::not_a_worker, std::string("not started as a named worker (") +
                                                    detail::kWorkerNameEnv + " is not set)");
  }
  const auto context = detail::Context::current();
  Server server(*this, name, *context);
  const WorkSourceInstalled installed(*context, [&server] { return server.handle_next(); });
  const bool exits_when_idle = idle_exit != std::chrono::milliseconds::max();
  while (!server.ended()) {
    const auto deadline = exits_when_idle ? shm::Deadline::at(server.idle_since() + idle_exit) : shm::Deadline::never();
    // Returns at once when there was work; false when the deadline passed without any.
    if (!context->dispatch(deadline) && exits_when_idle && shm::Clock::now() - server.idle_since() >= idle_exit) break;
  }
  return 0;
}

}  // namespace colony
