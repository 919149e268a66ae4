// Per-kernel profiling events, emitted by every backend. Each event says whether its time was measured on
// the machine or modelled (the NPU emulator), so no figure is ever shown without its provenance.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace npuscribe {

enum class TimingSource { measured = 1, modelled = 2 };

struct KernelEvent {
  std::string kernel;   // "conv_stem", "encoder.attention", "decoder.logits", ...
  std::string backend;  // "cpu", "npu", "npu-sim"
  std::int64_t start_ns = 0;
  std::int64_t duration_ns = 0;
  std::uint64_t bytes_moved = 0;
  std::uint64_t operations = 0;  // floating-point or integer multiply-adds x 2
  int layer = -1;
  int tile = -1;  // NPU compute tile, -1 for host work
  TimingSource source = TimingSource::measured;
};

class ProfileSink {
 public:
  virtual ~ProfileSink() = default;
  virtual void record(const KernelEvent& event) = 0;
};

// Keeps every event; thread-safe.
class ProfileRecorder : public ProfileSink {
 public:
  void record(const KernelEvent& event) override {
    std::lock_guard lock(mutex_);
    events_.push_back(event);
  }
  std::vector<KernelEvent> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    events_.clear();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<KernelEvent> events_;
};

// Times a scope on the host and records it as a measured event (no-op without a sink).
class ScopedKernelTimer {
 public:
  ScopedKernelTimer(ProfileSink* sink, std::string kernel, std::string backend, std::uint64_t operations,
                    std::uint64_t bytes_moved = 0, int layer = -1);
  ~ScopedKernelTimer();
  ScopedKernelTimer(const ScopedKernelTimer&) = delete;
  ScopedKernelTimer& operator=(const ScopedKernelTimer&) = delete;

 private:
  ProfileSink* sink_;
  KernelEvent event_;
};

}  // namespace npuscribe
