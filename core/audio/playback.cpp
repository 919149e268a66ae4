#include "audio/playback.h"

#include <portaudio.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "audio/capture.h"
#include "audio/portaudio_session.h"
#include "audio/ring_buffer.h"
#include "util/error.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>
}

namespace npuscribe {

namespace {
struct SwrDeleter {
  void operator()(SwrContext* context) const { swr_free(&context); }
};
}  // namespace

struct AudioPlayer::Impl {
  std::vector<float> samples;  // 16 kHz mono, the whole audio given to play()
  std::size_t start_sample = 0;
  double start_s = 0.0;
  int device_rate_hz = kWhisperSampleRateHz;
  int channels = 1;
  PaStream* stream = nullptr;
  std::unique_ptr<SwrContext, SwrDeleter> swr;
  std::unique_ptr<SpscFloatRing> ring;
  std::atomic<std::int64_t> frames_played{0};
  std::atomic<bool> feeder_done{false};
  std::atomic<bool> finished{true};
  std::atomic<bool> stop_feeder{false};
  std::thread feeder;

  static int callback(const void*, void* output, unsigned long frames, const PaStreamCallbackTimeInfo*,
                      PaStreamCallbackFlags, void* user) {
    auto* self = static_cast<Impl*>(user);
    auto* out = static_cast<float*>(output);
    const std::size_t wanted = frames * static_cast<std::size_t>(self->channels);
    // Read the "done" flag before the ring: samples written before it was set are then seen below.
    const bool done = self->feeder_done.load(std::memory_order_acquire);
    const std::size_t got = self->ring->read({out, wanted});
    std::fill(out + got, out + wanted, 0.0f);
    self->frames_played.fetch_add(static_cast<std::int64_t>(got / static_cast<std::size_t>(self->channels)),
                                  std::memory_order_relaxed);
    return done && got < wanted ? paComplete : paContinue;
  }
  static void stream_finished(void* user) { static_cast<Impl*>(user)->finished.store(true); }

  // Converts the audio ahead of the callback, keeping the ring about half full.
  void feed() {
    constexpr std::size_t kChunk = 1024;  // 64 ms at 16 kHz
    std::vector<float> converted, interleaved;
    std::size_t next = start_sample;
    bool flushed = false;
    while (!stop_feeder.load()) {
      const std::size_t free_samples = ring->capacity() - ring->available();
      const std::size_t in_frames = std::min(kChunk, samples.size() - next);
      // Room for the chunk after conversion (rate ratio up to 48k/16k = 3, plus the resampler's delay).
      const std::size_t needed = (in_frames * 4 + 256) * static_cast<std::size_t>(channels);
      if (free_samples < needed) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      std::span<const float> mono;
      if (swr) {
        if (in_frames == 0 && flushed) break;
        const int capacity = swr_get_out_samples(swr.get(), static_cast<int>(in_frames)) + 64;
        converted.resize(static_cast<std::size_t>(capacity));
        auto* out_plane = reinterpret_cast<std::uint8_t*>(converted.data());
        const auto* in_plane = reinterpret_cast<const std::uint8_t*>(samples.data() + next);
        const int produced = swr_convert(swr.get(), &out_plane, capacity, in_frames ? &in_plane : nullptr,
                                         static_cast<int>(in_frames));
        if (in_frames == 0) flushed = true;
        mono = {converted.data(), static_cast<std::size_t>(std::max(0, produced))};
      } else {
        if (in_frames == 0) break;
        mono = {samples.data() + next, in_frames};
      }
      next += in_frames;
      interleaved.resize(mono.size() * static_cast<std::size_t>(channels));
      for (std::size_t i = 0; i < mono.size(); ++i)
        for (int c = 0; c < channels; ++c) interleaved[i * channels + c] = mono[i];
      ring->write(interleaved);
    }
    feeder_done.store(true, std::memory_order_release);
  }

