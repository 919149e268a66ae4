#include "dictation/dictation_controller.h"

#include <QMetaObject>
#include <QPointer>
#include <algorithm>
#include <thread>

#include "io/autosave.h"
#include "util/error.h"

// Everything one recording owns. The capture thread feeds the transcriber; the transcriber's worker
// thread produces updates; both reach the controller only through queued calls.
struct DictationSession {
  npuscribe::AudioCapture capture;
  std::unique_ptr<npuscribe::StreamingTranscriber> transcriber;
  std::atomic<bool> finishing{false};
};

DictationController::DictationController(QObject* parent) : QObject(parent) {
  try {
    devices_ = npuscribe::list_input_devices(false);
  } catch (const npuscribe::Error&) {
    // No audio system: the list stays empty and start() reports why.
  }
}

DictationController::~DictationController() {
  if (session_) {
    // Closing the window while recording: stop synchronously (the flush may take one pass).
    std::shared_ptr<DictationSession> session = std::move(session_);
    session->capture.stop();
    session->transcriber->stop_worker();
  }
}

void DictationController::setModel(std::shared_ptr<const npuscribe::WhisperModel> model,
                                   npuscribe::BackendKind backend) {
  model_ = std::move(model);
  backend_ = backend;
}

std::vector<npuscribe::AudioDeviceInfo> DictationController::inputDevices() const {
  return devices_;
}

void DictationController::refreshDevices() {
  try {
    devices_ = npuscribe::list_input_devices(!session_);
  } catch (const npuscribe::Error& e) {
    devices_.clear();
    emit errorOccurred(QString::fromStdString(e.what()));
  }
  emit devicesChanged();
}

void DictationController::setInputDevice(const QString& device_name) {
  device_name_ = device_name;
}
QString DictationController::inputDevice() const {
  return device_name_;
}
void DictationController::setLanguage(const QString& code) {
  language_ = code;
}

void DictationController::setVadSensitivity(int level) {
  vad_sensitivity_ = std::clamp(level, 0, 3);
  if (session_) session_->transcriber->set_vad_sensitivity(vad_sensitivity_);
}

void DictationController::setSaveAudioPath(const QString& wav_path) {
  save_audio_path_ = wav_path;
}
void DictationController::setAutosavePath(const QString& text_path) {
  autosave_path_ = text_path;
}
void DictationController::setProfileSink(npuscribe::ProfileSink* sink) {
  profile_sink_ = sink;
}

bool DictationController::isRecording() const {
  return state_ == Recording || state_ == Paused;
}
bool DictationController::isPaused() const {
  return state_ == Paused;
}

void DictationController::setState(State state) {
  if (state_ == state) return;
  state_ = state;
  emit stateChanged(state);
}

void DictationController::start() {
  if (state_ != Idle) return;
  if (!model_) {
    emit errorOccurred(tr("No model is loaded; choose a model before recording."));
    return;
  }
  auto session = std::make_shared<DictationSession>();
  try {
    npuscribe::StreamingOptions options;
    options.language = language_.toStdString();
    options.vad_sensitivity = vad_sensitivity_;
    options.profile_sink = profile_sink_;
    npuscribe::BackendChoice choice = npuscribe::make_encoder_backend(backend_, model_);
    session->transcriber =
        std::make_unique<npuscribe::StreamingTranscriber>(model_, options, std::move(choice.backend));
  } catch (const std::exception& e) {
    emit errorOccurred(QString::fromStdString(e.what()));
    return;
  }
  QPointer<DictationController> self(this);
  DictationSession* raw = session.get();
  session->capture.set_samples_callback(
      [raw](std::span<const float> samples) { raw->transcriber->push_audio(samples); });
  session->capture.set_level_callback([self](const npuscribe::AudioLevel& level) {
    QMetaObject::invokeMethod(
        self,
        [self, level] {
          if (self) emit self->levelChanged(level.peak_dbfs);
        },
        Qt::QueuedConnection);
  });
  session->capture.set_error_callback([self, raw](const std::string& message) {
    QMetaObject::invokeMethod(
        self,
        [self, raw, message] {
          if (!self) return;
          emit self->errorOccurred(QString::fromStdString(message));
          // A lost device ends the recording; what was captured is still transcribed and kept.
          if (self->session_.get() == raw && !raw->finishing.load()) self->stop();
        },
        Qt::QueuedConnection);
  });
  confirmed_.clear();
  unconfirmed_.clear();
  first_words_s_ = -1.0;
  last_update_ = {};
  device_audio_s_ = 0.0;
  session->transcriber->start_worker(
      [self](const npuscribe::StreamingUpdate& update) {
        QMetaObject::invokeMethod(
            self,
            [self, update] {
              if (self) self->onUpdate(update);
            },
            Qt::QueuedConnection);
      },
      [self](const std::string& message) {
        QMetaObject::invokeMethod(
            self,
            [self, message] {
              if (self) emit self->errorOccurred(QString::fromStdString(message));
            },
            Qt::QueuedConnection);
      });
  try {
    npuscribe::CaptureOptions capture;
    capture.device_name = device_name_.toStdString();
    capture.save_wav_path = save_audio_path_.toStdString();
    session->capture.start(capture);
  } catch (const std::exception& e) {
    session->transcriber->stop_worker();
    emit errorOccurred(QString::fromStdString(e.what()));
    return;
  }
  session_ = std::move(session);
  emit textChanged(confirmed_, unconfirmed_);
  writeAutosave();
  setState(Recording);
}

