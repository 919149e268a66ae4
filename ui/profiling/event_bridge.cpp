#include "profiling/event_bridge.h"

#include <QMetaObject>
#include <utility>

namespace npuscribe::ui {

ProfileEventBridge::ProfileEventBridge(QObject* parent) : QObject(parent), timer_(this) {
  qRegisterMetaType<std::vector<npuscribe::KernelEvent>>();
  timer_.setSingleShot(true);
  timer_.setInterval(kFlushIntervalMs);
  connect(&timer_, &QTimer::timeout, this, &ProfileEventBridge::flush);
}

ProfileEventBridge::~ProfileEventBridge() = default;

void ProfileEventBridge::record(const npuscribe::KernelEvent& event) {
  bool start_timer = false;
  {
    std::lock_guard lock(mutex_);
    if (pending_.size() >= kMaxPendingEvents) {
      ++dropped_;
      return;
    }
    pending_.push_back(event);
    if (!flush_scheduled_) {
      flush_scheduled_ = true;
      start_timer = true;
    }
  }
  // The timer belongs to the bridge's thread; the timer runs only while events are pending, so an idle
  // app has no periodic wake-ups.
  if (start_timer) schedule_flush();
}

void ProfileEventBridge::schedule_flush() {
  QMetaObject::invokeMethod(
      this,
      [this] {
        if (!timer_.isActive()) timer_.start();
      },
      Qt::QueuedConnection);
}

void ProfileEventBridge::flush() {
  std::vector<npuscribe::KernelEvent> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(pending_);
    flush_scheduled_ = false;
  }
  timer_.stop();
  if (!batch.empty()) emit eventsAvailable(std::move(batch));
}

std::size_t ProfileEventBridge::pending_count() const {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

std::size_t ProfileEventBridge::dropped_count() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

}  // namespace npuscribe::ui
