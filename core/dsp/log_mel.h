// Whisper's log-mel spectrogram, computed exactly as whisper.cpp's whisper_pcm_to_mel does:
// 400-sample periodic Hann frames every 160 samples, power spectrum of bins 0..200 (FFTW, float32,
// plans made once), the model's mel filter bank, log10, clamp to (max - 8), then (v + 4) / 4.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace npuscribe {

inline constexpr int kWhisperFftSize = 400;
inline constexpr int kWhisperHopLength = 160;
inline constexpr int kWhisperFramesPerWindow = 3000;  // 30 s

struct MelFilterBank {
  int n_mels = 0;
  int n_fft_bins = 0;          // 201
  std::vector<float> weights;  // [n_mels][n_fft_bins]
};

struct LogMel {
  int n_mels = 0;
  int n_frames = 0;           // whole padded length: (n_samples + 480000) / 160
  int n_frames_with_audio = 0;  // 1 + (n_samples + 200 - 400) / 160, frames that contain real audio
  std::vector<float> values;  // [n_mels][n_frames], row-major
  const float* row(int mel) const { return values.data() + static_cast<std::size_t>(mel) * n_frames; }
};

class LogMelSpectrogram {
 public:
  explicit LogMelSpectrogram(MelFilterBank filters);
  ~LogMelSpectrogram();
  LogMelSpectrogram(const LogMelSpectrogram&) = delete;
  LogMelSpectrogram& operator=(const LogMelSpectrogram&) = delete;

  // samples: 16 kHz mono. Thread count from npuscribe::thread_count(). Safe to call from one thread at a time.
  LogMel compute(std::span<const float> samples) const;

  const MelFilterBank& filters() const { return filters_; }

 private:
  struct Impl;
  MelFilterBank filters_;
  Impl* impl_;
};

}  // namespace npuscribe
