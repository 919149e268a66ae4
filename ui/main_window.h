// The desktop window: toolbar (model, backend, language, record), tabs for files, dictation and profiling,
// and a status bar with the backend in use, the speed as a multiple of real time, the live latency and
// whether figures are measured or modelled. File transcription runs in a FileQueue on a worker thread;
// nothing here blocks the GUI thread on the engine.
#pragma once

#include <QMainWindow>
#include <memory>
#include <thread>

#include "backend/backend_factory.h"
#include "engine/transcriber.h"
#include "io/transcript_writer.h"
#include "settings/app_settings.h"

class QAction;
class QComboBox;
class QLabel;
class QPushButton;
class QTabWidget;
class QToolButton;
class DictationController;
class DictationPanel;

namespace npuscribe {
class AudioPlayer;
struct MonoAudio;
class WhisperModel;
}  // namespace npuscribe

namespace npuscribe::ui {

class FileQueue;
class FileQueueWidget;
class ProfileEventBridge;
class ProfilingView;
class TranscriptView;
struct BackendInUse;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  // Reads the settings (QSettings of the application) and restores model, backend, language, geometry.
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  // Loads a model; returns false and shows the loader's message in the status bar on failure.
  bool load_model(const QString& path);
  // Adds files to the queue (a .bin file is taken as a model instead).
  void add_paths(const QStringList& paths);
  void transcribe_files(const QStringList& paths) { add_paths(paths); }
  // Options for the next files (tests use greedy without fallback; the app uses the engine's defaults).
  void set_transcribe_options(const TranscribeOptions& options);
  // Writes the selected file's transcript (with edits) to folder (empty: the settings' export folder,
  // else beside the audio). Returns the path, or an empty string after showing the error.
  QString export_current(OutputFormat format, const QString& folder = {});
  void set_theme(ThemeChoice choice);
  void open_models_dialog();
  // Runs the selected file's backend against the CPU and shows the result in the profiling accuracy panel.
  bool compare_current_with_cpu();

  bool is_busy() const;
  QString transcript_text() const;  // the selected file's transcript as shown
  QString status_text() const;      // the last status bar message
  QString backend_text() const;     // the backend-in-use label
  QString speed_text() const;
  bool is_playing() const;
  FileQueue* queue() const { return queue_; }
  FileQueueWidget* queue_widget() const { return queue_widget_; }
  TranscriptView* transcript_view() const { return transcript_; }
  QComboBox* backend_combo() const { return backend_combo_; }
  QComboBox* language_combo() const { return language_combo_; }
  QComboBox* model_combo() const { return model_combo_; }
  QTabWidget* tabs() const { return tabs_; }
  QWidget* files_page() const { return files_page_; }
  DictationPanel* dictation_panel() const { return dictation_panel_; }
  DictationController* dictation() const { return dictation_; }
  ProfilingView* profiling_view() const { return profiling_view_; }
  ProfileEventBridge* profile_bridge() const { return bridge_; }
  const std::shared_ptr<const WhisperModel>& model() const { return model_; }
  const AppSettings& settings() const { return settings_; }
  AppSettings& mutable_settings() { return settings_; }
  void save_settings();

 signals:
  void transcription_finished();  // the queue ran empty
  void model_changed();

 protected:
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;
  void closeEvent(QCloseEvent* event) override;

 private:
  void build_actions();
  void build_toolbar();
  void build_central();
  void build_status_bar();
  void build_dictation();
  void build_profiling();
  void update_dictation_model();
  void populate_models();
  void populate_languages();
  void update_backend_availability();
  void on_model_selected(int index);
  void on_backend_selected(int index);
  void on_language_selected(int index);
  void on_current_file_changed(int id);
  void on_backend_started(const BackendInUse& backend);
  void on_entry_changed(int id);
  void update_detail(int id);
  void choose_files();
  void choose_export();
  void choose_model_file();
  void copy_transcript();
  void show_preferences();
  void toggle_profiling();
  void toggle_record();
  void play_from(double start_s);
  void start_playback(double start_s);
  void stop_playback();
  void set_status(const QString& text, int timeout_ms = 0);
  BackendKind selected_backend() const;

  AppSettings settings_;
  std::shared_ptr<const WhisperModel> model_;
  QString model_path_;
  FileQueue* queue_ = nullptr;
  FileQueueWidget* queue_widget_ = nullptr;
  TranscriptView* transcript_ = nullptr;
  QLabel* transcript_title_ = nullptr;
  QLabel* transcript_detail_ = nullptr;
  QToolButton* export_button_ = nullptr;
  QToolButton* copy_button_ = nullptr;
  QTabWidget* tabs_ = nullptr;
  QWidget* files_page_ = nullptr;
  QWidget* dictation_page_ = nullptr;
  QWidget* profiling_page_ = nullptr;
  DictationController* dictation_ = nullptr;
  DictationPanel* dictation_panel_ = nullptr;
  ProfilingView* profiling_view_ = nullptr;
  ProfileEventBridge* bridge_ = nullptr;
  QComboBox* model_combo_ = nullptr;
  QComboBox* backend_combo_ = nullptr;
  QComboBox* language_combo_ = nullptr;
  QPushButton* record_button_ = nullptr;
  QLabel* backend_label_ = nullptr;
  QLabel* speed_label_ = nullptr;
  QLabel* latency_label_ = nullptr;
  QLabel* timing_tag_ = nullptr;
  QString status_message_;
  // Click-to-play: the selected file decoded once (on a thread) and kept while it stays selected.
  std::unique_ptr<AudioPlayer> player_;
  std::shared_ptr<const MonoAudio> playback_audio_;
  QString playback_path_;
  QString loading_path_;
  double pending_start_s_ = -1.0;
  std::thread audio_loader_;
  QToolButton* stop_button_ = nullptr;
  class QTimer* playback_timer_ = nullptr;
  QAction* export_action_ = nullptr;
  QAction* copy_action_ = nullptr;
  QAction* record_action_ = nullptr;
  QAction* profiling_action_ = nullptr;
  QAction* compare_action_ = nullptr;
  QAction* theme_actions_[3] = {};
  bool populating_ = false;
  OutputFormat last_format_ = OutputFormat::srt;
};

}  // namespace npuscribe::ui
