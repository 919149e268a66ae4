#include "profiling/accuracy_panel.h"

#include <qcustomplot.h>

#include <QGridLayout>
#include <QLabel>
#include <QSplitter>
#include <QTextBrowser>
#include <QTextCursor>
#include <algorithm>

#include "profiling/plot_style.h"

namespace npuscribe::ui {

namespace {

// Marks each token's run in the transcript documents, so the marking can be read back exactly.
constexpr int kTokenKindProperty = QTextFormat::UserProperty + 1;

QColor blend(const QColor& top, const QColor& bottom, double top_weight) {
  return QColor::fromRgbF(top.redF() * top_weight + bottom.redF() * (1 - top_weight),
                          top.greenF() * top_weight + bottom.greenF() * (1 - top_weight),
                          top.blueF() * top_weight + bottom.blueF() * (1 - top_weight));
}

// Whisper tokens carry their leading space; the space stays unmarked so the strike-through and the tint
// cover the word only.
void insert_marked(QTextCursor& cursor, const QString& token, const QTextCharFormat& marked,
                   const QTextCharFormat& plain) {
  qsizetype word_start = 0;
  while (word_start < token.size() && token.at(word_start).isSpace()) ++word_start;
  if (word_start > 0) cursor.insertText(token.left(word_start), plain);
  if (word_start < token.size()) cursor.insertText(token.mid(word_start), marked);
}

QCPBars* make_bars(QCustomPlot* plot, const QString& name, const QColor& colour) {
  auto* bars = new QCPBars(plot->xAxis, plot->yAxis);
  bars->setName(name);
  bars->setWidth(0.7);
  QColor fill = colour;
  fill.setAlpha(210);
  bars->setBrush(fill);
  bars->setPen(QPen(colour.darker(125)));
  return bars;
}

void setup_layer_plot(QCustomPlot* plot, const QString& object_name, const QString& title,
                      const QString& label) {
  plot->setObjectName(object_name);
  plot->setMinimumSize(260, 180);
  auto ticker = QSharedPointer<QCPAxisTickerFixed>::create();
  ticker->setTickStep(1.0);
  ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
  plot->xAxis->setTicker(ticker);
  plot->xAxis->setSubTicks(false);
  plot->xAxis->setLabel(QObject::tr("encoder layer"));
  plot->xAxis->grid()->setVisible(false);
  plot->yAxis->setLabel(label);
  plot->plotLayout()->insertRow(0);
  plot->plotLayout()->addElement(
      0, 0, new QCPTextElement(plot, title, QFont(plot->font().family(), -1, QFont::Bold)));
}

QCPItemStraightLine* goal_line(QCustomPlot* plot, double value) {
  auto* line = new QCPItemStraightLine(plot);
  line->point1->setCoords(0, value);
  line->point2->setCoords(1, value);
  line->setPen(QPen(categorical_colour(2), 1.5, Qt::DashLine));
  return line;
}

}  // namespace

AccuracyPanel::AccuracyPanel(QWidget* parent)
    : ProfilingPanel(tr("Accuracy: NPU encoder vs CPU fp32"), parent) {
  figures_ = new QLabel(this);
  figures_->setObjectName(QStringLiteral("accuracy_figures"));
  figures_->setTextFormat(Qt::RichText);
  figures_->setWordWrap(true);
  figures_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  content()->addWidget(figures_);

  auto* splitter = new QSplitter(Qt::Vertical, this);
  auto* plots = new QSplitter(Qt::Horizontal, splitter);
  cosine_plot_ = new QCustomPlot(plots);
  error_plot_ = new QCustomPlot(plots);
  setup_layer_plot(cosine_plot_, QStringLiteral("accuracy_cosine"), tr("Cosine similarity per layer"),
                   tr("cosine (goal ≥ %1)").arg(kCosineGoal));
  setup_layer_plot(error_plot_, QStringLiteral("accuracy_rel_l2"), tr("Relative L2 error per layer"),
                   tr("relative L2 (goal ≤ %1)").arg(kRelL2Goal));
  cosine_bars_ = make_bars(cosine_plot_, tr("cosine"), categorical_colour(0));
  error_bars_ = make_bars(error_plot_, tr("relative L2"), categorical_colour(1));
  goal_line(cosine_plot_, kCosineGoal);
  goal_line(error_plot_, kRelL2Goal);
  // The layer axes move together.
  connect(cosine_plot_->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), error_plot_->xAxis,
          qOverload<const QCPRange&>(&QCPAxis::setRange));

  auto* transcripts = new QWidget(splitter);
  auto* grid = new QGridLayout(transcripts);
  grid->setContentsMargins(0, 0, 0, 0);
  reference_title_ = new QLabel(transcripts);
  candidate_title_ = new QLabel(transcripts);
  reference_view_ = new QTextBrowser(transcripts);
  candidate_view_ = new QTextBrowser(transcripts);
  reference_view_->setObjectName(QStringLiteral("reference_transcript"));
  candidate_view_->setObjectName(QStringLiteral("candidate_transcript"));
  grid->addWidget(reference_title_, 0, 0);
  grid->addWidget(candidate_title_, 0, 1);
  grid->addWidget(reference_view_, 1, 0);
  grid->addWidget(candidate_view_, 1, 1);

