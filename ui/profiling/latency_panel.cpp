#include "profiling/latency_panel.h"

#include <qcustomplot.h>

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSplitter>
#include <algorithm>
#include <cmath>

namespace npuscribe::ui {

namespace {

QCPTextElement* title_of(QCustomPlot* plot) {
  return qobject_cast<QCPTextElement*>(plot->plotLayout()->element(0, 0));
}

QString decade_label(int decade) {  // 10^decade ms
  static const char* const kLabels[] = {"1 µs",   "10 µs", "100 µs", "1 ms", "10 ms",
                                        "100 ms", "1 s",   "10 s",   "100 s"};
  const int index = decade - LatencyPanel::kFirstDecade;
  if (index < 0 || index >= static_cast<int>(std::size(kLabels))) return {};
  return QString::fromUtf8(kLabels[index]);
}

// A title row above the axis rect and the legend in a row below it, wrapped into columns, so a long list
// of kernels never covers the data.
void add_title_and_legend(QCustomPlot* plot, const QString& title) {
  plot->plotLayout()->insertRow(0);
  auto* title_element = new QCPTextElement(plot, title, QFont(plot->font().family(), -1, QFont::Bold));
  plot->plotLayout()->addElement(0, 0, title_element);
  plot->legend->setVisible(true);
  QFont legend_font = plot->font();
  legend_font.setPointSizeF(std::max(7.0, legend_font.pointSizeF() * 0.85));
  plot->legend->setFont(legend_font);
  plot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
  plot->legend->setWrap(3);
  plot->legend->setRowSpacing(0);
  plot->axisRect()->insetLayout()->take(plot->legend);
  plot->plotLayout()->addElement(2, 0, plot->legend);
  plot->plotLayout()->setRowStretchFactor(2, 0.001);
  plot->plotLayout()->setRowSpacing(2);
}

}  // namespace

LatencyPanel::LatencyPanel(KernelColours* colours, QWidget* parent)
    : ProfilingPanel(tr("Kernel latency"), parent), colours_(colours) {
  auto* splitter = new QSplitter(Qt::Vertical, this);
  auto* top = new QSplitter(Qt::Horizontal, splitter);
  cpu_.plot = new QCustomPlot(top);
  npu_.plot = new QCustomPlot(top);
  setup_time_plot(cpu_, QStringLiteral("latency_cpu"));
  setup_time_plot(npu_, QStringLiteral("latency_npu"));
  // The two sides share the latency axis so a bar at the same height means the same time.
  auto share = [](QCPAxis* from, QCPAxis* to) {
    QObject::connect(from, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), to,
                     qOverload<const QCPRange&>(&QCPAxis::setRange));
  };
  share(cpu_.plot->yAxis, npu_.plot->yAxis);
  share(npu_.plot->yAxis, cpu_.plot->yAxis);

  auto* bottom = new QWidget(splitter);
  auto* bottom_layout = new QVBoxLayout(bottom);
  bottom_layout->setContentsMargins(0, 0, 0, 0);
  auto* choice_row = new QHBoxLayout;
  choice_row->addWidget(new QLabel(tr("Histogram of"), bottom));
  kernel_choice_ = new QComboBox(bottom);
  kernel_choice_->setObjectName(QStringLiteral("histogram_kernel"));
  kernel_choice_->addItem(tr("all kernels"), QString());
  kernel_choice_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  choice_row->addWidget(kernel_choice_);
  choice_row->addStretch(1);
  bottom_layout->addLayout(choice_row);
  connect(kernel_choice_, &QComboBox::currentIndexChanged, this, [this] {
    histogram_dirty_ = true;
    refresh(true);
  });

