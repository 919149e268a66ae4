// The engine side of file transcription: a QObject that lives on its own QThread and runs one file at a
// time through the core's Transcriber. Everything it sends to the GUI is a value struct through a queued
// signal; the only shared state is each job's cancel flag (an atomic).
#pragma once

#include <QObject>
#include <QString>
#include <atomic>
#include <memory>
#include <vector>

#include "backend/backend_factory.h"
#include "engine/transcriber.h"
#include "profile/accuracy.h"
#include "profile/profile.h"

namespace npuscribe {
class WhisperModel;
}

namespace npuscribe::ui {

struct FileJob {
  int job_id = 0;
  QString path;
  std::shared_ptr<const WhisperModel> model;
  BackendKind backend = BackendKind::automatic;
  TranscribeOptions options;  // options.cancel is set by the worker from `cancel`
  std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
};

struct BackendInUse {
  QString name;         // "cpu", "npu", "npu-sim"
  QString description;  // for the status bar tooltip
  QString reason;       // why this one (automatic fallback, ...)
  TimingSource timing = TimingSource::measured;
};

struct FileProgress {
  int job_id = 0;
  double fraction = 0.0;              // 0..1 of the audio
  double realtime_factor = 0.0;       // seconds of audio per second of wall time so far
  std::vector<Segment> new_segments;  // decoded since the last report
};

struct FileOutcome {
  enum class Kind { finished, cancelled, failed };
  int job_id = 0;
  Kind kind = Kind::finished;
  TranscriptResult result;  // finished, and the segments so far when cancelled
  QString error;            // failed: the core's message
  double elapsed_s = 0.0;
  double realtime_factor = 0.0;
};

// Accuracy of the accelerated backend against the CPU for one transcribed file: the encoder per layer on
// the first window, and the CPU's transcript diffed against the one the backend produced.
struct ComparisonJob {
  QString path;
  std::shared_ptr<const WhisperModel> model;
  BackendKind backend = BackendKind::automatic;
  TranscribeOptions options;
  TranscriptResult candidate;  // what the backend transcribed
  std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
};

struct ComparisonOutcome {
  EncoderComparison encoder;
  TranscriptComparison transcript;
  QString error;  // empty on success
};

class TranscriptionWorker : public QObject {
  Q_OBJECT
 public:
  explicit TranscriptionWorker(QObject* parent = nullptr);
  ~TranscriptionWorker() override;

  // Read on the worker thread while a job runs; set it before starting jobs (the ProfileEventBridge).
  void set_profile_sink(ProfileSink* sink) { profile_sink_.store(sink); }
  // Runs on the worker thread (posted by FileQueue::compare_with_cpu).
  ComparisonOutcome compare_with_cpu(const ComparisonJob& job);

 public slots:
  void run(const npuscribe::ui::FileJob& job);

 signals:
  void started(int job_id, const npuscribe::ui::BackendInUse& backend);
  void progressed(const npuscribe::ui::FileProgress& progress);
  void completed(const npuscribe::ui::FileOutcome& outcome);
  void notice(const QString& message);  // device fell back to the CPU, ...

 private:
  Transcriber& transcriber_for(const FileJob& job, BackendInUse& in_use);

  std::unique_ptr<Transcriber> transcriber_;
  std::shared_ptr<const WhisperModel> transcriber_model_;
  BackendKind transcriber_backend_ = BackendKind::automatic;
  BackendInUse transcriber_in_use_;
  std::atomic<ProfileSink*> profile_sink_{nullptr};
};

void register_worker_types();  // qRegisterMetaType for the structs above; idempotent

}  // namespace npuscribe::ui

Q_DECLARE_METATYPE(npuscribe::ui::FileJob)
Q_DECLARE_METATYPE(npuscribe::ui::BackendInUse)
Q_DECLARE_METATYPE(npuscribe::ui::FileProgress)
Q_DECLARE_METATYPE(npuscribe::ui::FileOutcome)
Q_DECLARE_METATYPE(npuscribe::ui::ComparisonOutcome)
