// --plot FILE: the comparison with the peers as a picture, drawn by gnuplot.
//
// Four panels, one bar per transport, Colony's rows in blue, the raw floors
// and the memcpy ceiling in grey, the other peers in orange:
//   round trip p50, 64 B, spinning    round trip p50, 64 B, blocking
//   throughput 64 B (messages/s)      throughput 64 KiB (bytes/s)
// A panel without rows (--case) is left out; absent and failed rows are not
// drawn, nor memcpy's 64 B messages/s (named in the panel's title). The script (data inline, as gnuplot datablocks) goes to gnuplot's
// standard input; nothing is written but FILE.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "colony/subprocess/child.hpp"
#include "colony/subprocess/io.hpp"
#include "report.hpp"
#include "two_process.hpp"

namespace bench {
namespace {

struct Bar {
  std::string label;
  double value;        // in the panel's unit
  std::string shown;   // the value as the table prints it
  unsigned colour;     // 0xRRGGBB
};

struct Panel {
  std::string title;
  std::string unit;
  std::vector<Bar> bars;
};

// gnuplot draws four panels in well under a second; a hung one is killed.
constexpr std::chrono::seconds kGnuplotTimeout{60};

constexpr unsigned kColonyColour = 0x1f77b4;
constexpr unsigned kFloorColour = 0x9e9e9e;
constexpr unsigned kPeerColour = 0xff7f0e;

unsigned colour_of(const std::string& transport) {
  if (transport.rfind("colony", 0) == 0) return kColonyColour;
  if (transport.rfind("raw-", 0) == 0 || transport == "memcpy") return kFloorColour;
  return kPeerColour;
}

// A gnuplot string in single quotes: only the quote itself is special.
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// A gnuplot string in double quotes, where \n starts a new line.
std::string double_quoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
  }
  return out + "\"";
}

// A datablock field in double quotes (labels have no double quote or newline).
std::string field(std::string text) {
  std::replace(text.begin(), text.end(), '"', '\'');
  std::replace(text.begin(), text.end(), '\n', ' ');
  return "\"" + text + "\"";
}

Panel collect(const std::vector<RowResult>& results, std::string title, std::string unit, CaseKind kind,
              std::size_t size, double scale, const std::function<std::optional<double>(const Measurement&)>& metric,
              const std::function<std::string(const Measurement&)>& shown) {
  Panel panel{std::move(title), std::move(unit), {}};
  for (const RowResult& result : results) {
    if (result.row->kind != kind || result.row->size_bytes != size || !result.measured) continue;
    const std::optional<double> value = metric(*result.measured);
    if (!value) continue;
    panel.bars.push_back(
        Bar{result.row->transport, *value / scale, shown(*result.measured), colour_of(result.row->transport)});
  }
  return panel;
}

std::string script(const std::string& file, const std::vector<Panel>& panels) {
  const bool png = file.size() >= 4 && file.compare(file.size() - 4, 4, ".png") == 0;
  const int columns = panels.size() > 1 ? 2 : 1;
  const int rows = static_cast<int>((panels.size() + 1) / 2);
  const int width = columns == 1 ? 1000 : 1400;
  const int height = rows * 480 + 60;
  std::string out;
  out += png ? "set terminal pngcairo size " + std::to_string(width) + "," + std::to_string(height) +
                   " font 'Sans,10' background rgb 'white'\n"
             : "set terminal svg size " + std::to_string(width) + "," + std::to_string(height) +
                   " font 'Sans,12' background rgb 'white'\n";
  out += "set output " + quoted(file) + "\n";
  out += "set termoption noenhanced\n";
  for (std::size_t i = 0; i < panels.size(); ++i) {
    out += "$panel" + std::to_string(i) + " << EOD\n";
    for (std::size_t j = 0; j < panels[i].bars.size(); ++j) {
      const Bar& bar = panels[i].bars[j];
      char value[64];
      std::snprintf(value, sizeof(value), "%.6g", bar.value);
      out += std::to_string(j) + " " + field(bar.label) + " " + value + " " + field(bar.shown) + " " +
             std::to_string(bar.colour) + "\n";
    }
    out += "EOD\n";
  }
  out += "set multiplot layout " + std::to_string(rows) + "," + std::to_string(columns) + " title " +
         double_quoted("colony_bench: Colony and its peers, " + machine_summary() +
                       "\nblue: Colony; orange: peers; grey: raw floors and memcpy; absent rows are not drawn") +
         " font ',13'\n";
  out += "set style fill solid 0.85 border rgb '#404040'\n";
  out += "set boxwidth 0.7\n";
  out += "set grid ytics lc rgb '#dddddd'\n";
  out += "set xtics rotate by -30 nomirror font ',10'\n";
  out += "set ytics nomirror\n";
  out += "set key off\n";
  out += "set yrange [0:*]\n";
  for (std::size_t i = 0; i < panels.size(); ++i) {
    const Panel& panel = panels[i];
    const std::string data = "$panel" + std::to_string(i);
    out += "set title " + quoted(panel.title) + "\n";
    out += "set ylabel " + quoted(panel.unit) + "\n";
    out += "set xrange [-0.6:" + std::to_string(static_cast<double>(panel.bars.size()) - 0.4) + "]\n";
    // Room above the tallest bar for its label.
    out += "set offsets 0, 0, graph 0.12, 0\n";
    out += "plot " + data + " using 1:3:5:xtic(2) with boxes lc rgb variable, " + data +
           " using 1:3:4 with labels offset 0,0.8 font ',9'\n";
  }
  out += "unset multiplot\n";
  return out;
}

