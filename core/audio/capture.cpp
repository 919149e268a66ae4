#include "audio/capture.h"

#include <portaudio.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "audio/audio_buffer.h"
#include "audio/portaudio_session.h"
#include "audio/ring_buffer.h"
#include "io/wav_writer.h"
#include "util/error.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>
}

namespace npuscribe {

float amplitude_to_dbfs(double amplitude) {
  if (amplitude <= 1e-6) return -120.0f;
  return static_cast<float>(std::max(-120.0, 20.0 * std::log10(amplitude)));
}

AudioLevel measure_level(std::span<const float> samples) {
  double peak = 0.0, sum_sq = 0.0;
  for (float s : samples) {
    peak = std::max(peak, static_cast<double>(std::abs(s)));
    sum_sq += static_cast<double>(s) * s;
  }
  AudioLevel level;
  level.peak_dbfs = amplitude_to_dbfs(peak);
  level.rms_dbfs = samples.empty() ? -120.0f : amplitude_to_dbfs(std::sqrt(sum_sq / samples.size()));
  return level;
}

namespace {

std::vector<AudioDeviceInfo> list_devices(bool rescan, bool input) {
  std::lock_guard lock(portaudio_mutex());
  portaudio_ensure_initialized(rescan);
  std::vector<AudioDeviceInfo> devices;
  const int count = Pa_GetDeviceCount();
  const PaDeviceIndex default_device = input ? Pa_GetDefaultInputDevice() : Pa_GetDefaultOutputDevice();
  for (int i = 0; i < count; ++i) {
    const PaDeviceInfo* info = Pa_GetDeviceInfo(i);
    if (!info || (input ? info->maxInputChannels : info->maxOutputChannels) <= 0) continue;
    AudioDeviceInfo device;
    device.index = i;
    device.name = info->name ? info->name : "";
    const PaHostApiInfo* api = Pa_GetHostApiInfo(info->hostApi);
    device.host_api = api && api->name ? api->name : "";
    device.max_input_channels = info->maxInputChannels;
    device.max_output_channels = info->maxOutputChannels;
    device.default_sample_rate_hz = info->defaultSampleRate;
    device.is_default = i == default_device;
    devices.push_back(std::move(device));
  }
  return devices;
}

struct SwrDeleter {
  void operator()(SwrContext* context) const { swr_free(&context); }
};

}  // namespace

std::vector<AudioDeviceInfo> list_input_devices(bool rescan) {
  return list_devices(rescan, true);
}
std::vector<AudioDeviceInfo> list_output_devices(bool rescan) {
  return list_devices(rescan, false);
}

struct AudioCapture::Impl {
  AudioCapture* owner = nullptr;
  CaptureOptions options;
  AudioDeviceInfo device;
  PaStream* stream = nullptr;
  int channels = 1;
  int device_rate_hz = 16000;
  std::unique_ptr<SpscFloatRing> ring;
  std::atomic<std::int64_t> last_callback_ns{0};
  std::atomic<std::int64_t> dropped_samples{0};
  std::atomic<std::int64_t> received_frames{0};
  std::atomic<bool> stream_finished{false};
  std::unique_ptr<SwrContext, SwrDeleter> swr;
  std::unique_ptr<WavWriter> wav;
  bool wav_failed = false;
  bool failed = false;  // the device was lost: no more checks, keep what was delivered

  std::thread converter;
  std::mutex mutex;
  std::condition_variable wake;
  bool stop_requested = false;

  SamplesCallback on_samples;
  LevelCallback on_level;
  ErrorCallback on_error;

  std::vector<float> interleaved, mono, resampled, chunk;
  AudioLevel level_peak;
  std::int64_t level_samples = 0;
  double level_sum_sq = 0.0;
  float level_max = 0.0f;

  static std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  static int callback(const void* input, void*, unsigned long frames, const PaStreamCallbackTimeInfo*,
                      PaStreamCallbackFlags, void* user) {
    auto* self = static_cast<Impl*>(user);
    self->last_callback_ns.store(now_ns(), std::memory_order_relaxed);
    if (input) {
      self->received_frames.fetch_add(static_cast<std::int64_t>(frames), std::memory_order_relaxed);
      const std::size_t count = frames * static_cast<std::size_t>(self->channels);
      const std::size_t written = self->ring->write({static_cast<const float*>(input), count});
      if (written < count) self->dropped_samples.fetch_add(static_cast<std::int64_t>(count - written));
    }
    return paContinue;
  }
  static void finished(void* user) { static_cast<Impl*>(user)->stream_finished.store(true); }

  void report(const std::string& message) {
    if (on_error) on_error(message);
  }

