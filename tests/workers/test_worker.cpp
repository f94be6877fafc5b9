// The worker executable the multi-process tests launch. argv[1] names the
// behaviour; each is a small worker a user might write.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "colony/worker/mailbox.hpp"
#include "colony/worker/named.hpp"
#include "colony/worker/stage.hpp"
#include "colony/worker/value.hpp"
#include "colony/worker/worker.hpp"
#include "test_types.hpp"

// Registered only in the worker: the parent cannot decode it.
struct OnlyInWorker {
  std::int32_t value = 0;
  template <class A> void serialize(A& a) { a(value); }
};
COLONY_REGISTER_TYPE(OnlyInWorker, "test.only_in_worker")

namespace {

using colony::MessageChannel;
using colony::SharedByteArray;
using colony::Worker;

int term_log_fd = -1;

// Async-signal-safe: one write of a fixed line.
void note_term(int) {
  static const char line[] = "SIGTERM\n";
  [[maybe_unused]] const auto written = ::write(term_log_fd, line, sizeof line - 1);
}

void append_line(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::app) << text << "\n";
}

// Echoes strings and increments integers back to the parent.
int echo(Worker& self) {
  self.on_message<std::string>([&](std::string text) { self.post_message(text); });
  self.on_message<std::int32_t>([&](std::int32_t n) { self.post_message(std::int32_t{n + 1}); });
  return self.run();
}

