#include "two_process.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <system_error>
#include <utility>

#include "placement.hpp"

namespace bench {
namespace {

using colony::subprocess::Child;
using colony::subprocess::ExitStatus;
using colony::subprocess::Io;

// A peer runs until the case's deadline plus its own alarm's margin: by then
// it has ended, or the bench kills it.
constexpr std::chrono::seconds kPeerGrace{10};
// A case process reports its own timeout; the bench gives it this much more.
constexpr std::chrono::seconds kCaseProcessGrace{5};

// The I/O of the control and data pipes, with their errors as BenchError (the
// drivers add the peer's post mortem to those).
Io transfer(const char* verb, const char* what, const std::function<Io()>& io) {
  try {
    return io();
  } catch (const std::system_error& e) {
    throw BenchError(std::string(verb) + " " + what + ": " + e.code().message());
  }
}

// "exited with status 0", "was killed by signal 9 (Killed)".
std::string ending_of(const ExitStatus& status) {
  if (status.exited) return "exited with status " + std::to_string(status.code);
  if (status.signaled) return "was killed by signal " + std::to_string(status.signal) + " (" + status.signal_name() + ")";
  return "ended in an unknown way";
}

std::span<std::byte> bytes_of(ControlMessage& message) { return std::as_writable_bytes(std::span(&message, 1)); }

}  // namespace

void write_all(int fd, std::span<const std::byte> bytes, const char* what) {
  switch (transfer("writing", what, [&] { return colony::subprocess::write_all(fd, bytes, watchdog_fired); })) {
    case Io::done:
      return;
    case Io::closed:
      throw BenchError(std::string("writing ") + what + ": the other side closed it");
    case Io::interrupted:
      throw BenchError(timeout_message(what));
  }
}

void read_all(int fd, std::span<std::byte> bytes, const char* what) {
  switch (transfer("reading", what, [&] { return colony::subprocess::read_exact(fd, bytes, watchdog_fired); })) {
    case Io::done:
      return;
    case Io::closed:
      throw BenchError(std::string("reading ") + what + ": the other side closed it");
    case Io::interrupted:
      throw BenchError(timeout_message(what));
  }
}

// ---------------------------------------------------------------------------
// ControlLink (peer side)

void ControlLink::send(ControlKind kind, std::uint64_t value, std::int64_t time_ns) {
  ControlMessage message;
  message.kind = kind;
  message.value = value;
  message.time_ns = time_ns;
  write_all(out_, bytes_of(message), "control pipe");
}

void ControlLink::send_error(const char* text) noexcept {
  ControlMessage message;
  message.kind = ControlKind::error;
  std::snprintf(message.text, sizeof(message.text), "%s", text);
  try {
    write_all(out_, bytes_of(message), "control pipe");
  } catch (...) {
    // The bench is gone or not listening: the exit status still tells.
  }
}

std::uint64_t ControlLink::receive_count() {
  ControlMessage message;
  read_all(in_, bytes_of(message), "control pipe");
  if (message.kind != ControlKind::count) throw BenchError("control pipe: expected a count");
  return message.value;
}

// ---------------------------------------------------------------------------
// Peer (bench side)

Peer::Peer(Child child, Clock::time_point deadline, Fd to_peer, Fd from_peer) noexcept
    : child_(std::move(child)), reap_by_(deadline), to_peer_(std::move(to_peer)), from_peer_(std::move(from_peer)) {}

Peer::~Peer() { kill_and_reap(); }

Peer Peer::spawn(RunContext& context, const std::function<void(ControlLink&)>& body) {
  FdPair down = make_pipe();  // bench -> peer
  FdPair up = make_pipe();    // peer -> bench
  const Clock::time_point deadline = context.deadline();
  const std::optional<int> cpu = context.placement().peer_cpu;
  Child child = Child::run(
      [&]() -> int {
        // The bench's ends stay open in the bench only, so that each side
        // sees EOF when the other dies.
        down.second.reset();
        up.first.reset();
        become_peer_process(deadline);
        pin_to(cpu);
        ControlLink link(down.first.get(), up.second.get());
        try {
          body(link);
        } catch (const std::exception& e) {
          link.send_error(e.what());
          return 1;
        } catch (...) {
          link.send_error("unknown exception");
          return 1;
        }
        return 0;
      },
      // Dies with the bench, even if it is killed before it reaps us; never
      // runs the bench's destructors or atexit handlers.
      colony::subprocess::OnParentDeath::kill, colony::subprocess::Ending::quick);
  set_watchdog_victim(child.pid());
  return Peer(std::move(child), deadline + kPeerGrace, std::move(down.second), std::move(up.first));
}

void Peer::send_count(std::uint64_t value) {
  ControlMessage message;
  message.kind = ControlKind::count;
  message.value = value;
  write_all(to_peer_.get(), bytes_of(message), "control pipe");
}

ControlMessage Peer::expect(ControlKind kind) {
  ControlMessage message;
  const Io io = transfer("reading", "control pipe", [&] {
    return colony::subprocess::read_exact(from_peer_.get(), bytes_of(message), watchdog_fired);
  });
  switch (io) {
    case Io::done:
      break;
    case Io::closed:
      throw BenchError("the peer process " + reap_and_describe() + " before reporting");
    case Io::interrupted:
      kill_and_reap();
      throw BenchError(timeout_message("waiting for the peer process") + "; it was killed");
  }
  if (message.kind == ControlKind::error) {
    message.text[sizeof(message.text) - 1] = '\0';
    throw BenchError(std::string("peer process: ") + message.text);
  }
  if (message.kind != kind)
    throw BenchError("control pipe: unexpected message kind " +
                     std::to_string(static_cast<std::uint32_t>(message.kind)));
  return message;
}

void Peer::finish() {
  if (!child_.running()) return;
  const std::string how = reap_and_describe();
  if (how != "exited with status 0") throw BenchError("the peer process " + how);
}

std::string Peer::post_mortem() noexcept {
  try {
    std::string out;
    if (colony::subprocess::wait_readable(from_peer_.get(), std::chrono::milliseconds(200))) {
      ControlMessage message;
      if (colony::subprocess::read_exact(from_peer_.get(), bytes_of(message)) == Io::done &&
          message.kind == ControlKind::error) {
        message.text[sizeof(message.text) - 1] = '\0';
        out += std::string("; peer process: ") + message.text;
      }
    }
    if (child_.running()) {
      const std::optional<ExitStatus> status = child_.wait_for(std::chrono::milliseconds(200));
      if (status) {
        set_watchdog_victim(-1);
        out += "; the peer process " + ending_of(*status);
      }
    }
    return out;
  } catch (...) {
    return {};
  }
}

std::string Peer::reap_and_describe() {
  if (!child_.running()) return "was already reaped";
  // The watchdog kills it at the deadline (or its own alarm a little later).
  std::optional<ExitStatus> status = child_.wait_until(reap_by_);
  if (!status) status = child_.kill_and_reap();
  set_watchdog_victim(-1);
  return ending_of(*status);
}

void Peer::kill_and_reap() noexcept {
  if (!child_.running()) return;
  child_.kill_and_reap();
  set_watchdog_victim(-1);
}

// ---------------------------------------------------------------------------
// A case in a process of its own

namespace {

// The child's answer, as text lines: "ok" then "<field> <value>" lines, or
// "error" / "absent" then the message. Numbers in hexadecimal floating point,
// so that they cross exactly.
std::string encode(const Measurement& m) {
  std::string out = "ok\n";
  const auto number = [&out](const char* name, double value) {
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "%a", value);
    out += std::string(name) + " " + buffer + "\n";
  };
  if (m.p50_ns) number("p50", *m.p50_ns);
  if (m.p99_ns) number("p99", *m.p99_ns);
  if (m.p90_ns) number("p90", *m.p90_ns);
  if (m.msgs_per_s) number("msgs", *m.msgs_per_s);
  if (m.bytes_per_s) number("bytes", *m.bytes_per_s);
  if (m.samples) number("samples", static_cast<double>(*m.samples));
  for (const auto& [name, value] : m.extra) number(("extra:" + name).c_str(), value);
  std::string note = m.note;
  std::replace(note.begin(), note.end(), '\n', ' ');
  if (!note.empty()) out += "note " + note + "\n";
  return out;
}

Measurement decode(const std::string& text) {
  const auto first_end = text.find('\n');
  const std::string head = text.substr(0, first_end);
  std::string rest = first_end == std::string::npos ? std::string() : text.substr(first_end + 1);
  if (head == "error" || head == "absent") {
    if (!rest.empty() && rest.back() == '\n') rest.pop_back();
    if (head == "absent") throw CaseAbsent(rest);
    throw BenchError(rest);
  }
  if (head != "ok") throw BenchError("the case process sent no result");
  Measurement m;
  std::size_t begin = 0;
  while (begin < rest.size()) {
    auto end = rest.find('\n', begin);
    if (end == std::string::npos) end = rest.size();
    const std::string line = rest.substr(begin, end - begin);
    begin = end + 1;
    const auto space = line.find(' ');
    if (space == std::string::npos) continue;
    const std::string name = line.substr(0, space);
    const std::string value_text = line.substr(space + 1);
    if (name == "note") {
      m.note = value_text;
      continue;
    }
    const double value = std::strtod(value_text.c_str(), nullptr);
    if (name == "p50") m.p50_ns = value;
    if (name == "p99") m.p99_ns = value;
    if (name == "p90") m.p90_ns = value;
    if (name == "msgs") m.msgs_per_s = value;
    if (name == "bytes") m.bytes_per_s = value;
    if (name == "samples") m.samples = static_cast<std::size_t>(value);
    if (name.rfind("extra:", 0) == 0) m.extra.emplace_back(name.substr(6), value);
  }
  return m;
}

std::string answer_of(const std::function<Measurement()>& body) {
  try {
    return encode(body());
  } catch (const CaseAbsent& e) {
    return std::string("absent\n") + e.what();
  } catch (const std::exception& e) {
    return std::string("error\n") + e.what();
  } catch (...) {
    return "error\nunknown exception";
  }
}

}  // namespace

