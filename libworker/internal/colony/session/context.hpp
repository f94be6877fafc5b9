#pragma once
// The per-process state behind Worker and its handles: the session mapping,
// this worker's slot and channels, the children it created, the objects it
// resolved from references, and the event loop. Internal to libworker and the
// broker; users see Worker, WorkerHandle and MessageChannel.

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "colony/session/broker_link.hpp"
#include "colony/session/channel_core.hpp"
#include "colony/shm/ring.hpp"
#include "colony/shm/typed.hpp"
#include "colony/worker/channel.hpp"
#include "colony/worker/exit_status.hpp"
#include "colony/worker/properties.hpp"
#include "colony/session/protocol.hpp"
#include "colony/session/session_map.hpp"
#include "colony/worker/worker.hpp"

namespace colony::detail {

struct HandleCore {
  std::weak_ptr<Context> context;
  std::shared_ptr<SessionMap> session;
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  bool parent_view = false;  // this process created it: events and the default channels are ours
  std::string executable;
  std::vector<std::string> arguments;
  std::shared_ptr<ChannelCore> to_worker;    // parent view: we send
  std::shared_ptr<ChannelCore> from_worker;  // parent view: we receive
  std::optional<PropertyStore> properties;   // opened on first use
  std::optional<ExitStatus> exit;
  bool start_requested = false;
  bool online = false;
  bool plain = false;
  bool chunks = false;
  std::uint64_t stdin_channel = 0;
  std::shared_ptr<ChannelCore> output;  // a plain executable's standard output
  std::function<void()> on_online;
  std::function<void(const ExitStatus&)> on_exit;
  std::function<void(const std::string&)> on_error;
  std::function<void(const MessageError&)> on_messageerror;

  WorkerState state() const;
  PropertyStore& property_store();
};

using BrokerEvent = std::variant<LaunchResult, ChildOnline, ChildExit>;

// The segments of one worker (events ring, the default channel pair, the
// properties), made by its creator before start and removed by the broker
// once the worker is terminated.
SessionExpected<void> create_worker_segments(const SessionMap& session, std::uint32_t slot, std::uint32_t generation);
void remove_worker_segments(const SessionMap& session, std::uint32_t slot, std::uint32_t generation) noexcept;
// Claims a free slot for a child of (parent_slot, parent_generation), fills
// it and makes its segments; the slot is `created` on return. Returns (slot,
// generation); worker_cap when every slot is in use.
SessionExpected<std::pair<std::uint32_t, std::uint32_t>> make_worker_slot(const SessionMap& session,
                                                                         std::uint32_t parent_slot,
                                                                         std::uint32_t parent_generation,
                                                                         const std::string& executable);
ExitStatus exit_status_from(const ChildExit& exit);

// Makes context what Worker::current() returns in this process (null clears it).
void install_host_context(std::shared_ptr<Context> context);

class Context : public std::enable_shared_from_this<Context> {
 public:
  // In a process the broker launched: reads the environment and attaches.
  static std::shared_ptr<Context> attach_from_environment();
  // In the process hosting the broker: slot 0, no parent.
  static std::shared_ptr<Context> create_host(std::shared_ptr<SessionMap> session);
  // The context of this process, if any (no attaching).
  static std::shared_ptr<Context> current_or_null() noexcept;
  static std::shared_ptr<Context> current();  // throws not_a_worker

  ~Context();

  SessionMap& session() const noexcept { return *session_; }
  const std::shared_ptr<SessionMap>& session_ptr() const noexcept { return session_; }
  std::uint32_t slot() const noexcept { return slot_; }
  std::uint32_t generation() const noexcept { return generation_; }
  bool is_host() const noexcept { return slot_ == kHostSlot; }

  WorkerHandle self();
  WorkerHandle create_child(const std::string& executable, std::vector<std::string> arguments);
  WorkerHandle create_plain(const std::string& executable, std::vector<std::string> arguments, PlainOptions options);
  void start(HandleCore& child);
  // start() of each, the launch requests posted together (Worker::start_all).
  void start_all(const std::vector<HandleCore*>& children);
  void terminate(HandleCore& child);
  std::optional<ExitStatus> join(HandleCore& child, shm::Deadline deadline);

  ChannelCore& to_parent();
  ChannelCore& from_parent();
  PropertyStore& own_properties() { return *own_properties_; }

  std::function<void(const MessageError&)> on_messageerror;
  std::function<void(const std::string&)> on_error;