  void close_stream() {
    stop_feeder = true;
    if (feeder.joinable()) feeder.join();
    if (stream) {
      std::lock_guard lock(portaudio_mutex());
      Pa_AbortStream(stream);
      Pa_CloseStream(stream);
      stream = nullptr;
      portaudio_stream_closed();
    }
    finished = true;
  }
};

AudioPlayer::AudioPlayer() : impl_(std::make_unique<Impl>()) {}

AudioPlayer::~AudioPlayer() {
  stop();
}

void AudioPlayer::play(const MonoAudio& audio, double start_s, const std::string& device_name) {
  if (audio.sample_rate_hz != kWhisperSampleRateHz)
    throw Error("playback expects 16 kHz audio, got " + std::to_string(audio.sample_rate_hz) + " Hz");
  play(std::span<const float>(audio.samples), start_s, device_name);
}

void AudioPlayer::play(std::span<const float> samples_16k, double start_s, const std::string& device_name) {
  stop();
  Impl& d = *impl_;
  d.samples.assign(samples_16k.begin(), samples_16k.end());
  const double duration = static_cast<double>(d.samples.size()) / kWhisperSampleRateHz;
  d.start_s = std::clamp(std::isfinite(start_s) ? start_s : 0.0, 0.0, duration);
  d.start_sample =
      std::min(d.samples.size(), static_cast<std::size_t>(std::llround(d.start_s * kWhisperSampleRateHz)));

  std::lock_guard lock(portaudio_mutex());
  portaudio_ensure_initialized(false);
  PaDeviceIndex index = paNoDevice;
  if (device_name.empty()) {
    index = Pa_GetDefaultOutputDevice();
    if (index == paNoDevice)
      throw Error(
          "no audio output device was found; connect speakers or headphones, or check that the "
          "sound server (PulseAudio / PipeWire) is running");
  } else {
    for (int i = 0; i < Pa_GetDeviceCount(); ++i) {
      const PaDeviceInfo* info = Pa_GetDeviceInfo(i);
      if (info && info->maxOutputChannels > 0 && info->name && device_name == info->name) index = i;
    }
    if (index == paNoDevice)
      throw Error("the audio output device \"" + device_name +
                  "\" is not available; choose another output device");
  }
  const PaDeviceInfo* info = Pa_GetDeviceInfo(index);
  if (!info || info->maxOutputChannels <= 0)
    throw Error("the default audio output device cannot play audio; check the sound settings");
  const std::string name = info->name ? info->name : "";
  PaStreamParameters output{};
  output.device = index;
  output.channelCount = std::clamp(info->maxOutputChannels, 1, 2);
  output.sampleFormat = paFloat32;
  // Low latency: a click should be heard at once, and PortAudio primes a high-latency buffer with
  // silence that would hold the position still for its length.
  output.suggestedLatency = std::max(0.1, info->defaultLowOutputLatency);
  // Play at 16 kHz when the device (or its ALSA plugin) takes it; else at its own rate, resampled here.
  int rate_hz = kWhisperSampleRateHz;
  if (Pa_IsFormatSupported(nullptr, &output, rate_hz) != paFormatIsSupported)
    rate_hz = static_cast<int>(std::lround(info->defaultSampleRate > 0 ? info->defaultSampleRate : 48000.0));
  d.swr.reset();
  if (rate_hz != kWhisperSampleRateHz) {
    SwrContext* raw = nullptr;
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    if (swr_alloc_set_opts2(&raw, &mono, AV_SAMPLE_FMT_FLT, rate_hz, &mono, AV_SAMPLE_FMT_FLT,
                            kWhisperSampleRateHz, 0, nullptr) < 0 ||
        swr_init(raw) < 0) {
      swr_free(&raw);
      throw Error("cannot convert 16 kHz audio to the output device's " + std::to_string(rate_hz) + " Hz");
    }
    d.swr.reset(raw);
  }
  d.device_rate_hz = rate_hz;
  d.channels = output.channelCount;
  d.ring = std::make_unique<SpscFloatRing>(static_cast<std::size_t>(rate_hz) * d.channels);  // 1 s
  d.frames_played = 0;
  d.feeder_done = false;
  d.stop_feeder = false;
  d.finished = false;
  PaError status = Pa_OpenStream(&d.stream, nullptr, &output, rate_hz,
                                 static_cast<unsigned long>(rate_hz / 100), paNoFlag, &Impl::callback, &d);
  if (status == paNoError) {
    portaudio_stream_opened();
    Pa_SetStreamFinishedCallback(d.stream, &Impl::stream_finished);
    d.feeder = std::thread([&d] { d.feed(); });
    // Let the feeder fill some of the ring before the device starts pulling.
    for (int i = 0; i < 100 && d.ring->available() < d.ring->capacity() / 4 && !d.feeder_done.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    status = Pa_StartStream(d.stream);
    if (status != paNoError) {
      d.stop_feeder = true;
      d.feeder.join();
      Pa_CloseStream(d.stream);
      portaudio_stream_closed();
    }
  }
  if (status != paNoError) {
    d.stream = nullptr;
    d.finished = true;
    throw Error("cannot open the audio output device \"" + name + "\": " + Pa_GetErrorText(status) +
                "; check the sound settings or choose another output device");
  }
}

void AudioPlayer::stop() {
  impl_->close_stream();
}

bool AudioPlayer::is_playing() const {
  return impl_->stream && !impl_->finished.load();
}

double AudioPlayer::position_s() const {
  const Impl& d = *impl_;
  const double played_s = static_cast<double>(d.frames_played.load()) / d.device_rate_hz;
  return std::min(d.start_s + played_s, duration_s());
}

double AudioPlayer::duration_s() const {
  return static_cast<double>(impl_->samples.size()) / kWhisperSampleRateHz;
}

}  // namespace npuscribe
