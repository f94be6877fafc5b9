#pragma once
// The two measurement drivers and the helpers that turn a transport class
// into a row of the case list.
//
// A round-trip transport (PingPong) is constructed in the bench before the
// fork and creates its named objects there; after the fork each process
// calls its side's connect function, then the bench pings and the peer echoes:
//
//   struct X {
//     X(RunContext&, extra args...);   // create pipes, segments, queues
//     void bench_side();               // after fork, in the bench
//     void peer_side();                // after fork, in the peer
//     void ping(std::uint64_t seq);    // bench: send message seq
//     void await_pong(std::uint64_t seq);  // bench: wait for the answer to seq
//     void echo(std::uint64_t seq);    // peer: wait for message seq, send it back
//   };
//
// A one-way transport (Stream) sends from the bench to the peer:
//
//   struct Y {
//     Y(RunContext&, std::size_t message_size, extra args...);
//     void sender_side();
//     void receiver_side();
//     void send(std::uint64_t seq);                   // one message, stamped seq
//     void receive(std::uint64_t seq, bool every_byte);  // the next message must be seq
//   };
//
// Either kind may also have
//
//     void peer_end();   // the peer's last act, after it reported done
//
// and a stream
//
//     void flush();      // after the last send of a batch: publish what is held back
//
// for a library that must flush what it sent or leave a daemon before the
// peer process ends (it ends with _exit, which runs no destructor).
//
// Every wait inside a transport ends by RunContext::deadline() (or the
// watchdog) and every failure throws BenchError.

#include <algorithm>
#include <concepts>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "bench.hpp"
#include "colony/shm/cpu_relax.hpp"
#include "stats.hpp"
#include "two_process.hpp"

