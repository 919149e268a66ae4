#include "profiling/profiling_view.h"

#include <QDir>
#include <QFileDialog>
#include <QMessageBox>
#include <QPixmap>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTimer>
#include <QVBoxLayout>
#include <algorithm>

#include "profile/trace.h"
#include "profiling/accuracy_panel.h"
#include "profiling/latency_panel.h"
#include "profiling/tile_panel.h"
#include "util/error.h"

namespace npuscribe::ui {

ProfilingView::ProfilingView(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  tabs_ = new QTabWidget(this);
  tabs_->setObjectName(QStringLiteral("profiling_tabs"));
  tabs_->setDocumentMode(true);
  latency_ = new LatencyPanel(&colours_, tabs_);
  tiles_ = new TilePanel(&colours_, tabs_);
  accuracy_ = new AccuracyPanel(tabs_);
  tabs_->addTab(latency_, tr("Kernel latency"));
  tabs_->addTab(tiles_, tr("Tile utilisation"));
  tabs_->addTab(accuracy_, tr("Accuracy"));
  layout->addWidget(tabs_);
  for (ProfilingPanel* panel : {static_cast<ProfilingPanel*>(latency_), static_cast<ProfilingPanel*>(tiles_),
                                static_cast<ProfilingPanel*>(accuracy_)})
    connect_panel(panel);
  // A panel that was hidden while events arrived catches up when shown.
  connect(tabs_, &QTabWidget::currentChanged, this, [this](int index) {
    if (auto* panel = qobject_cast<ProfilingPanel*>(tabs_->widget(index))) panel->refresh(false);
  });

  refresh_timer_ = new QTimer(this);
  refresh_timer_->setSingleShot(true);
  refresh_timer_->setInterval(kRefreshIntervalMs);
  connect(refresh_timer_, &QTimer::timeout, this, &ProfilingView::refresh_visible);
}

ProfilingView::~ProfilingView() = default;

void ProfilingView::connect_panel(ProfilingPanel* panel) {
  connect(panel, &ProfilingPanel::exportTraceRequested, this, &ProfilingView::ask_export_trace);
  connect(panel, &ProfilingPanel::exportPngRequested, this, [this, panel] { ask_export_png(panel); });
}

void ProfilingView::appendEvents(const std::vector<npuscribe::KernelEvent>& events) {
  if (events.empty()) return;
  latency_->append(events);
  tiles_->append(events);
  if (events.size() >= kMaxRetainedEvents) {
    retained_.assign(events.end() - static_cast<std::ptrdiff_t>(kMaxRetainedEvents), events.end());
  } else {
    const std::size_t overflow = retained_.size() + events.size();
    if (overflow > kMaxRetainedEvents)
      retained_.erase(retained_.begin(),
                      retained_.begin() + static_cast<std::ptrdiff_t>(overflow - kMaxRetainedEvents));
    retained_.insert(retained_.end(), events.begin(), events.end());
  }
  // Coalesce: however many batches arrive, replot at most once per interval.
  if (!refresh_timer_->isActive()) refresh_timer_->start();
}

void ProfilingView::refresh_visible() {
  latency_->refresh(false);
  tiles_->refresh(false);
}

void ProfilingView::refresh_now() {
  refresh_timer_->stop();
  latency_->refresh(true);
  tiles_->refresh(true);
  accuracy_->refresh(true);
}

void ProfilingView::setComparison(const npuscribe::EncoderComparison& comparison) {
  accuracy_->set_comparison(comparison);
}

void ProfilingView::setTranscriptComparison(const npuscribe::TranscriptComparison& comparison) {
  accuracy_->set_transcript_comparison(comparison);
}

void ProfilingView::clear() {
  refresh_timer_->stop();
  retained_.clear();
  colours_.clear();
  latency_->clear();
  tiles_->clear();
  accuracy_->clear();
}

void ProfilingView::export_trace_json(const QString& path) const {
  const std::vector<KernelEvent> events(retained_.begin(), retained_.end());
  write_chrome_trace(events, path.toStdString());
}

bool ProfilingView::export_png(ProfilingPanel* panel, const QString& path) {
  // A panel on a hidden tab has no valid geometry: show it for the grab, then put the tabs back.
  QWidget* previous = tabs_->currentWidget();
  if (tabs_->indexOf(panel) >= 0) tabs_->setCurrentWidget(panel);
  panel->refresh(true);  // the plots' buffers must hold the current data before the grab
  const bool saved = panel->grab().save(path, "PNG");
  tabs_->setCurrentWidget(previous);
  return saved;
}

namespace {

QString default_export_path(const QString& file_name) {
  QString folder = QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation);
  if (folder.isEmpty()) folder = QDir::homePath();
  return QDir(folder).filePath(file_name);
}

}  // namespace

void ProfilingView::ask_export_trace() {
  if (retained_.empty()) {
    QMessageBox::information(this, tr("Export trace JSON"),
                             tr("There are no kernel events yet. Transcribe something first."));
    return;
  }
  const QString path = QFileDialog::getSaveFileName(
      this, tr("Export trace JSON"), default_export_path(QStringLiteral("npuscribe-trace.json")),
      tr("Chrome trace JSON (*.json)"));
  if (path.isEmpty()) return;
  try {
    export_trace_json(path);
  } catch (const std::exception& error) {
    QMessageBox::warning(this, tr("Export trace JSON"), QString::fromUtf8(error.what()));
  }
}

void ProfilingView::ask_export_png(ProfilingPanel* panel) {
  const int index = tabs_->indexOf(panel);
  QString name = index >= 0 ? tabs_->tabText(index).toLower().replace(QLatin1Char(' '), QLatin1Char('-'))
                            : QStringLiteral("profiling");
  const QString path = QFileDialog::getSaveFileName(
      this, tr("Export PNG"), default_export_path(QStringLiteral("npuscribe-%1.png").arg(name)),
      tr("PNG image (*.png)"));
  if (path.isEmpty()) return;
  if (!export_png(panel, path))
    QMessageBox::warning(
        this, tr("Export PNG"),
        tr("Could not write %1. Choose a folder you can write to.").arg(QDir::toNativeSeparators(path)));
}

}  // namespace npuscribe::ui
