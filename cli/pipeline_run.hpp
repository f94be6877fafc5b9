#pragma once
// Runs the stages of a pipeline file in a session this process hosts, until
// every stage has ended and every output was printed.

#include "colony/broker/broker.hpp"
#include "pipeline_file.hpp"
#include "stop_on_signals.hpp"

namespace colony::cli {

// Exit code: 0 when every stage succeeded; otherwise the shell code of the
// last failing stage in pipeline order (as `set -o pipefail`); 127 when a
// stage could not be started; 128+N when signal N stopped the session.
int run_pipeline(Broker& broker, const PipelineSpec& spec, const StopOnSignals& stop);

}  // namespace colony::cli
