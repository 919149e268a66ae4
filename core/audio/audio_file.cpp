#include "audio/audio_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "util/error.h"

// FFmpeg's headers carry no extern "C" guards of their own.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/parseutils.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>
}

namespace npuscribe {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kConvertHint = "convert it with `ffmpeg -i IN -ar 16000 -ac 1 OUT.wav`";

// A jump in the timestamps larger than this is filled with silence so that later text keeps its time;
// smaller ones are timestamp rounding (Matroska stores milliseconds).
constexpr double kMinGapS = 0.010;
// Larger jumps are taken for broken timestamps rather than lost audio.
constexpr double kMaxGapS = 600.0;
// Silence for a gap goes through the resampler in pieces this long, so a gap never sits in memory whole.
constexpr int kSilenceChunkSamples = 4096;
// Decoded audio shorter than announced by this much (0.5 s + 0.2%) is reported as a truncated file;
// encoder priming and padding are far below it.
constexpr double kTruncationToleranceS = 0.5;
constexpr double kTruncationToleranceFraction = 0.002;
// Damage this close to the end of the decoded audio is taken for the cut-off last packet of a truncated file.
constexpr double kDamageNearEndS = 1.0;
// Durations guessed from the bit rate (files without a length header) are rough.
constexpr double kEstimateToleranceFraction = 0.10;
// read() gives up if the decoder neither takes packets nor returns frames this many times in a row.
constexpr int kMaxStalls = 1000;

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw Error(source + ": " + what);
}

// FFmpeg logs to stderr by default; the decoder reports through exceptions and DecodeReport instead.
// The last error message of this thread is kept to explain failures ("Header missing", ...).
thread_local std::string t_last_ffmpeg_error;

void quiet_log_callback(void* context, int level, const char* format, va_list args) {
  if (level > AV_LOG_ERROR) return;
  char line[1024];
  int print_prefix = 0;  // no "[mp3float @ 0x...]" prefix in user-facing text
  av_log_format_line2(context, level, format, args, line, sizeof(line), &print_prefix);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  if (!text.empty()) t_last_ffmpeg_error = std::move(text);
}

void install_log_callback() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(quiet_log_callback); });
}

std::string av_error_text(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof(text));
  return text;
}

// "Invalid data found when processing input: Header missing" (FFmpeg's last log line adds the detail).
std::string describe_failure(int code) {
  std::string text = av_error_text(code);
  if (!t_last_ffmpeg_error.empty() && t_last_ffmpeg_error != text) text += ": " + t_last_ffmpeg_error;
  return text;
}

std::string sample_format_name(int format) {
  const char* name = av_get_sample_fmt_name(static_cast<AVSampleFormat>(format));
  return name ? name : "unknown";
}

std::string format_seconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f s", seconds);
  return text;
}

struct FormatCloser {
  void operator()(AVFormatContext* context) const { avformat_close_input(&context); }
};
struct CodecFreer {
  void operator()(AVCodecContext* context) const { avcodec_free_context(&context); }
};
struct PacketFreer {
  void operator()(AVPacket* packet) const { av_packet_free(&packet); }
};
struct FrameFreer {
  void operator()(AVFrame* frame) const { av_frame_free(&frame); }
};
struct SwrFreer {
  void operator()(SwrContext* context) const { swr_free(&context); }
};
struct DictFreer {
  void operator()(AVDictionary* dict) const { av_dict_free(&dict); }
};
using FormatPtr = std::unique_ptr<AVFormatContext, FormatCloser>;
using CodecPtr = std::unique_ptr<AVCodecContext, CodecFreer>;
using PacketPtr = std::unique_ptr<AVPacket, PacketFreer>;
using FramePtr = std::unique_ptr<AVFrame, FrameFreer>;
using SwrPtr = std::unique_ptr<SwrContext, SwrFreer>;

