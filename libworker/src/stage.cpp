#include "colony/worker/stage.hpp"

#include "colony/worker/worker.hpp"

namespace colony {

StageChannels stage_channels() {
  auto& self = Worker::current();
  StageChannels channels;
  if (self.has_shared_property(kStageInputProperty)) {
    channels.input = self.get_shared_property<MessageChannel>(kStageInputProperty);
  }
  if (self.has_shared_property(kStageOutputProperty)) {
    channels.output = self.get_shared_property<MessageChannel>(kStageOutputProperty);
  }
  return channels;
}

}  // namespace colony
