// The first desktop window: pick a model, drop audio or video files, read the transcript. Transcription runs
// on a worker thread; results come back to the GUI thread through queued invocations.
#pragma once

#include <QMainWindow>
#include <atomic>
#include <memory>
#include <thread>

class QLabel;
class QPlainTextEdit;
class QPushButton;

namespace npuscribe {
class WhisperModel;
}

namespace npuscribe::ui {

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  // Loads a model; returns false and shows the reason in the status line on failure.
  bool load_model(const QString& path);
  // Queues files for transcription on the worker thread.
  void transcribe_files(const QStringList& paths);
  bool is_busy() const { return busy_; }
  QString transcript_text() const;
  QString status_text() const;

 signals:
  void transcription_finished();

 protected:
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void choose_model();
  void choose_audio();
  void set_status(const QString& text);
  void join_worker();

  std::shared_ptr<const WhisperModel> model_;
  QLabel* model_label_ = nullptr;
  QLabel* status_label_ = nullptr;
  QPlainTextEdit* transcript_ = nullptr;
  QPushButton* open_button_ = nullptr;
  std::thread worker_;
  std::atomic<bool> busy_{false};
};

}  // namespace npuscribe::ui