// Checks what FFmpeg would only report vaguely: existence, permissions, directories, empty files.
void check_file(const fs::path& path, const std::string& source) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    fail(source, "is a directory, not an audio or video file. Pass the path of a file.");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // a FIFO must not block here
  if (fd < 0) {
    const int error = errno;
    std::string hint = "Check the path.";
    if (error == EACCES || error == EPERM) hint = "Check the file's permissions.";
    fail(source, std::string("cannot open: ") + std::strerror(error) + ". " + hint);
  }
  struct stat info {};
  const int status = ::fstat(fd, &info);
  ::close(fd);
  if (status == 0 && S_ISREG(info.st_mode) && info.st_size == 0)
    fail(source, "is empty (0 bytes). Check that it was fully written or copied.");
}

FormatPtr open_container(const fs::path& path, const std::string& source) {
  install_log_callback();
  check_file(path, source);
  // Only local files: a crafted playlist (HLS, ...) must not make us open network addresses. "file:"
  // keeps names with a colon ("take:1.mp3") from being read as a protocol.
  AVDictionary* raw_options = nullptr;
  av_dict_set(&raw_options, "protocol_whitelist", "file", 0);
  std::unique_ptr<AVDictionary, DictFreer> options(raw_options);
  const std::string url = "file:" + path.string();
  AVFormatContext* raw_context = nullptr;
  t_last_ffmpeg_error.clear();
  raw_options = options.release();
  int status = avformat_open_input(&raw_context, url.c_str(), nullptr, &raw_options);
  options.reset(raw_options);
  if (status < 0)
    fail(source, "not an audio or video file FFmpeg can read (" + describe_failure(status) +
                     "). Check that it is a complete media file, or " + std::string(kConvertHint) + ".");
  FormatPtr context(raw_context);
  t_last_ffmpeg_error.clear();
  status = avformat_find_stream_info(context.get(), nullptr);
  if (status < 0)
    fail(source, "not an audio or video file FFmpeg can read: its streams cannot be identified (" +
                     describe_failure(status) + "). The file is damaged or incomplete; re-export it.");
  return context;
}

double stream_duration_s(const AVStream* stream) {
  if (stream->duration != AV_NOPTS_VALUE && stream->duration > 0)
    return static_cast<double>(stream->duration) * av_q2d(stream->time_base);
  // Matroska keeps per-track lengths only as a "DURATION" tag (HH:MM:SS.nnnnnnnnn).
  if (const AVDictionaryEntry* tag = av_dict_get(stream->metadata, "DURATION", nullptr, 0)) {
    std::int64_t microseconds = 0;
    if (av_parse_time(&microseconds, tag->value, 1) == 0 && microseconds > 0)
      return static_cast<double>(microseconds) / 1e6;
  }
  return -1;
}

double container_duration_s(const AVFormatContext* context) {
  if (context->duration == AV_NOPTS_VALUE || context->duration <= 0) return -1;
  return static_cast<double>(context->duration) / AV_TIME_BASE;
}

AudioStreamInfo stream_info(const AVStream* stream) {
  AudioStreamInfo info;
  info.index = stream->index;
  info.codec_name = avcodec_get_name(stream->codecpar->codec_id);
  info.sample_rate_hz = stream->codecpar->sample_rate;
  info.channel_count = stream->codecpar->ch_layout.nb_channels;
  info.duration_s = stream_duration_s(stream);
  if (const AVDictionaryEntry* tag = av_dict_get(stream->metadata, "language", nullptr, 0))
    info.language = tag->value;
  return info;
}

std::vector<AudioStreamInfo> audio_streams(const AVFormatContext* context) {
  std::vector<AudioStreamInfo> streams;
  for (unsigned i = 0; i < context->nb_streams; ++i)
    if (context->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO)
      streams.push_back(stream_info(context->streams[i]));
  return streams;
}

std::string describe_audio_streams(const std::vector<AudioStreamInfo>& streams) {
  std::string text;
  for (const AudioStreamInfo& s : streams) {
    if (!text.empty()) text += ", ";
    text += std::to_string(s.index) + " (" + s.codec_name + ", " + std::to_string(s.sample_rate_hz) +
            " Hz, " + std::to_string(s.channel_count) + " ch";
    if (!s.language.empty()) text += ", " + s.language;
    text += ")";
  }
  return text;
}

