#pragma once
// Message types the tests and the test worker share.

#include <cstdint>
#include <string>

#include "colony/worker/worker.hpp"

struct TestEnvelope {
  std::string label;
  colony::MessageChannel channel;
  template <class A> void serialize(A& a) { a(label, channel); }
};
COLONY_REGISTER_TYPE(TestEnvelope, "test.envelope")

struct TestCounts {
  std::uint64_t received = 0;
  std::uint64_t out_of_order = 0;
  template <class A> void serialize(A& a) { a(received, out_of_order); }
};
COLONY_REGISTER_TYPE(TestCounts, "test.counts")

struct TestBytesReport {
  bool first_is_second = false;
  bool first_is_third = false;
  std::uint32_t value = 0;
  template <class A> void serialize(A& a) { a(first_is_second, first_is_third, value); }
};
COLONY_REGISTER_TYPE(TestBytesReport, "test.bytes_report")
