#include "pipeline_run.hpp"

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "broken_pipe.hpp"
#include "colony/worker/stage.hpp"
#include "colony/worker/value.hpp"
#include "colony/worker/worker.hpp"
#include "commands.hpp"

namespace colony::cli {
namespace {

using Clock = std::chrono::steady_clock;

// After a stop signal the broker ends every stage; past this, give up waiting
// for the last exits rather than hang.
constexpr auto kStopPatience = std::chrono::seconds(30);

struct RunningStage {
  const StageSpec* spec = nullptr;
  WorkerHandle handle;
  MessageChannel input;   // the output of the stage it reads
  MessageChannel output;  // what it sends on
  bool printed = false;   // no stage reads it: colony prints it
  bool started = false;
  std::optional<ExitStatus> exit;
  std::uint64_t exit_order = 0;
};

std::string describe(const RunningStage& stage) {
  return std::string("stage '").append(stage.spec->name).append("' (").append(stage.spec->executable).append(")");
}

// colony's standard output. A reader that went away (`colony run ... | head`)
// is remembered, not fatal: the broken pipe signal is ignored, and the session then ends.
struct Output {
  bool broken = false;
  bool unprintable = false;  // a stage sent something with no printed form
  void write(const void* data, std::size_t size, bool newline) {
    if (broken) return;
    if (std::fwrite(data, 1, size, stdout) != size || (newline && std::fputc('\n', stdout) == EOF)) broken = true;
  }
  void flush() {
    if (!broken && std::fflush(stdout) != 0) broken = true;
  }
};

template <class T>
void print_as_json(MessageChannel& channel, Output& out) {
  channel.on_message<T>([&out](T value) {
    const std::string line = Value(value).to_json();
    out.write(line.data(), line.size(), true);
  });
}

// What the last stage sends lands on colony's standard output: lines as
// lines, byte chunks as they are, other values as one JSON line each.
void print_output(MessageChannel& channel, Output& out, const std::string& stage) {
  channel.on_message<std::string>([&out](std::string line) { out.write(line.data(), line.size(), true); });
  channel.on_message<std::vector<std::byte>>(
      [&out](std::vector<std::byte> chunk) { out.write(chunk.data(), chunk.size(), false); });
  channel.on_message<Value>([&out](Value value) {
    const std::string line = value.to_json();
    out.write(line.data(), line.size(), true);
  });
  print_as_json<std::int64_t>(channel, out);
  print_as_json<std::int32_t>(channel, out);
  print_as_json<std::uint64_t>(channel, out);
  print_as_json<std::uint32_t>(channel, out);
  print_as_json<double>(channel, out);
  print_as_json<bool>(channel, out);
  channel.on_messageerror([&out, stage](const MessageError& error) {
    std::fprintf(stderr, "colony: stage '%s' sent what colony cannot print: %s\n", stage.c_str(), error.message.c_str());
    out.unprintable = true;
  });
}

std::vector<RunningStage> create_stages(Worker& host, const PipelineSpec& spec, Output& out) {
  std::vector<RunningStage> stages(spec.stages.size());
  std::vector<bool> has_reader(spec.stages.size(), false);
  for (const auto& stage : spec.stages) {
    if (stage.input) has_reader[*stage.input] = true;
  }
  // spec.stages lists each stage after the one it reads, so its input exists.
  for (std::size_t i = 0; i < spec.stages.size(); ++i) {
    const StageSpec& stage_spec = spec.stages[i];
    RunningStage& stage = stages[i];
    stage.spec = &stage_spec;
    if (stage_spec.input) stage.input = stages[*stage_spec.input].output;
    ChannelOptions output_options;
    output_options.capacity = stage_spec.capacity;
    if (stage_spec.plain) {
      PlainOptions io;
      io.input = stage.input;
      io.chunks = stage_spec.chunks;
      io.output = output_options;
      stage.handle = host.create_plain(stage_spec.executable, stage_spec.arguments, io);
      stage.output = stage.handle.output();
    } else {
      stage.output = MessageChannel::create(output_options);
      stage.handle = host.create(stage_spec.executable, stage_spec.arguments);
      if (stage.input.valid()) stage.handle.set_shared_property(kStageInputProperty, stage.input);
      stage.handle.set_shared_property(kStageOutputProperty, stage.output);
    }
    if (!has_reader[i]) {
      stage.printed = true;
      print_output(stage.output, out, stage_spec.name);
    }
  }
  return stages;
}

bool finished(const std::vector<RunningStage>& stages) {
  for (const auto& stage : stages) {
    if (!stage.started) continue;
    if (!stage.exit) return false;
    if (stage.printed && stage.output.state() != ChannelState::closed) return false;
  }
  return true;
}

// A stage killed by the broken pipe signal after the stage reading it had ended was told to
// stop, as in a shell pipeline: not a failure.
bool stopped_by_its_reader(const std::vector<RunningStage>& stages, std::size_t index) {
  const RunningStage& stage = stages[index];
  if (stage.exit->kind != ExitStatus::Kind::signaled || stage.exit->signal != broken_pipe_signal()) return false;
  for (const auto& reader : stages) {
    if (reader.spec->input == index) return reader.exit && reader.exit_order < stage.exit_order;
  }
  return false;
}

}  // namespace

int run_pipeline(Broker& broker, const PipelineSpec& spec, const StopOnSignals& stop) {
  Worker& host = broker.host();
  ignore_broken_pipe();
  Output out;
  std::vector<RunningStage> stages = create_stages(host, spec, out);
  std::uint64_t exits_seen = 0;
  for (auto& stage : stages) {
    stage.handle.on_exit([&stage, &exits_seen](const ExitStatus& status) {
      stage.exit = status;
      stage.exit_order = ++exits_seen;
      // Its reader sees the end of its input once it has read the rest; the
      // stage feeding it learns that nobody reads any more (send: closed).
      stage.output.close();
      if (stage.input.valid()) stage.input.close();
    });
  }

  int code = 0;
  for (auto& stage : stages) {
    try {
      stage.handle.start();
      stage.started = true;
    } catch (const WorkerError& e) {
      std::fprintf(stderr, "colony: %s cannot start: %s\n", describe(stage).c_str(), e.what());
      code = kCannotRun;
      break;
    }
  }
  if (code != 0) {
    // Nothing more flows: a stage blocked sending to one that never started
    // must see its channel closed, or its end would never come.
    for (auto& stage : stages) {
      stage.output.close();
      if (stage.input.valid()) stage.input.close();
      if (stage.started) stage.handle.terminate();
    }
  }

  std::optional<Clock::time_point> give_up;
  bool output_lost = false;
  while (!finished(stages)) {
    if (stop.signal() != 0 && !give_up) give_up = Clock::now() + kStopPatience;
    if (give_up && Clock::now() >= *give_up) {
      std::fprintf(stderr, "colony: stages still running %lld s after the stop signal; leaving them to the broker\n",
                   static_cast<long long>(kStopPatience.count()));
      break;
    }
    (void)host.dispatch(std::chrono::milliseconds(100));
    out.flush();
    if (out.broken && !output_lost) {
      // Nobody reads colony's output: end the stages, as a shell pipeline would.
      output_lost = true;
      for (auto& stage : stages) {
        if (stage.printed) stage.output.close();
      }
      broker.request_stop();
      give_up = Clock::now() + kStopPatience;
    }
  }
  out.flush();

  if (stop.signal() != 0) return 128 + stop.signal();
  if (output_lost) return 128 + broken_pipe_signal();
  if (code != 0) return code;
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const RunningStage& stage = stages[i];
    if (!stage.exit || stage.exit->ok() || stopped_by_its_reader(stages, i)) continue;
    std::fprintf(stderr, "colony: %s %s\n", describe(stage).c_str(), stage.exit->describe().c_str());
    code = stage.exit->shell_code();
  }
  if (code == 0 && out.unprintable) code = kFailure;
  return code;
}

}  // namespace colony::cli