std::string describe_stream_kind(const AVStream* stream) {
  const char* kind = av_get_media_type_string(stream->codecpar->codec_type);
  return std::string(kind ? kind : "unknown") + " (" + avcodec_get_name(stream->codecpar->codec_id) + ")";
}

[[noreturn]] void fail_no_audio(const AVFormatContext* context, const std::string& source) {
  if (context->nb_streams == 0)
    fail(source,
         "not an audio or video file FFmpeg can read (no streams found). Check that it is a "
         "complete media file, or " +
             std::string(kConvertHint) + ".");
  const std::string demuxer = context->iformat->name;
  const bool is_image = demuxer == "image2" || (demuxer.size() > 5 && demuxer.ends_with("_pipe"));
  if (is_image)
    fail(source, "is an image (" + std::string(avcodec_get_name(context->streams[0]->codecpar->codec_id)) +
                     "), not an audio or video file: it has no audio stream. Pass a recording with sound.");
  std::string kinds;
  for (unsigned i = 0; i < context->nb_streams; ++i) {
    if (!kinds.empty()) kinds += ", ";
    kinds += describe_stream_kind(context->streams[i]);
  }
  fail(source, "has no audio stream (video only?): it holds " + kinds +
                   ". Pass a file with sound, or check that the recording captured audio.");
}

}  // namespace

AudioProbe probe_audio_file(const fs::path& path) {
  const std::string source = path.string();
  FormatPtr context = open_container(path, source);
  AudioProbe probe;
  probe.container_name = context->iformat->name;
  probe.audio_streams = audio_streams(context.get());
  probe.duration_s = container_duration_s(context.get());
  if (probe.audio_streams.empty()) fail_no_audio(context.get(), source);
  return probe;
}

struct AudioFileDecoder::Impl {
  fs::path path;
  std::string source;
  FormatPtr format;
  CodecPtr codec;
  PacketPtr packet;
  FramePtr frame;
  AVStream* stream = nullptr;
  AudioStreamInfo info;
  double expected_s = -1;
  bool expected_is_estimate = false;  // guessed from the bit rate

  // The resampler is set up from the first frame and again whenever the frames change format.
  SwrPtr swr;
  int swr_rate_hz = 0;
  int swr_format = AV_SAMPLE_FMT_NONE;
  AVChannelLayout swr_layout{};
  FramePtr silence;  // kSilenceChunkSamples of silence in the resampler's input format

  std::vector<float> pending;  // resampled samples not handed out yet: one frame's worth
  std::size_t pending_pos = 0;

  bool packet_held = false;   // the decoder refused it for now (EAGAIN): send again later
  bool flush_sent = false;    // the demuxer is done; the decoder was told so
  bool frame_held = false;    // decoded, waiting for the silence of a gap before it to go out
  std::int64_t gap_left = 0;  // silence still to insert, in samples at swr_rate_hz
  bool done = false;
  int stalls = 0;

  // Timeline, to notice lost stretches: where the frames say they are versus what came out.
  bool have_first_pts = false;
  double first_pts_s = 0;
  double timeline_s = 0;        // duration of the frames and the silence passed to the resampler
  double last_frame_end_s = 0;  // where the last frame ends by its timestamp, from the first frame

  std::int64_t produced_samples = 0;  // at 16 kHz, appended to pending
  std::int64_t output_samples = 0;    // at 16 kHz, handed out by read()

  std::int64_t damaged_packets = 0;
  std::string first_damage;  // "at 3.2 s: Header missing"
  double first_damage_s = -1;
  std::int64_t damaged_frames = 0;
  int gap_count = 0;
  double gap_total_s = 0;
  int ignored_jumps = 0;
  std::string read_error;  // why the demuxer stopped before the end of the file

  ~Impl() { av_channel_layout_uninit(&swr_layout); }

  double position_s() const { return static_cast<double>(produced_samples) / kWhisperSampleRateHz; }

  void note_damage(int code) {
    if (damaged_packets++ > 0) return;
    first_damage_s = position_s();
    first_damage = "at " + format_seconds(first_damage_s) + ": " + describe_failure(code);
  }

