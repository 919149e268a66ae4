// Kernel latency: one scrolling plot per side (CPU | NPU) with a graph per kernel over the last
// kWindowSeconds of each side's clock, on a shared logarithmic latency axis, and a histogram of latencies
// with the CPU and NPU bars side by side for one kernel or all of them.
#pragma once

#include <qcustomplot.h>

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "profile/profile.h"
#include "profiling/plot_style.h"
#include "profiling/profiling_panel.h"

class QComboBox;
class QCustomPlot;
class QCPBars;
class QCPGraph;

namespace npuscribe::ui {

class LatencyPanel : public ProfilingPanel {
  Q_OBJECT
 public:
  static constexpr double kWindowSeconds = 30.0;
  // Older points of a graph are dropped beyond this, whatever the window holds.
  static constexpr std::size_t kMaxPointsPerGraph = 20'000;
  // The plots show the lowest and highest latency per this many pixels of time axis.
  static constexpr int kPixelsPerBucket = 2;
  // Histogram bins: 5 per decade from 1 us to 100 s (latencies in ms on a log scale).
  static constexpr int kBinsPerDecade = 5;
  static constexpr int kFirstDecade = -3;  // 10^-3 ms
  static constexpr int kBins = 8 * kBinsPerDecade;

  explicit LatencyPanel(KernelColours* colours, QWidget* parent = nullptr);

  void append(const std::vector<KernelEvent>& events);
  void clear();
  void refresh(bool force) override;

  // The histogram bin a latency falls in (clamped to the first and last bin).
  static int histogram_bin(double latency_ms);
  // Events of a kernel held for the time plot of one side (those in the window, at most kMaxPointsPerGraph).
  std::size_t event_count(bool npu_side, const std::string& kernel) const;
  // Kernel shown in the histogram; empty = all kernels.
  void show_histogram_for(const QString& kernel);

 protected:
  void palette_changed() override;

 private:
  struct Series {
    QCPGraph* graph = nullptr;
    std::deque<QCPGraphData> points;  // (seconds on the side's clock, latency in ms), arrival order
  };
  struct Side {
    QCustomPlot* plot = nullptr;
    std::map<std::string, Series> series;                               // by kernel
    std::map<std::string, std::array<std::uint64_t, kBins>> histogram;  // by kernel
    std::set<std::string> backends;
    bool has_origin = false;
    std::int64_t origin_ns = 0;
    double latest_s = 0.0;
    bool modelled = false;
  };

  Side& side_for(const std::string& backend) { return is_npu_backend(backend) ? npu_ : cpu_; }
  Series& series_for(Side& side, const std::string& kernel);
  void setup_time_plot(Side& side, const QString& name);
  void update_histogram();
  void update_titles();

  Side cpu_;
  Side npu_;
  QCustomPlot* histogram_plot_ = nullptr;
  QCPBars* cpu_bars_ = nullptr;
  QCPBars* npu_bars_ = nullptr;
  QComboBox* kernel_choice_ = nullptr;
  KernelColours* colours_;
  ProvenanceTracker provenance_;
  bool dirty_ = false;
  bool histogram_dirty_ = false;
  bool needs_replot_ = false;
};

}  // namespace npuscribe::ui
