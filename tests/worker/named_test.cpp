// Named workers end to end: calls through the mailbox, the process started
// at the first call and again after a death, replies, errors, many callers.
#include <catch2/catch.hpp>

#include "colony/broker/broker.hpp"
#include "colony/worker/named.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

namespace {

Value wait_call(Broker& broker, const std::string& name, const std::string& method, Value args = Value::Array{}) {
  return *call(broker.session(), name, method, std::move(args), CallOptions{true, 20s});
}

}  // namespace

TEST_CASE("the first call starts a named worker, whose state persists between calls in order", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("counter", test::worker_path(), {"named"});
  CHECK(test::processes_in_session(broker.session()).empty());  // nothing runs before the first call
  CHECK_FALSE(call(broker.session(), "counter", "", Value::Array{}).has_value());  // the startup method, queued
  for (int i = 1; i <= 100; ++i) (void)call(broker.session(), "counter", "add", Value::Array{i});
  CHECK(wait_call(broker, "counter", "get").as_int() == 5050);
  CHECK(wait_call(broker, "counter", "started").as_string() == "yes");
  CHECK(test::processes_in_session(broker.session()).size() == 1);
}

TEST_CASE("a named worker killed in a handler is restarted and handles the call again, marked", "[crash]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("fragile", test::worker_path(), {"named"});
  const auto first_pid = wait_call(broker, "fragile", "pid").as_int();
  const auto reply = wait_call(broker, "fragile", "crash-once");
  CHECK(reply["attempt"].as_int() == 2);
  CHECK(wait_call(broker, "fragile", "pid").as_int() != first_pid);
}

TEST_CASE("names differing only in case are different workers", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("Counter", test::worker_path(), {"named"});
  broker.define_named_worker("counter", test::worker_path(), {"named"});
  (void)wait_call(broker, "Counter", "add", Value::Array{10});
  (void)wait_call(broker, "counter", "add", Value::Array{1});
  CHECK(wait_call(broker, "Counter", "get").as_int() == 10);
  CHECK(wait_call(broker, "counter", "get").as_int() == 1);
}

TEST_CASE("calling an unknown worker or method, or a method that throws, is a clear error", "[ipc]") {
  Broker broker(test::broker_options());
  broker.define_named_worker("counter", test::worker_path(), {"named"});
  try {
    (void)call(broker.session(), "Nobody", "get", Value::Array{});
    FAIL("called an undefined worker");
  } catch (const WorkerError& e) {
    CHECK(e.code() == WorkerErrc::not_found);
    CHECK(std::string(e.what()).find("no worker named 'Nobody'") != std::string::npos);
  }
  try {
    (void)wait_call(broker, "counter", "multiply");
    FAIL("called an unknown method");
  } catch (const WorkerError& e) {
    CHECK(std::string(e.what()).find("no method 'multiply'") != std::string::npos);
  }
  try {
    (void)wait_call(broker, "counter", "fail");
    FAIL("a throwing method replied");
  } catch (const WorkerError& e) {
    CHECK(std::string(e.what()) == "asked to fail");
  }
  CHECK(wait_call(broker, "counter", "add", Value::Array{2}).as_int() == 2);  // still serving
}

TEST_CASE("several processes calling one worker at once lose nothing", "[ipc]") {
  constexpr int kPerCaller = 300;
  Broker broker(test::broker_options());
  broker.define_named_worker("counter", test::worker_path(), {"named"});
  std::vector<WorkerHandle> callers;
  for (int i = 0; i < 3; ++i) {
    auto caller = broker.host().create(test::worker_path(), {"caller", "counter", std::to_string(kPerCaller)});
    caller.start();
    callers.push_back(caller);
  }
  for (auto& caller : callers) {
    const auto status = caller.join(30s);
    REQUIRE(status);
    CHECK(status->ok());
  }
  CHECK(wait_call(broker, "counter", "get").as_int() == 3 * kPerCaller);
}