// Runs gnuplot with the script on its standard input; "" or what went wrong.
std::string run_gnuplot(const std::string& gnuplot, const std::string& text) {
  FdPair input = make_pipe();
  colony::subprocess::SpawnOptions options;
  options.stdin_fd = input.first.get();
  colony::subprocess::Child child;
  try {
    child = colony::subprocess::Child::spawn({gnuplot}, options);
  } catch (const std::exception& e) {
    return "cannot run " + gnuplot + ": " + e.what();
  }
  input.first.reset();
  std::string problem;
  try {
    write_all(input.second.get(), std::as_bytes(std::span(text.data(), text.size())), "gnuplot's input");
  } catch (const BenchError& e) {
    problem = e.what();
  }
  input.second.reset();
  const std::optional<colony::subprocess::ExitStatus> status = child.wait_until(Clock::now() + kGnuplotTimeout);
  if (!status) return "gnuplot did not finish within " + std::to_string(kGnuplotTimeout.count()) + " s; killed";
  if (status->signaled) return "gnuplot was killed by signal " + std::to_string(status->signal);
  if (status->code != 0) return "gnuplot exited with status " + std::to_string(status->code);
  return problem;
}

}  // namespace

bool plot_results(const std::string& file, const std::vector<RowResult>& results) {
  const auto p50 = [](const Measurement& m) { return m.p50_ns; };
  const auto msgs = [](const Measurement& m) { return m.msgs_per_s; };
  const auto bytes = [](const Measurement& m) { return m.bytes_per_s; };
  const auto show_p50 = [](const Measurement& m) { return format_time(m.p50_ns); };
  const auto show_msgs = [](const Measurement& m) { return format_rate(m.msgs_per_s, "/s"); };
  const auto show_bytes = [](const Measurement& m) { return format_rate(m.bytes_per_s, "B/s"); };
  std::vector<Panel> panels = {
      collect(results, "Round trip p50, 64 B, spinning (lower is better)", "ns", CaseKind::latency_spin, kPingSize,
              1.0, p50, show_p50),
      collect(results, "Round trip p50, 64 B, blocking (lower is better)", "us", CaseKind::latency_block, kPingSize,
              1e3, p50, show_p50),
      collect(results, "Throughput, 64 B messages (higher is better)", "million messages/s", CaseKind::throughput,
              kSmall, 1e6, msgs, show_msgs),
      collect(results, "Throughput, 64 KiB messages (higher is better)", "GB/s", CaseKind::throughput, kLarge, 1e9,
              bytes, show_bytes),
  };
  // memcpy's 64 B "messages" per second (hundreds of millions) would flatten
  // every other bar: named in the title instead. Its 64 KiB bytes/s stays,
  // the ceiling the 64 KiB target compares with.
  std::vector<Bar>& small = panels[2].bars;
  const auto memcpy_bar = std::find_if(small.begin(), small.end(), [](const Bar& bar) { return bar.label == "memcpy"; });
  if (memcpy_bar != small.end()) {
    panels[2].title += "; memcpy: " + memcpy_bar->shown + ", not drawn";
    small.erase(memcpy_bar);
  }
  std::erase_if(panels, [](const Panel& panel) { return panel.bars.empty(); });
  if (panels.empty()) {
    std::fprintf(stderr, "colony_bench: --plot: no round-trip or 64 B / 64 KiB throughput row was measured\n");
    return false;
  }
  const std::optional<std::string> gnuplot = colony::subprocess::find_in_path("gnuplot");
  if (!gnuplot) {
    std::fprintf(stderr, "colony_bench: --plot needs gnuplot, which is not in PATH (Debian: apt-get install gnuplot-nox)\n");
    return false;
  }
  const std::string problem = run_gnuplot(*gnuplot, script(file, panels));
  if (!problem.empty()) {
    std::fprintf(stderr, "colony_bench: --plot %s: %s\n", file.c_str(), problem.c_str());
    return false;
  }
  std::fprintf(stderr, "colony_bench: plot written to %s\n", file.c_str());
  return true;
}

}  // namespace bench