  histogram_plot_ = new QCustomPlot(bottom);
  histogram_plot_->setObjectName(QStringLiteral("latency_histogram"));
  histogram_plot_->setMinimumHeight(160);
  bottom_layout->addWidget(histogram_plot_, 1);
  cpu_bars_ = new QCPBars(histogram_plot_->xAxis, histogram_plot_->yAxis);
  npu_bars_ = new QCPBars(histogram_plot_->xAxis, histogram_plot_->yAxis);
  cpu_bars_->setName(tr("CPU"));
  npu_bars_->setName(tr("NPU"));
  auto* group = new QCPBarsGroup(histogram_plot_);
  for (QCPBars* bars : {cpu_bars_, npu_bars_}) {
    bars->setWidth(0.42);
    bars->setBarsGroup(group);
  }
  group->setSpacing(1);
  QColor cpu_fill = cpu_colour(), npu_fill = npu_colour();
  cpu_fill.setAlpha(200);
  npu_fill.setAlpha(200);
  cpu_bars_->setBrush(cpu_fill);
  cpu_bars_->setPen(QPen(cpu_colour().darker(120)));
  npu_bars_->setBrush(npu_fill);
  npu_bars_->setPen(QPen(npu_colour().darker(120)));
  auto ticker = QSharedPointer<QCPAxisTickerText>::create();
  for (int decade = kFirstDecade; decade <= kFirstDecade + kBins / kBinsPerDecade; ++decade) {
    // Bin i covers [10^(first + i/5), 10^(first + (i+1)/5)) ms and sits at key i, so a decade starts at
    // key (decade - first) * 5 - 0.5.
    ticker->addTick((decade - kFirstDecade) * kBinsPerDecade - 0.5, decade_label(decade));
  }
  histogram_plot_->xAxis->setTicker(ticker);
  histogram_plot_->xAxis->setLabel(tr("latency (log scale)"));
  histogram_plot_->yAxis->setLabel(tr("invocations"));
  histogram_plot_->legend->setVisible(true);
  histogram_plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
  histogram_plot_->plotLayout()->insertRow(0);
  histogram_plot_->plotLayout()->addElement(
      0, 0,
      new QCPTextElement(histogram_plot_, tr("Latency histogram, CPU and NPU side by side"),
                         QFont(font().family(), -1, QFont::Bold)));

  splitter->addWidget(top);
  splitter->addWidget(bottom);
  splitter->setStretchFactor(0, 3);
  splitter->setStretchFactor(1, 2);
  content()->addWidget(splitter);
  palette_changed();
  clear();
}

void LatencyPanel::setup_time_plot(Side& side, const QString& name) {
  QCustomPlot* plot = side.plot;
  plot->setObjectName(name);
  plot->setMinimumSize(260, 200);
  plot->setNoAntialiasingOnDrag(true);
  plot->setPlottingHint(QCP::phFastPolylines, true);
  plot->yAxis->setScaleType(QCPAxis::stLogarithmic);
  plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
  plot->yAxis->setNumberFormat(QStringLiteral("gb"));
  plot->yAxis->setLabel(tr("latency (ms)"));
  plot->xAxis->setLabel(tr("time (s)"));
  add_title_and_legend(plot, QString());
}

void LatencyPanel::palette_changed() {
  for (QCustomPlot* plot : {cpu_.plot, npu_.plot, histogram_plot_}) {
    apply_plot_palette(plot, palette());
    plot->replot(QCustomPlot::rpQueuedReplot);
  }
}

LatencyPanel::Series& LatencyPanel::series_for(Side& side, const std::string& kernel) {
  auto it = side.series.find(kernel);
  if (it != side.series.end()) return it->second;
  Series series;
  series.graph = side.plot->addGraph();
  series.graph->setName(QString::fromStdString(kernel));
  // A one-pixel cosmetic pen and fast polylines (set on the plot) keep tens of thousands of points cheap.
  QPen pen(colours_->colour(kernel), 1);
  pen.setCosmetic(true);
  series.graph->setPen(pen);
  // Points, not lines: the same kernel runs on many tiles at once, and lines between them only zigzag.
  // Filled squares are plain rectangle fills for the raster engine (discs are stroked curves).
  series.graph->setLineStyle(QCPGraph::lsNone);
  series.graph->setScatterStyle(
      QCPScatterStyle(QCPScatterStyle::ssSquare, colours_->colour(kernel), colours_->colour(kernel), 3));
  series.graph->setAdaptiveSampling(false);  // refresh() already reduces the points per pixel
  if (kernel_choice_->findData(QString::fromStdString(kernel)) < 0)
    kernel_choice_->addItem(QString::fromStdString(kernel), QString::fromStdString(kernel));
  return side.series.emplace(kernel, std::move(series)).first->second;
}

std::size_t LatencyPanel::event_count(bool npu_side, const std::string& kernel) const {
  const Side& side = npu_side ? npu_ : cpu_;
  auto it = side.series.find(kernel);
  return it == side.series.end() ? 0 : it->second.points.size();
}

int LatencyPanel::histogram_bin(double latency_ms) {
  if (!(latency_ms > 0.0)) return 0;
  const double position = (std::log10(latency_ms) - kFirstDecade) * kBinsPerDecade;
  return std::clamp(static_cast<int>(std::floor(position)), 0, kBins - 1);
}

