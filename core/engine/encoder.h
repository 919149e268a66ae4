// Runs the Whisper encoder over one 30-s mel window, stage by stage, on a primary backend with the CPU
// backend taking any stage the primary does not support.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "backend/backend.h"
#include "dsp/log_mel.h"

namespace npuscribe {

class Encoder {
 public:
  // primary may be null (CPU only).
  Encoder(std::shared_ptr<const WhisperModel> model, std::unique_ptr<EncoderBackend> primary = nullptr);
  ~Encoder();

  // Encodes mel frames [frame_offset, frame_offset + 2 * n_audio_ctx); frames past the end of the mel
  // read as its padding value. Returns [n_audio_ctx][d].
  Activations encode(const LogMel& mel, int frame_offset = 0);

  // The conv stem alone ([n_audio_ctx][d], before the positional embedding), for inspection.
  Activations conv_stem(const LogMel& mel, int frame_offset = 0);

  void set_profile_sink(ProfileSink* sink);
  std::string_view backend_name() const;

  // Called (on the encoding thread) when the primary backend's device fails and a stage falls back to
  // the CPU for the current window. The message is for the user.
  using NoticeHandler = std::function<void(const std::string& message)>;
  void set_notice_handler(NoticeHandler handler) { notice_handler_ = std::move(handler); }
  int device_failures() const { return device_failures_; }

 private:
  EncoderBackend& backend_for(EncoderStage stage);
  void report_failure(const char* stage, const DeviceFailure& failure);

  std::shared_ptr<const WhisperModel> model_;
  std::unique_ptr<EncoderBackend> cpu_;
  std::unique_ptr<EncoderBackend> primary_;
  ProfileSink* profile_sink_ = nullptr;
  NoticeHandler notice_handler_;
  int device_failures_ = 0;
};

// Mel frames [frame_offset, frame_offset + n_frames) as [n_mels][n_frames]; frames past the end of the mel
// read as its padding value (its last frame, always in the 30 s of padding).
std::vector<float> encoder_mel_window(const LogMel& mel, int n_mels, int n_frames, int frame_offset);

// Floating-point operations of one encoder pass (for GFLOP/s figures).
double encoder_flops(const WhisperHparams& hparams);

}  // namespace npuscribe