  // Appends the resampled form of in_count input samples (nullptr: drain the resampler).
  int convert(const std::uint8_t** in, int in_count) {
    const int capacity = swr_get_out_samples(swr.get(), in_count) + 32;
    const std::size_t old_size = pending.size();
    pending.resize(old_size + static_cast<std::size_t>(capacity));
    std::uint8_t* out_planes[1] = {reinterpret_cast<std::uint8_t*>(pending.data() + old_size)};
    const int produced = swr_convert(swr.get(), out_planes, capacity, in, in_count);
    if (produced < 0) {
      pending.resize(old_size);
      fail(source, "resampling to 16 kHz failed (" + av_error_text(produced) + ").");
    }
    pending.resize(old_size + static_cast<std::size_t>(produced));
    produced_samples += produced;
    return produced;
  }

  void drain_resampler() {
    if (!swr) return;
    while (convert(nullptr, 0) > 0) {
    }
  }

  bool matches_resampler(const AVFrame* f) const {
    return swr && f->format == swr_format && f->sample_rate == swr_rate_hz &&
           av_channel_layout_compare(&f->ch_layout, &swr_layout) == 0;
  }

  void configure_resampler(const AVFrame* f) {
    drain_resampler();  // the end of the audio in the old format goes out first
    swr.reset();
    av_channel_layout_uninit(&swr_layout);
    AVChannelLayout in_layout{};
    const int channels = f->ch_layout.nb_channels;
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || av_channel_layout_check(&f->ch_layout) == 0)
      av_channel_layout_default(&in_layout, channels);
    else
      av_channel_layout_copy(&in_layout, &f->ch_layout);
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;  // non-const: FFmpeg 5.1 takes a mutable pointer
    SwrContext* raw = nullptr;
    int status = swr_alloc_set_opts2(&raw, &mono, AV_SAMPLE_FMT_FLT, kWhisperSampleRateHz, &in_layout,
                                     static_cast<AVSampleFormat>(f->format), f->sample_rate, 0, nullptr);
    SwrPtr context(raw);
    av_channel_layout_uninit(&in_layout);
    if (status >= 0 && channels > 1) {
      // A plain average of all channels, as read_wav_file() does; swresample's own downmix would weight
      // them by layout (-3 dB for stereo, LFE dropped).
      std::vector<double> matrix(static_cast<std::size_t>(channels), 1.0 / channels);
      status = swr_set_matrix(context.get(), matrix.data(), channels);
    }
    if (status >= 0) status = swr_init(context.get());
    if (status < 0)
      fail(source, "cannot convert " + std::to_string(channels) + " channels of " +
                       sample_format_name(f->format) + " at " + std::to_string(f->sample_rate) +
                       " Hz to 16 kHz mono (" + av_error_text(status) + "). " + std::string(kConvertHint) +
                       ".");
    swr = std::move(context);
    swr_rate_hz = f->sample_rate;
    swr_format = f->format;
    av_channel_layout_copy(&swr_layout, &f->ch_layout);

