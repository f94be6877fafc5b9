// Every request to the broker that names a reply address is answered once,
// with its correlation id: success with what the broker did, or an error with
// a code and a message. Real broker, real worker processes, the real colony
// command.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "colony/broker/broker.hpp"
#include "colony/session/broker_link.hpp"
#include "colony/session/protocol.hpp"
#include "colony/session/reply_ring.hpp"
#include "colony/session/session_map.hpp"
#include "colony/shm/error.hpp"
#include "colony/worker/named.hpp"
#include "child_process.hpp"
#include "colony/session/names.hpp"
#include "command.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<detail::SessionMap> open_map(const Broker& broker) {
  return detail::or_throw(detail::SessionMap::open(broker.session(), shm::Deadline::after(5s)));
}

}  // namespace

TEST_CASE("the broker answers each request once, with the request's correlation id", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("adder", test::worker_path(), {"named"});
  const auto map = open_map(broker);

  auto reply_ring = detail::ReplyRing::make(*map, detail::BrokerLink::kBrokerReplyCapacity);
  REQUIRE(reply_ring.has_value());
  auto link = detail::BrokerLink::open(*map);
  REQUIRE(link.has_value());
  constexpr std::uint64_t kCorrelation = 0x5eed'0000'0000'0042;
  REQUIRE(link->post(detail::TerminateNamed{"adder", {kCorrelation, reply_ring->object()}}, shm::Deadline::after(5s)));
  REQUIRE(link->post(detail::RestartNamed{"no-such-worker", {kCorrelation + 1, reply_ring->object()}},
                     shm::Deadline::after(5s)));

  auto reader = reply_ring->reader();
  REQUIRE(reader.has_value());
  auto first = reader->receive<detail::BrokerReply>(shm::Deadline::after(10s));
  REQUIRE(first.ok());
  CHECK(first.value->correlation_id == kCorrelation);
  CHECK(first.value->ok);
  CHECK(first.value->message == "worker 'adder' runs no process");

  auto second = reader->receive<detail::BrokerReply>(shm::Deadline::after(10s));
  REQUIRE(second.ok());
  CHECK(second.value->correlation_id == kCorrelation + 1);
  CHECK_FALSE(second.value->ok);
  CHECK(second.value->code == static_cast<std::uint32_t>(WorkerErrc::not_found));
  CHECK(second.value->message.find("no-such-worker") != std::string::npos);

  // One answer per request, no more.
  CHECK(reader->receive<detail::BrokerReply>(shm::Deadline::after(300ms)).status == shm::Outcome::timed_out);
}

TEST_CASE("ask() returns what the broker did, or its code and message", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("adder", test::worker_path(), {"named"});
  const auto map = open_map(broker);
  auto link = detail::BrokerLink::open(*map);
  REQUIRE(link.has_value());
  const auto ask = [&](auto request) { return link->ask(request, shm::Deadline::after(10s)); };
  const auto answer = [&](auto request) {
    auto asked = ask(request);
    REQUIRE(asked.has_value());
    return *asked;
  };

  CHECK(answer(detail::EnsureNamed{"adder", {}}) == "worker 'adder' started");
  REQUIRE(test::eventually([&] { return named_worker_pid(broker.session(), "adder") != 0; }, 10000ms));
  CHECK(answer(detail::EnsureNamed{"adder", {}}) == "worker 'adder' is running");
  CHECK(answer(detail::TerminateNamed{"adder", {}}) == "worker 'adder' terminated");
  for (const auto& refused : {ask(detail::TerminateNamed{"missing", {}}), ask(detail::EnsureNamed{"missing", {}})}) {
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == WorkerErrc::not_found);
    CHECK(refused.error().message.find("no worker named 'missing'") != std::string::npos);
  }
  // Each ask made its own reply ring and removed it: the session holds none.
  for (const auto& os_name : shm::Segment::list(shm::SegmentName::session_prefix(broker.session()))) {
    const auto name = shm::SegmentName::parse(os_name);
    REQUIRE(name.has_value());
    CHECK_FALSE(detail::is_reply_ring_object(name->name()));
  }
}

TEST_CASE("Broker::restart_named_worker returns what the broker did, or throws its refusal", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("adder", test::worker_path(), {"named"});
  CHECK(broker.restart_named_worker("adder") == "worker 'adder' started");
  REQUIRE(test::eventually([&] { return named_worker_pid(broker.session(), "adder") != 0; }, 10000ms));
  CHECK(broker.restart_named_worker("adder") == "worker 'adder' is running");
  try {
    (void)broker.restart_named_worker("missing");
    FAIL("an unknown name was restarted");
  } catch (const WorkerError& e) {
    CHECK(e.code() == WorkerErrc::not_found);
    CHECK(std::string(e.what()).find("no worker named 'missing'") != std::string::npos);
  }
}

TEST_CASE("colony restart says at once that the worker cannot start, with the OS's reason", "[ipc]") {
  Broker broker(test::broker_options());
  const std::string path = std::filesystem::temp_directory_path() / ("colony-reply-" + std::to_string(::getpid()));
  std::filesystem::copy_file(test::worker_path(), path, std::filesystem::copy_options::overwrite_existing);
  broker.define_named_worker("movable", path, {"named"});
  // The definition was checked; the file loses its execute permission afterwards.
  REQUIRE(::chmod(path.c_str(), 0600) == 0);

  const auto restarted = test::run_command({test::cli_path(), "restart", "--session", broker.session(), "movable"}, 20s);
  INFO("stdout: " << restarted.out << "stderr: " << restarted.err);
  REQUIRE(restarted.finished);
  CHECK(restarted.exit_code == 1);
  CHECK(restarted.err.find("cannot start worker 'movable'") != std::string::npos);
  CHECK(restarted.err.find("Permission denied") != std::string::npos);

  REQUIRE(::chmod(path.c_str(), 0700) == 0);
  // Supervision may be backing off after the failed start (restart clears
  // it), or its retry may have started the worker already.
  const auto again = test::run_command({test::cli_path(), "restart", "--session", broker.session(), "movable"}, 20s);
  INFO("stdout: " << again.out << "stderr: " << again.err);
  CHECK(again.exit_code == 0);
  CHECK((again.out == "worker 'movable' started\n" || again.out == "worker 'movable' is running\n"));
  REQUIRE(test::eventually([&] { return named_worker_pid(broker.session(), "movable") != 0; }, 10000ms));
  const auto terminated = test::run_command({test::cli_path(), "terminate", "--session", broker.session(), "movable"}, 20s);
  CHECK(terminated.exit_code == 0);
  CHECK(terminated.out == "worker 'movable' terminated\n");
  broker.stop();
  std::filesystem::remove(path);
}

TEST_CASE("a system error carries errno's value and a code for its cause, never only its text", "[unit]") {
  const shm::Error missing = shm::os_error("open x", ENOENT);
  CHECK(missing.code == shm::Errc::not_found);
  CHECK(missing.system_code == ENOENT);
  CHECK(missing.message.starts_with("open x: "));
  CHECK(shm::os_error("exec x", EACCES).code == shm::Errc::not_permitted);
  CHECK(shm::os_error("create x", EEXIST).code == shm::Errc::already_exists);
  CHECK(shm::os_error("size x", ENOSPC).code == shm::Errc::no_space);
  const shm::Error other = shm::os_error("read x", EIO);
  CHECK(other.code == shm::Errc::os_error);
  CHECK(other.system_code == EIO);
}
