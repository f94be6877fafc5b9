#include <catch2/catch.hpp>

#include "colony/broker/broker.hpp"
#include "worker_test_support.hpp"

using namespace colony;

TEST_CASE("a worker echoes what its parent posts", "[ipc][threads]") {
  Broker broker(test::broker_options());
  auto worker = broker.host().create(test::worker_path(), {"echo"});
  std::string reply;
  worker.on_message<std::string>([&](std::string text) { reply = text; });
  worker.start();
  worker.post_message(std::string("hello"));
  REQUIRE(test::dispatch_until(broker.host(), [&] { return !reply.empty(); }));
  CHECK(reply == "hello");
}