void LatencyPanel::append(const std::vector<KernelEvent>& events) {
  if (events.empty()) return;
  // Consecutive events usually share a kernel; remember the last lookup.
  const std::string* last_kernel = nullptr;
  Side* last_side = nullptr;
  Series* series = nullptr;
  std::array<std::uint64_t, kBins>* bins = nullptr;
  for (const KernelEvent& event : events) {
    provenance_.add(event);
    Side& side = side_for(event.backend);
    if (!last_kernel || &side != last_side || *last_kernel != event.kernel) {
      series = &series_for(side, event.kernel);
      bins = &side.histogram.try_emplace(event.kernel).first->second;
      last_kernel = &event.kernel;
      last_side = &side;
      if (side.backends.insert(event.backend).second) update_titles();
    }
    if (!side.has_origin) {
      side.has_origin = true;
      side.origin_ns = event.start_ns;
    }
    const double key_s = static_cast<double>(event.start_ns - side.origin_ns) * 1e-9;
    const double latency_ms = static_cast<double>(event.duration_ns) * 1e-6;
    series->points.push_back(QCPGraphData(key_s, latency_ms));
    side.latest_s = std::max(side.latest_s, key_s);
    ++(*bins)[static_cast<std::size_t>(histogram_bin(latency_ms))];
    if (event.source == TimingSource::modelled && !side.modelled) {
      side.modelled = true;
      update_titles();
    }
  }
  dirty_ = true;
  histogram_dirty_ = true;
}

void LatencyPanel::update_titles() {
  for (Side* side : {&cpu_, &npu_}) {
    QStringList names;
    for (const std::string& backend : side->backends) names << backend_label(backend);
    if (names.isEmpty()) names << (side == &cpu_ ? tr("CPU") : tr("NPU"));
    title_of(side->plot)
        ->setText(names.join(QStringLiteral(" + ")) + tr(" kernels, last %1 s").arg(kWindowSeconds));
    side->plot->xAxis->setLabel(side->modelled ? tr("modelled time (s)") : tr("time (s)"));
  }
  const bool modelled = provenance_.any_modelled(), measured = provenance_.any_measured();
  set_provenance(modelled && measured ? Provenance::mixed
                 : modelled           ? Provenance::modelled
                 : measured           ? Provenance::measured
                                      : Provenance::none,
                 provenance_.text());
}

void LatencyPanel::clear() {
  for (Side* side : {&cpu_, &npu_}) {
    side->plot->clearGraphs();
    side->series.clear();
    side->histogram.clear();
    side->backends.clear();
    side->has_origin = false;
    side->latest_s = 0.0;
    side->modelled = false;
    side->plot->xAxis->setRange(0, kWindowSeconds);
  }
  cpu_.plot->yAxis->setRange(1e-3, 1e2);
  provenance_.clear();
  kernel_choice_->blockSignals(true);
  kernel_choice_->clear();
  kernel_choice_->addItem(tr("all kernels"), QString());
  kernel_choice_->blockSignals(false);
  update_titles();
  dirty_ = true;
  histogram_dirty_ = true;
  refresh(true);
}

void LatencyPanel::show_histogram_for(const QString& kernel) {
  const int index = kernel_choice_->findData(kernel);
  if (index >= 0) kernel_choice_->setCurrentIndex(index);
}

void LatencyPanel::update_histogram() {
  const std::string kernel = kernel_choice_->currentData().toString().toStdString();
  QVector<double> keys(kBins), cpu_counts(kBins, 0.0), npu_counts(kBins, 0.0);
  for (int i = 0; i < kBins; ++i) keys[i] = i;
  auto add = [&](const Side& side, QVector<double>& counts) {
    for (const auto& [name, bins] : side.histogram) {
      if (!kernel.empty() && name != kernel) continue;
      for (int i = 0; i < kBins; ++i) counts[i] += static_cast<double>(bins[static_cast<std::size_t>(i)]);
    }
  };
  add(cpu_, cpu_counts);
  add(npu_, npu_counts);
  cpu_bars_->setData(keys, cpu_counts, true);
  npu_bars_->setData(keys, npu_counts, true);
  int first = kBins, last = -1;
  double highest = 0.0;
  for (int i = 0; i < kBins; ++i) {
    if (cpu_counts[i] > 0 || npu_counts[i] > 0) {
      first = std::min(first, i);
      last = std::max(last, i);
      highest = std::max({highest, cpu_counts[i], npu_counts[i]});
    }
  }
  if (last < 0) {
    first = (0 - kFirstDecade) * kBinsPerDecade - kBinsPerDecade;  // 0.1 ms .. 10 ms when empty
    last = first + 2 * kBinsPerDecade;
  }
  // Whole decades around the data, so the tick labels frame it.
  const int from = (first / kBinsPerDecade) * kBinsPerDecade;
  const int to = (last / kBinsPerDecade + 1) * kBinsPerDecade;
  histogram_plot_->xAxis->setRange(from - 0.5, to - 0.5);
  histogram_plot_->yAxis->setRange(0, std::max(1.0, highest * 1.12));
}

