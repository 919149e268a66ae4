// The models dialog: the official whisper.cpp models with their size and whether they are installed,
// download with progress, cancel and SHA-1 verification (the core's download_model on a worker thread),
// and adding a local ggml file, validated by loading it.
#pragma once

#include <QDialog>
#include <atomic>
#include <memory>
#include <thread>

class QLabel;
class QTableWidget;
class QPushButton;

namespace npuscribe::ui {

class ModelsDialog : public QDialog {
  Q_OBJECT
 public:
  explicit ModelsDialog(QWidget* parent = nullptr);
  ~ModelsDialog() override;  // cancels a running download and waits for it (about a second at most)

  // Where downloads come from; defaults to $NPUSCRIBE_MODELS_BASE_URL, else the core's Hugging Face URL.
  void set_base_url(const QString& url) { base_url_ = url; }

  bool start_download(const QString& name);  // false when one is already running or the name is unknown
  void cancel_download();
  bool downloading() const { return download_thread_.joinable() && !download_done_; }
  // Validates by loading; on failure the loader's message is shown and returned false.
  bool add_local_file(const QString& path);
  void refresh();

  QString message_text() const;
  QString status_of(const QString& name) const;  // the status cell's text of a row
  int row_of(const QString& name) const;
  QTableWidget* table() const { return table_; }

 signals:
  void model_chosen(const QString& path);
  void download_finished(const QString& name, bool ok, const QString& message);

 private:
  void on_progress(int row, double fraction, const QString& text);
  void on_download_done(const QString& name, bool ok, bool cancelled, const QString& message,
                        const QString& path);
  void show_message(const QString& text, bool error);
  void choose_local_file();
  void update_buttons();

  QTableWidget* table_ = nullptr;
  QLabel* message_ = nullptr;
  QPushButton* use_button_ = nullptr;
  QPushButton* download_button_ = nullptr;
  QPushButton* cancel_button_ = nullptr;
  QString base_url_;
  std::thread download_thread_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  std::atomic<bool> download_done_{true};
  int download_row_ = -1;
};

}  // namespace npuscribe::ui
