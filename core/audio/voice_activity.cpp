#include "audio/voice_activity.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

#include "util/error.h"
#include "webrtc/modules/audio_processing/include/audio_processing.h"
#include "webrtc/modules/interface/module_common_types.h"

namespace npuscribe {

namespace {

constexpr int kSampleRateHz = 16000;
constexpr int kFftSize = 256;  // one 10-ms frame (160 samples), Hann-windowed, zero-padded
constexpr int kBins = kFftSize / 2 + 1;
constexpr double kBinHz = static_cast<double>(kSampleRateHz) / kFftSize;
constexpr int kSpeechLowBin = static_cast<int>(250.0 / kBinHz);
constexpr int kSpeechHighBin = static_cast<int>(4000.0 / kBinHz);

// Twiddle tables for a direct DFT of the 129 bins: 160 x 129 multiply-adds per frame is negligible next
// to the engine, and keeps this free of FFT plan handling (FFTW planning is not thread-safe).
struct DftTables {
  std::array<float, VoiceActivityDetector::kFrameSamples> window{};
  std::vector<float> cos_table, sin_table;  // [bin][sample]
  DftTables() : cos_table(kBins * VoiceActivityDetector::kFrameSamples), sin_table(cos_table.size()) {
    const int n = VoiceActivityDetector::kFrameSamples;
    for (int i = 0; i < n; ++i)
      window[i] = static_cast<float>(0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / n));
    for (int k = 0; k < kBins; ++k)
      for (int i = 0; i < n; ++i) {
        const double angle = 2.0 * std::numbers::pi * k * i / kFftSize;
        cos_table[k * n + i] = static_cast<float>(std::cos(angle));
        sin_table[k * n + i] = static_cast<float>(std::sin(angle));
      }
  }
};

const DftTables& dft_tables() {
  static const DftTables tables;
  return tables;
}

webrtc::VoiceDetection::Likelihood to_likelihood(int likelihood) {
  switch (std::clamp(likelihood, 0, 3)) {
    case 0:
      return webrtc::VoiceDetection::kVeryLowLikelihood;
    case 1:
      return webrtc::VoiceDetection::kLowLikelihood;
    case 2:
      return webrtc::VoiceDetection::kModerateLikelihood;
    default:
      return webrtc::VoiceDetection::kHighLikelihood;
  }
}

}  // namespace

VoiceActivitySettings voice_activity_settings(int sensitivity) {
  VoiceActivitySettings settings;
  switch (std::clamp(sensitivity, 0, 3)) {
    case 0:
      settings.likelihood = 3;
      settings.energy_floor_dbfs = -58;
      settings.min_speech_band_fraction = 0.2;
      settings.max_spectral_flatness = 0.5;
      settings.onset_frames = 3;
      settings.hangover_frames = 40;
      break;
    case 1:
      settings.likelihood = 2;
      settings.energy_floor_dbfs = -50;
      settings.min_speech_band_fraction = 0.3;
      settings.max_spectral_flatness = 0.47;
      settings.onset_frames = 3;
      settings.hangover_frames = 30;
      break;
    case 2:
      settings.likelihood = 1;
      settings.energy_floor_dbfs = -45;
      settings.min_speech_band_fraction = 0.4;
      settings.max_spectral_flatness = 0.42;
      settings.onset_frames = 4;
      settings.hangover_frames = 25;
      break;
    default:
      settings.likelihood = 0;
      settings.energy_floor_dbfs = -40;
      settings.min_speech_band_fraction = 0.5;
      settings.max_spectral_flatness = 0.35;
      settings.onset_frames = 5;
      settings.hangover_frames = 20;
      break;
  }
  return settings;
}

struct VoiceActivityDetector::Impl {
  std::unique_ptr<webrtc::AudioProcessing> apm;
  webrtc::AudioFrame frame;
  std::array<double, kBins> smoothed_power{};
  bool has_smoothed = false;
};

VoiceActivityDetector::VoiceActivityDetector(int sensitivity) : impl_(std::make_unique<Impl>()) {
  impl_->apm.reset(webrtc::AudioProcessing::Create());
  if (!impl_->apm)
    throw Error("could not create the WebRTC voice detector; reinstall libwebrtc-audio-processing");
  impl_->apm->voice_detection()->Enable(true);
  impl_->apm->voice_detection()->set_frame_size_ms(10);
  set_sensitivity(sensitivity);
  reset();
}

VoiceActivityDetector::~VoiceActivityDetector() = default;

void VoiceActivityDetector::set_sensitivity(int sensitivity) {
  sensitivity_ = std::clamp(sensitivity, 0, 3);
  settings_ = voice_activity_settings(sensitivity_);
  impl_->apm->voice_detection()->set_likelihood(to_likelihood(settings_.likelihood));
  recent_.assign(settings_.onset_window_frames, false);
  recent_pos_ = 0;
}