void LatencyPanel::refresh(bool force) {
  if (!dirty_ && !histogram_dirty_ && !force) {
    if (needs_replot_ && isVisible()) {
      for (QCustomPlot* plot : {cpu_.plot, npu_.plot, histogram_plot_})
        plot->replot(QCustomPlot::rpQueuedReplot);
      needs_replot_ = false;
    }
    return;
  }
  if (dirty_ || force) {
    update_titles();
    QCPRange latency_range;
    bool have_latency = false;
    for (Side* side : {&cpu_, &npu_}) {
      const double span = side->latest_s > 0.0 ? std::min(kWindowSeconds, side->latest_s) : 1.0;
      const QCPRange keys(std::max(0.0, side->latest_s - span), std::max(side->latest_s, 0.0) + span * 0.02);
      side->plot->xAxis->setRange(keys);
      // Min and max per bucket of kPixelsPerBucket pixels: the plot gets a few hundred points per kernel
      // however many events there are, and every outlier stays visible.
      const int buckets = std::max(50, side->plot->axisRect()->width() / kPixelsPerBucket);
      for (auto& [kernel, series] : side->series) {
        std::deque<QCPGraphData>& points = series.points;
        while (!points.empty() && (points.front().key < keys.lower || points.size() > kMaxPointsPerGraph))
          points.pop_front();
        std::vector<int> lowest(static_cast<std::size_t>(buckets), -1),
            highest(static_cast<std::size_t>(buckets), -1);
        for (int i = 0; i < static_cast<int>(points.size()); ++i) {
          const QCPGraphData& point = points[static_cast<std::size_t>(i)];
          if (!(point.value > 0.0) || point.key < keys.lower) continue;  // a log axis cannot show 0
          const auto b = static_cast<std::size_t>(
              std::clamp(static_cast<int>((point.key - keys.lower) / keys.size() * buckets), 0, buckets - 1));
          if (lowest[b] < 0 || point.value < points[static_cast<std::size_t>(lowest[b])].value) lowest[b] = i;
          if (highest[b] < 0 || point.value > points[static_cast<std::size_t>(highest[b])].value)
            highest[b] = i;
        }
        QVector<QCPGraphData> shown;
        for (std::size_t b = 0; b < lowest.size(); ++b) {
          if (lowest[b] < 0) continue;
          const QCPGraphData& low = points[static_cast<std::size_t>(lowest[b])];
          const QCPGraphData& high = points[static_cast<std::size_t>(highest[b])];
          latency_range = have_latency ? QCPRange(std::min(latency_range.lower, low.value),
                                                  std::max(latency_range.upper, high.value))
                                       : QCPRange(low.value, high.value);
          have_latency = true;
          if (lowest[b] == highest[b]) {
            shown.push_back(low);
          } else {
            shown.push_back(low.key <= high.key ? low : high);
            shown.push_back(low.key <= high.key ? high : low);
          }
        }
        series.graph->data()->set(shown, true);
      }
    }
    if (have_latency) {
      // Whole decades, so the log ticks sit at the edges.
      cpu_.plot->yAxis->setRange(std::pow(10.0, std::floor(std::log10(latency_range.lower))),
                                 std::pow(10.0, std::ceil(std::log10(latency_range.upper * 1.0001))));
    }
  }
  if (histogram_dirty_ || force) update_histogram();
  dirty_ = false;
  histogram_dirty_ = false;
  needs_replot_ = true;
  // A hidden panel keeps its data trimmed but draws only when shown.
  if (force || isVisible()) {
    for (QCustomPlot* plot : {cpu_.plot, npu_.plot, histogram_plot_})
      plot->replot(force ? QCustomPlot::rpImmediateRefresh : QCustomPlot::rpQueuedReplot);
    needs_replot_ = false;
  }
}

}  // namespace npuscribe::ui