Measurement run_in_child(RunContext& context, const std::function<Measurement()>& body) {
  FdPair result = make_pipe();
  const Clock::time_point deadline = context.deadline();
  Child child = Child::run(
      [&]() -> int {
        result.first.reset();
        become_case_process(deadline);
        const std::string answer = answer_of(body);
        try {
          write_all(result.second.get(), std::as_bytes(std::span(answer.data(), answer.size())), "result pipe");
        } catch (...) {
          // The bench is gone; the exit status still tells.
        }
        result.second.reset();
        disarm_watchdog();
        return 0;
      },
      // It dies with the bench, and its peer with it. exit, not _exit: the
      // libraries' static destructors (a runtime leaving its daemon) must
      // run; the bench's own objects live on its stack, untouched.
      colony::subprocess::OnParentDeath::kill, colony::subprocess::Ending::normal);
  // Not the bench's peer for the watchdog: the child reports its own timeout first.
  result.second.reset();

  // The child times itself out at the case's deadline (its watchdog); the
  // bench gives it a few seconds more to say so, then kills it. After the
  // result pipe closed, the child only runs its static destructors (a
  // runtime leaving its daemon): they get until the limit too.
  const Clock::time_point limit = deadline + kCaseProcessGrace;
  std::string text;
  const bool complete = transfer("reading", "the result pipe",
                                 [&] { return colony::subprocess::read_to_end(result.first.get(), text, limit)
                                                  ? Io::done
                                                  : Io::interrupted; }) == Io::done;
  if (!complete) child.kill();
  std::optional<ExitStatus> status = child.wait_until(limit);
  if (!status) status = child.kill_and_reap();
  if (!complete) throw BenchError(timeout_message("the case process") + "; it was killed");
  if (text.empty()) {
    if (status->signaled) throw BenchError("the case process " + ending_of(*status));
    throw BenchError("the case process " + ending_of(*status) + " without a result");
  }
  Measurement measured = decode(text);
  if (!status->ok()) throw BenchError("the case process " + ending_of(*status) + " after its result");
  return measured;
}

}  // namespace bench
