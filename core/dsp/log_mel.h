// Whisper's log-mel spectrogram, computed exactly as whisper.cpp's whisper_pcm_to_mel does:
// 400-sample periodic Hann frames every 160 samples, power spectrum of bins 0..200 (FFTW, float32,
// plans made once), the model's mel filter bank, log10, clamp to (max - 8), then (v + 4) / 4.
#pragma once

#include <cstddef>
#include <cstdint>
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
  int n_frames = 0;             // whole padded length: (n_samples + 480000) / 160
  int n_frames_with_audio = 0;  // 1 + (n_samples + 200 - 400) / 160, frames that contain real audio
  std::vector<float> values;    // [n_mels][n_frames], row-major
  const float* row(int mel) const { return values.data() + static_cast<std::size_t>(mel) * n_frames; }
};

class LogMelSpectrogram {
 public:
  explicit LogMelSpectrogram(MelFilterBank filters);
  ~LogMelSpectrogram();
  LogMelSpectrogram(const LogMelSpectrogram&) = delete;
  LogMelSpectrogram& operator=(const LogMelSpectrogram&) = delete;

  // samples: 16 kHz mono. Thread count from npuscribe::thread_count(). Safe to call from one thread at a
  // time.
  LogMel compute(std::span<const float> samples) const;

  const MelFilterBank& filters() const { return filters_; }

 private:
  // StreamingLogMel computes the same frames piece by piece with the helpers below, so that both give the
  // same bits from one copy of the window/FFT/projection/log code.
  friend class StreamingLogMel;

  // Raw log10(max(mel power, 1e-10)) (before the clamp and scaling) of frames [first_frame,
  // first_frame + frame_count) into out[mel * stride + frame - first_frame]. samples points at signal
  // sample x[sample_base]; samples at index >= n_samples count as 0. The frames must read nothing of x
  // below sample_base (frames 0 and 1 read the reflection x[1..200], so they need sample_base == 0).
  // Returns the maximum of -10 and every value. Parallel over blocks of 16 frames; the result depends
  // neither on the thread count nor on how the frames are split into calls.
  float compute_raw_frames(const float* samples, std::int64_t sample_base, std::int64_t n_samples,
                           int first_frame, int frame_count, float* out, std::size_t stride) const;

  // whisper.cpp's final stage over the whole spectrogram, given the maximum raw value of all frames.
  struct Scaling {
    float threshold;      // values below are raised to it: global max - 8
    float padding_value;  // final value of a frame of zeros (raw -10)
  };
  static Scaling scaling_for(float global_max);
  // row[i] = (max(row[i], threshold) + 4) / 4 for i < count.
  static void scale_values(float* row, int count, float threshold);

  struct Impl;
  MelFilterBank filters_;
  Impl* impl_;
};

}  // namespace npuscribe
