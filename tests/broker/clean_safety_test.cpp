// Never remove what cannot be proved ours and dead: a live session whose
// control segment is damaged, another user's live session, names squatted in
// /dev/shm before a broker starts, and a broker whose pid was reused.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "child_process.hpp"
#include "colony/broker/clean.hpp"
#include "colony/shm/process.hpp"
#include "colony/shm/segment.hpp"
#include "colony/session/contract.hpp"
#include "colony/session/session_map.hpp"
#include "colony/worker/value.hpp"
#include "worker_test_support.hpp"

using namespace colony;
using namespace std::chrono_literals;

namespace {

constexpr int kNobody = 65534;

std::string shm_path(const std::string& session, const std::string& rest) {
  return "/dev/shm/colony." + session + "." + rest;
}

test::CommandResult run_colony(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 20s) {
  std::vector<std::string> argv{test::cli_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_command(argv, timeout);
}

// The same command as the user nobody, through util-linux's setpriv.
test::CommandResult colony_as_nobody(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 20s) {
  std::vector<std::string> argv{"/usr/bin/setpriv", "--reuid=" + std::to_string(kNobody),
                                "--regid=" + std::to_string(kNobody), "--clear-groups", "--", test::cli_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_command(argv, timeout);
}

std::string start_broker(const std::string& session) {
  const auto started =
      run_colony({"broker", "start", "--session", session, "--worker", "counter=" + test::worker_path() + " named"});
  REQUIRE(started.exit_code == 0);
  return session;
}

shm::Segment open_control(const std::string& session) {
  auto name = shm::SegmentName::make(session, shm::SegmentKind::control, detail::kSessionControl);
  auto segment = shm::Segment::open(*name, shm::Deadline::after(2s));
  REQUIRE(segment);
  return std::move(segment).value();
}

detail::SessionHeader& header_of(const shm::Segment& control) {
  return *reinterpret_cast<detail::SessionHeader*>(control.control());
}

void write_file(const std::string& path, const std::string& contents, mode_t mode) {
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, mode);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size()));
  ::fchmod(fd, mode);
  ::close(fd);
}

// Removes, at the end of a test, the squatted entries it made by hand.
struct SquattedFiles {
  std::vector<std::string> paths;
  ~SquattedFiles() {
    for (const auto& path : paths) ::unlink(path.c_str());
  }
};

COLONY_CHILD_SCENARIO("clean-sleep") {
  ::sleep(60);
  return 0;
}

}  // namespace

TEST_CASE("colony clean leaves a live session whose control segment is damaged untouched, even with --force",
          "[ipc][clean]") {
  const std::string session = start_broker(test::unique_session("damaged"));
  const auto before = test::session_segments(session);
  auto control = open_control(session);
  auto& header = header_of(control);
  const std::uint64_t magic = header.magic;
  header.magic = 0x0bad;

  const auto cleaned = run_colony({"clean", "--session", session});
  CHECK(cleaned.exit_code == 1);
  CHECK(cleaned.out.find("kept /colony." + session + ".ctl.session: session '" + session + "' cannot be told dead") !=
        std::string::npos);
  CHECK(test::session_segments(session) == before);

  const auto forced = run_colony({"clean", "--force", "--session", session, "--json"});
  const auto report = Value::from_json(forced.out);
  CHECK(report["removed"] == Value(Value::Array{}));
  CHECK(report["skipped"][0]["reason"].as_string().find("its broker ring is read by pid") != std::string::npos);
  CHECK(test::session_segments(session) == before);

  const auto status = run_colony({"broker", "status", "--session", session});
  CHECK(status.exit_code == 1);
  CHECK(status.out.find("cannot be read: control segment /colony." + session + ".ctl.session does not hold") !=
        std::string::npos);

  header.magic = magic;  // repaired: the session is reachable again and stops cleanly
  CHECK(run_colony({"broker", "stop", "--session", session}, 30s).exit_code == 0);
  CHECK(test::session_segments(session).empty());
}