  splitter->addWidget(plots);
  splitter->addWidget(transcripts);
  splitter->setStretchFactor(0, 3);
  splitter->setStretchFactor(1, 1);
  splitter->setSizes({600, 200});  // proportions; the transcripts are a few lines
  content()->addWidget(splitter, 1);
  palette_changed();
  clear();
}

void AccuracyPanel::palette_changed() {
  apply_plot_palette(cosine_plot_, palette());
  apply_plot_palette(error_plot_, palette());
  cosine_plot_->replot(QCustomPlot::rpQueuedReplot);
  error_plot_->replot(QCustomPlot::rpQueuedReplot);
  if (have_transcripts_) render_transcripts();
}

void AccuracyPanel::clear() {
  have_encoder_ = false;
  have_transcripts_ = false;
  transcripts_ = {};
  reference_backend_.clear();
  candidate_backend_.clear();
  cosine_bars_->data()->clear();
  error_bars_->data()->clear();
  cosine_plot_->xAxis->setRange(-0.5, 3.5);
  cosine_plot_->yAxis->setRange(0.99, 1.0);
  error_plot_->yAxis->setRange(0, kRelL2Goal * 1.2);
  figures_->setText(
      tr("No comparison yet. Run <i>Compare NPU with CPU</i> (or <tt>npuscribe compare</tt>) "
         "to see how far the NPU encoder lands from the CPU fp32 encoder."));
  reference_view_->clear();
  candidate_view_->clear();
  reference_title_->setText(tr("<b>Reference transcript</b>"));
  candidate_title_->setText(tr("<b>Candidate transcript</b>"));
  update_provenance();
  refresh(true);
}

void AccuracyPanel::update_provenance() {
  const std::string& candidate = candidate_backend_;
  if (candidate.empty()) {
    set_provenance(Provenance::none, tr("No comparison yet"));
    return;
  }
  // Accuracy figures are always measured: real outputs compared element by element. What matters is where
  // the candidate's outputs came from.
  const QString source = candidate == "npu-sim" ? tr("NPU emulator outputs (bit-exact integer kernels)")
                         : candidate == "npu"   ? tr("NPU hardware outputs")
                                                : tr("%1 outputs").arg(backend_label(candidate));
  set_provenance(Provenance::measured,
                 tr("Measured: %1 compared with the %2 fp32 encoder")
                     .arg(source, backend_label(reference_backend_.empty() ? "cpu" : reference_backend_)));
}

void AccuracyPanel::set_comparison(const EncoderComparison& comparison) {
  have_encoder_ = true;
  reference_backend_ = comparison.reference_backend;
  candidate_backend_ = comparison.candidate_backend;
  QVector<double> layers, cosines, errors;
  double lowest_cosine = 1.0, highest_error = 0.0;
  for (const LayerAgreement& layer : comparison.layers) {
    layers.push_back(layer.index);
    cosines.push_back(layer.agreement.cosine);
    errors.push_back(layer.agreement.rel_l2);
    lowest_cosine = std::min(lowest_cosine, layer.agreement.cosine);
    highest_error = std::max(highest_error, layer.agreement.rel_l2);
  }
  cosine_bars_->setData(layers, cosines);
  error_bars_->setData(layers, errors);
  const int n = static_cast<int>(comparison.layers.size());
  cosine_plot_->xAxis->setRange(-0.6, std::max(n, 1) - 0.4);
  error_plot_->xAxis->setRange(-0.6, std::max(n, 1) - 0.4);
  // Zoom on the cosines (they sit just below 1) but keep the goal in view when they come near it.
  const double lower = std::min(lowest_cosine, kCosineGoal + 0.002);
  const double margin = std::max((1.0 - lower) * 0.15, 1e-5);
  cosine_plot_->yAxis->setRange(lower - margin, 1.0 + margin * 0.3);
  error_plot_->yAxis->setRange(0.0, std::max(highest_error, 1e-6) * 1.25);
  if (highest_error > kRelL2Goal * 0.5)
    error_plot_->yAxis->setRange(0.0, std::max(highest_error, kRelL2Goal) * 1.2);

  auto verdict = [](bool ok) {
    return ok ? QStringLiteral("<span style='color:%1'>✓</span>").arg(categorical_colour(4).name())
              : QStringLiteral("<span style='color:%1'>✗</span>").arg(categorical_colour(2).name());
  };
  const TensorAgreement& out = comparison.encoder;
  const bool all_layers_ok =
      std::all_of(comparison.layers.begin(), comparison.layers.end(), [](const auto& layer) {
        return layer.agreement.cosine >= kCosineGoal && layer.agreement.rel_l2 <= kRelL2Goal;
      });
  figures_->setText(
      tr("<b>Final encoder output</b> (after ln_post): cosine <b>%1</b> %2 &nbsp;·&nbsp; relative L2 "
         "<b>%3</b> %4 "
         "&nbsp;·&nbsp; max |error| <b>%5</b> &nbsp;&nbsp;|&nbsp;&nbsp; conv stem: cosine %6, relative L2 %7 "
         "&nbsp;&nbsp;|&nbsp;&nbsp; %8 of %9 layers meet both goals %10")
          .arg(out.cosine, 0, 'f', 5)
          .arg(verdict(out.cosine >= kCosineGoal))
          .arg(out.rel_l2, 0, 'g', 3)
          .arg(verdict(out.rel_l2 <= kRelL2Goal))
          .arg(out.max_abs, 0, 'g', 3)
          .arg(comparison.conv_stem.cosine, 0, 'f', 5)
          .arg(comparison.conv_stem.rel_l2, 0, 'g', 3)
          .arg(std::count_if(comparison.layers.begin(), comparison.layers.end(),
                             [](const auto& layer) {
                               return layer.agreement.cosine >= kCosineGoal &&
                                      layer.agreement.rel_l2 <= kRelL2Goal;
                             }))
          .arg(n)
          .arg(verdict(all_layers_ok)));
  update_provenance();
  refresh(true);
}