  void deliver(std::span<const float> samples16k) {
    if (samples16k.empty()) return;
    if (owner->paused_.load()) return;
    for (float s : samples16k) {
      level_sum_sq += static_cast<double>(s) * s;
      level_max = std::max(level_max, std::abs(s));
    }
    level_samples += static_cast<std::int64_t>(samples16k.size());
    if (level_samples >= kWhisperSampleRateHz / 20) {
      AudioLevel level;
      level.peak_dbfs = amplitude_to_dbfs(level_max);
      level.rms_dbfs = amplitude_to_dbfs(std::sqrt(level_sum_sq / static_cast<double>(level_samples)));
      level_samples = 0;
      level_sum_sq = 0;
      level_max = 0;
      if (on_level) on_level(level);
    }
    if (wav && !wav_failed) {
      try {
        wav->write(samples16k);
      } catch (const Error& e) {
        wav_failed = true;
        report(e.what());
      }
    }
    owner->samples_delivered_.fetch_add(static_cast<std::int64_t>(samples16k.size()));
    if (on_samples) on_samples(samples16k);
  }

  // Moves what the callback wrote through downmix and resampling to the consumer.
  void drain(bool flush) {
    interleaved.resize(4096 * static_cast<std::size_t>(channels));
    for (;;) {
      const std::size_t n = ring->read(interleaved);
      const std::size_t frames = n / static_cast<std::size_t>(channels);
      if (frames == 0) break;
      mono.resize(frames);
      for (std::size_t f = 0; f < frames; ++f) {
        float sum = 0.0f;
        for (int c = 0; c < channels; ++c) sum += interleaved[f * channels + c];
        mono[f] = sum / static_cast<float>(channels);
      }
      resample(mono.data(), static_cast<int>(frames));
      if (n < interleaved.size()) break;
    }
    if (flush) resample(nullptr, 0);
  }

  void resample(const float* in, int frames) {
    if (!swr) {
      if (in) deliver({in, static_cast<std::size_t>(frames)});
      return;
    }
    const int capacity = swr_get_out_samples(swr.get(), frames) + 64;
    resampled.resize(static_cast<std::size_t>(capacity));
    auto* out_plane = reinterpret_cast<std::uint8_t*>(resampled.data());
    const auto* in_plane = reinterpret_cast<const std::uint8_t*>(in);
    const int produced = swr_convert(swr.get(), &out_plane, capacity, in ? &in_plane : nullptr, frames);
    if (produced > 0) deliver({resampled.data(), static_cast<std::size_t>(produced)});
  }