    silence.reset(av_frame_alloc());
    if (!silence) throw std::bad_alloc();
    silence->format = f->format;
    silence->nb_samples = kSilenceChunkSamples;
    silence->sample_rate = f->sample_rate;
    if (av_channel_layout_copy(&silence->ch_layout, &f->ch_layout) < 0 ||
        av_frame_get_buffer(silence.get(), 0) < 0)
      throw std::bad_alloc();
    av_samples_set_silence(silence->extended_data, 0, kSilenceChunkSamples, channels,
                           static_cast<AVSampleFormat>(f->format));
  }

  // Takes the frame just decoded: checks it, notices gaps before it, and holds it for the resampler.
  void accept_frame() {
    AVFrame* f = frame.get();
    if ((f->flags & AV_FRAME_FLAG_CORRUPT) || f->decode_error_flags) ++damaged_frames;
    if (f->nb_samples <= 0 || f->sample_rate <= 0 || f->ch_layout.nb_channels <= 0) {
      av_frame_unref(f);
      return;
    }
    if (!matches_resampler(f)) configure_resampler(f);

    const std::int64_t pts = f->best_effort_timestamp;
    if (pts != AV_NOPTS_VALUE) {
      const double pts_s = static_cast<double>(pts) * av_q2d(stream->time_base);
      if (!have_first_pts) {
        // The stream starts where its first frame is: no silence is invented before it.
        have_first_pts = true;
        first_pts_s = pts_s - timeline_s;
      } else {
        const double gap_s = (pts_s - first_pts_s) - timeline_s;
        const bool beyond_end = expected_s > 0 && pts_s - first_pts_s > expected_s + 1.0;
        if (gap_s > kMaxGapS || (gap_s > kMinGapS && beyond_end)) {
          ++ignored_jumps;
        } else if (gap_s > kMinGapS) {
          gap_left = std::llround(gap_s * f->sample_rate);
          ++gap_count;
          gap_total_s += static_cast<double>(gap_left) / f->sample_rate;
        }
      }
      last_frame_end_s = std::max(last_frame_end_s,
                                  pts_s - first_pts_s + static_cast<double>(f->nb_samples) / f->sample_rate);
    }
    frame_held = true;
  }

  // Makes more resampled samples; false once everything is out.
  bool produce() {
    const std::int64_t before = produced_samples;
    while (!done) {
      if (gap_left > 0) {
        const int count = static_cast<int>(std::min<std::int64_t>(gap_left, kSilenceChunkSamples));
        convert(const_cast<const std::uint8_t**>(silence->extended_data), count);
        gap_left -= count;
        timeline_s += static_cast<double>(count) / swr_rate_hz;
      } else if (frame_held) {
        AVFrame* f = frame.get();
        convert(const_cast<const std::uint8_t**>(f->extended_data), f->nb_samples);
        timeline_s += static_cast<double>(f->nb_samples) / f->sample_rate;
        av_frame_unref(f);
        frame_held = false;
      } else {
        step_decoder();
      }
      if (produced_samples > before) return true;
    }
    return produced_samples > before;
  }

  // One step of the send-packet / receive-frame loop.
  void step_decoder() {
    t_last_ffmpeg_error.clear();
    const int received = avcodec_receive_frame(codec.get(), frame.get());
    if (received == 0) {
      stalls = 0;
      accept_frame();
      return;
    }
    if (received == AVERROR_EOF) {
      drain_resampler();
      done = true;
      return;
    }
    // A decoding error belongs to a packet already sent: count it and move on to the next packet
    // rather than asking again, so a decoder stuck on an error cannot loop forever.
    if (received != AVERROR(EAGAIN)) note_damage(received);
    if (flush_sent) {
      if (++stalls > kMaxStalls) finish_with_stall();
      return;
    }

    if (!packet_held) {
      const int status = av_read_frame(format.get(), packet.get());
      if (status == AVERROR(EAGAIN)) {
        if (++stalls > kMaxStalls) finish_with_stall();
        return;
      }
      if (status < 0) {
        // Like the ffmpeg tool, any read error ends the input: what was read still gets decoded.
        if (status != AVERROR_EOF)
          read_error = "reading stopped at " + format_seconds(position_s()) + " (" +
                       describe_failure(status) + "); the rest of the file could not be read";
        avcodec_send_packet(codec.get(), nullptr);
        flush_sent = true;
        return;
      }
      if (packet->stream_index != stream->index) {
        av_packet_unref(packet.get());
        return;
      }
    }
    t_last_ffmpeg_error.clear();
    const int sent = avcodec_send_packet(codec.get(), packet.get());
    if (sent == AVERROR(EAGAIN)) {  // frames to take out first; the packet waits
      packet_held = true;
      if (++stalls > kMaxStalls) finish_with_stall();
      return;
    }
    packet_held = false;
    av_packet_unref(packet.get());
    if (sent < 0 && sent != AVERROR_EOF) note_damage(sent);
  }

  void finish_with_stall() {
    if (read_error.empty())
      read_error =
          "decoding stalled at " + format_seconds(position_s()) + "; the rest of the file was skipped";
    drain_resampler();
    done = true;
  }

  DecodeReport report() const {
    DecodeReport r;
    r.decoded_s = static_cast<double>(output_samples) / kWhisperSampleRateHz;
    r.expected_s = expected_s;
    if (damaged_packets > 0)
      r.warnings.push_back(std::to_string(damaged_packets) + " damaged packet" +
                           (damaged_packets == 1 ? "" : "s") + " skipped (the first " + first_damage +
                           "); the audio there is missing or garbled");
    if (damaged_frames > 0)
      r.warnings.push_back(std::to_string(damaged_frames) + " decoded frame" +
                           (damaged_frames == 1 ? " was" : "s were") + " flagged as damaged by the decoder");
    if (gap_count > 0)
      r.warnings.push_back(format_seconds(gap_total_s) + " of silence inserted for " +
                           std::to_string(gap_count) + " gap" + (gap_count == 1 ? "" : "s") +
                           " in the timestamps (lost or damaged data), so later times stay right");
    if (ignored_jumps > 0)
      r.warnings.push_back(std::to_string(ignored_jumps) + " implausible timestamp jump" +
                           (ignored_jumps == 1 ? "" : "s") + " ignored (damaged timestamps?)");
    if (!read_error.empty()) r.warnings.push_back(read_error);
    if (done && expected_s > 0) {
      const double tolerance_s = expected_is_estimate
                                     ? kTruncationToleranceS + kEstimateToleranceFraction * expected_s
                                     : kTruncationToleranceS + kTruncationToleranceFraction * expected_s;
      const std::string announced = expected_is_estimate ? " estimated" : " announced";
      // Audio lost inside the file rather than at its end: frames with timestamps near the announced
      // end, or damage well before the end of what was decoded.
      const bool lost_inside = last_frame_end_s >= expected_s - tolerance_s ||
                               (first_damage_s >= 0 && first_damage_s < r.decoded_s - kDamageNearEndS);
      if (r.decoded_s < expected_s - tolerance_s) {
        const std::string amount = format_seconds(r.decoded_s) + " of the " + format_seconds(expected_s) +
                                   announced + " could be decoded";
        r.warnings.push_back(
            lost_inside ? "only " + amount + " (damaged data was skipped; the file may also be truncated)"
                        : "the file ends early: " + amount + " (truncated or damaged file?)");
      }
    }
    return r;
  }
};

