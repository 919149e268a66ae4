// The file queue: files wait, run one at a time on the worker thread, and end finished, cancelled or
// failed (with the core's message). Cancel sets the job's flag; retry puts a file back at the end of the
// queue. Lives on the GUI thread; the engine work happens in a TranscriptionWorker on a QThread it owns.
#pragma once

#include <QObject>
#include <QString>
#include <QThread>
#include <map>
#include <memory>
#include <vector>

#include "files/transcription_worker.h"

namespace npuscribe::ui {

struct QueueEntry {
  enum class State { queued, running, finished, cancelled, failed };
  int id = 0;
  QString path;
  State state = State::queued;
  double fraction = 0.0;
  double realtime_factor = 0.0;
  QString error;            // failed: what went wrong and what to do (the core's message)
  TranscriptResult result;  // grows while running; user edits are written back into its segments
  BackendInUse backend;
  std::shared_ptr<std::atomic<bool>> cancel;
};

QString state_name(QueueEntry::State state);

class FileQueue : public QObject {
  Q_OBJECT
 public:
  explicit FileQueue(QObject* parent = nullptr);
  ~FileQueue() override;

  void set_model(std::shared_ptr<const WhisperModel> model) { model_ = std::move(model); }
  const std::shared_ptr<const WhisperModel>& model() const { return model_; }
  void set_backend(BackendKind kind) { backend_ = kind; }
  void set_options(const TranscribeOptions& options) { options_ = options; }
  const TranscribeOptions& options() const { return options_; }
  void set_profile_sink(ProfileSink* sink) { worker_->set_profile_sink(sink); }

  // Returns the new entries' ids. Starts the queue when idle and a model is set.
  std::vector<int> add(const QStringList& paths);
  void cancel(int id);
  void retry(int id);
  void remove(int id);  // not while running (cancel first)
  void cancel_all();

  const QueueEntry* entry(int id) const;
  QueueEntry* entry(int id);
  std::vector<int> ids() const { return order_; }
  bool busy() const { return running_id_ != 0; }
  int pending_count() const;
  // Starts waiting files (after a model was set, say).
  void start_next();
  // Compares a finished file's backend against the CPU on the worker thread (after the running file);
  // the answer comes as comparison_ready. False when the entry is not a finished transcription.
  bool compare_with_cpu(int id);
  bool comparing() const { return comparing_; }

 signals:
  void entry_added(int id);
  void entry_changed(int id);
  void entry_removed(int id);
  void segments_appended(int id, const std::vector<npuscribe::Segment>& segments);
  void backend_started(const npuscribe::ui::BackendInUse& backend);
  void notice(const QString& message);
  void idle();  // nothing running and nothing waiting
  void comparison_ready(const npuscribe::ui::ComparisonOutcome& outcome);

 private:
  void on_started(int job_id, const BackendInUse& backend);
  void on_progress(const FileProgress& progress);
  void on_completed(const FileOutcome& outcome);

  std::shared_ptr<const WhisperModel> model_;
  BackendKind backend_ = BackendKind::automatic;
  TranscribeOptions options_;
  std::map<int, QueueEntry> entries_;
  std::vector<int> order_;
  int next_id_ = 1;
  int running_id_ = 0;
  bool comparing_ = false;
  std::shared_ptr<std::atomic<bool>> comparison_cancel_;
  QThread thread_;
  TranscriptionWorker* worker_ = nullptr;  // lives on thread_
};

}  // namespace npuscribe::ui

Q_DECLARE_METATYPE(std::vector<npuscribe::Segment>)
