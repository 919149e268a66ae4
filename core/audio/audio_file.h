// Any audio or video file FFmpeg can read (WAV, FLAC, MP3, Ogg/Vorbis, Opus, M4A/AAC, WebM, MP4, MKV,
// MOV, ...), decoded as a stream into the engine's 16 kHz mono float.
//
// The decoder holds one packet and one decoded frame at a time plus the resampler's few hundred samples,
// never the whole file, compressed or decoded: read() hands out the audio piece by piece, so a two-hour
// file can go straight into a StreamingLogMel. Damaged data is skipped (and reported), not fatal.
//
// Conversion: channels are averaged into one (stereo L = x, R = -x gives silence) and the rate converted
// with libswresample's defaults (the same as `ffmpeg -ar 16000`). 16 kHz mono 16-bit input is not
// resampled or remixed, so it comes out as exactly int16 / 32768, the same bits as read_wav_file().
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "audio/audio_buffer.h"

namespace npuscribe {

struct AudioStreamInfo {
  int index = -1;          // the container's stream number (as ffprobe shows it, `-map 0:<index>`)
  std::string codec_name;  // FFmpeg's codec name: "mp3", "aac", "opus", "pcm_s16le", ...
  int sample_rate_hz = 0;  // as declared by the container; the decoder follows what the frames say
  int channel_count = 0;
  double duration_s = -1;  // -1 unknown (Matroska often stores none per stream)
  std::string language;    // stream metadata ("eng", "deu", "und"), may be empty
};

struct AudioProbe {
  std::string container_name;  // FFmpeg's demuxer name: "wav", "mp3", "matroska,webm", "mov,mp4,m4a,..."
  std::vector<AudioStreamInfo> audio_streams;  // in container order; never empty (probing throws instead)
  double duration_s = -1;                      // the container's duration, -1 unknown
};

// Lists the audio streams without decoding them. Throws npuscribe::Error like AudioFileDecoder::open().
AudioProbe probe_audio_file(const std::filesystem::path& path);

struct DecodeReport {
  double decoded_s = 0;    // audio handed out so far (16 kHz samples / 16000), inserted silence included
  double expected_s = -1;  // the stream's (or container's) announced duration, -1 unknown
  // Problems that did not stop decoding, for the user: damaged packets skipped, gaps filled with
  // silence, "the file ends early: 5.5 s of the 11.0 s announced could be decoded".
  std::vector<std::string> warnings;
};

class AudioFileDecoder {
 public:
  AudioFileDecoder();
  // Same as open(path, stream_index).
  explicit AudioFileDecoder(const std::filesystem::path& path, int stream_index = -1);
  ~AudioFileDecoder();
  AudioFileDecoder(AudioFileDecoder&&) noexcept;
  AudioFileDecoder& operator=(AudioFileDecoder&&) noexcept;
  AudioFileDecoder(const AudioFileDecoder&) = delete;
  AudioFileDecoder& operator=(const AudioFileDecoder&) = delete;

  // stream_index: an AudioStreamInfo::index from probe_audio_file(), or -1 for the first audio stream.
  // Throws npuscribe::Error naming the file, what is wrong and what to do: missing or unreadable file,
  // a directory, an empty file, not a media file, no audio stream, no such audio stream (the message
  // lists the audio streams there are), no decoder for the codec in this FFmpeg build. Reopening closes
  // the previous file.
  void open(const std::filesystem::path& path, int stream_index = -1);
  bool is_open() const;
  void close();

  // Appends up to max_samples 16 kHz mono samples to out and returns how many; 0 means the end of the
  // stream (later calls keep returning 0). Damaged packets are skipped and counted in report(). Throws
  // npuscribe::Error if the end comes without a single sample decoded (a zero-length or wholly damaged
  // stream) or when called on a decoder that is not open.
  std::size_t read(std::vector<float>& out, std::size_t max_samples);

  // The stream being decoded (valid after open()).
  const AudioStreamInfo& stream() const;
  const std::filesystem::path& path() const;
  // Progress and problems so far; complete once read() has returned 0.
  DecodeReport report() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Decodes a whole stream into memory: for short files and tests (an hour is 230 MB of float samples;
// long files should go through AudioFileDecoder::read() instead). Throws as open() and read() do.
MonoAudio load_audio_file(const std::filesystem::path& path, int stream_index = -1,
                          DecodeReport* report = nullptr);

}  // namespace npuscribe
