#include "audio/wav_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "util/error.h"

// FFmpeg's headers carry no extern "C" guards of their own.
extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>
}

namespace npuscribe {
namespace {

constexpr std::string_view kConvertHint =
    "WAV input only for now: convert with `ffmpeg -i IN -ar 16000 -ac 1 OUT.wav`.";

constexpr std::uint16_t kFormatPcm = 0x0001;
constexpr std::uint16_t kFormatIeeeFloat = 0x0003;
constexpr std::uint16_t kFormatExtensible = 0xFFFE;

constexpr int kMaxChannelCount = 64;
constexpr int kMinSampleRateHz = 1000;
constexpr int kMaxSampleRateHz = 768000;
// Writers that stream (ffmpeg to a pipe, arecord) cannot seek back to patch the size, so they leave this.
constexpr std::uint32_t kStreamingDataSize = 0xFFFFFFFF;

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw Error(source + ": " + what);
}

std::uint16_t u16_at(const unsigned char* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

std::uint32_t u32_at(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

bool tag_is(const unsigned char* p, const char (&tag)[5]) {
  return std::memcmp(p, tag, 4) == 0;
}

std::string hex16(std::uint16_t value) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out = "0x";
  for (int shift = 12; shift >= 0; shift -= 4) out += kDigits[(value >> shift) & 0xF];
  return out;
}

// Printable form of a four-character code for messages (binary garbage shown as '?').
std::string fourcc(const unsigned char* p) {
  std::string out;
  for (int i = 0; i < 4; ++i) out += (p[i] >= 0x20 && p[i] < 0x7F) ? static_cast<char>(p[i]) : '?';
  return out;
}

std::string format_tag_name(std::uint16_t tag) {
  switch (tag) {
    case 0x0002:
      return "Microsoft ADPCM";
    case 0x0006:
      return "A-law";
    case 0x0007:
      return "mu-law";
    case 0x0011:
      return "IMA ADPCM";
    case 0x0031:
      return "GSM 6.10";
    case 0x0050:
      return "MPEG";
    case 0x0055:
      return "MPEG Layer 3";
    case 0x00FF:
      return "AAC";
    case 0x1610:
      return "AAC (HE)";
    case 0x2000:
      return "AC-3";
    case 0xF1AC:
      return "FLAC";
    default:
      return "unknown codec";
  }
}

// A hint for the common case of a compressed file renamed or mistaken for WAV.
std::string guess_container(const std::vector<unsigned char>& bytes) {
  const auto starts_with = [&](std::string_view magic, std::size_t at = 0) {
    return bytes.size() >= at + magic.size() &&
           std::memcmp(bytes.data() + at, magic.data(), magic.size()) == 0;
  };
  if (starts_with("ID3")) return " (looks like MP3)";
  if (bytes.size() >= 2 && bytes[0] == 0xFF && (bytes[1] & 0xE0) == 0xE0) return " (looks like MP3 or AAC)";
  if (starts_with("fLaC")) return " (looks like FLAC)";
  if (starts_with("OggS")) return " (looks like Ogg)";
  if (starts_with("ftyp", 4)) return " (looks like MP4/M4A)";
  return "";
}

struct Format {
  std::uint16_t tag = 0;  // PCM or IEEE float after resolving EXTENSIBLE
  int channel_count = 0;
  int sample_rate_hz = 0;
  int block_align = 0;
  int bits_per_sample = 0;
};

Format parse_fmt(const std::string& source, const unsigned char* body, std::uint32_t size) {
  if (size < 16)
    fail(source, "fmt chunk too short (" + std::to_string(size) +
                     " bytes, need 16). The file is damaged; re-export it.");
  Format format;
  format.tag = u16_at(body);
  const std::uint16_t channels = u16_at(body + 2);
  const std::uint32_t rate_hz = u32_at(body + 4);
  const std::uint16_t block_align = u16_at(body + 12);
  const std::uint16_t bits = u16_at(body + 14);

  if (format.tag == kFormatExtensible) {
    // cbSize(2) + valid bits(2) + channel mask(4) + sub-format GUID(16) follow the 16 basic bytes.
    if (size < 40)
      fail(source, "fmt chunk too short for WAVE_FORMAT_EXTENSIBLE (" + std::to_string(size) +
                       " bytes, need 40). The file is damaged; re-export it.");
    // The GUID's first two bytes are the plain format tag (KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT).
    format.tag = u16_at(body + 24);
  }
  if (format.tag != kFormatPcm && format.tag != kFormatIeeeFloat)
    fail(source,
         "unsupported WAV format tag " + hex16(format.tag) + " (" + format_tag_name(format.tag) +
             "); only PCM and IEEE float are read. Convert with `ffmpeg -i IN -ar 16000 -ac 1 OUT.wav`.");

  const bool is_float = format.tag == kFormatIeeeFloat;
  const bool depth_ok =
      is_float ? (bits == 32 || bits == 64) : (bits == 8 || bits == 16 || bits == 24 || bits == 32);
  if (!depth_ok)
    fail(source,
         "unsupported bit depth: " + std::to_string(bits) + "-bit " + (is_float ? "float" : "PCM") +
             " (supported: PCM 8/16/24/32-bit, float 32/64-bit). Convert with `ffmpeg -i IN -ar 16000 "
             "-ac 1 OUT.wav`.");
  if (channels == 0 || channels > kMaxChannelCount)
    fail(source, "invalid channel count " + std::to_string(channels) + " (must be 1.." +
                     std::to_string(kMaxChannelCount) + "). The header is damaged; re-export the file.");
  if (rate_hz < static_cast<std::uint32_t>(kMinSampleRateHz) ||
      rate_hz > static_cast<std::uint32_t>(kMaxSampleRateHz))
    fail(source, "invalid sample rate " + std::to_string(rate_hz) + " Hz (must be " +
                     std::to_string(kMinSampleRateHz) + ".." + std::to_string(kMaxSampleRateHz) +
                     " Hz). Resample with `ffmpeg -i IN -ar 16000 -ac 1 OUT.wav`.");
  const int expected_block_align = channels * (bits / 8);
  if (block_align != expected_block_align)
    fail(source, "inconsistent header: block_align is " + std::to_string(block_align) + " but " +
                     std::to_string(channels) + " channels x " + std::to_string(bits) + " bits needs " +
                     std::to_string(expected_block_align) + ". The file is damaged; re-export it.");

  format.channel_count = channels;
  format.sample_rate_hz = static_cast<int>(rate_hz);
  format.block_align = block_align;
  format.bits_per_sample = bits;
  return format;
}

// Interleaved samples of whole frames to float, with whisper.cpp's integer scaling (s / 2^(bits-1)).
std::vector<float> to_float(const Format& format, const unsigned char* data, std::size_t frame_count) {
  const std::size_t sample_count = frame_count * static_cast<std::size_t>(format.channel_count);
  std::vector<float> out(sample_count);
  const unsigned char* p = data;
  if (format.tag == kFormatIeeeFloat) {
    if (format.bits_per_sample == 32) {
      for (std::size_t i = 0; i < sample_count; ++i, p += 4) {
        const std::uint32_t raw = u32_at(p);
        std::memcpy(&out[i], &raw, sizeof(float));
      }
    } else {
      for (std::size_t i = 0; i < sample_count; ++i, p += 8) {
        const std::uint64_t raw = u32_at(p) | (static_cast<std::uint64_t>(u32_at(p + 4)) << 32);
        double value;
        std::memcpy(&value, &raw, sizeof(double));
        out[i] = static_cast<float>(value);
      }
    }
    return out;
  }
  switch (format.bits_per_sample) {
    case 8:  // unsigned, 128 is silence
      for (std::size_t i = 0; i < sample_count; ++i, ++p)
        out[i] = static_cast<float>(static_cast<int>(*p) - 128) / 128.0f;
      break;
    case 16:
      for (std::size_t i = 0; i < sample_count; ++i, p += 2)
        out[i] = static_cast<float>(static_cast<std::int16_t>(u16_at(p))) / 32768.0f;
      break;
    case 24:
      for (std::size_t i = 0; i < sample_count; ++i, p += 3) {
        std::int32_t value = p[0] | (p[1] << 8) | (p[2] << 16);
        if (value & 0x800000) value -= 0x1000000;  // sign-extend
        out[i] = static_cast<float>(value) / 8388608.0f;
      }
      break;
    case 32:
      for (std::size_t i = 0; i < sample_count; ++i, p += 4)
        out[i] = static_cast<float>(static_cast<std::int32_t>(u32_at(p))) / 2147483648.0f;
      break;
  }
  return out;
}

MonoAudio decode_named(const std::vector<unsigned char>& bytes, WavInfo* info, const std::string& source) {
  if (bytes.empty()) fail(source, "empty file (0 bytes). Check that it was fully written or copied.");
  const unsigned char* base = bytes.data();
  const std::size_t size = bytes.size();
  if (size >= 4 && tag_is(base, "RF64"))
    fail(source, "RF64 (64-bit WAV) is not supported. Convert with `ffmpeg -i IN -ar 16000 -ac 1 OUT.wav`.");
  if (size >= 4 && tag_is(base, "RIFX"))
    fail(source,
         "big-endian WAV (RIFX) is not supported. Convert with `ffmpeg -i IN -ar 16000 -ac 1 OUT.wav`.");
  if (size < 12 || !tag_is(base, "RIFF"))
    fail(source,
         "not a WAV file (no RIFF/WAVE header)" + guess_container(bytes) + ". " + std::string(kConvertHint));
  if (!tag_is(base + 8, "WAVE"))
    fail(source, "not a WAV file (RIFF form type is '" + fourcc(base + 8) + "', not 'WAVE'). " +
                     std::string(kConvertHint));

  // Walk the chunks in file order; the RIFF size field is ignored because writers often get it wrong.
  bool have_format = false;
  Format format;
  const unsigned char* data = nullptr;
  std::uint64_t data_available_bytes = 0;
  std::uint32_t data_declared_bytes = 0;
  std::size_t offset = 12;
  while (size - offset >= 8) {
    const unsigned char* header = base + offset;
    const std::uint32_t chunk_bytes = u32_at(header + 4);
    const std::size_t body_offset = offset + 8;
    const std::uint64_t remaining = size - body_offset;
    if (tag_is(header, "fmt ")) {
      if (chunk_bytes > remaining)
        fail(source, "fmt chunk is cut off by the end of the file. The file is damaged; re-export it.");
      if (!have_format) format = parse_fmt(source, base + body_offset, chunk_bytes);
      have_format = true;
    } else if (tag_is(header, "data") && data == nullptr) {
      data = base + body_offset;
      data_declared_bytes = chunk_bytes;
      // Truncated file or streaming size: take what is there; never trust the header beyond the file.
      data_available_bytes = std::min<std::uint64_t>(chunk_bytes, remaining);
    }
    const std::uint64_t next = static_cast<std::uint64_t>(body_offset) + chunk_bytes + (chunk_bytes & 1u);
    if (next > size) break;  // the last chunk runs past the end: nothing can follow it
    offset = static_cast<std::size_t>(next);
  }
  if (!have_format)
    fail(source,
         "not a usable WAV file: no fmt chunk, so the sample format is unknown. The file is damaged or "
         "not audio; re-export it or convert with `ffmpeg -i IN -ar 16000 -ac 1 OUT.wav`.");
  if (data == nullptr)
    fail(source,
         "no data chunk: the file has a WAV header but no audio. The file is damaged or "
         "incomplete; re-export it.");

  const std::size_t frame_count = static_cast<std::size_t>(data_available_bytes / format.block_align);
  std::size_t frames_missing = 0;
  if (data_declared_bytes != kStreamingDataSize) {
    const std::size_t declared_frames = data_declared_bytes / static_cast<std::uint32_t>(format.block_align);
    frames_missing = declared_frames - frame_count;
  }
  if (info != nullptr) {
    info->sample_rate_hz = format.sample_rate_hz;
    info->channel_count = format.channel_count;
    info->bits_per_sample = format.bits_per_sample;
    info->is_float = format.tag == kFormatIeeeFloat;
    info->frame_count = frame_count;
    info->frames_missing = frames_missing;
  }

  MonoAudio audio;
  audio.samples =
      to_whisper_mono(to_float(format, data, frame_count), format.channel_count, format.sample_rate_hz);
  return audio;
}

std::string av_error_text(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof(text));
  return text;
}

struct SwrContextDeleter {
  void operator()(SwrContext* ctx) const { swr_free(&ctx); }
};
using SwrContextPtr = std::unique_ptr<SwrContext, SwrContextDeleter>;

// swresample counts in int; feeding bounded blocks keeps hour-long high-rate files within range.
constexpr std::size_t kResampleBlockSamples = std::size_t{1} << 20;

std::vector<float> resample_mono(const std::vector<float>& mono, int sample_rate_hz) {
  AVChannelLayout mono_layout = AV_CHANNEL_LAYOUT_MONO;  // non-const: FFmpeg 5.1 takes a mutable pointer
  SwrContext* raw_ctx = nullptr;
  // Default swresample settings: the same result as the `ffmpeg -ar 16000` the error messages recommend.
  int status = swr_alloc_set_opts2(&raw_ctx, &mono_layout, AV_SAMPLE_FMT_FLT, kWhisperSampleRateHz,
                                   &mono_layout, AV_SAMPLE_FMT_FLT, sample_rate_hz, 0, nullptr);
  SwrContextPtr ctx(raw_ctx);
  if (status < 0 || !ctx)
    throw Error("resampling " + std::to_string(sample_rate_hz) +
                " Hz to 16 kHz: cannot set up libswresample (" + av_error_text(status) + ")");
  status = swr_init(ctx.get());
  if (status < 0)
    throw Error("resampling " + std::to_string(sample_rate_hz) + " Hz to 16 kHz: swr_init failed (" +
                av_error_text(status) + ")");

  std::vector<float> out;
  out.reserve(
      static_cast<std::size_t>(static_cast<double>(mono.size()) * kWhisperSampleRateHz / sample_rate_hz) +
      64);
  std::vector<float> block_out;
  // in == nullptr drains the filter's delay line (the flush).
  const auto convert = [&](const float* in, int in_count) {
    const int capacity = swr_get_out_samples(ctx.get(), in_count) + 16;
    block_out.resize(static_cast<std::size_t>(capacity));
    std::uint8_t* out_planes[1] = {reinterpret_cast<std::uint8_t*>(block_out.data())};
    const std::uint8_t* in_planes[1] = {reinterpret_cast<const std::uint8_t*>(in)};
    const int produced = swr_convert(ctx.get(), out_planes, capacity, in ? in_planes : nullptr, in_count);
    if (produced < 0)
      throw Error("resampling " + std::to_string(sample_rate_hz) + " Hz to 16 kHz: swr_convert failed (" +
                  av_error_text(produced) + ")");
    out.insert(out.end(), block_out.begin(), block_out.begin() + produced);
    return produced;
  };
  for (std::size_t start = 0; start < mono.size(); start += kResampleBlockSamples) {
    const std::size_t count = std::min(kResampleBlockSamples, mono.size() - start);
    convert(mono.data() + start, static_cast<int>(count));
  }
  while (convert(nullptr, 0) > 0) {
  }
  return out;
}

}  // namespace