TEST_CASE("colony clean keeps a live session whose control segment has the wrong mode", "[ipc][clean]") {
  const std::string session = start_broker(test::unique_session("mode"));
  const std::string control = shm_path(session, "ctl.session");
  REQUIRE(::chmod(control.c_str(), 0644) == 0);
  const auto cleaned = run_colony({"clean", "--session", session});
  CHECK(cleaned.exit_code == 1);
  CHECK(cleaned.out.find("has mode 0644, expected 0600") != std::string::npos);
  CHECK(std::filesystem::exists(control));
  const auto ps = run_colony({"ps", "--session", session});
  CHECK(ps.exit_code == 1);
  CHECK(ps.err.find("cannot be read") != std::string::npos);
  REQUIRE(::chmod(control.c_str(), 0600) == 0);
  CHECK(run_colony({"broker", "stop", "--session", session}, 30s).exit_code == 0);
}

TEST_CASE("a name squatted before broker start is refused, named and left as it was", "[ipc][clean]") {
  const std::string session = test::unique_session("squat");
  SquattedFiles squatted;
  std::string path;
  std::string expected;
  SECTION("a symlink as the control segment") {
    const std::string target = "/dev/shm/colony-test-target-" + session;
    write_file(target, "precious", 0600);
    squatted.paths.push_back(target);
    path = shm_path(session, "ctl.session");
    REQUIRE(::symlink(target.c_str(), path.c_str()) == 0);
    expected = "is a symbolic link";
  }
  SECTION("garbage as the control segment") {
    path = shm_path(session, "ctl.session");
    write_file(path, std::string(8192, 'g'), 0600);
    expected = "bad magic";
  }
  SECTION("another user's file as the control segment") {
    path = shm_path(session, "ctl.session");
    write_file(path, std::string(8192, 'g'), 0600);
    REQUIRE(::chown(path.c_str(), kNobody, kNobody) == 0);
    expected = "belongs to uid 65534";
  }
  SECTION("a mailbox of the wrong mode") {
    path = shm_path(session, "ring.mb-counter");
    write_file(path, std::string(8192, 0), 0644);
    expected = "has mode 0644";
  }
  squatted.paths.push_back(path);
  struct stat before {};
  REQUIRE(::lstat(path.c_str(), &before) == 0);

  const auto started_at = std::chrono::steady_clock::now();
  const auto started =
      run_colony({"broker", "start", "--session", session, "--worker", "counter=" + test::worker_path() + " named"});
  CHECK(started.exit_code == 1);
  CHECK(started.err.find(expected) != std::string::npos);
  CHECK(started.err.find(session) != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - started_at < 4s);  // the reason comes back, not a 5 s timeout

  // Untouched, and the failed start left nothing of its own.
  struct stat after {};
  REQUIRE(::lstat(path.c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);
  CHECK(after.st_uid == before.st_uid);
  CHECK(test::session_segments(session) == std::vector<std::string>{std::filesystem::path(path).filename().string()});
  CHECK(test::processes_in_session(session).empty());

  const auto cleaned = run_colony({"clean", "--session", session});
  CHECK(cleaned.exit_code == 1);
  CHECK(std::filesystem::exists(std::filesystem::symlink_status(path)));
}

TEST_CASE("colony clean --force removes one session's garbage after listing it, never another user's file",
          "[ipc][clean]") {
  const std::string session = test::unique_session("force");
  SquattedFiles squatted;
  const std::string garbage = shm_path(session, "ctl.session");
  const std::string foreign = shm_path(session, "ring.other");
  write_file(garbage, std::string(8192, 'g'), 0600);
  write_file(foreign, std::string(8192, 'g'), 0600);
  REQUIRE(::chown(foreign.c_str(), kNobody, kNobody) == 0);
  squatted.paths = {garbage, foreign};

  CHECK(run_colony({"clean", "--force"}).exit_code == 2);  // never for every session at once
  const auto forced = run_colony({"clean", "--force", "--session", session});
  CHECK(forced.out.find("cannot validate /colony." + session + ".ctl.session") != std::string::npos);
  CHECK(forced.out.find("removed /colony." + session + ".ctl.session") != std::string::npos);
  CHECK(forced.out.find("kept /colony." + session + ".ring.other: not removed even with --force: it belongs to uid 65534") !=
        std::string::npos);
  CHECK(forced.exit_code == 1);
  CHECK_FALSE(std::filesystem::exists(garbage));
  CHECK(std::filesystem::exists(foreign));
}

TEST_CASE("another user's live session is refused by root's clean and start, and ps, status, top and stop say so",
          "[ipc][clean]") {
  const std::string session = test::unique_session("nobody");
  const auto started = colony_as_nobody({"broker", "start", "--session", session});
  REQUIRE(started.exit_code == 0);
  const auto before = test::session_segments(session);
  REQUIRE_FALSE(before.empty());

  const auto cleaned = run_colony({"clean", "--session", session, "--json"});
  const auto report = Value::from_json(cleaned.out);
  for (const auto& removed : report["removed"].as_array()) CHECK(removed.as_string().find(session) == std::string::npos);
  CHECK(cleaned.exit_code == 1);
  CHECK(test::session_segments(session) == before);

  const auto restarted = run_colony({"broker", "start", "--session", session});
  CHECK(restarted.exit_code == 1);
  CHECK(restarted.err.find("not accessible to this user") != std::string::npos);
  CHECK(test::session_segments(session) == before);
  for (const auto& command : {"ps", "top", "stop"}) {
    std::vector<std::string> args{command, "--session", session};
    if (std::string_view(command) == "top") args.push_back("--once");
    if (std::string_view(command) == "stop") args.insert(args.begin(), "broker");
    const auto refused = run_colony(args);
    INFO(command << ": " << refused.err);
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("not accessible to this user") != std::string::npos);
  }
  const auto status = run_colony({"broker", "status", "--session", session});
  CHECK(status.exit_code == 1);
  CHECK(status.out.find("not accessible to this user") != std::string::npos);

  CHECK(colony_as_nobody({"broker", "stop", "--session", session}, 30s).exit_code == 0);
  CHECK(test::session_segments(session).empty());
}

