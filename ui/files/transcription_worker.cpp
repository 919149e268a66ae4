#include "files/transcription_worker.h"

#include <chrono>

#include "engine/features.h"
#include "model/whisper_model.h"
#include "util/error.h"

namespace npuscribe::ui {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

void register_worker_types() {
  qRegisterMetaType<FileJob>();
  qRegisterMetaType<BackendInUse>();
  qRegisterMetaType<FileProgress>();
  qRegisterMetaType<FileOutcome>();
  qRegisterMetaType<ComparisonOutcome>();
}

TranscriptionWorker::TranscriptionWorker(QObject* parent) : QObject(parent) {
  register_worker_types();
}

TranscriptionWorker::~TranscriptionWorker() = default;

Transcriber& TranscriptionWorker::transcriber_for(const FileJob& job, BackendInUse& in_use) {
  // Building a backend can mean loading device firmware: keep one while the model and backend stay.
  if (!transcriber_ || transcriber_model_ != job.model || transcriber_backend_ != job.backend) {
    transcriber_.reset();
    BackendChoice choice = make_encoder_backend(job.backend, job.model);
    transcriber_in_use_ = {QString::fromStdString(choice.name), QString::fromStdString(choice.description),
                           QString::fromStdString(choice.reason), choice.timing};
    transcriber_ = std::make_unique<Transcriber>(job.model, std::move(choice.backend));
    transcriber_model_ = job.model;
    transcriber_backend_ = job.backend;
    transcriber_->encoder().set_notice_handler(
        [this](const std::string& message) { emit notice(QString::fromStdString(message)); });
  }
  transcriber_->set_profile_sink(profile_sink_.load());
  in_use = transcriber_in_use_;
  return *transcriber_;
}

ComparisonOutcome TranscriptionWorker::compare_with_cpu(const ComparisonJob& job) {
  ComparisonOutcome outcome;
  try {
    BackendChoice choice = make_encoder_backend(job.backend, job.model);
    if (choice.name == "cpu")
      throw Error(
          "the comparison needs the NPU or the NPU emulator, and the selected backend runs on the "
          "CPU" +
          (choice.reason.empty() ? std::string() : " (" + choice.reason + ")") +
          "; choose NPU emulator in Backend and transcribe the file again");
    FeatureOptions feature_options;
    feature_options.cancel = job.cancel.get();
    const AudioFeatures features =
        features_from_file(job.path.toStdString(), job.model->mel_filters(), feature_options);
    outcome.encoder = compare_encoder(job.model, choice.backend.get(), features.mel, 0);
    Transcriber cpu(job.model);
    TranscribeOptions options = job.options;
    options.cancel = job.cancel.get();
    const TranscriptResult reference = cpu.transcribe(features, options);
    TranscriptComparison& transcript = outcome.transcript;
    transcript.reference_backend = "cpu";
    transcript.candidate_backend = choice.name;
    transcript.reference_text = reference.text();
    transcript.candidate_text = job.candidate.text();
    for (const Segment& segment : reference.segments)
      for (const TokenTiming& token : segment.tokens) transcript.reference_tokens.push_back(token.id);
    for (const Segment& segment : job.candidate.segments)
      for (const TokenTiming& token : segment.tokens) transcript.candidate_tokens.push_back(token.id);
    transcript.differences =
        diff_tokens(transcript.reference_tokens, transcript.candidate_tokens, cpu.tokenizer());
    if (job.cancel->load()) outcome.error = tr("comparison cancelled");
  } catch (const std::exception& error) {
    outcome.error = QString::fromUtf8(error.what());
  }
  return outcome;
}

void TranscriptionWorker::run(const FileJob& job) {
  FileOutcome outcome;
  outcome.job_id = job.job_id;
  const auto start = std::chrono::steady_clock::now();
  if (job.cancel->load()) {
    outcome.kind = FileOutcome::Kind::cancelled;
    emit completed(outcome);
    return;
  }
  try {
    if (!job.model) throw Error("no model is loaded; choose one in the toolbar or the Models dialog");
    BackendInUse in_use;
    Transcriber& transcriber = transcriber_for(job, in_use);
    emit started(job.job_id, in_use);

    DecodeReport report;
    FeatureOptions feature_options;
    feature_options.cancel = job.cancel.get();
    const AudioFeatures features =
        features_from_file(job.path.toStdString(), job.model->mel_filters(), feature_options, &report);
    TranscribeOptions options = job.options;
    options.cancel = job.cancel.get();
    const auto decode_start = std::chrono::steady_clock::now();
    outcome.result = transcriber.transcribe(
        features, options, [&](double fraction, std::span<const Segment> new_segments) {
          FileProgress progress;
          progress.job_id = job.job_id;
          progress.fraction = fraction;
          progress.realtime_factor =
              fraction * features.duration_s / std::max(seconds_since(decode_start), 1e-6);
          progress.new_segments.assign(new_segments.begin(), new_segments.end());
          emit progressed(progress);
        });
    outcome.result.warnings.insert(outcome.result.warnings.begin(), report.warnings.begin(),
                                   report.warnings.end());
    outcome.kind = job.cancel->load() ? FileOutcome::Kind::cancelled : FileOutcome::Kind::finished;
    outcome.elapsed_s = seconds_since(start);
    outcome.realtime_factor = features.duration_s / std::max(seconds_since(decode_start), 1e-6);
  } catch (const Error& error) {
    outcome.kind = job.cancel->load() ? FileOutcome::Kind::cancelled : FileOutcome::Kind::failed;
    outcome.error = QString::fromUtf8(error.what());
  } catch (const std::bad_alloc&) {
    outcome.kind = FileOutcome::Kind::failed;
    outcome.error = tr("out of memory; close other programs or choose a smaller model");
  } catch (const std::exception& error) {
    // Not an npuscribe::Error: still a per-file failure, never a crash of the window.
    outcome.kind = FileOutcome::Kind::failed;
    outcome.error = tr("internal error: %1").arg(QString::fromUtf8(error.what()));
  }
  outcome.elapsed_s = seconds_since(start);
  emit completed(outcome);
}

}  // namespace npuscribe::ui
