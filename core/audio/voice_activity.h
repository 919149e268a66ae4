// Voice activity detection for dictation: WebRTC's voice detector (the AudioProcessing voice_detection()
// component of Debian's webrtc-audio-processing, 10-ms frames at 16 kHz) combined with an energy floor
// and a speech-band check, smoothed with an onset count and a hangover so single frames neither start nor
// end speech. Sensitivity 0 is lenient (soft speech passes, some noise too), 3 is strict.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace npuscribe {

struct VoiceActivitySettings {
  int likelihood = 0;                     // WebRTC Likelihood: 0 very low (strict) .. 3 high (lenient)
  double energy_floor_dbfs = -50;         // frames quieter than this (RMS) are never voice
  double min_speech_band_fraction = 0.3;  // energy share in 250..4000 Hz below this: hum / rumble
  double max_spectral_flatness = 0.5;     // flatter than this (0..1): broadband noise such as hiss
  int onset_frames = 3;  // voiced frames among the last `onset_window_frames` that start speech
  int onset_window_frames = 5;
  int hangover_frames = 30;  // speech continues this many unvoiced frames (300 ms) before it ends
};

// The settings a sensitivity level (0..3, clamped) maps to.
VoiceActivitySettings voice_activity_settings(int sensitivity);

class VoiceActivityDetector {
 public:
  static constexpr int kFrameSamples = 160;  // 10 ms at 16 kHz

  explicit VoiceActivityDetector(int sensitivity = 1);
  ~VoiceActivityDetector();
  VoiceActivityDetector(const VoiceActivityDetector&) = delete;
  VoiceActivityDetector& operator=(const VoiceActivityDetector&) = delete;

  void set_sensitivity(int sensitivity);  // keeps the detector's state
  int sensitivity() const { return sensitivity_; }

  // 16 kHz mono samples in [-1, 1], any chunk size; whole 10-ms frames are judged as they complete.
  void push(std::span<const float> samples);
  void reset();

  bool in_speech() const { return in_speech_; }  // the smoothed state after the last whole frame
  std::int64_t frames() const { return frames_; }
  std::int64_t voiced_frames() const { return voiced_frames_; }  // raw frame decisions that were voice
  std::int64_t speech_frames() const { return speech_frames_; }  // frames in the smoothed speech state
  // Frame index at which the current (or last) speech run started; -1 before any speech.
  std::int64_t speech_start_frame() const { return speech_start_frame_; }

 private:
  bool judge_frame(std::span<const float> frame);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  int sensitivity_ = 1;
  VoiceActivitySettings settings_;
  std::vector<float> pending_;
  std::vector<bool> recent_;  // the last onset_window_frames raw decisions
  int recent_pos_ = 0;
  int unvoiced_run_ = 0;
  bool in_speech_ = false;
  std::int64_t frames_ = 0, voiced_frames_ = 0, speech_frames_ = 0, speech_start_frame_ = -1;
};

}  // namespace npuscribe
