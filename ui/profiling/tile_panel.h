// Tile utilisation of the NPU array: a heat map of each tile's busy fraction laid out as on the array
// (compute rows 2-5 above the memtile row 1 and the shim DMA row 0, one column per array column), and a
// timeline of the busy intervals of every tile during the most recent launch.
#pragma once

#include <QVector>
#include <cstddef>
#include <string>
#include <vector>

#include "profile/profile.h"
#include "profiling/plot_style.h"
#include "profiling/profiling_panel.h"

class QCustomPlot;
class QCPColorMap;
class QCPItemStraightLine;
class QCPItemText;
class QLabel;

namespace npuscribe::ui {

class TilePanel : public ProfilingPanel {
  Q_OBJECT
 public:
  // Busy fractions cover the most recent tile events; beyond this the oldest quarter is dropped.
  static constexpr std::size_t kMaxTileEvents = 60'000;
  // The timeline draws at most this many busy intervals (the newest of the launch).
  static constexpr std::size_t kMaxTimelineIntervals = 4000;
  static constexpr int kRows = 6;  // shim (0), memtile (1), compute rows 2..5

  explicit TilePanel(KernelColours* colours, QWidget* parent = nullptr);

  void append(const std::vector<KernelEvent>& events);
  void clear();
  void refresh(bool force) override;

  // Array position of a tile id (KernelEvent::tile): column and row as on the array; false for the host
  // and unknown ids.
  static bool tile_position(int tile, int* column, int* row);

 protected:
  void palette_changed() override;

 private:
  void update_heat_map();
  void update_timeline();
  void rebuild_cells();
  void size_timeline_bars();

  KernelColours* colours_;
  std::vector<KernelEvent> tile_events_;  // NPU events on tiles, in arrival order
  std::vector<KernelEvent> launches_;     // "npu.launch" markers, in arrival order
  QCustomPlot* map_plot_ = nullptr;
  QCPColorMap* map_ = nullptr;
  QCPItemStraightLine* dma_separator_ = nullptr;
  std::vector<QCPItemText*> cell_labels_;  // column-major, kRows per column
  QCustomPlot* timeline_plot_ = nullptr;
  int timeline_rows_ = 0;
  QLabel* summary_ = nullptr;
  int columns_ = 4;
  ProvenanceTracker provenance_;
  bool dirty_ = false;
};

}  // namespace npuscribe::ui
