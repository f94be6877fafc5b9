// The session layer's errors are values that keep the OS's error number;
// the facade throws them as WorkerError with the same code and number.
#include <catch2/catch.hpp>
#include <cerrno>

#include "colony/session/broker_link.hpp"
#include "colony/session/session_map.hpp"
#include "colony/worker/named.hpp"
#include "worker_test_support.hpp"

using namespace colony;

TEST_CASE("opening a session that does not run is session_gone, with the OS's ENOENT kept", "[unit]") {
  const std::string session = test::unique_session("never-started");
  const auto opened = detail::SessionMap::open(session, shm::Deadline::now());
  REQUIRE_FALSE(opened.has_value());
  CHECK(opened.error().code == WorkerErrc::session_gone);
  CHECK(opened.error().system_code == ENOENT);
  CHECK(opened.error().message.find("session '" + session + "' is not running") != std::string::npos);

  try {
    Caller caller(session);
    FAIL("a Caller opened a session that does not run");
  } catch (const WorkerError& e) {
    CHECK(e.code() == WorkerErrc::session_gone);
    CHECK(e.system_code() == ENOENT);
    CHECK(std::string(e.what()) == opened.error().message);
  }
}

TEST_CASE("a session's broker ring that is gone is session_gone from the broker link", "[ipc]") {
  Broker broker(test::broker_options());
  const auto map = detail::or_throw(detail::SessionMap::open(broker.session(), shm::Deadline::now()));
  REQUIRE(detail::BrokerLink::open(*map).has_value());
  REQUIRE(shm::Segment::remove(map->name(shm::SegmentKind::ring, detail::kBrokerRing)));
  const auto link = detail::BrokerLink::open(*map);
  REQUIRE_FALSE(link.has_value());
  CHECK(link.error().code == WorkerErrc::session_gone);
  CHECK(link.error().message.find("cannot reach the broker") != std::string::npos);
}
