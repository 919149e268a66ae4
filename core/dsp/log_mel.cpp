#include "dsp/log_mel.h"

#include <fftw3.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "util/error.h"
#include "util/parallel.h"

namespace npuscribe {
namespace {

constexpr int kFftBins = kWhisperFftSize / 2 + 1;                 // 201: bin 0 .. Nyquist
constexpr std::int64_t kReflectPadSamples = kWhisperFftSize / 2;  // 200, centres frame 0 on sample 0
constexpr std::int64_t kTailPadSamples = 16000 * 30;              // whisper.cpp appends 30 s of zeros
constexpr int kBlockFrames = 16;  // frames per work item: vector width for the mel and log loops

// whisper.cpp takes log10(max(power, 1e-10)); a frame of zeros lands exactly here.
constexpr float kLogFloor = -10.0f;
constexpr float kPowerFloor = 1e-10f;
constexpr std::int32_t kPowerFloorBits = std::bit_cast<std::int32_t>(kPowerFloor);

// The FFTW planner is not thread-safe: serialise our plan creation and destruction.
std::mutex& fftw_planner_mutex() {
  static std::mutex mutex;
  return mutex;
}

// log10 for x >= 1e-10 (normal floats), written so that a fixed-length loop over it vectorises.
// ln(m) for m in [sqrt(1/2), sqrt(2)) via the atanh series in t = (m-1)/(m+1), |t| <= 0.172: the first
// omitted term is 2 t^11 / 11 < 1e-9, far below float rounding. Result error is about 1e-6 absolute.
inline float log10_normal(float x) {
  constexpr std::uint32_t kSqrtHalfBits = 0x3f3504f3;
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  const std::uint32_t shifted = bits - kSqrtHalfBits;
  const int exponent = static_cast<std::int32_t>(shifted) >> 23;  // arithmetic shift: floor
  const float mantissa = std::bit_cast<float>(bits - (shifted & 0xff800000u));
  const float t = (mantissa - 1.0f) / (mantissa + 1.0f);
  const float t2 = t * t;
  const float series = 1.0f + t2 * (1.0f / 3 + t2 * (1.0f / 5 + t2 * (1.0f / 7 + t2 * (1.0f / 9))));
  const float ln_mantissa = 2.0f * t * series;
  constexpr float kLog10Of2 = 0.30102999566398120f;
  constexpr float kLog10OfE = 0.43429448190325183f;
  return static_cast<float>(exponent) * kLog10Of2 + ln_mantissa * kLog10OfE;
}

struct FftwFloatDeleter {
  void operator()(void* p) const { fftwf_free(p); }
};
template <typename T>
using FftwBuffer = std::unique_ptr<T[], FftwFloatDeleter>;

template <typename T>
FftwBuffer<T> fftw_alloc(std::size_t count) {
  FftwBuffer<T> buffer(static_cast<T*>(fftwf_malloc(sizeof(T) * count)));
  if (!buffer) throw std::bad_alloc();
  return buffer;
}

}  // namespace

struct LogMelSpectrogram::Impl {
  // Per-thread work buffers. All come from fftwf_malloc, like the planning buffers, so they share the
  // SIMD alignment that fftwf_execute_dft_r2c requires of new arrays.
  struct Scratch {
    FftwBuffer<float> frame = fftw_alloc<float>(kWhisperFftSize);  // windowed samples
    FftwBuffer<fftwf_complex> spectrum = fftw_alloc<fftwf_complex>(kFftBins);
    FftwBuffer<float> power = fftw_alloc<float>(kFftBins * kBlockFrames);  // [bin][frame in block]
  };

  // A run of consecutive frames to compute and where their results go.
  struct Job {
    const float* samples;      // signal sample x[sample_base]
    std::int64_t sample_base;  // 0 for compute(); StreamingLogMel keeps only a tail of the signal
    std::int64_t n_samples;    // x[i] for i >= n_samples is 0
    int first_frame;           // frames first_frame .. first_frame + frame_count - 1
    int frame_count;
    float* out;  // [n_mels][stride], column 0 = first_frame
    std::size_t stride;
  };

