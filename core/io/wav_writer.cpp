#include "io/wav_writer.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "util/error.h"

namespace npuscribe {

namespace {

void put_u32(unsigned char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u16(unsigned char* p, std::uint16_t v) {
  p[0] = static_cast<unsigned char>(v);
  p[1] = static_cast<unsigned char>(v >> 8);
}

}  // namespace

WavWriter::WavWriter(const std::filesystem::path& path, int sample_rate_hz, int channels)
    : path_(path), sample_rate_hz_(sample_rate_hz), channels_(channels) {
  if (sample_rate_hz <= 0 || channels <= 0) throw Error("WAV writer: invalid sample rate or channel count");
  file_ = std::fopen(path.c_str(), "wb");
  if (!file_)
    throw Error("cannot create the audio file " + path.string() + ": " + std::strerror(errno) +
                "; choose a writable folder");
  write_header();
}

WavWriter::~WavWriter() {
  try {
    close();
  } catch (const Error&) {
  }
}

void WavWriter::write_header() {
  unsigned char header[44];
  std::memcpy(header, "RIFF", 4);
  put_u32(header + 4, static_cast<std::uint32_t>(std::min<std::int64_t>(36 + data_bytes_, 0xFFFFFFFF)));
  std::memcpy(header + 8, "WAVEfmt ", 8);
  put_u32(header + 16, 16);
  put_u16(header + 20, 1);  // PCM
  put_u16(header + 22, static_cast<std::uint16_t>(channels_));
  put_u32(header + 24, static_cast<std::uint32_t>(sample_rate_hz_));
  put_u32(header + 28, static_cast<std::uint32_t>(sample_rate_hz_ * channels_ * 2));
  put_u16(header + 32, static_cast<std::uint16_t>(channels_ * 2));
  put_u16(header + 34, 16);
  std::memcpy(header + 36, "data", 4);
  put_u32(header + 40, static_cast<std::uint32_t>(std::min<std::int64_t>(data_bytes_, 0xFFFFFFFF - 36)));
  if (std::fseek(file_, 0, SEEK_SET) != 0 || std::fwrite(header, 1, sizeof header, file_) != sizeof header)
    throw Error("cannot write the header of " + path_.string() + ": " + std::strerror(errno));
}

void WavWriter::write(std::span<const float> samples) {
  if (!file_) throw Error("the audio file " + path_.string() + " is already closed");
  std::vector<unsigned char> bytes(samples.size() * 2);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const float s = std::clamp(samples[i], -1.0f, 1.0f);
    const auto v = static_cast<std::int16_t>(std::lround(s * 32767.0f));
    put_u16(bytes.data() + 2 * i, static_cast<std::uint16_t>(v));
  }
  const std::size_t written = std::fwrite(bytes.data(), 1, bytes.size(), file_);
  data_bytes_ += static_cast<std::int64_t>(written - written % 2);
  if (written != bytes.size() || std::fflush(file_) != 0)
    throw Error("cannot write the audio file " + path_.string() + ": " + std::strerror(errno) +
                " (is the disk full?); the recording so far is kept in the program");
}

void WavWriter::close() {
  if (!file_) return;
  std::FILE* file = file_;
  std::string failure;
  try {
    write_header();
  } catch (const Error& e) {
    failure = e.what();
  }
  file_ = nullptr;
  if (std::fclose(file) != 0 && failure.empty())
    failure = "cannot finish the audio file " + path_.string() + ": " + std::strerror(errno);
  if (!failure.empty()) throw Error(failure);
}

}  // namespace npuscribe
