// Carries kernel events from the engine's worker threads to the GUI thread. record() only appends under a
// mutex (the engine calls it for every kernel, so it must stay cheap); a timer on the bridge's own thread
// hands the accumulated events over in one batch at most every ~100 ms, so the GUI sees a few large
// batches instead of thousands of tiny queued calls.
#pragma once

#include <QObject>
#include <QTimer>
#include <cstddef>
#include <mutex>
#include <vector>

#include "profile/profile.h"

Q_DECLARE_METATYPE(std::vector<npuscribe::KernelEvent>)

namespace npuscribe::ui {

class ProfileEventBridge : public QObject, public npuscribe::ProfileSink {
  Q_OBJECT
 public:
  static constexpr int kFlushIntervalMs = 100;
  // Events waiting for the GUI beyond this are dropped (counted in dropped_count()), so a stalled GUI
  // thread cannot make the engine grow memory without bound.
  static constexpr std::size_t kMaxPendingEvents = 1'000'000;

  // Lives on the thread that constructs it (the GUI thread); the engine must stop calling record() before
  // the bridge is destroyed.
  explicit ProfileEventBridge(QObject* parent = nullptr);
  ~ProfileEventBridge() override;

  // Thread-safe; called on engine worker threads.
  void record(const npuscribe::KernelEvent& event) override;

  // Emits whatever is pending now (on the bridge's thread), e.g. when a transcription ends.
  void flush();

  std::size_t pending_count() const;
  std::size_t dropped_count() const;

 signals:
  void eventsAvailable(std::vector<npuscribe::KernelEvent> events);

 private:
  void schedule_flush();

  mutable std::mutex mutex_;
  std::vector<npuscribe::KernelEvent> pending_;
  std::size_t dropped_ = 0;
  bool flush_scheduled_ = false;  // a flush timer is running or about to be started
  QTimer timer_;
};

}  // namespace npuscribe::ui
