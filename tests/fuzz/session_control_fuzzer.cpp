// The session control segment as colony ps, colony top and colony clean read
// it, written by another process: the fuzz bytes go into a real ctl.session
// of a session unique to this process, the real readers run over it, and
// every segment of the session is removed before the next input. Whatever the bytes, the readers answer or refuse
// with an error; never a crash, an access out of bounds or a hang.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "colony/broker/clean.hpp"
#include "colony/worker/errors.hpp"
#include "json_output.hpp"
#include "ps_view.hpp"
#include "session_image.hpp"
#include "top_view.hpp"

using namespace colony;

namespace {

const std::string& session() {
  static const std::string name = fuzz::session_for("sess");
  return name;
}

void look_as_ps(const std::shared_ptr<detail::SessionMap>& map) {
  cli::SessionLooker looker(map, cli::LookOptions{true, false});
  (void)looker.look();
  const cli::SessionSnapshot snapshot = looker.look();  // the second look has rates
  (void)cli::json_text(cli::ps_json(snapshot));
  cli::print_ps_table(snapshot, fuzz::null_output());
}

void look_as_top(const std::shared_ptr<detail::SessionMap>& map) {
  cli::SessionLooker looker(map, cli::LookOptions{false, true});
  (void)looker.look();
  const cli::SessionSnapshot frame = looker.look();
  (void)cli::json_text(cli::frame_json(frame));
  (void)cli::frame_lines(frame, 200);
  (void)looker.session_ended();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::remove_stale_sessions("sess");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::uint8_t flags = 0;
  {
    auto segment = fuzz::make_session_control(session());
    fuzz::require(segment.has_value(), "cannot make the session's control segment");
    flags = fuzz::apply_session_image(*segment, std::span<const std::uint8_t>(data, size));
  }
  try {
    const auto map = detail::or_throw(detail::SessionMap::open(session(), shm::Deadline::now()));
    look_as_ps(map);
    look_as_top(map);
  } catch (const WorkerError&) {
    // Refused, with a reason: what a corrupt session gets.
  }
  const SessionCheck check = check_session(session());
  (void)check;
  (void)unverifiable_segments(session());
  CleanOptions options;
  options.only_session = session();
  options.force = (flags & fuzz::kSessionForceClean) != 0;
  (void)clean_dead_sessions(options);
  fuzz::remove_session(session());
  return 0;
}