  fftwf_plan plan = nullptr;
  float hann[kWhisperFftSize];
  const float* weights = nullptr;  // [n_mels][kFftBins], owned by filters_
  int n_mels = 0;
  // Each mel filter is a narrow triangle: only bins [bin_begin, bin_end) are non-zero. Skipping the
  // zeros is exact (power is finite, so 0 * power adds exactly 0) and saves ~97% of the projection.
  std::vector<int> bin_begin;
  std::vector<int> bin_end;
  std::vector<Scratch> scratch;  // grown on demand in compute(), one per OpenMP thread

  ~Impl() {
    if (!plan) return;
    std::lock_guard lock(fftw_planner_mutex());
    fftwf_destroy_plan(plan);
  }

  void ensure_scratch(int threads) {
    while (static_cast<int>(scratch.size()) < threads) scratch.emplace_back();
  }

  // Fills frame with the Hann-windowed padded signal starting at padded position start. The padded
  // signal is 200 reflected samples (x[200] .. x[1]), the signal, then zeros; samples a short signal
  // lacks count as 0, so nothing outside [sample_base, n_samples) is read.
  void window_frame(const Job& job, std::int64_t start, float* frame) const {
    if (start >= kReflectPadSamples && start + kWhisperFftSize <= kReflectPadSamples + job.n_samples) {
      const float* src = job.samples + (start - kReflectPadSamples - job.sample_base);
#pragma omp simd
      for (int j = 0; j < kWhisperFftSize; ++j) frame[j] = hann[j] * src[j];
      return;
    }
    for (int j = 0; j < kWhisperFftSize; ++j) {
      const std::int64_t p = start + j;
      const std::int64_t index = p < kReflectPadSamples ? kReflectPadSamples - p : p - kReflectPadSamples;
      frame[j] = index < job.n_samples ? hann[j] * job.samples[index - job.sample_base] : 0.0f;
    }
  }