TEST_CASE("a dead broker whose pid now names another process is dead, and colony clean removes its session",
          "[crash][clean]") {
  const std::string session = start_broker(test::unique_session("reused"));
  // Should a check below fail, the session still goes at the end: by then
  // the bystander (declared later, so ended first) no longer runs, and
  // clean --force removes a session none of whose processes runs.
  struct RemoveSession {
    const std::string& session;
    ~RemoveSession() { (void)run_colony({"clean", "--force", "--session", session}); }
  } remove_session{session};
  const auto status = Value::from_json(run_colony({"broker", "status", "--session", session, "--json"}).out);
  const int broker_pid = static_cast<int>(status["broker_pid"].as_int());
  REQUIRE(subprocess::kill_process(broker_pid));
  REQUIRE(test::eventually([&] { return !shm::process_is_alive(broker_pid); }, 5000ms));

  // Another process gets "its" pid: forged here by writing a live process's
  // pid, with the dead broker's start time, where the broker is recorded.
  // Start times are kernel ticks (10 ms): a bystander started within the
  // broker's tick would be the broker as far as anyone can tell, so the test
  // waits for a later tick (a real reuse of the pid comes far later).
  const std::uint32_t broker_start = [&] { return header_of(open_control(session)).broker_start; }();
  std::optional<test::ChildProcess> bystander_process;
  for (int attempt = 0; attempt < 20 && !bystander_process; ++attempt) {
    auto candidate = test::ChildProcess::start("clean-sleep");
    if (shm::identity_of(candidate.pid()).start != broker_start) {
      bystander_process.emplace(std::move(candidate));
    } else {
      std::this_thread::sleep_for(10ms);
    }
  }
  REQUIRE(bystander_process.has_value());
  test::ChildProcess& bystander = *bystander_process;
  {
    auto control = open_control(session);
    header_of(control).broker_pid.store(bystander.pid());
    std::atomic_ref<std::int32_t>(control.header().creator_pid).store(bystander.pid());
  }
  CHECK(shm::process_is_alive(bystander.pid()));
  CHECK_FALSE(session_is_live(session));
  const auto cleaned = run_colony({"clean", "--session", session});
  CHECK(cleaned.out.find("removed /colony." + session + ".ctl.session") != std::string::npos);
  CHECK(test::eventually([&] { return test::session_segments(session).empty(); }, 5000ms));
  CHECK(shm::process_is_alive(bystander.pid()));  // and it was not signalled
}

