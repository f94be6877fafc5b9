// The broker's events to a host that never dispatches: real processes, the
// broker's wakeups counted by the kernel.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "child_process.hpp"
#include "colony/broker/broker.hpp"
#include "colony/worker/mailbox.hpp"
#include "colony/worker/named.hpp"
#include "colony/session/contract.hpp"
#include "colony/session/session_map.hpp"
#include "event_outbox.hpp"
#include "process_table.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

namespace {

std::uint64_t events_dropped(const Broker& broker) {
  const auto map = detail::or_throw(detail::SessionMap::open(broker.session(), shm::Deadline::after(2s)));
  return map->header().events_dropped.load();
}

}  // namespace

TEST_CASE("events for a host that never dispatches are bounded and counted, and the broker then stops waking every 5 ms",
          "[ipc]") {
  BrokerOptions options = test::broker_options();
  options.limits.max_undelivered_events = 16;
  Broker broker(options);
  // This host never dispatches (as `colony broker start`): each start and
  // exit of the named worker below is an event for it that nobody reads.
  NamedWorkerOptions storm;
  storm.restart = RestartPolicy::always;
  storm.backoff_initial = 0ms;
  storm.backoff_max = 0ms;
  broker.define_named_worker("storm", test::worker_path(), {"exit", "0"}, storm);
  (void)call(broker.session(), "storm", "go", Value::Array{});  // the first start; it restarts itself from then on

  // Its events ring fills (16 KiB), then its backlog (16): the rest is dropped.
  REQUIRE(test::eventually([&] { return events_dropped(broker) > 0; }, 30000ms));
  const std::uint64_t dropped_first = events_dropped(broker);
  REQUIRE(test::eventually([&] { return events_dropped(broker) > dropped_first + 20; }, 30000ms));

  // Defined again with the policy never, it stays down after its next exit.
  storm.restart = RestartPolicy::never;
  broker.define_named_worker("storm", test::worker_path(), {"exit", "0"}, storm);
  auto box = Mailbox::open_or_create(broker.session(), "storm");
  (void)box.request_kill();  // the call that started it goes: nothing queued starts it again
  REQUIRE(test::eventually([&] { return box.control().current_slot.load() == 0; }, 10000ms));
  const std::uint32_t starts = box.control().starts.load();
  std::this_thread::sleep_for(300ms);
  REQUIRE(box.control().current_slot.load() == 0);
  REQUIRE(box.control().starts.load() == starts);

  const long before = test::own_thread_voluntary_waits("colony-broker");
  REQUIRE(before >= 0);
  const auto window = 1500ms;
  std::this_thread::sleep_for(window);
  const long wakeups = test::own_thread_voluntary_waits("colony-broker") - before;
  std::printf("broker thread wakeups in %lld ms with an undeliverable backlog: %ld (5 ms retries: about %lld)\n",
              static_cast<long long>(window.count()), wakeups, static_cast<long long>(window.count() / 5));
  // A retry every 5 ms would be some 300; backing off to 4 a second, a few.
  CHECK(wakeups < 40);
  // Still dropped, never queued without bound: nothing was delivered, nothing grew.
  CHECK(events_dropped(broker) >= dropped_first);
}

TEST_CASE("events to a worker whose events ring cannot be opened are dropped and counted, none kept", "[ipc]") {
  Broker broker(test::broker_options());
  const auto map = detail::or_throw(detail::SessionMap::open(broker.session(), shm::Deadline::after(2s)));
  REQUIRE(map);
  const std::uint64_t before = map->header().events_dropped.load();
  // A slot nobody attached: there is no events ring to open for it.
  broker_detail::EventOutbox outbox(map, 16);
  constexpr std::uint32_t kSlot = 4000;
  outbox.open(kSlot, 7);
  for (std::uint32_t i = 0; i < 3; ++i) outbox.post(kSlot, detail::ChildOnline{kSlot + 1, i, 100});
  // The first event is counted when the ring will not open, the next two at once.
  CHECK(map->header().events_dropped.load() == before + 3);
  CHECK(outbox.backlog_size() == 0);
  CHECK(outbox.next_retry() == broker_detail::EventOutbox::Clock::time_point::max());
  // An addressee that is opened again (its slot reused) is tried afresh.
  outbox.open(kSlot, 8);
  outbox.post(kSlot, detail::ChildOnline{kSlot + 1, 9, 100});
  CHECK(map->header().events_dropped.load() == before + 4);
}