  // log10(max(mel power, 1e-10)) of the job's frames [16 block, 16 block + 16) into job.out; returns their
  // maximum. Every frame goes through the same instructions wherever its block runs and whichever lane
  // it takes, so the result depends neither on the thread count nor on how frames are grouped in jobs.
  float log_mel_block(const Job& job, int block, Scratch& s) const {
    const int first_frame = block * kBlockFrames;  // relative to job.first_frame
    const int frames_here = std::min(kBlockFrames, job.frame_count - first_frame);

    for (int f = 0; f < kBlockFrames; ++f) {
      float* power = s.power.get() + f;
      if (f >= frames_here) {  // past the last frame: zero power, results are not stored
        for (int k = 0; k < kFftBins; ++k) power[k * kBlockFrames] = 0.0f;
        continue;
      }
      window_frame(job, static_cast<std::int64_t>(job.first_frame + first_frame + f) * kWhisperHopLength,
                   s.frame.get());
      fftwf_execute_dft_r2c(plan, s.frame.get(), s.spectrum.get());
      const fftwf_complex* spectrum = s.spectrum.get();
      // Strided stores into [bin][frame]: measured faster than a contiguous pass plus a transpose.
      for (int k = 0; k < kFftBins; ++k)
        power[k * kBlockFrames] = spectrum[k][0] * spectrum[k][0] + spectrum[k][1] * spectrum[k][1];
    }

    const float* power = s.power.get();
    // Lanes past the last frame have zero power and hold kLogFloor, which cannot raise the maximum.
    float lane_max[kBlockFrames];
    std::fill_n(lane_max, kBlockFrames, kLogFloor);
    for (int m = 0; m < n_mels; ++m) {
      float sum[kBlockFrames] = {};
      const float* w = weights + static_cast<std::size_t>(m) * kFftBins;
      for (int k = bin_begin[m]; k < bin_end[m]; ++k) {
        const float weight = w[k];
        const float* p = power + k * kBlockFrames;
#pragma omp simd
        for (int f = 0; f < kBlockFrames; ++f) sum[f] += weight * p[f];
      }
      // Clamping through the int bits (monotonic for floats >= 0) and selecting the exact floor in a
      // second loop keeps both loops branch-free, so they vectorise even under -ftrapping-math, which
      // forbids if-converting the division inside log10_normal.
      float value[kBlockFrames];
#pragma omp simd
      for (int f = 0; f < kBlockFrames; ++f)
        value[f] = log10_normal(
            std::bit_cast<float>(std::max(std::bit_cast<std::int32_t>(sum[f]), kPowerFloorBits)));
#pragma omp simd
      for (int f = 0; f < kBlockFrames; ++f) value[f] = sum[f] > kPowerFloor ? value[f] : kLogFloor;
#pragma omp simd
      for (int f = 0; f < kBlockFrames; ++f) lane_max[f] = value[f] > lane_max[f] ? value[f] : lane_max[f];
      std::copy_n(value, frames_here, job.out + m * job.stride + first_frame);
    }
    return *std::max_element(lane_max, lane_max + kBlockFrames);
  }
};

LogMelSpectrogram::LogMelSpectrogram(MelFilterBank filters) : filters_(std::move(filters)), impl_(nullptr) {
  if (filters_.n_fft_bins != kFftBins)
    throw Error("mel filter bank has " + std::to_string(filters_.n_fft_bins) + " frequency bins, expected " +
                std::to_string(kFftBins) +
                " (Whisper's 400-point FFT): the model file is corrupt or not Whisper");
  if (filters_.n_mels <= 0 || filters_.n_mels > 1024)
    throw Error("mel filter bank has " + std::to_string(filters_.n_mels) +
                " mel bands, expected 80 or 128: the model file is corrupt");
  const std::size_t expected = static_cast<std::size_t>(filters_.n_mels) * kFftBins;
  if (filters_.weights.size() != expected)
    throw Error("mel filter bank holds " + std::to_string(filters_.weights.size()) + " weights, expected " +
                std::to_string(filters_.n_mels) + " x " + std::to_string(kFftBins) + " = " +
                std::to_string(expected) + ": the model file is corrupt");

  auto impl = std::make_unique<Impl>();
  // Periodic Hann, evaluated in double and rounded once, as whisper.cpp does.
  for (int n = 0; n < kWhisperFftSize; ++n)
    impl->hann[n] = static_cast<float>(0.5 * (1.0 - std::cos(2.0 * std::numbers::pi * n / kWhisperFftSize)));

  impl->weights = filters_.weights.data();
  impl->n_mels = filters_.n_mels;
  impl->bin_begin.assign(filters_.n_mels, 0);
  impl->bin_end.assign(filters_.n_mels, 0);
  for (int mel = 0; mel < filters_.n_mels; ++mel) {
    const float* row = filters_.weights.data() + static_cast<std::size_t>(mel) * kFftBins;
    int begin = 0, end = kFftBins;
    while (begin < end && row[begin] == 0.0f) ++begin;
    while (end > begin && row[end - 1] == 0.0f) --end;
    impl->bin_begin[mel] = begin;
    impl->bin_end[mel] = end;
  }

  {
    // FFTW_ESTIMATE: for n = 400, FFTW_MEASURE (~250 ms of planning) and FFTW_PATIENT found plans no
    // faster (3000 transforms: 1.08 vs 1.10 ms), and ESTIMATE picks the same plan in every process,
    // so results are reproducible from run to run.
    std::lock_guard lock(fftw_planner_mutex());
    auto in = fftw_alloc<float>(kWhisperFftSize);
    auto out = fftw_alloc<fftwf_complex>(kFftBins);
    impl->plan = fftwf_plan_dft_r2c_1d(kWhisperFftSize, in.get(), out.get(), FFTW_ESTIMATE);
  }
  if (!impl->plan) throw Error("FFTW could not plan the 400-point FFT for the mel spectrogram");
  impl->ensure_scratch(thread_count());
  impl_ = impl.release();
}

LogMelSpectrogram::~LogMelSpectrogram() {
  delete impl_;
}

LogMel LogMelSpectrogram::compute(std::span<const float> samples) const {
  const std::int64_t n_samples = static_cast<std::int64_t>(samples.size());
  const std::int64_t n_frames_wide = (n_samples + kTailPadSamples) / kWhisperHopLength;
  if (n_frames_wide > INT_MAX / filters_.n_mels)
    throw Error("audio too long for one mel spectrogram (" + std::to_string(n_samples) + " samples)");

  const int n_mels = filters_.n_mels;
  LogMel mel;
  mel.n_mels = n_mels;
  mel.n_frames = static_cast<int>(n_frames_wide);
  // C++ division truncates toward zero, as in whisper.cpp's int64 arithmetic.
  mel.n_frames_with_audio = static_cast<int>(
      std::max<std::int64_t>(0, 1 + (n_samples + kReflectPadSamples - kWhisperFftSize) / kWhisperHopLength));
  mel.values.resize(static_cast<std::size_t>(n_mels) * mel.n_frames);

  // Frames starting at or past the end of the signal in the padded buffer are all zeros: their power
  // is exactly 0 and their value kLogFloor, no FFT needed. That is about half of a 30 s window.
  const std::int64_t padded_signal_end = kReflectPadSamples + n_samples;
  Impl::Job job;
  job.samples = samples.data();
  job.sample_base = 0;
  job.n_samples = n_samples;
  job.first_frame = 0;
  job.frame_count = static_cast<int>(
      std::min<std::int64_t>(mel.n_frames, (padded_signal_end + kWhisperHopLength - 1) / kWhisperHopLength));
  job.out = mel.values.data();
  job.stride = static_cast<std::size_t>(mel.n_frames);
  const int n_blocks = (job.frame_count + kBlockFrames - 1) / kBlockFrames;
  const int n_frames = mel.n_frames;

  const int threads = std::max(1, thread_count());
  impl_->ensure_scratch(threads);
  const Impl& impl = *impl_;

  float global_max = kLogFloor;  // padding frames (there are always some) hold kLogFloor
  // One parallel region for both passes: each region start wakes the team, which costs milliseconds
  // when the cores are busy with other work. Dynamic scheduling lets a running thread take the blocks
  // of a descheduled one; blocks are fixed, so the result does not depend on who computes them.
#pragma omp parallel num_threads(threads)
  {
    Impl::Scratch& s = impl_->scratch[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 4) reduction(max : global_max)
    for (int block = 0; block < n_blocks; ++block)
      global_max = std::max(global_max, impl.log_mel_block(job, block, s));

    const Scaling scaling = scaling_for(global_max);
#pragma omp for schedule(dynamic, 8)
    for (int m = 0; m < n_mels; ++m) {
      float* row = job.out + m * job.stride;
      scale_values(row, job.frame_count, scaling.threshold);
      std::fill(row + job.frame_count, row + n_frames, scaling.padding_value);
    }
  }
  return mel;
}

float LogMelSpectrogram::compute_raw_frames(const float* samples, std::int64_t sample_base,
                                            std::int64_t n_samples, int first_frame, int frame_count,
                                            float* out, std::size_t stride) const {
  Impl::Job job;
  job.samples = samples;
  job.sample_base = sample_base;
  job.n_samples = n_samples;
  job.first_frame = first_frame;
  job.frame_count = frame_count;
  job.out = out;
  job.stride = stride;
  const int n_blocks = (frame_count + kBlockFrames - 1) / kBlockFrames;

  const int threads = std::max(1, thread_count());
  impl_->ensure_scratch(threads);
  const Impl& impl = *impl_;
  float result = kLogFloor;
  // A single block (a push of a few hundred samples) is not worth waking the team for.
#pragma omp parallel for num_threads(threads) if (n_blocks > 1) schedule(dynamic, 4) reduction(max : result)
  for (int block = 0; block < n_blocks; ++block)
    result = std::max(result, impl.log_mel_block(job, block, impl_->scratch[omp_get_thread_num()]));
  return result;
}

LogMelSpectrogram::Scaling LogMelSpectrogram::scaling_for(float global_max) {
  // whisper.cpp clamps in double: v < max - 8.0 -> (float)(max - 8.0). Rounding the threshold to
  // float once and taking the float max gives the same bits, and (v + 4) / 4 rounds only at v + 4
  // in either precision.
  const float threshold = static_cast<float>(static_cast<double>(global_max) - 8.0);
  return {threshold, (std::max(kLogFloor, threshold) + 4.0f) / 4.0f};
}

void LogMelSpectrogram::scale_values(float* row, int count, float threshold) {
#pragma omp simd
  for (int i = 0; i < count; ++i) row[i] = (std::max(row[i], threshold) + 4.0f) / 4.0f;
}

}  // namespace npuscribe
