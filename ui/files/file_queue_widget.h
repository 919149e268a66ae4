// The visible file queue: an inviting drop area while empty, then one row per file with its name, state,
// progress bar and cancel / retry / remove buttons; a failed file shows the core's message in its row.
#pragma once

#include <QWidget>
#include <map>

class QLabel;
class QListWidget;
class QListWidgetItem;
class QProgressBar;
class QStackedWidget;
class QToolButton;

namespace npuscribe::ui {

class FileQueue;
class FileRow;

class FileQueueWidget : public QWidget {
  Q_OBJECT
 public:
  FileQueueWidget(FileQueue* queue, QWidget* parent = nullptr);

  int current_id() const;
  void set_current(int id);
  int row_count() const;
  FileRow* row(int id) const;

 signals:
  void current_changed(int id);  // 0: none
  void open_requested();

 private:
  void on_added(int id);
  void on_changed(int id);
  void on_removed(int id);
  void update_page();
  void fit_row(int id);

 protected:
  void resizeEvent(QResizeEvent* event) override;
  void changeEvent(QEvent* event) override;

 private:
  FileQueue* queue_;
  QStackedWidget* pages_ = nullptr;
  QListWidget* list_ = nullptr;
  QWidget* drop_card_ = nullptr;
  QLabel* drop_icon_ = nullptr;
  void apply_colors();
  std::map<int, QListWidgetItem*> items_;
};

class FileRow : public QWidget {
  Q_OBJECT
 public:
  FileRow(FileQueue* queue, int id, QWidget* parent = nullptr);
  void refresh();
  QString status_text() const;
  bool can_cancel() const;
  bool can_retry() const;
  void click_cancel();
  void click_retry();

 private:
  FileQueue* queue_;
  int id_;
  QLabel* name_ = nullptr;
  QLabel* status_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QToolButton* cancel_ = nullptr;
  QToolButton* retry_ = nullptr;
  QToolButton* remove_ = nullptr;
};

}  // namespace npuscribe::ui
