// Decoded audio in the form the engine consumes: 16 kHz mono float32 in [-1, 1].
#pragma once

#include <string>
#include <vector>

namespace npuscribe {

inline constexpr int kWhisperSampleRateHz = 16000;

struct MonoAudio {
  std::vector<float> samples;  // 16 kHz mono
  int sample_rate_hz = kWhisperSampleRateHz;
  double duration_s() const { return static_cast<double>(samples.size()) / sample_rate_hz; }
};

}  // namespace npuscribe
