// RIFF/WAVE reader: PCM 8/16/24/32-bit, IEEE float 32/64, WAVE_FORMAT_EXTENSIBLE, any rate and channel
// count; downmixed to mono and resampled to 16 kHz with libswresample.
#pragma once

#include <filesystem>
#include <vector>

#include "audio/audio_buffer.h"

namespace npuscribe {

struct WavInfo {
  int sample_rate_hz = 0;
  int channel_count = 0;
  int bits_per_sample = 0;
  bool is_float = false;
  std::size_t frame_count = 0;     // frames actually read
  std::size_t frames_missing = 0;  // declared in the header but absent (truncated file)
};

// Throws npuscribe::Error with an actionable message for anything that is not a readable WAV file.
// A truncated data chunk is read as far as it goes; info->frames_missing says how much was lost.
MonoAudio read_wav_file(const std::filesystem::path& path, WavInfo* info = nullptr);

// Same, from bytes already in memory (the file reader calls this).
MonoAudio decode_wav(const std::vector<unsigned char>& bytes, WavInfo* info = nullptr);

// Averages interleaved channels into one and converts the rate to 16 kHz (swresample, high quality).
std::vector<float> to_whisper_mono(const std::vector<float>& interleaved, int channel_count,
                                   int sample_rate_hz);

}  // namespace npuscribe
