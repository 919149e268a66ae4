// A transcript as a table of segments: the start time (click it to play the audio from there) and the
// text, which the user can edit. Edits are reported so the owner can keep them for export.
#pragma once

#include <QTableWidget>
#include <vector>

#include "engine/transcript.h"

namespace npuscribe::ui {

class TranscriptView : public QTableWidget {
  Q_OBJECT
 public:
  explicit TranscriptView(QWidget* parent = nullptr);

  void set_segments(const std::vector<Segment>& segments);
  void append_segments(const std::vector<Segment>& segments);
  void clear_segments();
  int segment_count() const { return rowCount(); }
  QString segment_text(int row) const;
  double segment_start_s(int row) const;
  QString plain_text() const;  // one segment per line, as shown (with edits)

 signals:
  void text_edited(int row, const QString& text);
  void play_requested(double start_s);

 protected:
  void resizeEvent(QResizeEvent* event) override;

 private:
  void on_item_changed(QTableWidgetItem* item);
  void on_cell_clicked(int row, int column);
  bool filling_ = false;
};

// "1:02:03.4" style start time for the view ("0:07.5" below one hour).
QString short_timestamp(double seconds);

}  // namespace npuscribe::ui
