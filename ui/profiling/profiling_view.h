// The profiling views, fed live while transcribing: kernel latency (CPU and NPU side by side), NPU tile
// utilisation, and the accuracy of the NPU encoder against the CPU. Events arrive in batches (see
// ProfileEventBridge); the view keeps bounded buffers and replots at most every kRefreshIntervalMs, so
// thousands of events per second never stall the GUI thread.
#pragma once

#include <QWidget>
#include <cstddef>
#include <deque>
#include <vector>

#include "profile/accuracy.h"
#include "profile/profile.h"
#include "profiling/plot_style.h"

class QTabWidget;
class QTimer;

namespace npuscribe::ui {

class AccuracyPanel;
class LatencyPanel;
class ProfilingPanel;
class TilePanel;

class ProfilingView : public QWidget {
  Q_OBJECT
 public:
  static constexpr int kRefreshIntervalMs = 100;
  // The most recent events kept for "Export trace JSON"; older ones are dropped first.
  static constexpr std::size_t kMaxRetainedEvents = 200'000;

  explicit ProfilingView(QWidget* parent = nullptr);
  ~ProfilingView() override;

  LatencyPanel* latency_panel() const { return latency_; }
  TilePanel* tile_panel() const { return tiles_; }
  AccuracyPanel* accuracy_panel() const { return accuracy_; }
  QTabWidget* tabs() const { return tabs_; }

  // Writes the retained events as Chrome-trace / Perfetto JSON. Throws npuscribe::Error when the file
  // cannot be written.
  void export_trace_json(const QString& path) const;
  // Saves the panel as it looks on screen (plots, labels and all); false when the image cannot be saved.
  bool export_png(ProfilingPanel* panel, const QString& path);

  // Recomputes and replots every panel now (normally a timer does it for the visible panel).
  void refresh_now();
  std::size_t retained_event_count() const { return retained_.size(); }

 public slots:
  void appendEvents(const std::vector<npuscribe::KernelEvent>& events);
  void setComparison(const npuscribe::EncoderComparison& comparison);
  void setTranscriptComparison(const npuscribe::TranscriptComparison& comparison);
  void clear();

 private:
  void refresh_visible();
  void ask_export_trace();
  void ask_export_png(ProfilingPanel* panel);
  void connect_panel(ProfilingPanel* panel);

  KernelColours colours_;
  QTabWidget* tabs_ = nullptr;
  LatencyPanel* latency_ = nullptr;
  TilePanel* tiles_ = nullptr;
  AccuracyPanel* accuracy_ = nullptr;
  QTimer* refresh_timer_ = nullptr;
  std::deque<KernelEvent> retained_;
};

}  // namespace npuscribe::ui