void AccuracyPanel::set_transcript_comparison(const TranscriptComparison& comparison) {
  have_transcripts_ = true;
  transcripts_ = comparison;
  if (candidate_backend_.empty()) {
    reference_backend_ = comparison.reference_backend;
    candidate_backend_ = comparison.candidate_backend;
    update_provenance();
  }
  render_transcripts();
}

void AccuracyPanel::render_transcripts() {
  const TranscriptComparison& comparison = transcripts_;
  int removed = 0, added = 0;
  for (const TokenDifference& difference : comparison.differences) {
    removed += difference.kind == TokenDifference::Kind::removed;
    added += difference.kind == TokenDifference::Kind::added;
  }
  reference_title_->setText(
      tr("<b>%1</b> (reference) &nbsp; <span style='color:%2'>%3 tokens only here</span>")
          .arg(backend_label(comparison.reference_backend))
          .arg(is_dark(palette()) ? "#ff8a80" : "#c62828")
          .arg(removed));
  QString candidate_title =
      tr("<b>%1</b> (candidate) &nbsp; <span style='color:%2'>%3 tokens only here</span>")
          .arg(backend_label(comparison.candidate_backend))
          .arg(is_dark(palette()) ? "#69db7c" : "#2e7d32")
          .arg(added);
  if (comparison.candidate_device_failures > 0)
    candidate_title += tr(" &nbsp; (%1 windows fell back to the CPU after a device failure)")
                           .arg(comparison.candidate_device_failures);
  candidate_title_->setText(candidate_title);

  const bool dark = is_dark(palette());
  const QColor base = palette().color(QPalette::Base);
  const QColor text = palette().color(QPalette::Text);
  const QColor red = dark ? QColor(0xff, 0x8a, 0x80) : QColor(0xc6, 0x28, 0x28);
  const QColor green = dark ? QColor(0x69, 0xdb, 0x7c) : QColor(0x2e, 0x7d, 0x32);
  QTextCharFormat same;
  same.setForeground(text);
  same.setProperty(kTokenKindProperty, static_cast<int>(TokenDifference::Kind::same));
  QTextCharFormat removed_format;
  removed_format.setForeground(red);
  removed_format.setBackground(blend(red, base, 0.16));
  removed_format.setFontStrikeOut(true);
  removed_format.setProperty(kTokenKindProperty, static_cast<int>(TokenDifference::Kind::removed));
  QTextCharFormat added_format;
  added_format.setForeground(green);
  added_format.setBackground(blend(green, base, 0.16));
  added_format.setFontWeight(QFont::Bold);
  added_format.setProperty(kTokenKindProperty, static_cast<int>(TokenDifference::Kind::added));

  for (QTextBrowser* view : {reference_view_, candidate_view_}) view->clear();
  QTextCursor reference(reference_view_->document());
  QTextCursor candidate(candidate_view_->document());
  if (comparison.differences.empty()) {
    // No token diff was computed: show both texts as they are.
    reference.insertText(QString::fromStdString(comparison.reference_text), same);
    candidate.insertText(QString::fromStdString(comparison.candidate_text), same);
    return;
  }
  for (const TokenDifference& difference : comparison.differences) {
    const QString token = QString::fromStdString(difference.text);
    switch (difference.kind) {
      case TokenDifference::Kind::same:
        reference.insertText(token, same);
        candidate.insertText(token, same);
        break;
      case TokenDifference::Kind::removed:
        insert_marked(reference, token, removed_format, same);
        break;
      case TokenDifference::Kind::added:
        insert_marked(candidate, token, added_format, same);
        break;
    }
  }
}

void AccuracyPanel::refresh(bool force) {
  if (!force) return;  // changes only through set_comparison / set_transcript_comparison, which replot
  cosine_plot_->replot(QCustomPlot::rpImmediateRefresh);
  error_plot_->replot(QCustomPlot::rpImmediateRefresh);
}

}  // namespace npuscribe::ui