namespace bench {

using colony::shm::cpu_relax;

// ---------------------------------------------------------------------------
// Message content: the sequence number in the first 8 bytes, a fill pattern
// after it. Receivers check the number of every message and, for the last
// message of a batch, every byte.

inline constexpr std::byte kFill{0xA5};

inline void fill_message(std::span<std::byte> message) { std::fill(message.begin(), message.end(), kFill); }

inline void stamp(std::span<std::byte> message, std::uint64_t seq) { std::memcpy(message.data(), &seq, sizeof(seq)); }

inline void check_message(std::span<const std::byte> message, std::size_t size, std::uint64_t seq, bool every_byte) {
  if (message.size() != size) {
    throw BenchError("message " + std::to_string(seq) + " has " + std::to_string(message.size()) + " bytes, expected " +
                     std::to_string(size));
  }
  std::uint64_t got = 0;
  std::memcpy(&got, message.data(), sizeof(got));
  if (got != seq) throw BenchError("expected message " + std::to_string(seq) + ", got " + std::to_string(got));
  if (every_byte && std::any_of(message.begin() + sizeof(seq), message.end(), [](std::byte b) { return b != kFill; })) {
    throw BenchError("message " + std::to_string(seq) + " arrived with wrong content");
  }
}

// ---------------------------------------------------------------------------
// Drivers

template <class T>
concept PingPong = requires(T t, std::uint64_t seq) {
  t.bench_side();
  t.peer_side();
  t.ping(seq);
  t.await_pong(seq);
  t.echo(seq);
};

template <class T>
concept Stream = requires(T t, std::uint64_t seq, bool every_byte) {
  t.sender_side();
  t.receiver_side();
  t.send(seq);
  t.receive(seq, every_byte);
};

template <class T>
void peer_end(T& transport) {
  if constexpr (requires { transport.peer_end(); }) transport.peer_end();
}

// A stream that publishes several messages at once publishes the rest of a
// batch here, after the batch's last send.
template <class T>
void flush(T& transport) {
  if constexpr (requires { transport.flush(); }) transport.flush();
}

// Runs the bench's side of a case; a failure there is reported together with
// what the peer said or how it ended, which is usually the cause.
template <class Body>
Measurement with_post_mortem(Peer& peer, Body&& body) {
  try {
    return body();
  } catch (const BenchError& e) {
    throw BenchError(e.what() + peer.post_mortem());
  }
}

// Round trips of kPingSize-byte messages, timed one by one in the bench.
template <PingPong T, class... Args>
Measurement run_latency(RunContext& context, const Args&... args) {
  T transport(context, args...);
  const std::uint64_t warmup = context.latency_warmup();
  const std::uint64_t total = warmup + context.latency_iterations();

  Peer peer = Peer::spawn(context, [&](ControlLink& link) {
    transport.peer_side();
    link.send(ControlKind::ready);
    for (std::uint64_t seq = 1; seq <= total; ++seq) transport.echo(seq);
    link.send(ControlKind::done, total);
    peer_end(transport);
  });
  return with_post_mortem(peer, [&] {
    transport.bench_side();
    peer.expect(ControlKind::ready);

    std::vector<std::int64_t> samples;
    samples.reserve(total - warmup);
    for (std::uint64_t seq = 1; seq <= total; ++seq) {
      const auto start = Clock::now();
      transport.ping(seq);
      transport.await_pong(seq);
      const auto end = Clock::now();
      if (seq > warmup) samples.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
    }
    peer.expect(ControlKind::done);
    peer.finish();
    return latency_measurement(std::move(samples));
  });
}

// One-way messages from the bench to the peer: a pilot pass (warm-up, and it
// sizes the timed pass to last about throughput_seconds()), then the timed
// pass, from the first send in the bench to the last receive in the peer.
template <Stream T, class... Args>
Measurement run_throughput(RunContext& context, std::size_t size, const Args&... args) {
  T transport(context, size, args...);
  const std::uint64_t pilot = context.pilot_messages(size);

  Peer peer = Peer::spawn(context, [&](ControlLink& link) {
    transport.receiver_side();
    link.send(ControlKind::ready);
    std::uint64_t seq = 0;
    const auto receive_batch = [&](std::uint64_t count) {
      for (std::uint64_t i = 1; i <= count; ++i) transport.receive(++seq, i == count);
      link.send(ControlKind::done, count, now_ns());
    };
    receive_batch(pilot);
    receive_batch(link.receive_count());
    peer_end(transport);
  });
  return with_post_mortem(peer, [&] {
    transport.sender_side();
    peer.expect(ControlKind::ready);

    std::uint64_t seq = 0;
    const auto send_batch = [&](std::uint64_t count) {
      const std::int64_t start = now_ns();
      for (std::uint64_t i = 0; i < count; ++i) transport.send(++seq);
      flush(transport);
      const ControlMessage done = peer.expect(ControlKind::done);
      if (done.value != count) throw BenchError("the peer received " + std::to_string(done.value) + " messages");
      return done.time_ns - start;
    };
    const std::int64_t pilot_ns = std::max<std::int64_t>(send_batch(pilot), 1);
    const double pilot_rate = static_cast<double>(pilot) / (static_cast<double>(pilot_ns) * 1e-9);
    const std::uint64_t count = timed_messages(pilot_rate, context.throughput_seconds());
    peer.send_count(count);
    const std::int64_t elapsed_ns = send_batch(count);
    peer.finish();
    return throughput_measurement(count, size, elapsed_ns);
  });
}

// ---------------------------------------------------------------------------
// Rows

template <PingPong T, class... Args>
Case latency_case(CaseKind kind, std::string transport, Args... args) {
  return Case{kind, std::move(transport), kPingSize,
              [=](RunContext& context) { return run_latency<T>(context, args...); }};
}

template <Stream T, class... Args>
Case throughput_case(std::string transport, std::size_t size, Args... args) {
  return Case{CaseKind::throughput, std::move(transport), size,
              [=](RunContext& context) { return run_throughput<T>(context, size, args...); }};
}

// A row measured by a plain function (e.g. the single-process memcpy ceiling).
inline Case function_case(CaseKind kind, std::string transport, std::size_t size,
                          Measurement (*run)(RunContext&, std::size_t)) {
  return Case{kind, std::move(transport), size, [=](RunContext& context) { return run(context, size); }};
}

}  // namespace bench