AudioFileDecoder::AudioFileDecoder() = default;
AudioFileDecoder::AudioFileDecoder(const fs::path& path, int stream_index) {
  open(path, stream_index);
}
AudioFileDecoder::~AudioFileDecoder() = default;
AudioFileDecoder::AudioFileDecoder(AudioFileDecoder&&) noexcept = default;
AudioFileDecoder& AudioFileDecoder::operator=(AudioFileDecoder&&) noexcept = default;

bool AudioFileDecoder::is_open() const {
  return impl_ != nullptr;
}

void AudioFileDecoder::close() {
  impl_.reset();
}

void AudioFileDecoder::open(const fs::path& path, int stream_index) {
  impl_.reset();
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->source = path.string();
  const std::string& source = impl->source;
  impl->format = open_container(path, source);
  AVFormatContext* context = impl->format.get();

  const std::vector<AudioStreamInfo> streams = audio_streams(context);
  if (streams.empty()) fail_no_audio(context, source);
  if (stream_index < 0) {
    stream_index = streams.front().index;
  } else if (stream_index >= static_cast<int>(context->nb_streams)) {
    fail(source, "has no stream " + std::to_string(stream_index) + "; its audio streams are " +
                     describe_audio_streams(streams) + ". Pass one of those numbers.");
  } else if (context->streams[stream_index]->codecpar->codec_type != AVMEDIA_TYPE_AUDIO) {
    fail(source, "stream " + std::to_string(stream_index) + " is " +
                     describe_stream_kind(context->streams[stream_index]) +
                     ", not audio; its audio streams are " + describe_audio_streams(streams) +
                     ". Pass one of those numbers.");
  }
  AVStream* stream = context->streams[stream_index];
  impl->stream = stream;
  impl->info = stream_info(stream);
  // The demuxer skips the other streams' packets (video) instead of handing them to us.
  for (unsigned i = 0; i < context->nb_streams; ++i)
    context->streams[i]->discard = static_cast<int>(i) == stream_index ? AVDISCARD_DEFAULT : AVDISCARD_ALL;

  impl->expected_s = impl->info.duration_s > 0 ? impl->info.duration_s : container_duration_s(context);
  impl->expected_is_estimate = context->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE;

  const AVCodec* decoder = avcodec_find_decoder(stream->codecpar->codec_id);
  if (decoder == nullptr)
    fail(source, "no decoder for its " + impl->info.codec_name + " audio (stream " +
                     std::to_string(stream_index) +
                     ") in this FFmpeg build. Install an FFmpeg with that codec, or " +
                     std::string(kConvertHint) + " on a machine that has one.");
  impl->codec.reset(avcodec_alloc_context3(decoder));
  if (!impl->codec) throw std::bad_alloc();
  t_last_ffmpeg_error.clear();
  int status = avcodec_parameters_to_context(impl->codec.get(), stream->codecpar);
  // Decoders need the packet time base to drop encoder priming (Opus pre-skip, AAC) at the right place.
  impl->codec->pkt_timebase = stream->time_base;
  if (status >= 0) status = avcodec_open2(impl->codec.get(), decoder, nullptr);
  if (status < 0)
    fail(source, "cannot start the " + impl->info.codec_name + " decoder for stream " +
                     std::to_string(stream_index) + " (" + describe_failure(status) +
                     "). The stream is damaged or unsupported; " + std::string(kConvertHint) + ".");
  impl->packet.reset(av_packet_alloc());
  impl->frame.reset(av_frame_alloc());
  if (!impl->packet || !impl->frame) throw std::bad_alloc();
  impl_ = std::move(impl);
}

