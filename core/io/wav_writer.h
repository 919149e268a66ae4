// Incremental WAV writer (PCM 16-bit): samples are appended as they arrive and the RIFF sizes are fixed
// at close(), so a recording interrupted by a crash still has all its samples (players read them with
// the placeholder sizes; close() makes the header exact).
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>

namespace npuscribe {

class WavWriter {
 public:
  // Throws npuscribe::Error when the file cannot be created.
  WavWriter(const std::filesystem::path& path, int sample_rate_hz, int channels = 1);
  ~WavWriter();  // closes (errors ignored: call close() to see them)
  WavWriter(const WavWriter&) = delete;
  WavWriter& operator=(const WavWriter&) = delete;

  // Float samples in [-1, 1] (interleaved when channels > 1). Throws npuscribe::Error on a write error
  // (disk full); the file keeps what was written before.
  void write(std::span<const float> samples);
  void close();  // fixes the header; throws npuscribe::Error when that fails
  std::int64_t frames_written() const { return data_bytes_ / (2 * channels_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  void write_header();
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
  int sample_rate_hz_ = 0;
  int channels_ = 1;
  std::int64_t data_bytes_ = 0;
};

}  // namespace npuscribe
