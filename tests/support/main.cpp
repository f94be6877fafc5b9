// The test binary's entry point: either a child scenario (--child NAME ...)
// or the Catch2 session.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "child_process.hpp"

int main(int argc, char** argv) {
  if (auto child_exit = colony::test::run_child_scenario_if_requested(argc, argv)) return *child_exit;
  return Catch::Session().run(argc, argv);
}
