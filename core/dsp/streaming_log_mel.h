// Whisper's log-mel spectrogram computed while the audio arrives, so that a long file never has to sit in
// memory as PCM: push() turns every complete 400-sample frame into its raw log10 mel column at once and
// keeps only the last few hundred samples; finish() applies whisper.cpp's global steps (the 30 s of zero
// padding, clamp to max - 8, (v + 4) / 4) and returns exactly what LogMelSpectrogram::compute() returns
// for all the samples at once, bit for bit, with the same filters.
//
// Memory: the raw columns are kept, n_mels x 100 frames/s x 4 bytes: 80 mels x 360 000 frames = 115 MB
// per hour of audio, half of the 230 MB the same hour takes as 16 kHz float PCM. They are stored per mel
// row in fixed segments (no reallocation copies while growing, at most one partly filled segment per row).
// finish() copies them into the result (the same size plus 3000 padding frames) and frees each segment
// once copied; whether the allocator returns those pages at once is up to it, so count on up to twice
// the raw size for the moment of finish().
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "dsp/log_mel.h"

namespace npuscribe {

class StreamingLogMel {
 public:
  // Validates the filters as LogMelSpectrogram does (throws npuscribe::Error).
  explicit StreamingLogMel(MelFilterBank filters);
  ~StreamingLogMel();
  StreamingLogMel(StreamingLogMel&&) noexcept;
  StreamingLogMel& operator=(StreamingLogMel&&) noexcept;

  // Appends 16 kHz mono samples, any count (0 is fine) per call. Frames whose samples are all known are
  // computed now, in parallel when there are several (thread count from npuscribe::thread_count()).
  // Throws npuscribe::Error once the audio gets too long for one spectrogram (about 74 h with 80 mels).
  void push(std::span<const float> samples);

  // The spectrogram of everything pushed since construction or the previous finish(), identical to
  // LogMelSpectrogram::compute(all samples). Leaves the object empty, ready for another stream.
  LogMel finish();

  // Discards everything pushed so far.
  void reset();

  std::int64_t sample_count() const { return n_samples_; }  // pushed since the last finish()/reset()
  int frames_computed() const { return n_raw_frames_; }     // raw columns held so far

  const MelFilterBank& filters() const { return spectrogram_->filters(); }

 private:
  void compute_frames(int first_frame, int frame_count);
  void store_frames(const float* raw, int frame_count);

  std::unique_ptr<LogMelSpectrogram> spectrogram_;  // the shared frame code, FFT plan and filters
  int n_mels_ = 0;
  std::vector<float> tail_;  // signal samples x[tail_base_ .. n_samples_) still needed by later frames
  std::int64_t tail_base_ = 0;
  std::int64_t n_samples_ = 0;
  int n_raw_frames_ = 0;
  float raw_max_ = 0;  // maximum raw value so far (at least -10)
  // rows_[mel][segment] holds raw values of frames [segment * kSegmentFrames, +kSegmentFrames).
  std::vector<std::vector<std::unique_ptr<float[]>>> rows_;
  std::vector<float> block_;  // [n_mels][frames] output of one compute_frames() call
};

}  // namespace npuscribe
