// The frame every profiling panel shares: a title, a label that says whether the figures are measured or
// modelled, and the export buttons. The owning ProfilingView answers the export requests.
#pragma once

#include <QWidget>

class QLabel;
class QPushButton;
class QVBoxLayout;

namespace npuscribe::ui {

class ProfilingPanel : public QWidget {
  Q_OBJECT
 public:
  enum class Provenance { none, measured, modelled, mixed };

  ProfilingPanel(const QString& title, QWidget* parent = nullptr);

  // Shown in the header; kind picks the badge colour.
  void set_provenance(Provenance kind, const QString& text);
  QString provenance_text() const;
  Provenance provenance() const { return provenance_; }

  // Replots if the panel changed since the last call (force: recompute and replot regardless).
  virtual void refresh(bool force) = 0;

 signals:
  void exportTraceRequested();
  void exportPngRequested();

 protected:
  QVBoxLayout* content() const { return content_; }
  void changeEvent(QEvent* event) override;
  // Called when the palette changes (light/dark theme switch).
  virtual void palette_changed() {}

 private:
  void style_badge();

  QLabel* provenance_label_ = nullptr;
  QVBoxLayout* content_ = nullptr;
  Provenance provenance_ = Provenance::none;
};

}  // namespace npuscribe::ui
