#include "profile/profile.h"

#include "util/parallel.h"

namespace npuscribe {

ScopedKernelTimer::ScopedKernelTimer(ProfileSink* sink, std::string kernel, std::string backend,
                                     std::uint64_t operations, std::uint64_t bytes_moved, int layer)
    : sink_(sink) {
  if (!sink_) return;
  event_.kernel = std::move(kernel);
  event_.backend = std::move(backend);
  event_.operations = operations;
  event_.bytes_moved = bytes_moved;
  event_.layer = layer;
  event_.start_ns = now_ns();
}

ScopedKernelTimer::~ScopedKernelTimer() {
  if (!sink_) return;
  event_.duration_ns = now_ns() - event_.start_ns;
  sink_->record(event_);
}

}  // namespace npuscribe
