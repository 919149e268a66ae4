#include "dsp/streaming_log_mel.h"

#include <algorithm>
#include <climits>
#include <string>
#include <utility>

#include "util/error.h"

namespace npuscribe {
namespace {

constexpr std::int64_t kReflectPadSamples = kWhisperFftSize / 2;  // 200, as in log_mel.cpp
constexpr std::int64_t kTailPadSamples = 16000 * 30;              // whisper.cpp's 30 s of zeros
constexpr float kLogFloor = -10.0f;                               // raw value of a silent frame
// 256 KiB per segment: above glibc's mmap threshold, so each freed segment goes straight back to the system
// while finish() copies the rows out (16 KiB segments stayed in the heap and doubled the peak).
constexpr int kSegmentFrames = 65536;
// A big push is processed in slices, which bounds the tail and the block buffer (80 x 2048 x 4 B) while
// leaving 128 blocks of 16 frames per slice for the threads.
constexpr std::size_t kSliceSamples = std::size_t{2048} * kWhisperHopLength;

// Frame f covers padded samples [160 f, 160 f + 400), i.e. signal samples up to 160 f + 199, and frames 0
// and 1 also read the reflected x[1..200]. So with n samples known, frames 0 .. (n - 200) / 160 are final
// once n >= 201; the others wait for more samples or for finish().
int frames_ready(std::int64_t n_samples) {
  if (n_samples <= kReflectPadSamples) return 0;
  return static_cast<int>((n_samples - kReflectPadSamples) / kWhisperHopLength + 1);
}

// The first signal sample any frame from `frame` on reads (the reflection of frames 0 and 1 starts at x[1]).
std::int64_t first_sample_needed(int frame) {
  return std::max<std::int64_t>(0, static_cast<std::int64_t>(frame) * kWhisperHopLength - kReflectPadSamples);
}

void check_length(std::int64_t n_samples, int n_mels) {
  // The same limit and message as LogMelSpectrogram::compute(), raised before the memory is spent.
  if ((n_samples + kTailPadSamples) / kWhisperHopLength > INT_MAX / n_mels)
    throw Error("audio too long for one mel spectrogram (" + std::to_string(n_samples) + " samples)");
}

}  // namespace

StreamingLogMel::StreamingLogMel(MelFilterBank filters)
    : spectrogram_(std::make_unique<LogMelSpectrogram>(std::move(filters))),
      n_mels_(spectrogram_->filters().n_mels) {
  reset();
}

StreamingLogMel::~StreamingLogMel() = default;
StreamingLogMel::StreamingLogMel(StreamingLogMel&&) noexcept = default;
StreamingLogMel& StreamingLogMel::operator=(StreamingLogMel&&) noexcept = default;

void StreamingLogMel::reset() {
  tail_.clear();
  tail_base_ = 0;
  n_samples_ = 0;
  n_raw_frames_ = 0;
  raw_max_ = kLogFloor;
  rows_.clear();  // not assign(): the segment lists are move-only
  rows_.resize(static_cast<std::size_t>(n_mels_));
  block_.clear();
  block_.shrink_to_fit();
}

void StreamingLogMel::push(std::span<const float> samples) {
  check_length(n_samples_ + static_cast<std::int64_t>(samples.size()), n_mels_);
  while (!samples.empty()) {
    const std::size_t count = std::min(samples.size(), kSliceSamples);
    tail_.insert(tail_.end(), samples.begin(), samples.begin() + count);
    n_samples_ += static_cast<std::int64_t>(count);
    samples = samples.subspan(count);

    const int ready = frames_ready(n_samples_);
    if (ready > n_raw_frames_) compute_frames(n_raw_frames_, ready - n_raw_frames_);
    // Drop the samples no later frame reads: the tail stays below 400 + one slice.
    const std::int64_t keep_from = first_sample_needed(n_raw_frames_);
    if (keep_from > tail_base_) {
      tail_.erase(tail_.begin(), tail_.begin() + (keep_from - tail_base_));
      tail_base_ = keep_from;
    }
  }
}

void StreamingLogMel::compute_frames(int first_frame, int frame_count) {
  block_.resize(static_cast<std::size_t>(n_mels_) * frame_count);
  // n_samples_ is the length known so far: in push() the frames computed read no sample beyond it, and
  // in finish() it is the final length, past which compute() reads zeros too.
  const float max_value =
      spectrogram_->compute_raw_frames(tail_.data(), tail_base_, n_samples_, first_frame, frame_count,
                                       block_.data(), static_cast<std::size_t>(frame_count));
  raw_max_ = std::max(raw_max_, max_value);
  store_frames(block_.data(), frame_count);
}

void StreamingLogMel::store_frames(const float* raw, int frame_count) {
  for (int m = 0; m < n_mels_; ++m) {
    auto& segments = rows_[static_cast<std::size_t>(m)];
    const float* src = raw + static_cast<std::size_t>(m) * frame_count;
    int frame = n_raw_frames_;
    for (int left = frame_count; left > 0;) {
      const int offset = frame % kSegmentFrames;
      if (offset == 0) segments.push_back(std::make_unique_for_overwrite<float[]>(kSegmentFrames));
      const int count = std::min(left, kSegmentFrames - offset);
      std::copy_n(src, count, segments.back().get() + offset);
      src += count;
      frame += count;
      left -= count;
    }
  }
  n_raw_frames_ += frame_count;
}

LogMel StreamingLogMel::finish() {
  const std::int64_t n_samples = n_samples_;
  check_length(n_samples, n_mels_);
  LogMel mel;
  mel.n_mels = n_mels_;
  mel.n_frames = static_cast<int>((n_samples + kTailPadSamples) / kWhisperHopLength);
  // As in compute(): C++ division truncates toward zero, like whisper.cpp's int64 arithmetic.
  mel.n_frames_with_audio = static_cast<int>(
      std::max<std::int64_t>(0, 1 + (n_samples + kReflectPadSamples - kWhisperFftSize) / kWhisperHopLength));

  // The frames that overlap the end of the signal (or its start, for a short one) are computed now with
  // the zeros after it; the ones after those are all zeros: raw -10, no FFT, exactly as in compute().
  const int fft_frames = static_cast<int>(std::min<std::int64_t>(
      mel.n_frames, (kReflectPadSamples + n_samples + kWhisperHopLength - 1) / kWhisperHopLength));
  if (fft_frames > n_raw_frames_) compute_frames(n_raw_frames_, fft_frames - n_raw_frames_);
  tail_.clear();
  tail_.shrink_to_fit();
  block_.clear();
  block_.shrink_to_fit();

  const LogMelSpectrogram::Scaling scaling = LogMelSpectrogram::scaling_for(raw_max_);
  // Each raw segment is freed as soon as it is copied, which lets the allocator reuse it.
  mel.values.reserve(static_cast<std::size_t>(n_mels_) * mel.n_frames);
  for (int m = 0; m < n_mels_; ++m) {
    auto& segments = rows_[static_cast<std::size_t>(m)];
    int frames_left = fft_frames;
    for (auto& segment : segments) {
      const int count = std::min(frames_left, kSegmentFrames);
      const std::size_t at = mel.values.size();
      mel.values.insert(mel.values.end(), segment.get(), segment.get() + count);
      LogMelSpectrogram::scale_values(mel.values.data() + at, count, scaling.threshold);
      segment.reset();
      frames_left -= count;
    }
    segments.clear();
    segments.shrink_to_fit();
    mel.values.insert(mel.values.end(), static_cast<std::size_t>(mel.n_frames - fft_frames),
                      scaling.padding_value);
  }
  reset();
  return mel;
}

}  // namespace npuscribe