void DictationController::stop() {
  if (!session_ || session_->finishing.exchange(true)) return;
  setState(Stopping);
  finishSession();
}

void DictationController::finishSession() {
  // Stopping joins the capture thread and runs the last pass: never on the GUI thread.
  std::shared_ptr<DictationSession> session = session_;
  QPointer<DictationController> self(this);
  std::thread([session, self] {
    session->capture.stop();
    session->transcriber->stop_worker();  // delivers the final update (queued before the call below)
    QMetaObject::invokeMethod(
        self,
        [self, session] {
          if (self) self->onSessionFinished(session.get());
        },
        Qt::QueuedConnection);
  }).detach();
}

void DictationController::onSessionFinished(DictationSession* session) {
  if (session_.get() != session) return;
  const int rate_hz = session->capture.device_rate_hz();
  device_audio_s_ = rate_hz > 0 ? static_cast<double>(session->capture.frames_received()) / rate_hz : 0.0;
  session_.reset();
  writeAutosave();
  voiceActive(false);
  setState(Idle);
}

void DictationController::pause() {
  if (state_ != Recording || !session_) return;
  session_->capture.pause();
  setState(Paused);
}

void DictationController::resume() {
  if (state_ != Paused || !session_) return;
  session_->capture.resume();
  setState(Recording);
}

void DictationController::onUpdate(const npuscribe::StreamingUpdate& update) {
  last_update_ = update;
  for (const std::string& notice : update.notices) emit noticeOccurred(QString::fromStdString(notice));
  if (update.pass_audio_s > 0) emit passMeasured(update.pass_audio_s, update.pass_compute_s);
  const QString delta = QString::fromStdString(update.confirmed_delta);
  confirmed_ = QString::fromStdString(update.confirmed);
  unconfirmed_ = QString::fromStdString(update.unconfirmed);
  if (!delta.isEmpty()) emit confirmedAppended(delta);
  emit textChanged(confirmed_, unconfirmed_);
  emit voiceActive(update.voice_active);
  if (update.first_words_latency_s >= 0) first_words_s_ = update.first_words_latency_s;
  if (update.first_words_latency_s >= 0 || !update.confirmed_lags_s.empty()) {
    const double lag = update.confirmed_lags_s.empty() ? -1.0
                                                       : *std::max_element(update.confirmed_lags_s.begin(),
                                                                           update.confirmed_lags_s.end());
    emit latencyMeasured(first_words_s_, lag);
  }
  writeAutosave();
}

void DictationController::writeAutosave() {
  if (autosave_path_.isEmpty()) return;
  QString text = confirmed_;
  if (!unconfirmed_.isEmpty())
    text += (text.isEmpty() ? QString() : QStringLiteral(" ")) + unconfirmed_.trimmed();
  try {
    npuscribe::write_file_atomically(autosave_path_.toStdString(), text.toStdString());
  } catch (const npuscribe::Error& e) {
    emit errorOccurred(QString::fromStdString(e.what()));
  }
}