TEST_CASE("reply rings have names no local process can guess: squatted names never deny a waited call",
          "[ipc][clean]") {
  const std::string session = start_broker(test::unique_session("replies"));
  // The names sequential ids would give the next calls, and more: squatted.
  SquattedFiles squatted;
  std::uint64_t next_id = 0;
  {
    auto control = open_control(session);
    next_id = header_of(control).next_object_id.load();
  }
  for (std::uint64_t id = next_id; id < next_id + 64; ++id) {
    const std::string path = shm_path(session, "ring.rp" + std::to_string(id));
    write_file(path, "squatted", 0600);
    squatted.paths.push_back(path);
  }
  for (int call = 1; call <= 3; ++call) {
    const auto added = run_colony({"call", "--session", session, "counter", "add", "1", "--wait"});
    CHECK(added.exit_code == 0);
    CHECK(added.out == std::to_string(call) + "\n");
  }
  for (const auto& path : squatted.paths) CHECK(std::filesystem::file_size(path) == 8);  // untouched
  CHECK(run_colony({"broker", "stop", "--session", session}, 30s).exit_code == 0);
}

TEST_CASE("colony clean without --session removes every dead session of its user and nothing else", "[ipc][clean]") {
  // Run as the user nobody: cleaning every session then reaches only
  // nobody's, never the dead sessions of other tests running meanwhile.
  const std::string dead = test::unique_session("everydead");
  const std::string live = test::unique_session("everylive");
  const std::string rooted = test::unique_session("everyroot");  // dead too, but this user's, not nobody's
  struct EndSessions {
    const std::string& live;
    const std::string& dead;
    const std::string& rooted;
    ~EndSessions() {
      (void)colony_as_nobody({"broker", "stop", "--session", live}, 30s);
      (void)colony_as_nobody({"clean", "--session", dead});
      (void)run_colony({"clean", "--session", rooted});
    }
  } end_sessions{live, dead, rooted};
  const auto broker_pid_of = [](const test::CommandResult& status) {
    REQUIRE(status.exit_code == 0);
    return static_cast<int>(Value::from_json(status.out)["broker_pid"].as_int());
  };
  const auto kill_broker = [](int pid) {
    REQUIRE(subprocess::kill_process(pid));
    REQUIRE(test::eventually([&] { return !shm::process_is_alive(pid); }, 5000ms));
  };
  REQUIRE(colony_as_nobody({"broker", "start", "--session", dead}).exit_code == 0);
  kill_broker(broker_pid_of(colony_as_nobody({"broker", "status", "--session", dead, "--json"})));
  REQUIRE(colony_as_nobody({"broker", "start", "--session", live}).exit_code == 0);
  start_broker(rooted);
  kill_broker(broker_pid_of(run_colony({"broker", "status", "--session", rooted, "--json"})));
  const auto sorted_segments = [](const std::string& session) {
    auto names = test::session_segments(session);
    std::sort(names.begin(), names.end());
    return names;
  };
  const auto dead_segments = sorted_segments(dead);
  const auto live_segments = sorted_segments(live);
  const auto rooted_segments = sorted_segments(rooted);
  REQUIRE_FALSE(dead_segments.empty());
  REQUIRE_FALSE(live_segments.empty());
  REQUIRE_FALSE(rooted_segments.empty());

  const auto cleaned = colony_as_nobody({"clean", "--json"});
  INFO(cleaned.out << cleaned.err);
  CHECK(cleaned.exit_code == 1);  // it refused segments it cannot validate as its own: the other user's
  const auto report = Value::from_json(cleaned.out);
  std::vector<std::string> removed;
  for (const auto& name : report["removed"].as_array()) removed.push_back(name.as_string().substr(1));
  for (const auto& name : dead_segments) CHECK(std::find(removed.begin(), removed.end(), name) != removed.end());
  CHECK(test::session_segments(dead).empty());
  bool live_kept = false;
  for (const auto& session : report["kept_sessions"].as_array()) live_kept = live_kept || session.as_string() == live;
  CHECK(live_kept);
  CHECK(sorted_segments(live) == live_segments);
  CHECK(sorted_segments(rooted) == rooted_segments);
  for (const auto& name : removed) {
    CHECK_FALSE(name.starts_with("colony." + live + "."));
    CHECK_FALSE(name.starts_with("colony." + rooted + "."));
  }
}
