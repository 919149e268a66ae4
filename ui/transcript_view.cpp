#include "transcript_view.h"

#include <QHeaderView>
#include <QResizeEvent>
#include <QScrollBar>
#include <cmath>

#include "theme.h"

namespace npuscribe::ui {
namespace {
constexpr int kTimeColumn = 0;
constexpr int kTextColumn = 1;
constexpr int kStartRole = Qt::UserRole + 1;
}  // namespace

QString short_timestamp(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const auto tenths = static_cast<long long>(std::llround(seconds * 10.0));
  const long long hours = tenths / 36000, minutes = tenths / 600 % 60, secs = tenths / 10 % 60;
  const long long tenth = tenths % 10;
  if (hours > 0)
    return QString("%1:%2:%3.%4")
        .arg(hours)
        .arg(minutes, 2, 10, QChar('0'))
        .arg(secs, 2, 10, QChar('0'))
        .arg(tenth);
  return QString("%1:%2.%3").arg(minutes).arg(secs, 2, 10, QChar('0')).arg(tenth);
}

TranscriptView::TranscriptView(QWidget* parent) : QTableWidget(0, 2, parent) {
  setHorizontalHeaderLabels({tr("Time"), tr("Text")});
  horizontalHeader()->setSectionResizeMode(kTimeColumn, QHeaderView::ResizeToContents);
  horizontalHeader()->setSectionResizeMode(kTextColumn, QHeaderView::Stretch);
  horizontalHeader()->setDefaultAlignment(Qt::AlignLeft | Qt::AlignVCenter);
  horizontalHeader()->setHighlightSections(false);
  verticalHeader()->hide();
  setWordWrap(true);
  setShowGrid(false);
  setSelectionBehavior(QAbstractItemView::SelectRows);
  setSelectionMode(QAbstractItemView::SingleSelection);
  setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed |
                  QAbstractItemView::AnyKeyPressed);
  setVerticalScrollMode(QAbstractItemView::ScrollPerPixel);
  setAlternatingRowColors(false);
  setFrameShape(QFrame::NoFrame);
  connect(this, &QTableWidget::itemChanged, this, &TranscriptView::on_item_changed);
  connect(this, &QTableWidget::cellClicked, this, &TranscriptView::on_cell_clicked);
}

void TranscriptView::clear_segments() {
  setRowCount(0);
}

void TranscriptView::set_segments(const std::vector<Segment>& segments) {
  clear_segments();
  append_segments(segments);
}

void TranscriptView::append_segments(const std::vector<Segment>& segments) {
  filling_ = true;
  const bool at_bottom = verticalScrollBar()->value() >= verticalScrollBar()->maximum() - 4;
  const ThemeColors colors = theme_colors();
  for (const Segment& segment : segments) {
    const int row = rowCount();
    insertRow(row);
    auto* time = new QTableWidgetItem(short_timestamp(segment.start_s));
    time->setFlags(Qt::ItemIsEnabled | Qt::ItemIsSelectable);
    time->setData(kStartRole, segment.start_s);
    time->setForeground(colors.accent);
    time->setTextAlignment(Qt::AlignRight | Qt::AlignTop);
    time->setToolTip(
        tr("Play from %1 (to %2)").arg(short_timestamp(segment.start_s), short_timestamp(segment.end_s)));
    auto* text = new QTableWidgetItem(QString::fromStdString(segment.text).trimmed());
    text->setFlags(Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemIsEditable);
    text->setTextAlignment(Qt::AlignLeft | Qt::AlignTop);
    setItem(row, kTimeColumn, time);
    setItem(row, kTextColumn, text);
    resizeRowToContents(row);
  }
  filling_ = false;
  // Follow the transcript as it grows unless the user scrolled up to read.
  if (at_bottom) scrollToBottom();
}

QString TranscriptView::segment_text(int row) const {
  const QTableWidgetItem* text = item(row, kTextColumn);
  return text ? text->text() : QString();
}

double TranscriptView::segment_start_s(int row) const {
  const QTableWidgetItem* time = item(row, kTimeColumn);
  return time ? time->data(kStartRole).toDouble() : 0.0;
}

QString TranscriptView::plain_text() const {
  QStringList lines;
  for (int row = 0; row < rowCount(); ++row) lines << segment_text(row);
  return lines.join('\n');
}

void TranscriptView::on_item_changed(QTableWidgetItem* changed) {
  if (filling_ || changed->column() != kTextColumn) return;
  resizeRowToContents(changed->row());
  emit text_edited(changed->row(), changed->text());
}

void TranscriptView::on_cell_clicked(int row, int column) {
  if (column == kTimeColumn) emit play_requested(segment_start_s(row));
}

void TranscriptView::resizeEvent(QResizeEvent* event) {
  QTableWidget::resizeEvent(event);
  if (event->size().width() != event->oldSize().width()) resizeRowsToContents();  // text re-wraps
}

}  // namespace npuscribe::ui
