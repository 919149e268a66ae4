#include "profiling/tile_panel.h"

#include <qcustomplot.h>

#include <QLabel>
#include <QSplitter>
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "backend/npu/npu_device.h"
#include "profile/statistics.h"

namespace npuscribe::ui {

namespace {

const char* const kLaunchKernel = "npu.launch";

// A perceptually even dark-to-bright ramp (the viridis hues), readable in both themes and in greyscale.
QCPColorGradient busy_gradient(const QColor& no_data) {
  QCPColorGradient gradient;
  gradient.clearColorStops();
  gradient.setColorStopAt(0.0, QColor(0x44, 0x01, 0x54));
  gradient.setColorStopAt(0.25, QColor(0x3b, 0x52, 0x8b));
  gradient.setColorStopAt(0.5, QColor(0x21, 0x91, 0x8c));
  gradient.setColorStopAt(0.75, QColor(0x5e, 0xc9, 0x62));
  gradient.setColorStopAt(1.0, QColor(0xfd, 0xe7, 0x25));
  gradient.setNanHandling(QCPColorGradient::nhNanColor);
  gradient.setNanColor(no_data);
  return gradient;
}

QString short_tile_name(int tile) {
  int column = 0, row = 0;
  if (!TilePanel::tile_position(tile, &column, &row)) return QStringLiteral("host");
  if (row == 0) return QStringLiteral("shim c%1").arg(column);
  if (row == 1) return QStringLiteral("mem c%1").arg(column);
  return QStringLiteral("c%1 r%2").arg(column).arg(row);
}

// Compute tiles first (by column, then row), then memtiles, then shims: the order of the heat map rows
// read top-down.
int tile_order(int tile) {
  return static_cast<int>(tile_kind(tile)) * 1000 + tile;
}

}  // namespace

bool TilePanel::tile_position(int tile, int* column, int* row) {
  if (tile_kind(tile) == NpuTileKind::host) return false;
  *column = tile_column(tile);
  *row = tile_row(tile);
  return true;
}

TilePanel::TilePanel(KernelColours* colours, QWidget* parent)
    : ProfilingPanel(tr("Tile utilisation"), parent), colours_(colours) {
  summary_ = new QLabel(this);
  summary_->setObjectName(QStringLiteral("tile_summary"));
  summary_->setWordWrap(true);
  content()->addWidget(summary_);

  auto* splitter = new QSplitter(Qt::Horizontal, this);
  map_plot_ = new QCustomPlot(splitter);
  map_plot_->setObjectName(QStringLiteral("tile_map"));
  map_plot_->setMinimumSize(300, 300);
  map_ = new QCPColorMap(map_plot_->xAxis, map_plot_->yAxis);
  map_->setInterpolate(false);
  map_->setTightBoundary(false);
  auto* scale = new QCPColorScale(map_plot_);
  scale->setType(QCPAxis::atRight);
  scale->setDataRange(QCPRange(0.0, 1.0));
  scale->axis()->setLabel(tr("busy fraction"));
  scale->setBarWidth(12);
  map_plot_->plotLayout()->addElement(0, 1, scale);
  map_->setColorScale(scale);
  map_->setDataRange(QCPRange(0.0, 1.0));
  // Keep the colour bar as tall as the map.
  auto* margins = new QCPMarginGroup(map_plot_);
  map_plot_->axisRect()->setMarginGroup(QCP::msTop | QCP::msBottom, margins);
  scale->setMarginGroup(QCP::msTop | QCP::msBottom, margins);
  map_plot_->xAxis->setLabel(tr("array column"));
  map_plot_->xAxis->grid()->setVisible(false);
  map_plot_->yAxis->grid()->setVisible(false);
  auto row_ticker = QSharedPointer<QCPAxisTickerText>::create();
  row_ticker->addTick(0, tr("shim DMA (row 0)"));
  row_ticker->addTick(1, tr("memtile (row 1)"));
  for (int row = kFirstComputeRow; row < kRows; ++row)
    row_ticker->addTick(row, tr("compute row %1").arg(row));
  map_plot_->yAxis->setTicker(row_ticker);
  map_plot_->yAxis->setRange(-0.5, kRows - 0.5);
  map_plot_->yAxis->setSubTicks(false);
  map_plot_->yAxis->setTickLength(0, 0);
  map_plot_->xAxis->setSubTicks(false);
  map_plot_->xAxis->setTickLength(0, 0);
  // A gap between the DMA rows and the compute tiles, drawn in the background colour.
  dma_separator_ = new QCPItemStraightLine(map_plot_);
  dma_separator_->point1->setCoords(-10, 1.5);
  dma_separator_->point2->setCoords(10, 1.5);
  map_plot_->plotLayout()->insertRow(0);
  map_plot_->plotLayout()->addElement(
      0, 0,
      new QCPTextElement(map_plot_, tr("Busy fraction per tile, as on the array"),
                         QFont(font().family(), -1, QFont::Bold)));

  timeline_plot_ = new QCustomPlot(splitter);
  timeline_plot_->setObjectName(QStringLiteral("tile_timeline"));
  timeline_plot_->setMinimumSize(320, 300);
  timeline_plot_->yAxis->setRangeReversed(true);
  timeline_plot_->yAxis->setSubTicks(false);
  timeline_plot_->yAxis->setTickLength(0, 0);
  timeline_plot_->yAxis->grid()->setVisible(false);
  timeline_plot_->xAxis->setLabel(tr("µs since the launch started"));
  timeline_plot_->legend->setVisible(true);
  QFont legend_font = font();
  legend_font.setPointSizeF(std::max(7.0, legend_font.pointSizeF() * 0.85));
  timeline_plot_->legend->setFont(legend_font);
  timeline_plot_->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
  timeline_plot_->legend->setWrap(4);
  timeline_plot_->axisRect()->insetLayout()->take(timeline_plot_->legend);
  timeline_plot_->plotLayout()->addElement(1, 0, timeline_plot_->legend);
  timeline_plot_->plotLayout()->setRowStretchFactor(1, 0.001);
  timeline_plot_->plotLayout()->insertRow(0);
  timeline_plot_->plotLayout()->addElement(
      0, 0,
      new QCPTextElement(timeline_plot_, tr("Busy intervals in the last launch"),
                         QFont(font().family(), -1, QFont::Bold)));
  // The bars are error-bar strokes whose thickness follows the row height in pixels.
  connect(timeline_plot_, &QCustomPlot::beforeReplot, this, &TilePanel::size_timeline_bars);

  splitter->addWidget(map_plot_);
  splitter->addWidget(timeline_plot_);
  splitter->setStretchFactor(0, 2);
  splitter->setStretchFactor(1, 3);
  content()->addWidget(splitter, 1);
  palette_changed();
  clear();
}

void TilePanel::palette_changed() {
  apply_plot_palette(map_plot_, palette());
  apply_plot_palette(timeline_plot_, palette());
  QColor no_data = palette().color(QPalette::Text);
  no_data.setAlpha(28);
  // nan colour must be opaque to hide the cell; blend it over the background by hand.
  const QColor base = palette().color(QPalette::Base);
  const double a = no_data.alphaF();
  no_data = QColor::fromRgbF(base.redF() * (1 - a) + no_data.redF() * a,
                             base.greenF() * (1 - a) + no_data.greenF() * a,
                             base.blueF() * (1 - a) + no_data.blueF() * a);
  map_->setGradient(busy_gradient(no_data));
  dma_separator_->setPen(QPen(palette().color(QPalette::Base), 5));
  map_plot_->replot(QCustomPlot::rpQueuedReplot);
  timeline_plot_->replot(QCustomPlot::rpQueuedReplot);
}

void TilePanel::append(const std::vector<KernelEvent>& events) {
  bool changed = false;
  for (const KernelEvent& event : events) {
    if (!is_npu_backend(event.backend)) continue;
    if (event.kernel == kLaunchKernel) {
      launches_.push_back(event);
    } else if (event.tile >= 0) {
      tile_events_.push_back(event);
      int column = 0, row = 0;
      if (tile_position(event.tile, &column, &row) && column >= columns_ && column < 64)
        columns_ = column + 1;
    } else {
      continue;
    }
    provenance_.add(event);
    changed = true;
  }
  if (!changed) return;
  // Drop the oldest quarter at a time, so trimming costs O(1) per event on average.
  if (tile_events_.size() > kMaxTileEvents)
    tile_events_.erase(tile_events_.begin(),
                       tile_events_.begin() + static_cast<std::ptrdiff_t>(kMaxTileEvents / 4));
  if (launches_.size() > 1024) launches_.erase(launches_.begin(), launches_.begin() + 256);
  dirty_ = true;
}

void TilePanel::clear() {
  tile_events_.clear();
  launches_.clear();
  provenance_.clear();
  columns_ = 4;
  dirty_ = true;
  refresh(true);
}

void TilePanel::rebuild_cells() {
  if (static_cast<int>(cell_labels_.size()) == columns_ * kRows) return;
  for (QCPItemText* label : cell_labels_) map_plot_->removeItem(label);
  cell_labels_.clear();
  map_->data()->setSize(columns_, kRows);
  map_->data()->setRange(QCPRange(0, columns_ - 1), QCPRange(0, kRows - 1));
  QFont cell_font = font();
  cell_font.setBold(true);
  for (int column = 0; column < columns_; ++column) {
    for (int row = 0; row < kRows; ++row) {
      auto* label = new QCPItemText(map_plot_);
      label->position->setCoords(column, row);
      label->setPositionAlignment(Qt::AlignCenter);
      label->setFont(cell_font);
      label->setClipToAxisRect(true);
      cell_labels_.push_back(label);
    }
  }
  auto column_ticker = QSharedPointer<QCPAxisTickerText>::create();
  for (int column = 0; column < columns_; ++column) column_ticker->addTick(column, tr("col %1").arg(column));
  map_plot_->xAxis->setTicker(column_ticker);
  map_plot_->xAxis->setRange(-0.5, columns_ - 0.5);
}

void TilePanel::update_heat_map() {
  rebuild_cells();
  // The backend of the newest event is the one on screen (a run uses one NPU backend at a time).
  const std::string backend = tile_events_.empty() ? std::string() : tile_events_.back().backend;
  std::vector<KernelEvent> with_launches = tile_events_;  // launches make the span device time only
  with_launches.insert(with_launches.end(), launches_.begin(), launches_.end());
  const std::vector<TileUtilisation> rows = tile_utilisation(with_launches);
  for (int column = 0; column < columns_; ++column)
    for (int row = 0; row < kRows; ++row)
      map_->data()->setCell(column, row, std::numeric_limits<double>::quiet_NaN());
  double span_ms = 0.0;
  for (const TileUtilisation& utilisation : rows) {
    int column = 0, row = 0;
    if (utilisation.backend != backend || !tile_position(utilisation.tile, &column, &row) ||
        column >= columns_)
      continue;
    map_->data()->setCell(column, row, utilisation.utilisation);
    span_ms = utilisation.span_ms;
  }
  for (int column = 0; column < columns_; ++column) {
    for (int row = 0; row < kRows; ++row) {
      QCPItemText* label = cell_labels_[static_cast<std::size_t>(column * kRows + row)];
      const double value = map_->data()->cell(column, row);
      if (std::isnan(value)) {
        label->setText(QStringLiteral("–"));
        label->setColor(palette().color(QPalette::PlaceholderText));
      } else {
        label->setText(QStringLiteral("%1%").arg(value * 100.0, 0, 'f', value < 0.1 && value > 0 ? 1 : 0));
        // Dark text on the bright end of the ramp, light text on the dark end.
        label->setColor(value > 0.6 ? QColor(0x10, 0x10, 0x10) : QColor(0xf5, 0xf5, 0xf5));
      }
    }
  }
  const bool modelled = provenance_.any_modelled();
  if (tile_events_.empty()) {
    summary_->setText(
        tr("No NPU tile events yet. Run the encoder on the NPU or the NPU emulator to see how "
           "busy each tile is."));
  } else {
    summary_->setText(
        tr("%1: union of each tile's busy intervals over %2 ms of %3 NPU time (the last %4 tile "
           "events). Grey cells had no events.")
            .arg(backend_label(backend))
            .arg(span_ms, 0, 'g', 4)
            .arg(modelled ? tr("modelled") : tr("measured"))
            .arg(tile_events_.size()));
  }
  const bool measured = provenance_.any_measured();
  set_provenance(modelled && measured ? Provenance::mixed
                 : modelled           ? Provenance::modelled
                 : measured           ? Provenance::measured
                                      : Provenance::none,
                 provenance_.text());
}

void TilePanel::update_timeline() {
  timeline_plot_->clearPlottables();
  timeline_rows_ = 0;
  if (tile_events_.empty()) {
    timeline_plot_->yAxis->setTicker(QSharedPointer<QCPAxisTickerText>::create());
    timeline_plot_->xAxis->setRange(0, 1);
    timeline_plot_->yAxis->setRange(-0.5, 0.5);
    return;
  }
  // The last launch: the events from the newest launch marker on; when the markers arrive after their
  // tile events, the window between the two newest markers. Without markers: the newest run of events of
  // one layer.
  const std::string& backend = tile_events_.back().backend;
  std::vector<const KernelEvent*> selected;
  std::int64_t launch_start_ns = 0;
  std::vector<std::int64_t> marker_starts;
  for (const KernelEvent& marker : launches_)
    if (marker.backend == backend) marker_starts.push_back(marker.start_ns);
  std::sort(marker_starts.begin(), marker_starts.end());
  for (auto it = marker_starts.rbegin(); it != marker_starts.rend() && selected.empty(); ++it) {
    const std::int64_t from = *it;
    const std::int64_t to =
        it == marker_starts.rbegin() ? std::numeric_limits<std::int64_t>::max() : *(it - 1);
    for (const KernelEvent& event : tile_events_)
      if (event.backend == backend && event.start_ns >= from && event.start_ns < to)
        selected.push_back(&event);
    launch_start_ns = from;
  }
  if (selected.empty()) {
    const int layer = tile_events_.back().layer;
    for (auto it = tile_events_.rbegin();
         it != tile_events_.rend() && it->layer == layer && selected.size() < kMaxTimelineIntervals; ++it)
      if (it->backend == backend) selected.push_back(&*it);
    launch_start_ns = std::numeric_limits<std::int64_t>::max();
    for (const KernelEvent* event : selected) launch_start_ns = std::min(launch_start_ns, event->start_ns);
  }

  if (selected.size() > kMaxTimelineIntervals)  // keep the newest
    selected.erase(selected.begin(), selected.end() - static_cast<std::ptrdiff_t>(kMaxTimelineIntervals));
  std::vector<int> tiles;
  for (const KernelEvent* event : selected) tiles.push_back(event->tile);
  std::sort(tiles.begin(), tiles.end(), [](int a, int b) { return tile_order(a) < tile_order(b); });
  tiles.erase(std::unique(tiles.begin(), tiles.end()), tiles.end());
  std::map<int, int> row_of;
  auto ticker = QSharedPointer<QCPAxisTickerText>::create();
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    row_of[tiles[i]] = static_cast<int>(i);
    ticker->addTick(static_cast<double>(i), short_tile_name(tiles[i]));
  }
  timeline_plot_->yAxis->setTicker(ticker);
  timeline_rows_ = static_cast<int>(tiles.size());