  int run();
  void stop() noexcept { stop_requested_ = true; }
  // One more source of work for the loop, polled with the channels: a named
  // worker's mailbox (serve.cpp). Returns whether it did work. Whoever feeds
  // it rings this worker's doorbell, as a channel's sender does. Empty: none.
  void set_work_source(std::function<bool()> source) { work_source_ = std::move(source); }
  void close();
  bool dispatch(shm::Deadline deadline);
  void set_spin(std::uint32_t iterations) noexcept { spin_iterations_ = iterations; }

  // References.
  std::shared_ptr<ChannelCore> create_channel(const ChannelOptions& options);
  std::shared_ptr<ChannelCore> resolve_channel(std::uint64_t id);
  WorkerHandle resolve_worker(std::uint32_t slot, std::uint32_t generation);
  void track_receiving(const std::shared_ptr<ChannelCore>& channel);
  void track_sending(const std::shared_ptr<ChannelCore>& channel);
  template <class Object>
  std::shared_ptr<Object> resolve_object(const std::string& name,
                                         const std::function<std::shared_ptr<Object>()>& open) {
    auto& table = std::get<std::unordered_map<std::string, std::weak_ptr<Object>>>(objects_);
    if (auto existing = table[name].lock()) return existing;
    auto opened = open();
    table[name] = opened;
    return opened;
  }

  void report_error(const std::string& message);
  // The Worker object Worker::current() returns for this context; it does not
  // own the context (the process-wide slot does).
  Worker& facade();

 private:
  // start()'s parts: the checks this process can make, the request, the
  // broker's answer (a refusal throws and ends the handle as failed_to_start).
  void check_startable(const HandleCore& child) const;
  void request_launch(HandleCore& child);
  void await_launch(HandleCore& child);

  Context(std::shared_ptr<SessionMap> session, std::uint32_t slot, std::uint32_t generation);
  void open_broker_ring();
  void open_own_segments(bool host);
  void post_request(const auto& request);
  bool dispatch_ready();
  bool read_broker_event(BrokerEvent& event);
  void handle_event(const BrokerEvent& event);
  void drain_children_output(HandleCore& child);
  std::shared_ptr<HandleCore> child_core(std::uint32_t slot, std::uint32_t generation);
  std::shared_ptr<ChannelCore> open_channel_ring(const shm::SegmentName& name, std::uint64_t id);
  void wire_parent_view(HandleCore& core);

  std::shared_ptr<SessionMap> session_;
  std::uint32_t slot_;
  std::uint32_t generation_;
  std::optional<BrokerLink> broker_;
  std::optional<shm::Ring> events_ring_;
  std::optional<shm::TypedReader> events_reader_;
  std::shared_ptr<ChannelCore> to_parent_;
  std::shared_ptr<ChannelCore> from_parent_;
  std::optional<PropertyStore> own_properties_;
  void remove_child(const HandleCore& child);
  std::optional<LaunchResult> wait_for_launch_result(const HandleCore& child, shm::Deadline deadline);
  void take_broker_events();
  // The children this process created, until their exit is dispatched. A
  // slot is reused with a new generation, so both identify a child.
  std::vector<std::shared_ptr<HandleCore>> children_;
  // Launch results read while waiting for another one, by handle key.
  std::map<std::uint64_t, LaunchResult> launch_results_;
  // Channels this process receives on; held until closed and drained, so a
  // handler registered on a temporary handle keeps working (as in JavaScript).
  std::vector<std::shared_ptr<ChannelCore>> receiving_;
  std::vector<std::weak_ptr<ChannelCore>> sending_;
  std::deque<BrokerEvent> stashed_;
  std::unordered_map<std::uint64_t, std::weak_ptr<ChannelCore>> channels_;
  std::unordered_map<std::uint64_t, std::weak_ptr<HandleCore>> handles_;
  std::tuple<std::unordered_map<std::string, std::weak_ptr<shm::ByteArray>>,
             std::unordered_map<std::string, std::weak_ptr<shm::Mutex>>,
             std::unordered_map<std::string, std::weak_ptr<shm::Condition>>>
      objects_;
  [[noreturn]] void finish_close();
  bool stop_requested_ = false;
  bool close_requested_ = false;
  int handler_depth_ = 0;
  bool in_run_ = false;
  std::uint32_t spin_iterations_ = 0;
  std::function<bool()> work_source_;
  std::optional<Worker> facade_;
};

}  // namespace colony::detail
