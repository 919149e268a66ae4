// Accuracy of the NPU encoder against the CPU fp32 encoder: per-layer cosine similarity and relative L2
// error as bars (two plots sharing the layer axis), the final output's figures, and the two transcripts
// side by side with their token differences marked (removed: red, struck through; added: green).
#pragma once

#include <vector>

#include "profile/accuracy.h"
#include "profiling/profiling_panel.h"

class QCustomPlot;
class QCPBars;
class QLabel;
class QTextBrowser;

namespace npuscribe::ui {

class AccuracyPanel : public ProfilingPanel {
  Q_OBJECT
 public:
  // The targets of the NPU work (issue 4): cosine >= 0.995 and relative L2 <= 0.1 at every layer.
  static constexpr double kCosineGoal = 0.995;
  static constexpr double kRelL2Goal = 0.1;

  explicit AccuracyPanel(QWidget* parent = nullptr);

  void set_comparison(const EncoderComparison& comparison);
  void set_transcript_comparison(const TranscriptComparison& comparison);
  void clear();
  void refresh(bool force) override;

  const QTextBrowser* reference_view() const { return reference_view_; }
  const QTextBrowser* candidate_view() const { return candidate_view_; }

 protected:
  void palette_changed() override;

 private:
  void update_provenance();
  void render_transcripts();

  QCustomPlot* cosine_plot_ = nullptr;
  QCustomPlot* error_plot_ = nullptr;
  QCPBars* cosine_bars_ = nullptr;
  QCPBars* error_bars_ = nullptr;
  QLabel* figures_ = nullptr;
  QLabel* reference_title_ = nullptr;
  QLabel* candidate_title_ = nullptr;
  QTextBrowser* reference_view_ = nullptr;
  QTextBrowser* candidate_view_ = nullptr;
  std::string reference_backend_;
  std::string candidate_backend_;
  bool have_encoder_ = false;
  bool have_transcripts_ = false;
  TranscriptComparison transcripts_;
};

}  // namespace npuscribe::ui
