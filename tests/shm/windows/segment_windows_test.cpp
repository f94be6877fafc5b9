// Segments with what only Windows has: a named mapping is owner-only by its
// security descriptor, and lives exactly as long as some process holds it.
#include <windows.h>
#include <aclapi.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <optional>

#include "child_process.hpp"
#include "colony/shm/segment.hpp"
#include "test_session.hpp"

using namespace colony;
using namespace std::chrono_literals;
using shm::Errc;
using shm::SegmentKind;

namespace {

std::wstring local_name(const std::string& os_name) {
  return L"Local\\" + std::wstring(os_name.begin() + 1, os_name.end());
}

// This process's user, as a SID in a buffer of its own.
std::vector<std::byte> user_sid() {
  HANDLE token = nullptr;
  REQUIRE(::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token));
  DWORD size = 0;
  ::GetTokenInformation(token, TokenUser, nullptr, 0, &size);
  std::vector<std::byte> buffer(size);
  REQUIRE(::GetTokenInformation(token, TokenUser, buffer.data(), size, &size));
  ::CloseHandle(token);
  return buffer;
}

std::optional<shm::Segment> open_now(const shm::SegmentName& name) {
  auto opened = shm::Segment::open(name, shm::Deadline::now());
  if (!opened) return std::nullopt;
  return std::move(opened).value();
}

}  // namespace

COLONY_CHILD_SCENARIO("win-segment-ready") {  // args: session; makes "held" ready with "hello", then waits
  auto name = shm::SegmentName::make(args.at(0), SegmentKind::bytes, "held");
  auto created = shm::Segment::create(*name, 64);
  if (!created) return 2;
  std::memcpy(created->data(), "hello", 5);
  created->mark_ready();
  test::wait_to_be_killed();
}

TEST_CASE("a segment's mapping admits its creating user alone", "[unit]") {
  test::TestSession session;
  const auto name = session.segment(SegmentKind::bytes, "private");
  auto created = shm::Segment::create(name, 64);
  REQUIRE(created);

  HANDLE mapping = ::OpenFileMappingW(READ_CONTROL, FALSE, local_name(name.os_name()).c_str());
  REQUIRE(mapping != nullptr);
  PSID owner = nullptr;
  PACL dacl = nullptr;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  REQUIRE(::GetSecurityInfo(mapping, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &owner,
                            nullptr, &dacl, nullptr, &descriptor) == ERROR_SUCCESS);
  ::CloseHandle(mapping);
  auto sid_buffer = user_sid();
  PSID self = reinterpret_cast<TOKEN_USER*>(sid_buffer.data())->User.Sid;
  CHECK(::EqualSid(owner, self));
  REQUIRE(dacl != nullptr);  // a null DACL would admit everyone
  REQUIRE(dacl->AceCount == 1);
  void* ace = nullptr;
  REQUIRE(::GetAce(dacl, 0, &ace));
  const auto* allowed = static_cast<const ACCESS_ALLOWED_ACE*>(ace);
  CHECK(allowed->Header.AceType == ACCESS_ALLOWED_ACE_TYPE);
  CHECK(::EqualSid(const_cast<DWORD*>(&allowed->SidStart), self));
  ::LocalFree(descriptor);
}

TEST_CASE("a segment lives while a process maps it and goes with the last: a crash of all leaves nothing",
          "[crash]") {
  REQUIRE_FALSE(shm::Segment::outlives_its_processes());
  test::TestSession session;
  const auto name = session.segment(SegmentKind::bytes, "held");

  SECTION("its creator killed, another process still mapping it") {
    auto creator = test::ChildProcess::start("win-segment-ready", {session.name()});
    std::optional<shm::Segment> held;
    REQUIRE(test::eventually([&] { return (held = open_now(name)).has_value(); }, 10'000ms));
    creator.kill_hard();
    REQUIRE(creator.wait_for(10s));
    CHECK(std::memcmp(held->data(), "hello", 5) == 0);
    CHECK(open_now(name).has_value());  // still there: this process maps it
    held.reset();
    auto gone = shm::Segment::open(name, shm::Deadline::now());
    REQUIRE_FALSE(gone);
    CHECK(gone.error().code == Errc::not_found);
  }
  SECTION("every process that mapped it killed") {
    auto creator = test::ChildProcess::start("win-segment-ready", {session.name()});
    REQUIRE(test::eventually([&] { return open_now(name).has_value(); }, 10'000ms));
    creator.kill_hard();
    REQUIRE(creator.wait_for(10s));
    auto gone = shm::Segment::open(name, shm::Deadline::now());
    REQUIRE_FALSE(gone);
    CHECK(gone.error().code == Errc::not_found);
    CHECK(session.leftover_segments().empty());
  }
}