  // One stroke per busy interval: a point at the interval's middle with a key "error" of half its width.
  struct Strokes {
    QVector<double> keys, rows, half_widths;
  };
  std::map<std::string, Strokes> by_kernel;
  double end_us = 0.0;
  for (const KernelEvent* event : selected) {
    const double start_us = static_cast<double>(event->start_ns - launch_start_ns) * 1e-3;
    const double duration_us = static_cast<double>(std::max<std::int64_t>(event->duration_ns, 0)) * 1e-3;
    Strokes& strokes = by_kernel[event->kernel];
    strokes.keys.push_back(start_us + duration_us / 2);
    strokes.rows.push_back(row_of[event->tile]);
    strokes.half_widths.push_back(duration_us / 2);
    end_us = std::max(end_us, start_us + duration_us);
  }
  for (auto& [kernel, strokes] : by_kernel) {
    QCPGraph* anchor = timeline_plot_->addGraph();
    anchor->setLineStyle(QCPGraph::lsNone);
    anchor->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssNone));
    anchor->removeFromLegend();
    anchor->setData(strokes.keys, strokes.rows);
    auto* bars = new QCPErrorBars(timeline_plot_->xAxis, timeline_plot_->yAxis);
    bars->setName(QString::fromStdString(kernel));
    bars->removeFromLegend();
    bars->setDataPlottable(anchor);
    bars->setErrorType(QCPErrorBars::etKeyError);
    bars->setWhiskerWidth(0);
    bars->setSymbolGap(0);
    bars->setData(strokes.half_widths, strokes.half_widths);
    QPen pen(colours_->colour(kernel), 8);
    pen.setCapStyle(Qt::FlatCap);
    bars->setPen(pen);
    // A data-less graph with a square marker gives the legend a colour swatch (a stroke as thick as a
    // row would not fit the legend's icon).
    QCPGraph* swatch = timeline_plot_->addGraph();
    swatch->setName(QString::fromStdString(kernel));
    swatch->setLineStyle(QCPGraph::lsNone);
    swatch->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssSquare, colours_->colour(kernel), colours_->colour(kernel), 9));
  }
  timeline_plot_->xAxis->setRange(0, std::max(end_us * 1.02, 1e-3));
  timeline_plot_->yAxis->setRange(-0.6, std::max(0, timeline_rows_ - 1) + 0.6);
  timeline_plot_->xAxis->setLabel(provenance_.any_modelled() ? tr("µs since the launch started (modelled)")
                                                             : tr("µs since the launch started"));
}

void TilePanel::size_timeline_bars() {
  if (timeline_rows_ <= 0) return;
  const double row_px = timeline_plot_->axisRect()->height() / (timeline_rows_ + 0.2);
  const double width_px = std::clamp(row_px * 0.72, 1.0, 28.0);
  for (int i = 0; i < timeline_plot_->plottableCount(); ++i) {
    if (auto* bars = qobject_cast<QCPErrorBars*>(timeline_plot_->plottable(i))) {
      QPen pen = bars->pen();
      if (pen.widthF() != width_px) {
        pen.setWidthF(width_px);
        bars->setPen(pen);
      }
    }
  }
}

void TilePanel::refresh(bool force) {
  if (!dirty_ && !force) return;
  if (!force && !isVisible()) return;  // recomputed when shown (the view forces a refresh on tab change)
  update_heat_map();
  update_timeline();
  dirty_ = false;
  for (QCustomPlot* plot : {map_plot_, timeline_plot_})
    plot->replot(force ? QCustomPlot::rpImmediateRefresh : QCustomPlot::rpQueuedReplot);
}

}  // namespace npuscribe::ui
