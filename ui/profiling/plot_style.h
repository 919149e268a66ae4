// Looks shared by the profiling panels: plots that follow the widget palette (light and dark desktops),
// one colour per kernel that stays the same in every plot, and the provenance wording.
#pragma once

#include <QColor>
#include <QPalette>
#include <QString>
#include <map>
#include <string>

#include "profile/profile.h"

class QCustomPlot;

namespace npuscribe::ui {

// Axes, grid, text, legend and background of a plot in the colours of palette.
void apply_plot_palette(QCustomPlot* plot, const QPalette& palette);

// A categorical colour readable on light and dark backgrounds; index wraps around.
QColor categorical_colour(int index);
inline QColor cpu_colour() {
  return categorical_colour(0);
}
inline QColor npu_colour() {
  return categorical_colour(1);
}

// True when the palette's background is dark.
bool is_dark(const QPalette& palette);

// "CPU", "NPU", "NPU emulator" for the backend names in KernelEvent::backend.
QString backend_label(const std::string& backend);
// The NPU side of a side-by-side comparison: everything that is not the CPU.
inline bool is_npu_backend(const std::string& backend) {
  return backend != "cpu";
}

// One colour per kernel name, the same in every panel; assigned in order of first appearance.
class KernelColours {
 public:
  QColor colour(const std::string& kernel);
  void clear() { index_.clear(); }

 private:
  std::map<std::string, int> index_;
};

// Which timing sources each backend has shown so far; says it in one line for a panel's provenance label.
class ProvenanceTracker {
 public:
  void add(const KernelEvent& event);
  void clear() { seen_.clear(); }
  bool empty() const { return seen_.empty(); }
  bool any_modelled() const;
  bool any_measured() const;
  // e.g. "CPU: measured (host clock) · NPU emulator: modelled (Phoenix cost model)".
  QString text() const;

 private:
  std::map<std::string, int> seen_;  // backend -> bit set of TimingSource values
};

}  // namespace npuscribe::ui