int main_with(const std::string& mode, int argc, char** argv) {
  if (mode == "not-a-worker") {
    // Never calls Worker::current(): the broker must give up on it.
    std::this_thread::sleep_for(std::chrono::seconds(60));
    return 0;
  }
  if (mode == "exit") {
    (void)Worker::current();
    return argc > 2 ? std::atoi(argv[2]) : 0;
  }
  if (mode == "exit-without-attaching") return argc > 2 ? std::atoi(argv[2]) : 0;
  if (mode == "named") {
    // A named worker: a counter whose state persists between calls. With
    // argv[2], it exits (cleanly) after that many idle milliseconds.
    colony::Methods methods;
    std::int64_t total = 0;
    std::string started = "no";
    methods.on("", [&](const colony::Call&) {
      started = "yes";
      return colony::Value();
    });
    methods.on("add", [&](const colony::Call& call) {
      total += call.args[0].as_int();
      return colony::Value(total);
    });
    methods.on("get", [&](const colony::Call&) { return colony::Value(total); });
    methods.on("started", [&](const colony::Call&) { return colony::Value(started); });
    methods.on("pid", [&](const colony::Call&) { return colony::Value(static_cast<std::int64_t>(::getpid())); });
    methods.on("die", [&](const colony::Call&) -> colony::Value { std::raise(SIGKILL); return {}; });
    methods.on("sleep", [&](const colony::Call& call) {
      std::this_thread::sleep_for(std::chrono::milliseconds(call.args[0].as_int()));
      return colony::Value("slept");
    });
    methods.on("fail", [&](const colony::Call&) -> colony::Value { throw std::runtime_error("asked to fail"); });
    methods.on("throw-int", [&](const colony::Call&) -> colony::Value { throw 42; });
    methods.on("exit", [&](const colony::Call& call) -> colony::Value {
      std::exit(static_cast<int>(call.args[0].as_int()));
    });
    methods.on("say-and-crash-once", [&](const colony::Call& call) {
      // Leaves lines on stderr for the crash report, then dies on its first delivery.
      if (!call.redelivered) {
        std::fprintf(stderr, "about to crash\nholding %s\n", call.args[0].as_string().c_str());
        std::fflush(stderr);
        std::raise(SIGKILL);
      }
      return colony::Value("survived");
    });
    // Order-sensitive state: the arguments of every "push", in arrival order.
    colony::Value::Array pushed;
    methods.on("push", [&](const colony::Call& call) {
      pushed.push_back(call.args[0]);
      return colony::Value(static_cast<std::int64_t>(pushed.size()));
    });
    methods.on("pushed", [&](const colony::Call&) { return colony::Value(pushed); });
    // Side effects that outlive the process: appends args[1] to file args[0].
    methods.on("note", [&](const colony::Call& call) {
      append_line(call.args[0].as_string(), call.args[1].as_string());
      return colony::Value("noted");
    });
    // Notes "begin", waits until file args[1] exists (30 s at most), notes "end".
    methods.on("hold", [&](const colony::Call& call) {
      append_line(call.args[0].as_string(), "begin");
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (::access(call.args[1].as_string().c_str(), F_OK) != 0 && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      append_line(call.args[0].as_string(), "end");
      return colony::Value("released");
    });
    // A child of its own (an echo worker) whose messages and exit reach this
    // worker's handlers between calls: each is appended to file args[0].
    // Posts args[1] to the child; returns the child's pid.
    std::vector<colony::WorkerHandle> children;
    methods.on("adopt-echo", [&](const colony::Call& call) {
      const std::string log = call.args[0].as_string();
      auto child = Worker::current().create(argv[0], {"echo"});
      child.on_message<std::string>([log](const std::string& text) { append_line(log, "child said " + text); });
      child.on_exit([log](const colony::ExitStatus&) { append_line(log, "child exited"); });
      child.start();
      child.post_message(call.args[1].as_string());
      children.push_back(child);
      return colony::Value(static_cast<std::int64_t>(child.pid()));
    });
    methods.on("end-children", [&](const colony::Call&) {
      for (auto& child : children) child.terminate();
      return colony::Value(static_cast<std::int64_t>(children.size()));
    });
    methods.on("crash-once", [&](const colony::Call& call) {
      if (!call.redelivered) std::raise(SIGKILL);
      return colony::Value(colony::Value::Map{{"attempt", static_cast<std::int64_t>(call.attempt)}});
    });
    if (argc > 2) return methods.serve(std::chrono::milliseconds(std::atoi(argv[2])));
    return methods.serve();
  }
  if (mode == "call-and-exit") {
    // Adds 1 three times to worker argv[2], waiting for each reply; exits with the last.
    const std::string session = Worker::current().session();
    std::int64_t total = 0;
    for (int i = 0; i < 3; ++i) {
      total = colony::call(session, argv[2], "add", colony::Value::Array{1}, colony::CallOptions{true, std::chrono::seconds(20)})
                  ->as_int();
    }
    return static_cast<int>(total);
  }
  if (mode == "caller") {
    // Calls worker argv[2]'s "add" argv[3] times with 1, without waiting.
    const int count = std::atoi(argv[3]);
    const std::string session = Worker::current().session();
    for (int i = 0; i < count; ++i) {
      (void)colony::call(session, argv[2], "add", colony::Value::Array{1});
    }
    return 0;
  }
  auto& self = Worker::current();
  if (mode == "echo") return echo(self);
  if (mode == "signal") {
    std::raise(argc > 2 ? std::atoi(argv[2]) : SIGKILL);
    return 0;
  }
  if (mode == "props") {
    // The parent set "in" before start(): readable from the first line.
    const auto in = self.get_shared_property<std::int32_t>("in");
    const auto name = self.get_shared_property<std::string>("name");
    self.set_shared_property("out", std::int32_t{in * 2});
    self.set_shared_property("greeting", "hello " + name);
    // "report" answers, when asked, what was read at startup and what
    // reading again gives now; anything else is echoed.
    self.on_message<std::string>([&self, in, name](const std::string& text) {
      if (text != "report") {
        self.post_message(text);
        return;
      }
      self.post_message("read in=" + std::to_string(in) + " name=" + name +
                        ", now in=" + std::to_string(self.get_shared_property<std::int32_t>("in")));
    });
    self.on_message<std::int32_t>([&](std::int32_t n) { self.post_message(std::int32_t{n + 1}); });
    self.post_message(std::string("ready"));
    return self.run();
  }
  if (mode == "channels") {
    // One channel arrives through a property, others inside messages; each
    // one's strings come back to the parent tagged with where they came from.
    auto from_property = self.get_shared_property<MessageChannel>("jobs");
    from_property.on_message<std::string>([&](std::string text) { self.post_message("property:" + text); });
    self.on_message<TestEnvelope>([&](TestEnvelope envelope) {
      auto channel = envelope.channel;
      const std::string label = envelope.label;
      channel.on_message<std::string>([&self, label](std::string text) { self.post_message(label + ":" + text); });
      self.post_message("bound:" + label);
    });
    self.post_message(std::string("ready"));
    return self.run();
  }
  if (mode == "produce") {
    // Creates a channel (we are its sender), hands it to the parent, and on
    // "go" sends 0..count-1 through it.
    const auto count = static_cast<std::uint64_t>(std::atoll(argv[2]));
    auto channel = MessageChannel::create();
    self.on_message<std::string>([&](const std::string& command) {
      if (command != "go") return;
      for (std::uint64_t i = 0; i < count; ++i) channel.send(i);
      self.post_message(std::string("sent"));
    });
    self.post_message(channel);
    return self.run();
  }
  if (mode == "produce-lines") {
    // Creates a channel, hands it to the parent, and on "go" sends
    // "line <i>" for i < count, then closes it.
    const int count = std::atoi(argv[2]);
    auto channel = MessageChannel::create();
    self.on_message<std::string>([&](const std::string& command) {
      if (command != "go") return;
      for (int i = 0; i < count; ++i) channel.send("line " + std::to_string(i));
      channel.close();
    });
    self.post_message(channel);
    return self.run();
  }
  if (mode == "stage-produce") {
    // A first pipeline stage: sends "line <i>" for i < count on its output,
    // and stops quietly when the reader has ended (the send fails closed).
    const int count = std::atoi(argv[2]);
    auto stage = colony::stage_channels();
    for (int i = 0; i < count; ++i) {
      const auto sent = stage.output.try_send("line " + std::to_string(i), colony::shm::Deadline::after(std::chrono::seconds(30)));
      if (sent == colony::SendStatus::closed) return 0;
      if (sent != colony::SendStatus::ok) return 3;
    }
    return 0;
  }
  if (mode == "stage-check") {
    // A last pipeline stage: checks each input line is "LINE <i>" in order,
    // then sends one summary line; exits 1 when a line was wrong.
    auto stage = colony::stage_channels();
    std::uint64_t received = 0;
    std::uint64_t wrong = 0;
    for (;;) {
      auto line = stage.input.receive<std::string>(std::chrono::seconds(30));
      if (line.status == colony::shm::Outcome::closed) break;
      if (!line.ok()) return 4;
      if (*line.value != "LINE " + std::to_string(received)) ++wrong;
      ++received;
    }
    stage.output.send("checked " + std::to_string(received) + " lines, " + std::to_string(wrong) + " wrong");
    stage.output.send(colony::Value(colony::Value::Map{{"received", static_cast<long long>(received)}}));
    return wrong == 0 ? 0 : 1;
  }
  if (mode == "stage-channels") {
    // Reports which stage channels it was given.
    auto stage = colony::stage_channels();
    std::printf("input %s output %s\n", stage.input.valid() ? "yes" : "no", stage.output.valid() ? "yes" : "no");
    return 0;
  }
  if (mode == "collect-upper") {
    // Receives a channel of lines; checks each is "LINE <i>" in order and
    // reports the counts when the channel closes.
    std::uint64_t received = 0;
    std::uint64_t wrong = 0;
    MessageChannel input;
    self.on_message<MessageChannel>([&](MessageChannel channel) {
      input = channel;
      for (;;) {
        auto line = input.receive<std::string>(std::chrono::seconds(30));
        if (line.status == colony::shm::Outcome::closed) break;
        if (!line.ok()) return;
        if (*line.value != "LINE " + std::to_string(received)) ++wrong;
        ++received;
      }
      self.post_message(TestCounts{received, wrong});
    });
    return self.run();
  }
  if (mode == "loan-produce") {
    // Creates a channel, hands it to the parent, and on "go" sends count
    // messages built in place (message i: i % 5 * 300 + 1 bytes, byte j =
    // (i + j) & 0xff), one of 1 MiB (past any ring: out of line), then
    // 0..count-1 as one batch.
    const auto count = static_cast<std::uint64_t>(std::atoll(argv[2]));
    auto channel = MessageChannel::create();
    self.on_message<std::string>([&](const std::string& command) {
      if (command != "go") return;
      const auto send_pattern = [&](std::uint64_t i, std::size_t size) {
        auto loan = channel.loan<std::vector<std::uint8_t>>(size);
        const auto bytes = loan.elements();
        for (std::size_t j = 0; j < bytes.size(); ++j) bytes[j] = static_cast<std::uint8_t>((i + j) & 0xff);
        loan.send();
      };
      for (std::uint64_t i = 0; i < count; ++i) send_pattern(i, static_cast<std::size_t>(i % 5 * 300 + 1));
      send_pattern(count, std::size_t{1} << 20);
      std::vector<std::uint64_t> batch(count);
      for (std::uint64_t i = 0; i < count; ++i) batch[i] = i;
      channel.send_all(batch);
      self.post_message(std::string("sent"));
    });
    self.post_message(channel);
    return self.run();
  }
  if (mode == "loan-die") {
    // Creates a channel, hands it to the parent, and on "go" sends three
    // 100-byte messages of 1, 2, 3 built in place, then dies by SIGKILL
    // while it holds a fourth loan, half written.
    auto channel = MessageChannel::create();
    self.on_message<std::string>([&](const std::string& command) {
      if (command != "go") return;
      for (std::uint8_t i = 1; i <= 3; ++i) {
        auto loan = channel.loan<std::vector<std::uint8_t>>(100);
        std::fill(loan.elements().begin(), loan.elements().end(), i);
        loan.send();
      }
      auto held = channel.loan<std::vector<std::uint8_t>>(100);
      std::fill(held.elements().begin(), held.elements().begin() + 50, std::uint8_t{0xee});
      std::raise(SIGKILL);
    });
    self.post_message(channel);
    return self.run();
  }
  if (mode == "view-die") {
    // Receives a channel and views its messages in place: reports the
    // size and first byte of each, and dies by SIGKILL inside the handler
    // of one whose first byte is 0xdd.
    MessageChannel input;
    self.on_message<MessageChannel>([&](MessageChannel channel) {
      input = channel;
      input.on_view<std::vector<std::byte>>([&](std::span<const std::byte> bytes) {
        const int first = bytes.empty() ? -1 : static_cast<int>(bytes[0]);
        self.post_message("viewed " + std::to_string(bytes.size()) + " " + std::to_string(first));
        if (first == 0xdd) std::raise(SIGKILL);
      });
      self.post_message(std::string("bound"));
    });
    return self.run();
  }
  if (mode == "consume") {
    // Receives a channel from the parent and checks that what comes through
    // it is 0, 1, 2, ... in order; reports the count when it reaches count.
    const auto count = static_cast<std::uint64_t>(std::atoll(argv[2]));
    std::uint64_t expected = 0;
    std::uint64_t out_of_order = 0;
    MessageChannel input;
    self.on_message<MessageChannel>([&](MessageChannel channel) {
      input = channel;
      input.on_message<std::uint64_t>([&](std::uint64_t value) {
        if (value != expected) ++out_of_order;
        expected = value + 1;
        if (expected == count) self.post_message(TestCounts{expected, out_of_order});
      });
      self.post_message(std::string("bound"));
    });
    return self.run();
  }
  if (mode == "peer") {
    // Receives a handle to another worker: reads its state and a property.
    self.on_message<colony::WorkerHandle>([&](colony::WorkerHandle peer) {
      const auto name = peer.get_shared_property<std::string>("name");
      self.post_message(name + " is " + std::string(colony::to_string(peer.state())));
    });
    return self.run();
  }
  if (mode == "value-echo") {
    // Sends each dynamic value back with the key "seen_by" added.
    self.on_message<colony::Value>([&](colony::Value value) {
      value["seen_by"] = static_cast<std::int64_t>(::getpid());
      self.post_message(value);
    });
    return self.run();
  }
  if (mode == "mailbox-reader") {
    // Reads mailbox argv[2] and reports each message it handles to its parent
    // as "handled:<text>:<attempt>:<redelivered>". "die" kills it every time,
    // "die-once..." only on its first delivery.
    auto box = colony::Mailbox::open_or_create(self.session(), argv[2]);
    for (;;) {
      auto delivery = box.take(colony::shm::Deadline::after(std::chrono::seconds(30)));
      if (!delivery) return 0;
      auto text = colony::shm::decode_record<std::string>(delivery->record);
      if (!text.ok()) return 5;
      if (*text.value == "die" || (text.value->starts_with("die-once") && !delivery->redelivered)) {
        std::raise(SIGKILL);
      }
      self.post_message("handled:" + *text.value + ":" + std::to_string(delivery->attempt) + ":" +
                        (delivery->redelivered ? "1" : "0"));
      box.done();
    }
  }
  if (mode == "mailbox-post") {
    // Posts argv[4] messages "<argv[3]>:<i>" into mailbox argv[2].
    auto box = colony::Mailbox::open_or_create(self.session(), argv[2]);
    const int count = std::atoi(argv[4]);
    for (int i = 0; i < count; ++i) {
      const std::string text = std::string(argv[3]) + ":" + std::to_string(i);
      if (box.post(text, colony::shm::Deadline::after(std::chrono::seconds(30))) != colony::shm::Outcome::ok) return 6;
    }
    return 0;
  }
  if (mode == "cwd") {
    char directory[4096];
    self.post_message(std::string(::getcwd(directory, sizeof(directory)) ? directory : "?"));
    return 0;
  }
  if (mode == "idle") {
    // Attached, never reads: its channels fill up. Exits after argv[2] ms (60 s by default).
    std::this_thread::sleep_for(std::chrono::milliseconds(argc > 2 ? std::atoi(argv[2]) : 60'000));
    return 0;
  }
  if (mode == "spin") {
    // Attached, burns CPU for argv[2] ms.
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::atoi(argv[2]));
    volatile std::uint64_t work = 0;
    while (std::chrono::steady_clock::now() < until) work = work + 1;
    return 0;
  }
  if (mode == "ignore-term") {
    // Notes each SIGTERM in file argv[2] and goes on running.
    term_log_fd = ::open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (term_log_fd < 0) return 3;
    struct sigaction on_term {};
    on_term.sa_handler = note_term;
    ::sigaction(SIGTERM, &on_term, nullptr);
    self.post_message(std::string("ready"));
    for (;;) ::pause();
  }
  if (mode == "blocking-echo") {
    // No event loop: blocks in receive until told to quit.
    for (;;) {
      auto received = self.receive<std::string>(std::chrono::seconds(30));
      if (!received.ok()) return 3;
      if (*received.value == "quit") return 0;
      self.post_message("got:" + *received.value);
    }
  }
  if (mode == "throw") {
    self.on_message<std::string>([&](const std::string& text) {
      if (text == "boom") throw std::runtime_error("boom requested");
      self.post_message("served:" + text);
    });
    return self.run();
  }
  if (mode == "messageerror") {
    // Tells the parent about each messageerror it sees, on either side.
    self.on_messageerror([&](const colony::MessageError& error) {
      self.post_message(std::string(error.sent ? "told-sent:" : "told-received:") + error.message);
    });
    self.on_message<std::string>([&](const std::string& text) {
      if (text == "send-undecodable") self.post_message(OnlyInWorker{7});
      else self.post_message("served:" + text);
    });
    return self.run();
  }
  if (mode == "close") {
    self.on_message<std::string>([&](const std::string& text) {
      if (text != "close") return;
      self.post_message(std::string("closing"));
      self.close();
      // close() ends the worker after this handler, not in the middle of it.
      self.post_message(std::string("handler finished"));
    });
    return self.run();
  }
  if (mode == "tree") {
    // A chain of workers: each reports its pid and its descendants' pids up.
    // With argv[3], the last holds that many MiB, written: the kernel takes
    // a while to tear them down, so it dies slowly.
    const int depth = std::atoi(argv[2]);
    const std::string ballast_mib = argc > 3 ? argv[3] : "0";
    std::vector<char> ballast;
    colony::WorkerHandle child;
    if (depth <= 1) ballast.assign(static_cast<std::size_t>(std::atoi(ballast_mib.c_str())) << 20, 1);
    if (depth > 1) {
      child = self.create(argv[0], {"tree", std::to_string(depth - 1), ballast_mib});
      child.on_message<std::int32_t>([&](std::int32_t pid) { self.post_message(pid); });
      child.start();
    }
    self.post_message(std::int32_t{::getpid()});
    return self.run();
  }
  if (mode == "bytes") {
    // Receives shared byte arrays; reports whether the first two are the
    // same object and what the first holds at offset 0.
    std::vector<SharedByteArray> arrays;
    self.on_message<SharedByteArray>([&](SharedByteArray array) {
      arrays.push_back(array);
      if (arrays.size() == 3) {
        TestBytesReport report;
        report.first_is_second = arrays[0] == arrays[1];
        report.first_is_third = arrays[0] == arrays[2];
        report.value = arrays[0]->load<std::uint32_t>(0).value();
        (void)arrays[1]->store<std::uint32_t>(4, 77);
        self.post_message(report);
      }
    });
    return self.run();
  }
  std::fprintf(stderr, "test_worker: unknown mode '%s'\n", mode.c_str());
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: colony_test_worker MODE [ARGS...]\n");
    return 64;
  }
  try {
    return main_with(argv[1], argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "test_worker %s: %s\n", argv[1], e.what());
    return 70;
  }
}