std::size_t AudioFileDecoder::read(std::vector<float>& out, std::size_t max_samples) {
  if (!impl_) throw Error("AudioFileDecoder::read: no file is open; call open() first");
  Impl& d = *impl_;
  std::size_t given = 0;
  while (given < max_samples) {
    if (d.pending_pos == d.pending.size()) {
      d.pending.clear();  // keeps its capacity: one frame's worth
      d.pending_pos = 0;
      if (!d.produce()) break;
      continue;
    }
    const std::size_t count = std::min(d.pending.size() - d.pending_pos, max_samples - given);
    const auto begin = d.pending.begin() + static_cast<std::ptrdiff_t>(d.pending_pos);
    out.insert(out.end(), begin, begin + static_cast<std::ptrdiff_t>(count));
    d.pending_pos += count;
    given += count;
  }
  d.output_samples += static_cast<std::int64_t>(given);
  if (given == 0 && max_samples > 0 && d.done && d.output_samples == 0) {
    std::string why;
    const DecodeReport report = d.report();
    for (const std::string& warning : report.warnings) why += "; " + warning;
    fail(d.source, "no audio could be decoded from stream " + std::to_string(d.info.index) + " (" +
                       d.info.codec_name + ")" + why + ". The file is empty or damaged; re-export it.");
  }
  return given;
}

const AudioStreamInfo& AudioFileDecoder::stream() const {
  if (!impl_) throw Error("AudioFileDecoder::stream: no file is open; call open() first");
  return impl_->info;
}

const fs::path& AudioFileDecoder::path() const {
  if (!impl_) throw Error("AudioFileDecoder::path: no file is open; call open() first");
  return impl_->path;
}

DecodeReport AudioFileDecoder::report() const {
  if (!impl_) return {};
  return impl_->report();
}

MonoAudio load_audio_file(const fs::path& path, int stream_index, DecodeReport* report) {
  AudioFileDecoder decoder(path, stream_index);
  MonoAudio audio;
  const double expected_s = decoder.report().expected_s;
  if (expected_s > 0 && expected_s < 24 * 3600.0)  // a hint only: a wrong duration costs a reallocation
    audio.samples.reserve(static_cast<std::size_t>(expected_s * kWhisperSampleRateHz) + kWhisperSampleRateHz);
  constexpr std::size_t kReadSamples = std::size_t{1} << 16;
  while (decoder.read(audio.samples, kReadSamples) > 0) {
  }
  if (report != nullptr) *report = decoder.report();
  return audio;
}

}  // namespace npuscribe