std::vector<float> to_whisper_mono(const std::vector<float>& interleaved, int channel_count,
                                   int sample_rate_hz) {
  if (channel_count < 1)
    throw Error("to_whisper_mono: channel count must be >= 1, got " + std::to_string(channel_count));
  if (sample_rate_hz < 1)
    throw Error("to_whisper_mono: sample rate must be > 0, got " + std::to_string(sample_rate_hz));
  const std::size_t channels = static_cast<std::size_t>(channel_count);
  const std::size_t frame_count = interleaved.size() / channels;

  std::vector<float> mono;
  if (channels == 1) {
    mono = interleaved;  // untouched: 16 kHz mono int16 must stay bit-identical to s / 32768
  } else {
    mono.resize(frame_count);
    for (std::size_t f = 0; f < frame_count; ++f) {
      const float* frame = interleaved.data() + f * channels;
      double sum = 0.0;  // double so many channels do not lose the low bits
      for (std::size_t c = 0; c < channels; ++c) sum += frame[c];
      mono[f] = static_cast<float>(sum / static_cast<double>(channels));
    }
  }
  if (sample_rate_hz == kWhisperSampleRateHz || mono.empty()) return mono;
  return resample_mono(mono, sample_rate_hz);
}

MonoAudio decode_wav(const std::vector<unsigned char>& bytes, WavInfo* info) {
  return decode_named(bytes, info, "WAV data");
}

MonoAudio read_wav_file(const std::filesystem::path& path, WavInfo* info) {
  const std::string source = path.string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    fail(source, "is a directory, not a WAV file. Pass the path of a .wav file.");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail(source, std::string("cannot open: ") + std::strerror(errno) + ". Check the path and permissions.");
  in.seekg(0, std::ios::end);
  const std::streamoff file_bytes = in.tellg();
  in.seekg(0, std::ios::beg);
  if (file_bytes < 0 || !in)
    fail(source, std::string("cannot read: ") + std::strerror(errno) + ". Is it a regular file?");
  std::vector<unsigned char> bytes(static_cast<std::size_t>(file_bytes));
  in.read(reinterpret_cast<char*>(bytes.data()), file_bytes);
  if (in.gcount() != file_bytes)
    fail(source, std::string("read error after ") + std::to_string(in.gcount()) + " of " +
                     std::to_string(file_bytes) + " bytes: " + std::strerror(errno) + ".");
  return decode_named(bytes, info, source);
}

}  // namespace npuscribe
