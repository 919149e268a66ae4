// The profiling panels, driven on the offscreen platform with synthetic events (CPU measured, NPU emulator
// modelled with tile ids): the event bridge across threads, what the plots hold (compared with figures
// computed here from the events), the measured/modelled labels, the exports, the accuracy bars and the
// token-diff marking, and how long an append plus replot takes with 100k events. Screenshots of every panel
// (light and dark) go to the build directory.
#include <QtTest>

#include <qcustomplot.h>
#include <QApplication>
#include <QDir>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTextBlock>
#include <QTextBrowser>
#include <QTextDocument>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "profiling/accuracy_panel.h"
#include "profiling/event_bridge.h"
#include "profiling/latency_panel.h"
#include "profiling/profiling_view.h"
#include "profiling/tile_panel.h"
#include "test_support.h"

using namespace npuscribe;
using ui::ProfilingView;

namespace {

constexpr std::int64_t kUs = 1000;
constexpr std::int64_t kMs = 1000 * kUs;

const std::vector<std::string> kCpuKernels = {"encoder.conv_stem", "encoder.attention", "encoder.mlp",
                                              "decoder.logits"};
const std::vector<std::string> kNpuKernels = {"gemm.qkv",  "softmax", "gemm.out",
                                              "layernorm", "gelu",    "gemm.ff"};

KernelEvent make_event(std::string kernel, std::string backend, std::int64_t start_ns,
                       std::int64_t duration_ns, int tile, TimingSource source, int layer = -1) {
  KernelEvent e;
  e.kernel = std::move(kernel);
  e.backend = std::move(backend);
  e.start_ns = start_ns;
  e.duration_ns = duration_ns;
  e.tile = tile;
  e.source = source;
  e.layer = layer;
  e.operations = static_cast<std::uint64_t>(duration_ns) * 50;
  e.bytes_moved = static_cast<std::uint64_t>(duration_ns) * 4;
  return e;
}

// CPU work on the host clock: four kernels per layer, log-normal durations around a kernel-specific mean.
std::vector<KernelEvent> cpu_events(int windows, int layers, std::int64_t start_ns, std::mt19937& random) {
  std::vector<KernelEvent> events;
  std::lognormal_distribution<double> jitter(0.0, 0.25);
  std::int64_t t = start_ns;
  for (int window = 0; window < windows; ++window) {
    for (int layer = 0; layer < layers; ++layer) {
      for (std::size_t k = 0; k < kCpuKernels.size(); ++k) {
        const auto duration =
            static_cast<std::int64_t>(static_cast<double>((k + 1) * 900 * kUs) * jitter(random));
        events.push_back(make_event(kCpuKernels[k], "cpu", t, duration, -1, TimingSource::measured, layer));
        t += duration + 40 * kUs;
      }
    }
    t += 400 * kMs;  // the decoder between windows
  }
  return events;
}

// One emulated launch per layer: the launch marker, then six kernels back to back on each compute tile
// (column 3 less loaded than the others, row-dependent gaps), weight DMA on the memtiles, host DMA on the
// shims. Modelled time.
std::vector<KernelEvent> npu_events(int launches, std::int64_t start_ns) {
  std::vector<KernelEvent> events;
  std::int64_t t = start_ns;
  for (int launch = 0; launch < launches; ++launch) {
    // The marker spans the whole launch (150 us of overhead, then the body); its end is set below.
    const std::size_t marker = events.size();
    events.push_back(make_event("npu.launch", "npu-sim", t, 150 * kUs, -1, TimingSource::modelled, launch));
    const std::int64_t body = t + 150 * kUs;
    std::int64_t launch_end = body;
    for (int column = 0; column < 4; ++column) {
      for (int row = 2; row < 6; ++row) {
        const int tile = column * 4 + (row - 2);
        std::int64_t cursor = body + (row - 2) * 20 * kUs;
        for (std::size_t k = 0; k < kNpuKernels.size(); ++k) {
          const std::int64_t duration =
              (60 + 25 * static_cast<std::int64_t>(k)) * kUs * (column == 3 ? 1 : 2);
          events.push_back(
              make_event(kNpuKernels[k], "npu-sim", cursor, duration, tile, TimingSource::modelled, launch));
          cursor += duration + (5 + 10 * column) * kUs;
        }
        launch_end = std::max(launch_end, cursor);
      }
      // Two overlapping DMA transfers on the memtile (two channels): the busy time is their union.
      events.push_back(make_event("dma.weights", "npu-sim", body, 300 * kUs, 100 + column,
                                  TimingSource::modelled, launch));
      events.push_back(make_event("dma.weights", "npu-sim", body + 200 * kUs, 250 * kUs, 100 + column,
                                  TimingSource::modelled, launch));
      events.push_back(
          make_event("dma.host", "npu-sim", body, 80 * kUs, 200 + column, TimingSource::modelled, launch));
    }
    for (const KernelEvent& e : events)
      if (e.tile >= 0 && e.layer == launch) launch_end = std::max(launch_end, e.start_ns + e.duration_ns);
    events[marker].duration_ns = launch_end - t;
    t = launch_end + 100 * kUs;  // host time between launches: not device time
  }
  return events;
}

// Busy fraction per (column, row), computed here: the union of each tile's intervals over the time the
// device ran launches (the sum of the launch markers' durations; launches never overlap here).
std::map<std::pair<int, int>, double> expected_busy(const std::vector<KernelEvent>& events) {
  std::map<int, std::vector<std::pair<std::int64_t, std::int64_t>>> by_tile;
  std::int64_t launch_ns = 0;
  for (const KernelEvent& e : events) {
    if (e.kernel == "npu.launch") launch_ns += e.duration_ns;
    if (e.tile < 0 || e.backend == "cpu") continue;
    by_tile[e.tile].push_back({e.start_ns, e.start_ns + e.duration_ns});
  }
  std::map<std::pair<int, int>, double> busy;
  for (auto& [tile, intervals] : by_tile) {
    std::sort(intervals.begin(), intervals.end());
    std::int64_t total = 0, covered_until = std::numeric_limits<std::int64_t>::min();
    for (auto [start, end] : intervals) {
      const std::int64_t from = std::max(start, covered_until);
      if (end > from) total += end - from;
      covered_until = std::max(covered_until, end);
    }
    int column = 0, row = 0;
    if (tile >= 200) {
      column = tile - 200;
      row = 0;
    } else if (tile >= 100) {
      column = tile - 100;
      row = 1;
    } else {
      column = tile / 4;
      row = 2 + tile % 4;
    }
    busy[{column, row}] = static_cast<double>(total) / static_cast<double>(launch_ns);
  }
  return busy;
}

QCPGraph* graph_named(QCustomPlot* plot, const QString& name) {
  for (int i = 0; i < plot->graphCount(); ++i)
    if (plot->graph(i)->name() == name) return plot->graph(i);
  return nullptr;
}

QCPBars* bars_named(QCustomPlot* plot, const QString& name) {
  for (int i = 0; i < plot->plottableCount(); ++i)
    if (auto* bars = qobject_cast<QCPBars*>(plot->plottable(i)); bars && bars->name() == name) return bars;
  return nullptr;
}

struct Run {
  QString text;
  int kind = 0;  // TokenDifference::Kind, from the panel's marking
  bool struck = false;
  bool bold = false;
};

std::vector<Run> runs_of(const QTextDocument* document) {
  std::vector<Run> runs;
  for (QTextBlock block = document->begin(); block.isValid(); block = block.next()) {
    for (auto it = block.begin(); !it.atEnd(); ++it) {
      const QTextFragment fragment = it.fragment();
      const QTextCharFormat format = fragment.charFormat();
      runs.push_back({fragment.text(), format.property(QTextFormat::UserProperty + 1).toInt(),
                      format.fontStrikeOut(), format.fontWeight() >= QFont::Bold});
    }
  }
  return runs;
}

QString screenshot_dir() {
  // The test runs from <build>/tests; the screenshots go to <build>.
  return QDir(QCoreApplication::applicationDirPath() + QStringLiteral("/..")).absolutePath();
}

QPalette dark_palette() {
  QPalette palette;
  const QColor window(0x2b, 0x2d, 0x31), base(0x1e, 0x1f, 0x22), text(0xe6, 0xe6, 0xe6);
  palette.setColor(QPalette::Window, window);
  palette.setColor(QPalette::WindowText, text);
  palette.setColor(QPalette::Base, base);
  palette.setColor(QPalette::AlternateBase, window);
  palette.setColor(QPalette::Text, text);
  palette.setColor(QPalette::Button, window);
  palette.setColor(QPalette::ButtonText, text);
  palette.setColor(QPalette::Mid, QColor(0x55, 0x58, 0x5e));
  palette.setColor(QPalette::PlaceholderText, QColor(0x90, 0x90, 0x90));
  return palette;
}

EncoderComparison sample_comparison() {
  EncoderComparison comparison;
  comparison.reference_backend = "cpu";
  comparison.candidate_backend = "npu-sim";
  comparison.conv_stem = {0.99998, 0.0061, 0.012};
  const double cosines[] = {0.99991, 0.99962, 0.99934, 0.99871, 0.99810, 0.99765};
  const double errors[] = {0.0132, 0.0275, 0.0361, 0.0508, 0.0617, 0.0688};
  for (int i = 0; i < 6; ++i) comparison.layers.push_back({i, {cosines[i], errors[i], 0.05 * (i + 1)}});
  comparison.encoder = {0.99842, 0.0561, 0.317};
  return comparison;
}

TranscriptComparison sample_transcripts() {
  using Kind = TokenDifference::Kind;
  TranscriptComparison comparison;
  comparison.reference_backend = "cpu";
  comparison.candidate_backend = "npu-sim";
  comparison.reference_text = " And so my fellow Americans, ask not what your country can do for you";
  comparison.candidate_text = " And so my fellow American, ask not what the country can do for you";
  const std::vector<std::pair<Kind, std::string>> tokens = {
      {Kind::same, " And"},     {Kind::same, " so"},           {Kind::same, " my"},
      {Kind::same, " fellow"},  {Kind::removed, " Americans"}, {Kind::added, " American"},
      {Kind::same, ","},        {Kind::same, " ask"},          {Kind::same, " not"},
      {Kind::same, " what"},    {Kind::removed, " your"},      {Kind::added, " the"},
      {Kind::same, " country"}, {Kind::same, " can"},          {Kind::same, " do"},
      {Kind::same, " for"},     {Kind::same, " you"}};
  int token_id = 100;
  for (const auto& [kind, text] : tokens) comparison.differences.push_back({kind, token_id++, text});
  return comparison;
}

}  // namespace

