// Word-level timestamps: token-to-audio alignment from the decoder's cross-attention (the alignment
// heads), standardised, median-filtered and aligned with dynamic time warping, as OpenAI Whisper's
// timing.py and whisper.cpp's DTW timestamps do.
#pragma once

#include <span>
#include <utility>
#include <vector>

#include "engine/decoder.h"
#include "engine/tokenizer.h"
#include "engine/transcript.h"

namespace npuscribe {

// (decoder layer, head) pairs that track the audio position: whisper.cpp's per-model presets for the
// official shapes, else every head of the top half of the decoder layers.
std::vector<std::pair<int, int>> alignment_heads(const WhisperHparams& hparams);

struct DtwPath {
  std::vector<int> rows;     // text index per step
  std::vector<int> columns;  // time index per step
};
// Minimum-cost monotonic path through cost[rows][cols] from (0,0) to (rows-1, cols-1).
DtwPath dynamic_time_warping(std::span<const float> cost, int rows, int cols);

// Median filter of odd width along each row, reflecting at the edges (scipy/OpenAI "reflect" padding).
void median_filter_rows(std::vector<float>& values, int rows, int cols, int width);

// Groups text tokens into words: at spaces and punctuation, or per character for languages written
// without spaces (zh, ja, th, lo, my, yue). Returns token index ranges [begin, end).
// A word never spans an index in forced_breaks (segment starts).
std::vector<std::pair<int, int>> split_words(const Tokenizer& tokenizer, std::span<const int> text_tokens,
                                             bool split_on_characters,
                                             std::span<const int> forced_breaks = {});

// Aligns the text tokens of one window (timestamps removed) with its audio: content_frames is the number
// of mel frames with audio in this window (<= 3000); times are offset by window_start_s. Words never
// cross the token indices in segment_starts. Returns the words with the index of their first token, and
// fills each token's start/end in `tokens` (same order as text_tokens).
struct AlignedWord {
  WordTiming timing;
  int first_token = 0;
};
std::vector<AlignedWord> align_words(const Decoder& decoder, const Tokenizer& tokenizer,
                                     const CrossAttentionKv& cross, std::span<const int> sot_sequence,
                                     std::span<const int> text_tokens, int content_frames,
                                     double window_start_s, bool split_on_characters,
                                     std::span<const int> segment_starts, std::vector<TokenTiming>* tokens);

}  // namespace npuscribe
