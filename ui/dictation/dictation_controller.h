// Live dictation for the main window: microphone (core AudioCapture) -> voice activity -> streaming
// transcriber (LocalAgreement-2) on a worker thread -> confirmed / unconfirmed text through queued signals.
// Every public method is called on the GUI thread and returns at once; engine work never runs there.
#pragma once

#include <QObject>
#include <QString>
#include <memory>
#include <vector>

#include "audio/capture.h"
#include "backend/backend_factory.h"
#include "engine/streaming_transcriber.h"
#include "model/whisper_model.h"

namespace npuscribe {
class ProfileSink;
}

struct DictationSession;

class DictationController : public QObject {
  Q_OBJECT

 public:
  enum State { Idle = 0, Recording = 1, Paused = 2, Stopping = 3 };
  Q_ENUM(State)

  explicit DictationController(QObject* parent = nullptr);
  ~DictationController() override;  // stops a running dictation and waits for the worker

  // The model to dictate with; takes effect at the next start(). Without a model start() reports an error.
  void setModel(std::shared_ptr<const npuscribe::WhisperModel> model, npuscribe::BackendKind backend);

  std::vector<npuscribe::AudioDeviceInfo> inputDevices() const;  // as of the last refresh
  void refreshDevices();  // rescans (hot-plug) when not recording; emits devicesChanged()
  void setInputDevice(const QString& device_name);  // "" = the default input device
  QString inputDevice() const;

  void setLanguage(const QString& code);           // "" = auto / the model's default
  void setVadSensitivity(int level);               // 0 (lenient) .. 3 (strict); clamped
  void setSaveAudioPath(const QString& wav_path);  // "" = don't save the audio
  void setAutosavePath(
      const QString& text_path);  // "" = no autosave; else rewritten atomically on each change
  // Receives the KernelEvents of every pass, on the worker thread (the sink must be thread-safe, e.g. the
  // profiling panels' ProfileEventBridge). nullptr = none. Takes effect at the next start().
  void setProfileSink(npuscribe::ProfileSink* sink);

  bool isRecording() const;  // true while Recording or Paused
  bool isPaused() const;
  State state() const { return state_; }
  QString confirmedText() const { return confirmed_; }
  QString unconfirmedText() const { return unconfirmed_; }
  // The latest update of the streaming transcriber (pass timing, latency figures of each confirmed word).
  const npuscribe::StreamingUpdate& lastUpdate() const { return last_update_; }
  // Of the last recording, once it is Idle again: seconds of audio PortAudio's callback received (device
  // rate) and seconds the transcriber took in (16 kHz; the saved WAV has the same samples).
  double deviceAudioSeconds() const { return device_audio_s_; }
  double transcribedAudioSeconds() const { return last_update_.audio_time_s; }

 public slots:
  void start();
  void stop();  // flushes: the last pass is confirmed, then state goes back to Idle
  void pause();
  void resume();

 signals:
  void levelChanged(float dbfs);  // peak level, about every 50 ms while recording
  void textChanged(const QString& confirmed, const QString& unconfirmed);
  void confirmedAppended(const QString& delta);
  void stateChanged(int state);  // a State value
  void errorOccurred(const QString& message);
  // Something the user should know that does not stop recording (the NPU failed, the CPU finished a pass).
  void noticeOccurred(const QString& message);
  void devicesChanged();
  void voiceActive(bool active);
  void latencyMeasured(double first_words_s, double confirmed_lag_s);
  // After each engine pass: the audio it transcribed and the wall time it took (the machine's load shows).
  void passMeasured(double pass_audio_s, double compute_s);

 private:
  void setState(State state);
  void onUpdate(const npuscribe::StreamingUpdate& update);
  void onSessionFinished(DictationSession* session);
  void finishSession();  // stops capture and flushes on a helper thread
  void writeAutosave();

  std::shared_ptr<const npuscribe::WhisperModel> model_;
  npuscribe::BackendKind backend_ = npuscribe::BackendKind::cpu;
  std::vector<npuscribe::AudioDeviceInfo> devices_;
  QString device_name_;
  QString language_;
  int vad_sensitivity_ = 1;
  QString save_audio_path_;
  QString autosave_path_;
  npuscribe::ProfileSink* profile_sink_ = nullptr;
  State state_ = Idle;
  QString confirmed_;
  QString unconfirmed_;
  std::shared_ptr<DictationSession> session_;  // capture + streaming transcriber while recording
  double first_words_s_ = -1.0;
  npuscribe::StreamingUpdate last_update_;
  double device_audio_s_ = 0.0;
};
