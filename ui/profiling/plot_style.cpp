#include "profiling/plot_style.h"

#include <qcustomplot.h>

#include <array>

namespace npuscribe::ui {

void apply_plot_palette(QCustomPlot* plot, const QPalette& palette) {
  const QColor background = palette.color(QPalette::Base);
  const QColor text = palette.color(QPalette::Text);
  QColor grid = text;
  grid.setAlpha(is_dark(palette) ? 45 : 35);
  QColor legend_background = background;
  legend_background.setAlpha(225);

  plot->setBackground(background);
  for (QCPAxisRect* rect : plot->axisRects()) {
    for (QCPAxis* axis : rect->axes()) {
      axis->setBasePen(QPen(text, 1));
      axis->setTickPen(QPen(text, 1));
      axis->setSubTickPen(QPen(text, 1));
      axis->setTickLabelColor(text);
      axis->setLabelColor(text);
      axis->grid()->setPen(QPen(grid, 1, Qt::SolidLine));
      axis->grid()->setZeroLinePen(Qt::NoPen);
      axis->grid()->setSubGridVisible(false);
    }
  }
  if (plot->legend) {
    plot->legend->setBrush(legend_background);
    plot->legend->setBorderPen(QPen(grid, 1));
    plot->legend->setTextColor(text);
  }
  for (int i = 0; i < plot->plotLayout()->elementCount(); ++i) {
    if (auto* title = qobject_cast<QCPTextElement*>(plot->plotLayout()->elementAt(i)))
      title->setTextColor(text);
    if (auto* scale = qobject_cast<QCPColorScale*>(plot->plotLayout()->elementAt(i))) {
      QCPAxis* axis = scale->axis();
      axis->setBasePen(QPen(text, 1));
      axis->setTickPen(QPen(text, 1));
      axis->setSubTickPen(QPen(text, 1));
      axis->setTickLabelColor(text);
      axis->setLabelColor(text);
    }
  }
}

QColor categorical_colour(int index) {
  // Mid-lightness hues (the Tableau 10 set) keep contrast against both white and near-black backgrounds.
  static constexpr std::array<QRgb, 10> kColours = {0x4e79a7, 0xf28e2b, 0xe15759, 0x76b7b2, 0x59a14f,
                                                    0xedc948, 0xb07aa1, 0xff9da7, 0x9c755f, 0xbab0ac};
  const auto n = static_cast<int>(kColours.size());
  return QColor::fromRgb(kColours[static_cast<std::size_t>(((index % n) + n) % n)]);
}

bool is_dark(const QPalette& palette) {
  return palette.color(QPalette::Base).lightnessF() < 0.5;
}

QString backend_label(const std::string& backend) {
  if (backend == "cpu") return QStringLiteral("CPU");
  if (backend == "npu") return QStringLiteral("NPU");
  if (backend == "npu-sim") return QStringLiteral("NPU emulator");
  return QString::fromStdString(backend);
}

QColor KernelColours::colour(const std::string& kernel) {
  // The first two colours mark the CPU and NPU sides in the histograms; kernels start after them.
  auto [it, inserted] = index_.try_emplace(kernel, static_cast<int>(index_.size()) + 2);
  return categorical_colour(it->second);
}

void ProvenanceTracker::add(const KernelEvent& event) {
  seen_[event.backend] |= static_cast<int>(event.source);
}

bool ProvenanceTracker::any_modelled() const {
  for (const auto& [backend, bits] : seen_)
    if (bits & static_cast<int>(TimingSource::modelled)) return true;
  return false;
}

bool ProvenanceTracker::any_measured() const {
  for (const auto& [backend, bits] : seen_)
    if (bits & static_cast<int>(TimingSource::measured)) return true;
  return false;
}

QString ProvenanceTracker::text() const {
  if (seen_.empty()) return QStringLiteral("No events yet");
  QStringList parts;
  for (const auto& [backend, bits] : seen_) {
    QStringList kinds;
    if (bits & static_cast<int>(TimingSource::measured))
      kinds << (backend == "cpu" ? QStringLiteral("measured (host clock)")
                                 : QStringLiteral("measured (device clock)"));
    if (bits & static_cast<int>(TimingSource::modelled))
      kinds << QStringLiteral("modelled (Phoenix cost model)");
    parts << backend_label(backend) + QStringLiteral(": ") + kinds.join(QStringLiteral(" and "));
  }
  return parts.join(QStringLiteral("  ·  "));
}

}  // namespace npuscribe::ui