void VoiceActivityDetector::reset() {
  pending_.clear();
  recent_.assign(settings_.onset_window_frames, false);
  recent_pos_ = 0;
  unvoiced_run_ = 0;
  in_speech_ = false;
  frames_ = voiced_frames_ = speech_frames_ = 0;
  speech_start_frame_ = -1;
  impl_->has_smoothed = false;
  impl_->apm->Initialize();
}

void VoiceActivityDetector::push(std::span<const float> samples) {
  std::size_t offset = 0;
  if (!pending_.empty()) {
    const std::size_t take = std::min<std::size_t>(kFrameSamples - pending_.size(), samples.size());
    pending_.insert(pending_.end(), samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(take));
    offset = take;
    if (pending_.size() < static_cast<std::size_t>(kFrameSamples)) return;
    judge_frame(pending_);
    pending_.clear();
  }
  while (samples.size() - offset >= static_cast<std::size_t>(kFrameSamples)) {
    judge_frame(samples.subspan(offset, kFrameSamples));
    offset += kFrameSamples;
  }
  pending_.assign(samples.begin() + static_cast<std::ptrdiff_t>(offset), samples.end());
}

bool VoiceActivityDetector::judge_frame(std::span<const float> frame) {
  // WebRTC's detector on 16-bit samples.
  webrtc::AudioFrame& audio = impl_->frame;
  audio.sample_rate_hz_ = kSampleRateHz;
  audio.num_channels_ = 1;
  audio.samples_per_channel_ = kFrameSamples;
  double sum_sq = 0.0;
  for (int i = 0; i < kFrameSamples; ++i) {
    const float s = std::clamp(frame[i], -1.0f, 1.0f);
    sum_sq += static_cast<double>(s) * s;
    audio.data_[i] = static_cast<std::int16_t>(std::lround(s * 32767.0f));
  }
  impl_->apm->ProcessStream(&audio);
  const bool webrtc_voice = impl_->apm->voice_detection()->stream_has_voice();

  const double rms = std::sqrt(sum_sq / kFrameSamples);
  const double rms_dbfs = rms > 0 ? 20.0 * std::log10(rms) : -120.0;

  // Spectrum, smoothed over a few frames so a single noisy periodogram does not look tonal.
  const DftTables& tables = dft_tables();
  std::array<float, kFrameSamples> windowed{};
  for (int i = 0; i < kFrameSamples; ++i) windowed[i] = frame[i] * tables.window[i];
  for (int k = 0; k < kBins; ++k) {
    const float* c = &tables.cos_table[k * kFrameSamples];
    const float* s = &tables.sin_table[k * kFrameSamples];
    float re = 0.0f, im = 0.0f;
    for (int i = 0; i < kFrameSamples; ++i) {
      re += windowed[i] * c[i];
      im += windowed[i] * s[i];
    }
    const double power = static_cast<double>(re) * re + static_cast<double>(im) * im + 1e-12;
    impl_->smoothed_power[k] = impl_->has_smoothed ? 0.5 * impl_->smoothed_power[k] + 0.5 * power : power;
  }
  impl_->has_smoothed = true;
  double total = 0.0, band = 0.0, log_sum = 0.0;
  for (int k = 1; k < kBins; ++k) total += impl_->smoothed_power[k];
  for (int k = kSpeechLowBin; k <= kSpeechHighBin; ++k) {
    band += impl_->smoothed_power[k];
    log_sum += std::log(impl_->smoothed_power[k]);
  }
  const int band_bins = kSpeechHighBin - kSpeechLowBin + 1;
  const double band_fraction = total > 0 ? band / total : 0.0;
  const double flatness = band > 0 ? std::exp(log_sum / band_bins) / (band / band_bins) : 1.0;

  const bool voiced = webrtc_voice && rms_dbfs >= settings_.energy_floor_dbfs &&
                      band_fraction >= settings_.min_speech_band_fraction &&
                      flatness <= settings_.max_spectral_flatness;

  ++frames_;
  if (voiced) ++voiced_frames_;
  recent_[recent_pos_] = voiced;
  recent_pos_ = (recent_pos_ + 1) % static_cast<int>(recent_.size());
  const int recent_voiced = static_cast<int>(std::count(recent_.begin(), recent_.end(), true));
  if (!in_speech_) {
    if (recent_voiced >= settings_.onset_frames) {
      in_speech_ = true;
      unvoiced_run_ = 0;
      // Speech began at the first voiced frame of the onset window.
      speech_start_frame_ = frames_ - settings_.onset_window_frames;
      for (int i = 0; i < settings_.onset_window_frames; ++i) {
        if (recent_[(recent_pos_ + i) % recent_.size()]) break;
        ++speech_start_frame_;
      }
      speech_start_frame_ = std::max<std::int64_t>(speech_start_frame_, 0);
    }
  } else if (voiced) {
    unvoiced_run_ = 0;
  } else if (++unvoiced_run_ > settings_.hangover_frames) {
    in_speech_ = false;
  }
  if (in_speech_) ++speech_frames_;
  return voiced;
}

}  // namespace npuscribe