class TestProfilingPanels : public QObject {
  Q_OBJECT

  std::unique_ptr<ProfilingView> view_;
  std::vector<KernelEvent> cpu_;
  std::vector<KernelEvent> npu_;

  QCustomPlot* plot(const char* name) {
    auto* found = view_->findChild<QCustomPlot*>(QString::fromLatin1(name));
    if (!found) qFatal("no plot named %s", name);
    return found;
  }
  QString provenance(ui::ProfilingPanel* panel) {
    return panel->findChild<QLabel*>(QStringLiteral("provenance"))->text();
  }

 private slots:
  void initTestCase() {
    std::mt19937 random(1234);
    cpu_ = cpu_events(3, 4, 5'000'000'000, random);
    npu_ = npu_events(8, 0);
    view_ = std::make_unique<ProfilingView>();
    view_->resize(1400, 860);
    view_->show();
    QVERIFY(QTest::qWaitForWindowExposed(view_.get()));
  }

  void cleanupTestCase() { view_.reset(); }

  void bridge_batches_events_from_worker_threads() {
    ui::ProfileEventBridge bridge;
    std::vector<std::vector<KernelEvent>> batches;
    connect(&bridge, &ui::ProfileEventBridge::eventsAvailable, this,
            [&](std::vector<KernelEvent> events) { batches.push_back(std::move(events)); });
    constexpr int kThreads = 4, kPerThread = 5000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&bridge, t] {
        for (int i = 0; i < kPerThread; ++i)
          bridge.record(
              make_event("k" + std::to_string(t), "cpu", i, (t + 1) * 1000 + i, -1, TimingSource::measured));
      });
    }
    for (std::thread& thread : threads) thread.join();
    auto total = [&] {
      std::size_t n = 0;
      for (const auto& batch : batches) n += batch.size();
      return n;
    };
    QTRY_COMPARE_WITH_TIMEOUT(total(), std::size_t{kThreads * kPerThread}, 5000);
    // Delivered in a few batches, not one queued call per event.
    QVERIFY2(batches.size() <= 5, qPrintable(QString::number(batches.size())));
    std::map<std::string, std::int64_t> duration_sum;
    for (const auto& batch : batches)
      for (const KernelEvent& e : batch) duration_sum[e.kernel] += e.duration_ns;
    for (int t = 0; t < kThreads; ++t) {
      const std::int64_t expected =
          std::int64_t{kPerThread} * (t + 1) * 1000 + std::int64_t{kPerThread} * (kPerThread - 1) / 2;
      QCOMPARE(duration_sum["k" + std::to_string(t)], expected);
    }
    QCOMPARE(bridge.pending_count(), std::size_t{0});
    QCOMPARE(bridge.dropped_count(), std::size_t{0});

    // Nothing pending: no further signal.
    QTest::qWait(2 * ui::ProfileEventBridge::kFlushIntervalMs);
    const std::size_t before = batches.size();
    bridge.flush();
    QCOMPARE(batches.size(), before);
  }

  void bridge_feeds_the_view() {
    view_->clear();
    ui::ProfileEventBridge bridge;
    connect(&bridge, &ui::ProfileEventBridge::eventsAvailable, view_.get(), &ProfilingView::appendEvents);
    std::thread worker([&] {
      for (const KernelEvent& e : npu_) bridge.record(e);
    });
    worker.join();
    QTRY_COMPARE_WITH_TIMEOUT(view_->retained_event_count(), npu_.size(), 5000);
  }

  void latency_plots_hold_every_event() {
    view_->clear();
    view_->appendEvents(cpu_);
    view_->appendEvents(npu_);
    view_->refresh_now();
    QCustomPlot* cpu_plot = plot("latency_cpu");
    QCustomPlot* npu_plot = plot("latency_npu");
    std::map<std::string, int> cpu_counts, npu_counts;
    for (const KernelEvent& e : cpu_) ++cpu_counts[e.kernel];
    for (const KernelEvent& e : npu_) ++npu_counts[e.kernel];
    QCOMPARE(cpu_plot->graphCount(), static_cast<int>(cpu_counts.size()));
    QCOMPARE(npu_plot->graphCount(), static_cast<int>(npu_counts.size()));
    // Every event is held; the plot shows at least the lowest and the highest latency of each kernel (it
    // reduces dense stretches to the extremes per couple of pixels).
    for (const bool npu_side : {false, true}) {
      const auto& counts = npu_side ? npu_counts : cpu_counts;
      const auto& events = npu_side ? npu_ : cpu_;
      for (const auto& [kernel, count] : counts) {
        QCOMPARE(view_->latency_panel()->event_count(npu_side, kernel), std::size_t(count));
        QCPGraph* graph = graph_named(npu_side ? npu_plot : cpu_plot, QString::fromStdString(kernel));
        QVERIFY2(graph, kernel.c_str());
        QVERIFY(graph->dataCount() > 0 && graph->dataCount() <= count);
        double lowest = 1e300, highest = 0;
        for (const KernelEvent& e : events) {
          if (e.kernel != kernel) continue;
          lowest = std::min(lowest, e.duration_ns * 1e-6);
          highest = std::max(highest, e.duration_ns * 1e-6);
        }
        bool found_lowest = false, found_highest = false;
        for (auto it = graph->data()->constBegin(); it != graph->data()->constEnd(); ++it) {
          found_lowest |= it->value == lowest;
          found_highest |= it->value == highest;
        }
        QVERIFY2(found_lowest && found_highest, kernel.c_str());
      }
    }
    // A point is (seconds since the side's first event, latency in ms).
    QCPGraph* attention = graph_named(cpu_plot, "encoder.attention");
    const KernelEvent& first_attention = *std::find_if(
        cpu_.begin(), cpu_.end(), [](const KernelEvent& e) { return e.kernel == "encoder.attention"; });
    QCOMPARE(attention->data()->at(0)->key, (first_attention.start_ns - cpu_.front().start_ns) * 1e-9);
    QCOMPARE(attention->data()->at(0)->value, first_attention.duration_ns * 1e-6);
    // The latency axis is shared and covers every latency.
    QCOMPARE(cpu_plot->yAxis->range(), npu_plot->yAxis->range());
    for (const auto* events : {&cpu_, &npu_})
      for (const KernelEvent& e : *events) QVERIFY(cpu_plot->yAxis->range().contains(e.duration_ns * 1e-6));

    // Histogram: bins of 1/5 decade from 1 us, counted here.
    QCustomPlot* histogram = plot("latency_histogram");
    QCPBars* cpu_bars = bars_named(histogram, "CPU");
    QCPBars* npu_bars = bars_named(histogram, "NPU");
    QVERIFY(cpu_bars && npu_bars);
    auto expected_bins = [](const std::vector<KernelEvent>& events, const std::string& kernel) {
      std::map<int, double> bins;
      for (const KernelEvent& e : events) {
        if (!kernel.empty() && e.kernel != kernel) continue;
        bins[static_cast<int>(std::floor((std::log10(e.duration_ns * 1e-6) + 3.0) * 5.0))] += 1;
      }
      return bins;
    };
    auto actual_bins = [](QCPBars* bars) {
      std::map<int, double> bins;
      for (auto it = bars->data()->constBegin(); it != bars->data()->constEnd(); ++it)
        if (it->value > 0) bins[static_cast<int>(it->key)] = it->value;
      return bins;
    };
    QCOMPARE(actual_bins(cpu_bars), expected_bins(cpu_, ""));
    QCOMPARE(actual_bins(npu_bars), expected_bins(npu_, ""));
    view_->latency_panel()->show_histogram_for("encoder.mlp");
    QCOMPARE(actual_bins(cpu_bars), expected_bins(cpu_, "encoder.mlp"));
    QVERIFY(actual_bins(npu_bars).empty());
    view_->latency_panel()->show_histogram_for("gemm.ff");
    QCOMPARE(actual_bins(npu_bars), expected_bins(npu_, "gemm.ff"));
    view_->latency_panel()->show_histogram_for("");
  }

  void tile_map_shows_the_busy_fractions() {
    view_->tabs()->setCurrentWidget(view_->tile_panel());
    view_->refresh_now();
    auto* map = qobject_cast<QCPColorMap*>(plot("tile_map")->plottable(0));
    QVERIFY(map);
    QCOMPARE(map->data()->keySize(), 4);
    QCOMPARE(map->data()->valueSize(), 6);
    const auto expected = expected_busy(npu_);
    QCOMPARE(expected.size(), std::size_t{24});  // 16 compute tiles, 4 memtiles, 4 shims
    for (int column = 0; column < 4; ++column) {
      for (int row = 0; row < 6; ++row) {
        const double value = map->data()->cell(column, row);
        const double want = expected.at({column, row});
        QVERIFY2(std::abs(value - want) < 1e-12,
                 qPrintable(QString("col %1 row %2: %3 vs %4").arg(column).arg(row).arg(value).arg(want)));
      }
    }
    // The values are printed in the cells.
    QStringList cell_texts;
    for (int i = 0; i < plot("tile_map")->itemCount(); ++i)
      if (auto* text = qobject_cast<QCPItemText*>(plot("tile_map")->item(i))) cell_texts << text->text();
    QVERIFY2(cell_texts.contains(QString("%1%").arg(expected.at({0, 2}) * 100, 0, 'f', 0)),
             qPrintable(cell_texts.join(' ')));

    // Timeline of the last launch: every tile of that launch has a row, every busy interval a stroke.
    std::int64_t last_launch_start = 0;
    for (const KernelEvent& e : npu_)
      if (e.kernel == "npu.launch") last_launch_start = e.start_ns;
    std::set<int> tiles;
    int intervals = 0;
    for (const KernelEvent& e : npu_) {
      if (e.tile >= 0 && e.start_ns >= last_launch_start) {
        tiles.insert(e.tile);
        ++intervals;
      }
    }
    QCustomPlot* timeline = plot("tile_timeline");
    int strokes = 0;
    for (int i = 0; i < timeline->plottableCount(); ++i)
      if (auto* bars = qobject_cast<QCPErrorBars*>(timeline->plottable(i))) strokes += bars->dataCount();
    QCOMPARE(strokes, intervals);
    QCOMPARE(timeline->yAxis->range().upper - timeline->yAxis->range().lower, tiles.size() - 1 + 1.2);
  }

  void panels_say_measured_or_modelled() {
    const QString latency = provenance(view_->latency_panel());
    QVERIFY2(latency.contains("CPU: measured (host clock)"), qPrintable(latency));
    QVERIFY2(latency.contains("NPU emulator: modelled"), qPrintable(latency));
    const QString tiles = provenance(view_->tile_panel());
    QVERIFY2(tiles.contains("NPU emulator: modelled") && !tiles.contains("measured"), qPrintable(tiles));

    view_->clear();
    view_->appendEvents(cpu_);
    view_->refresh_now();
    const QString cpu_only = provenance(view_->latency_panel());
    QVERIFY2(cpu_only.contains("measured") && !cpu_only.contains("modelled"), qPrintable(cpu_only));
    QVERIFY2(provenance(view_->tile_panel()).contains("No events"),
             qPrintable(provenance(view_->tile_panel())));
    QVERIFY(provenance(view_->accuracy_panel()).contains("No comparison"));
    view_->setComparison(sample_comparison());
    QVERIFY2(provenance(view_->accuracy_panel()).contains("NPU emulator outputs"),
             qPrintable(provenance(view_->accuracy_panel())));
  }

  void exports_trace_json_and_png() {
    view_->clear();
    view_->appendEvents(cpu_);
    view_->appendEvents(npu_);
    view_->refresh_now();
    test::TempDir dir;
    const QString json_path = QString::fromStdString(dir.file("trace.json").string());
    view_->export_trace_json(json_path);
    QFile file(json_path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(file.readAll(), &error);
    QCOMPARE(error.error, QJsonParseError::NoError);
    int complete = 0;
    std::set<QString> names;
    for (const QJsonValue& value : document.object().value("traceEvents").toArray()) {
      if (value.toObject().value("ph").toString() == "X") {
        ++complete;
        names.insert(value.toObject().value("name").toString());
      }
    }
    QCOMPARE(complete, static_cast<int>(cpu_.size() + npu_.size()));
    QVERIFY(names.count("gemm.qkv") && names.count("encoder.attention"));

    for (ui::ProfilingPanel* panel : {static_cast<ui::ProfilingPanel*>(view_->latency_panel()),
                                      static_cast<ui::ProfilingPanel*>(view_->tile_panel()),
                                      static_cast<ui::ProfilingPanel*>(view_->accuracy_panel())}) {
      const QString png =
          QString::fromStdString(dir.file(panel->metaObject()->className() + std::string(".png")).string());
      QVERIFY(view_->export_png(panel, png));
      QVERIFY(QFileInfo(png).size() > 0);
      const QImage image(png);
      QVERIFY(!image.isNull());
      QVERIFY(image.width() > 100 && image.height() > 100);
    }
    // A folder that does not exist: false, no crash.
    QVERIFY(
        !view_->export_png(view_->tile_panel(), QString::fromStdString(dir.file("missing/x.png").string())));
    QVERIFY_THROWS_EXCEPTION(
        std::exception,
        view_->export_trace_json(QString::fromStdString(dir.file("missing/x.json").string())));
  }

  void comparison_bars_show_the_layers() {
    const EncoderComparison comparison = sample_comparison();
    view_->setComparison(comparison);
    QCPBars* cosine = bars_named(plot("accuracy_cosine"), "cosine");
    QCPBars* rel_l2 = bars_named(plot("accuracy_rel_l2"), "relative L2");
    QVERIFY(cosine && rel_l2);
    QCOMPARE(cosine->dataCount(), static_cast<int>(comparison.layers.size()));
    QCOMPARE(rel_l2->dataCount(), static_cast<int>(comparison.layers.size()));
    for (std::size_t i = 0; i < comparison.layers.size(); ++i) {
      QCOMPARE(cosine->data()->at(static_cast<int>(i))->key, double(comparison.layers[i].index));
      QCOMPARE(cosine->data()->at(static_cast<int>(i))->value, comparison.layers[i].agreement.cosine);
      QCOMPARE(rel_l2->data()->at(static_cast<int>(i))->value, comparison.layers[i].agreement.rel_l2);
      QVERIFY(plot("accuracy_cosine")->yAxis->range().contains(comparison.layers[i].agreement.cosine));
      QVERIFY(plot("accuracy_rel_l2")->yAxis->range().contains(comparison.layers[i].agreement.rel_l2));
    }
    const QString figures = view_->findChild<QLabel*>("accuracy_figures")->text();
    QVERIFY2(figures.contains("0.99842") && figures.contains("0.0561") && figures.contains("0.317"),
             qPrintable(figures));
  }

  void transcript_differences_are_marked() {
    view_->setTranscriptComparison(sample_transcripts());
    const auto* reference = view_->findChild<QTextBrowser*>("reference_transcript");
    const auto* candidate = view_->findChild<QTextBrowser*>("candidate_transcript");
    QCOMPARE(reference->toPlainText(),
             QString(" And so my fellow Americans, ask not what your country can do for you"));
    QCOMPARE(candidate->toPlainText(),
             QString(" And so my fellow American, ask not what the country can do for you"));
    constexpr int kSame = 1, kRemoved = 2, kAdded = 3;
    QStringList removed, added;
    for (const Run& run : runs_of(reference->document())) {
      QVERIFY(run.kind == kSame || run.kind == kRemoved);
      QCOMPARE(run.struck, run.kind == kRemoved);
      if (run.kind == kRemoved) removed << run.text;
    }
    for (const Run& run : runs_of(candidate->document())) {
      QVERIFY(run.kind == kSame || run.kind == kAdded);
      QVERIFY(!run.struck);
      QCOMPARE(run.bold, run.kind == kAdded);
      if (run.kind == kAdded) added << run.text;
    }
    QCOMPARE(removed, QStringList({"Americans", "your"}));
    QCOMPARE(added, QStringList({"American", "the"}));
  }

  void screenshots() {
    view_->clear();
    view_->appendEvents(cpu_);
    view_->appendEvents(npu_);
    view_->setComparison(sample_comparison());
    view_->setTranscriptComparison(sample_transcripts());
    const QPalette light = view_->palette();
    for (const auto& [theme, palette] :
         {std::pair{QString("light"), light}, std::pair{QString("dark"), dark_palette()}}) {
      view_->setPalette(palette);
      const std::pair<ui::ProfilingPanel*, QString> panels[] = {{view_->latency_panel(), "latency"},
                                                                {view_->tile_panel(), "tiles"},
                                                                {view_->accuracy_panel(), "accuracy"}};
      for (const auto& [panel, name] : panels) {
        view_->tabs()->setCurrentWidget(panel);
        view_->refresh_now();
        QTest::qWait(30);
        const QPixmap pixmap = view_->grab();
        QVERIFY(!pixmap.isNull());
        const QString path = QDir(screenshot_dir()).filePath(QString("profiling_%1_%2.png").arg(name, theme));
        QVERIFY2(pixmap.save(path, "PNG"), qPrintable(path));
        qInfo("screenshot: %s", qPrintable(path));
      }
    }
    view_->setPalette(light);
    view_->tabs()->setCurrentWidget(view_->latency_panel());
  }

  void hundred_thousand_events_stay_responsive() {
    view_->clear();
    view_->tabs()->setCurrentWidget(view_->latency_panel());
    // 100k events in 100 batches, the way the bridge delivers 10k events/s: CPU kernels and NPU tile events
    // interleaved, 90 s of host time so the latency plots scroll.
    constexpr int kBatches = 100, kPerBatch = 1000;
    std::mt19937 random(7);
    std::uniform_int_distribution<int> tile(0, 15);
    std::lognormal_distribution<double> jitter(0.0, 0.3);
    qint64 longest_ns = 0, total_ns = 0, longest_append_ns = 0, longest_latency_ns = 0, longest_tiles_ns = 0;
    std::int64_t cpu_t = 0, npu_t = 0;
    for (int b = 0; b < kBatches; ++b) {
      std::vector<KernelEvent> batch;
      batch.reserve(kPerBatch);
      for (int i = 0; i < kPerBatch; ++i) {
        if (i % 2 == 0) {
          const std::string& kernel = kCpuKernels[static_cast<std::size_t>(i / 2) % kCpuKernels.size()];
          batch.push_back(make_event(kernel, "cpu", cpu_t,
                                     static_cast<std::int64_t>(500 * kUs * jitter(random)), -1,
                                     TimingSource::measured));
          cpu_t += 1800 * kUs;
        } else {
          const std::string& kernel = kNpuKernels[static_cast<std::size_t>(i / 2) % kNpuKernels.size()];
          const auto duration = static_cast<std::int64_t>(80 * kUs * jitter(random));
          batch.push_back(
              make_event(kernel, "npu-sim", npu_t, duration, tile(random), TimingSource::modelled));
          npu_t += 10 * kUs;
        }
      }
      // Each phase timed on its own, so the report says where the time goes; the sum is one GUI stall.
      QElapsedTimer timer;
      timer.start();
      view_->appendEvents(batch);
      const qint64 append_ns = timer.nsecsElapsed();
      view_->latency_panel()->refresh(true);
      const qint64 latency_ns = timer.nsecsElapsed() - append_ns;
      view_->tile_panel()->refresh(true);
      const qint64 elapsed = timer.nsecsElapsed();
      longest_append_ns = std::max(longest_append_ns, append_ns);
      longest_latency_ns = std::max(longest_latency_ns, latency_ns);
      longest_tiles_ns = std::max(longest_tiles_ns, elapsed - append_ns - latency_ns);
      longest_ns = std::max(longest_ns, elapsed);
      total_ns += elapsed;
      QCoreApplication::processEvents();
    }
    qInfo(
        "100k events in %d batches of %d, both live panels replotted after every batch: longest "
        "append+replot %.1f ms (mean %.1f ms); longest phases: append %.1f ms, latency panel %.1f ms, tile "
        "panel %.1f ms",
        kBatches, kPerBatch, longest_ns / 1e6, total_ns / 1e6 / kBatches, longest_append_ns / 1e6,
        longest_latency_ns / 1e6, longest_tiles_ns / 1e6);
    QCOMPARE(view_->retained_event_count(), std::size_t{kBatches * kPerBatch});
    // The CPU plot scrolled: only the last window is kept.
    QCPGraph* graph = graph_named(plot("latency_cpu"), QString::fromStdString(kCpuKernels[0]));
    QVERIFY(graph);
    const double latest_s = (cpu_t - 1800 * kUs) * 1e-9;
    QVERIFY2(graph->data()->constBegin()->key >= latest_s - ui::LatencyPanel::kWindowSeconds - 1e-9,
             qPrintable(QString::number(graph->data()->constBegin()->key)));
    QVERIFY(view_->latency_panel()->event_count(false, kCpuKernels[0]) <=
            ui::LatencyPanel::kMaxPointsPerGraph);
    QVERIFY(graph->dataCount() <= 2 * plot("latency_cpu")->width());
    QVERIFY(plot("latency_cpu")->xAxis->range().upper >= latest_s);
  }
};

QTEST_MAIN(TestProfilingPanels)
#include "test_profiling_panels.moc"