  void run() {
    const auto stall_ns = static_cast<std::int64_t>(options.stall_timeout_s * 1e9);
    std::unique_lock lock(mutex);
    while (!stop_requested) {
      wake.wait_for(lock, std::chrono::milliseconds(10));
      if (stop_requested) break;
      lock.unlock();
      drain(false);
      if (!failed) {
        const bool stalled = now_ns() - last_callback_ns.load() > stall_ns;
        const bool inactive = stream_finished.load() || Pa_IsStreamActive(stream) != 1;
        if (stalled || inactive) {
          failed = true;
          report("the input device \"" + device.name + "\" stopped delivering audio (" +
                 (stalled ? "no audio for " + std::to_string(options.stall_timeout_s).substr(0, 3) + " s"
                          : std::string("the stream ended")) +
                 "); it was probably unplugged or its sound server stopped. Everything recorded so far is "
                 "kept; choose another input device and record again");
        }
      }
      lock.lock();
    }
  }
};

AudioCapture::AudioCapture() : impl_(std::make_unique<Impl>()) {
  impl_->owner = this;
}

AudioCapture::~AudioCapture() {
  stop();
}

void AudioCapture::set_samples_callback(SamplesCallback callback) {
  impl_->on_samples = std::move(callback);
}
void AudioCapture::set_level_callback(LevelCallback callback) {
  impl_->on_level = std::move(callback);
}
void AudioCapture::set_error_callback(ErrorCallback callback) {
  impl_->on_error = std::move(callback);
}
std::int64_t AudioCapture::frames_received() const {
  return impl_->received_frames.load();
}
std::int64_t AudioCapture::frames_dropped() const {
  return impl_->dropped_samples.load() / impl_->channels;
}
int AudioCapture::device_rate_hz() const {
  return impl_->device_rate_hz;
}
const AudioDeviceInfo& AudioCapture::device() const {
  return impl_->device;
}

void AudioCapture::start(const CaptureOptions& options) {
  if (running_.load()) throw Error("the recording is already running; stop it first");
  Impl& d = *impl_;
  d.options = options;
  std::vector<AudioDeviceInfo> devices = list_input_devices(false);
  auto found = std::find_if(devices.begin(), devices.end(), [&](const AudioDeviceInfo& dev) {
    return options.device_name.empty() ? dev.is_default : dev.name == options.device_name;
  });
  if (found == devices.end()) {
    if (options.device_name.empty())
      throw Error("no default audio input device was found; connect a microphone or choose an input device");
    throw Error("the audio input device \"" + options.device_name +
                "\" is not available; refresh the device list and choose another one");
  }
  d.device = *found;
  if (options.channels < 0 || options.channels > d.device.max_input_channels || options.sample_rate_hz < 0)
    throw Error("the audio input device \"" + d.device.name + "\" cannot record " +
                std::to_string(options.channels) + " channels; it has " +
                std::to_string(d.device.max_input_channels));
  d.channels = options.channels > 0 ? options.channels : std::clamp(d.device.max_input_channels, 1, 2);
  d.device_rate_hz =
      options.sample_rate_hz > 0
          ? options.sample_rate_hz
          : static_cast<int>(
                std::lround(d.device.default_sample_rate_hz > 0 ? d.device.default_sample_rate_hz : 48000.0));
  d.ring =
      std::make_unique<SpscFloatRing>(static_cast<std::size_t>(d.device_rate_hz) * d.channels * 4);  // 4 s
  d.swr.reset();
  if (d.device_rate_hz != kWhisperSampleRateHz) {
    SwrContext* raw = nullptr;
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    if (swr_alloc_set_opts2(&raw, &mono, AV_SAMPLE_FMT_FLT, kWhisperSampleRateHz, &mono, AV_SAMPLE_FMT_FLT,
                            d.device_rate_hz, 0, nullptr) < 0 ||
        swr_init(raw) < 0) {
      swr_free(&raw);
      throw Error("cannot convert " + std::to_string(d.device_rate_hz) + " Hz audio to 16 kHz");
    }
    d.swr.reset(raw);
  }
  d.wav.reset();
  d.wav_failed = false;
  if (!options.save_wav_path.empty())
    d.wav = std::make_unique<WavWriter>(options.save_wav_path, kWhisperSampleRateHz);

  d.received_frames = 0;
  d.dropped_samples = 0;
  {
    std::lock_guard lock(portaudio_mutex());
    portaudio_ensure_initialized(false);
    PaStreamParameters input{};
    input.device = d.device.index;
    input.channelCount = d.channels;
    input.sampleFormat = paFloat32;
    const PaDeviceInfo* info = Pa_GetDeviceInfo(d.device.index);
    input.suggestedLatency = info ? info->defaultLowInputLatency : 0.05;
    PaError status =
        Pa_OpenStream(&d.stream, &input, nullptr, d.device_rate_hz,
                      static_cast<unsigned long>(d.device_rate_hz / 100), paNoFlag, &Impl::callback, &d);
    if (status == paNoError) {
      Pa_SetStreamFinishedCallback(d.stream, &Impl::finished);
      portaudio_stream_opened();
      d.stream_finished = false;
      d.last_callback_ns = Impl::now_ns();
      status = Pa_StartStream(d.stream);
      if (status != paNoError) {
        Pa_CloseStream(d.stream);
        d.stream = nullptr;
        portaudio_stream_closed();
      }
    }
    if (status != paNoError) {
      d.stream = nullptr;
      d.wav.reset();
      throw Error("cannot open the audio input device \"" + d.device.name + "\" at " +
                  std::to_string(d.device_rate_hz) + " Hz: " + Pa_GetErrorText(status) +
                  "; choose another input device");
    }
  }
  d.failed = false;
  d.stop_requested = false;
  samples_delivered_ = 0;
  paused_ = false;
  running_ = true;
  d.converter = std::thread([&d] { d.run(); });
}

void AudioCapture::stop() {
  if (!running_.exchange(false)) return;
  Impl& d = *impl_;
  {
    std::lock_guard lock(d.mutex);
    d.stop_requested = true;
  }
  d.wake.notify_all();
  if (d.converter.joinable()) d.converter.join();
  {
    std::lock_guard lock(portaudio_mutex());
    // Abort rather than drain: a vanished device may never finish its last buffer.
    Pa_AbortStream(d.stream);
    Pa_CloseStream(d.stream);
    d.stream = nullptr;
    portaudio_stream_closed();
  }
  d.drain(true);
  if (d.wav) {
    try {
      d.wav->close();
    } catch (const Error& e) {
      d.report(e.what());
    }
    d.wav.reset();
  }
}

void AudioCapture::pause() {
  paused_ = true;
}
void AudioCapture::resume() {
  paused_ = false;
}

}  // namespace npuscribe
