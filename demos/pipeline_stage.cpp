// A stage of the pipeline demo, run as a named worker: checks each block,
// transforms it, and posts it on to the next stage's mailbox (argv[1]).
// Killed at any instruction, it loses nothing: a block leaves its mailbox
// only after it was posted on, so the next process handles it again (and the
// end may see it twice, never not at all).
#include <cstdio>
#include <string>

#include "colony/worker/mailbox.hpp"
#include "colony/worker/named.hpp"
#include "colony/worker/worker.hpp"
#include "pipeline_blocks.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: colony_demo_pipeline_stage NEXT_MAILBOX (started by colony_demo_pipeline)\n");
    return 2;
  }
  auto& self = colony::Worker::current();
  auto next = colony::Mailbox::open_or_create(self.session(), argv[1]);
  colony::Methods methods;
  methods.on("block", [&](const colony::Call& call) {
    const colony::Value& block = call.args;
    auto data = block["data"].as_bytes();
    const bool intact = static_cast<std::uint64_t>(block["sum"].as_int()) == pipeline_demo::checksum(data);
    pipeline_demo::transform(data);
    colony::Value out = pipeline_demo::make_block(static_cast<std::uint64_t>(block["seq"].as_int()), std::move(data));
    // A corrupt block goes on, marked, for the end to count.
    if (!intact) out = colony::Value(colony::Value::Map{{"seq", block["seq"]}, {"corrupt", true}});
    const auto status = next.post(colony::Call{0, "block", std::move(out), {}}, colony::shm::Deadline::after(std::chrono::seconds(60)));
    if (status != colony::shm::Outcome::ok) throw std::runtime_error("the next mailbox takes nothing");
    return colony::Value();
  });
  return methods.serve();
}
