#include "profiling/profiling_panel.h"

#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

#include "profiling/plot_style.h"

namespace npuscribe::ui {

ProfilingPanel::ProfilingPanel(const QString& title, QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(8, 8, 8, 8);
  auto* header = new QHBoxLayout;
  auto* title_label = new QLabel(title, this);
  QFont title_font = title_label->font();
  title_font.setBold(true);
  title_font.setPointSizeF(title_font.pointSizeF() * 1.15);
  title_label->setFont(title_font);
  header->addWidget(title_label);

  provenance_label_ = new QLabel(this);
  provenance_label_->setObjectName(QStringLiteral("provenance"));
  provenance_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  // Wraps rather than widening the panel past the window (no sideways scrolling at 1100 px).
  provenance_label_->setWordWrap(true);
  provenance_label_->setToolTip(
      tr("Measured: timed on this machine (host clock) or on the NPU. Modelled: time computed by the NPU "
         "emulator's cost model, not observed on hardware."));
  header->addWidget(provenance_label_);
  header->addStretch(1);

  auto* export_trace = new QPushButton(tr("Export trace JSON"), this);
  export_trace->setObjectName(QStringLiteral("export_trace"));
  export_trace->setToolTip(
      tr("Chrome trace / Perfetto JSON of the recorded events (open in ui.perfetto.dev)"));
  auto* export_png = new QPushButton(tr("Export PNG"), this);
  export_png->setObjectName(QStringLiteral("export_png"));
  header->addWidget(export_trace);
  header->addWidget(export_png);
  connect(export_trace, &QPushButton::clicked, this, &ProfilingPanel::exportTraceRequested);
  connect(export_png, &QPushButton::clicked, this, &ProfilingPanel::exportPngRequested);
  layout->addLayout(header);

  content_ = new QVBoxLayout;
  layout->addLayout(content_, 1);
  set_provenance(Provenance::none, tr("No events yet"));
}

void ProfilingPanel::set_provenance(Provenance kind, const QString& text) {
  provenance_ = kind;
  provenance_label_->setText(text);
  style_badge();
}

QString ProfilingPanel::provenance_text() const {
  return provenance_label_->text();
}

void ProfilingPanel::style_badge() {
  // A tinted badge: blue for measured, amber for modelled, so the provenance is seen before it is read.
  QColor tint = palette().color(QPalette::Mid);
  if (provenance_ == Provenance::measured) tint = categorical_colour(0);
  if (provenance_ == Provenance::modelled || provenance_ == Provenance::mixed) tint = categorical_colour(1);
  QColor background = tint;
  background.setAlpha(is_dark(palette()) ? 70 : 45);
  provenance_label_->setStyleSheet(
      QStringLiteral(
          "QLabel { border: 1px solid %1; border-radius: 4px; padding: 2px 8px; background: %2; color: %3; }")
          .arg(tint.name(), background.name(QColor::HexArgb), palette().color(QPalette::WindowText).name()));
}

void ProfilingPanel::changeEvent(QEvent* event) {
  QWidget::changeEvent(event);
  if (event->type() == QEvent::PaletteChange || event->type() == QEvent::StyleChange) {
    style_badge();
    palette_changed();
  }
}

}  // namespace npuscribe::ui
