#include "engine/alignment.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>

namespace npuscribe {

namespace {
constexpr int kMedianFilterWidth = 7;
constexpr double kSecondsPerAudioFrame = 0.02;  // encoder frames: 1500 per 30 s

struct HeadPreset {
  int n_state, n_text_layer;
  bool multilingual;
  int n_mels;
  std::vector<std::pair<int, int>> heads;
};

const std::vector<HeadPreset>& head_presets() {
  // whisper.cpp's alignment-head tables (from OpenAI's released models). large-v1 and large-v2 share a
  // shape; v2's heads are used for both (v2 is the large model people run).
  static const std::vector<HeadPreset> presets = {
      {384, 4, false, 80, {{1, 0}, {2, 0}, {2, 5}, {3, 0}, {3, 1}, {3, 2}, {3, 3}, {3, 4}}},
      {384, 4, true, 80, {{2, 2}, {3, 0}, {3, 2}, {3, 3}, {3, 4}, {3, 5}}},
      {512, 6, false, 80, {{3, 3}, {4, 7}, {5, 1}, {5, 5}, {5, 7}}},
      {512, 6, true, 80, {{3, 1}, {4, 2}, {4, 3}, {4, 7}, {5, 1}, {5, 2}, {5, 4}, {5, 6}}},
      {768,
       12,
       false,
       80,
       {{6, 6},
        {7, 0},
        {7, 3},
        {7, 8},
        {8, 2},
        {8, 5},
        {8, 7},
        {9, 0},
        {9, 4},
        {9, 8},
        {9, 10},
        {10, 0},
        {10, 1},
        {10, 2},
        {10, 3},
        {10, 6},
        {10, 11},
        {11, 2},
        {11, 4}}},
      {768, 12, true, 80, {{5, 3}, {5, 9}, {8, 0}, {8, 4}, {8, 7}, {8, 8}, {9, 0}, {9, 7}, {9, 9}, {10, 5}}},
      {1024,
       24,
       false,
       80,
       {{11, 4},
        {14, 1},
        {14, 12},
        {14, 14},
        {15, 4},
        {16, 0},
        {16, 4},
        {16, 9},
        {17, 12},
        {17, 14},
        {18, 7},
        {18, 10},
        {18, 15},
        {20, 0},
        {20, 3},
        {20, 9},
        {20, 14},
        {21, 12}}},
      {1024, 24, true, 80, {{13, 15}, {15, 4}, {15, 15}, {16, 1}, {20, 0}, {23, 4}}},
      {1280, 32, true, 80, {{10, 12}, {13, 17}, {16, 11}, {16, 12}, {16, 13}, {17, 15}, {17, 16}, {18, 4},
                            {18, 11}, {18, 19}, {19, 11}, {21, 2},  {21, 3},  {22, 3},  {22, 9},  {22, 12},
                            {23, 5},  {23, 7},  {23, 13}, {25, 5},  {26, 1},  {26, 12}, {27, 15}}},
      {1280,
       32,
       true,
       128,
       {{7, 0}, {10, 17}, {12, 18}, {13, 12}, {16, 1}, {17, 14}, {19, 11}, {21, 4}, {24, 1}, {25, 6}}},
      {1280, 4, true, 128, {{2, 4}, {2, 11}, {3, 3}, {3, 6}, {3, 11}, {3, 14}}},
  };
  return presets;
}

// Whole UTF-8 pieces from consecutive tokens: a character split across tokens stays in one piece.
std::vector<std::pair<int, int>> unicode_pieces(const Tokenizer& tokenizer, std::span<const int> tokens) {
  std::vector<std::pair<int, int>> pieces;
  int begin = 0;
  Utf8Assembler assembler;
  for (int i = 0; i < static_cast<int>(tokens.size()); ++i) {
    assembler.push(tokenizer.token_bytes(tokens[static_cast<std::size_t>(i)]));
    std::string tail = assembler.finish();  // empty when the bytes so far are whole characters
    if (tail.empty()) {
      pieces.emplace_back(begin, i + 1);
      begin = i + 1;
    } else {
      // finish() dropped the incomplete tail; push the piece's bytes again to keep accumulating.
      for (int j = begin; j <= i; ++j)
        assembler.push(tokenizer.token_bytes(tokens[static_cast<std::size_t>(j)]));
    }
  }
  if (begin < static_cast<int>(tokens.size())) pieces.emplace_back(begin, static_cast<int>(tokens.size()));
  return pieces;
}

std::string piece_text(const Tokenizer& tokenizer, std::span<const int> tokens, std::pair<int, int> piece) {
  std::string text;
  for (int i = piece.first; i < piece.second; ++i)
    text += tokenizer.token_bytes(tokens[static_cast<std::size_t>(i)]);
  return text;
}

bool is_punctuation(const std::string& text) {
  std::string stripped = text;
  stripped.erase(0, stripped.find_first_not_of(' '));
  if (stripped.size() != 1) return false;
  return std::ispunct(static_cast<unsigned char>(stripped[0])) != 0;
}

}  // namespace

std::vector<std::pair<int, int>> alignment_heads(const WhisperHparams& h) {
  for (const HeadPreset& preset : head_presets()) {
    if (preset.n_state == h.n_text_state && preset.n_text_layer == h.n_text_layer &&
        preset.multilingual == h.is_multilingual() && preset.n_mels == h.n_mels) {
      return preset.heads;
    }
  }
  std::vector<std::pair<int, int>> heads;
  for (int layer = h.n_text_layer / 2; layer < h.n_text_layer; ++layer)
    for (int head = 0; head < h.n_text_head; ++head) heads.emplace_back(layer, head);
  return heads;
}

DtwPath dynamic_time_warping(std::span<const float> cost, int rows, int cols) {
  const std::size_t stride = static_cast<std::size_t>(cols) + 1;
  std::vector<double> total((static_cast<std::size_t>(rows) + 1) * stride,
                            std::numeric_limits<double>::infinity());
  std::vector<signed char> trace(total.size(), -1);
  total[0] = 0.0;
  for (int j = 1; j <= cols; ++j) {
    for (int i = 1; i <= rows; ++i) {
      const double diagonal = total[(i - 1) * stride + (j - 1)];
      const double up = total[(i - 1) * stride + j];
      const double left = total[i * stride + (j - 1)];
      double best;
      signed char step;
      if (diagonal < up && diagonal < left) {
        best = diagonal, step = 0;
      } else if (up < diagonal && up < left) {
        best = up, step = 1;
      } else {
        best = left, step = 2;
      }
      total[i * stride + j] = cost[static_cast<std::size_t>(i - 1) * cols + (j - 1)] + best;
      trace[i * stride + j] = step;
    }
  }
  for (int j = 0; j <= cols; ++j) trace[j] = 2;
  for (int i = 0; i <= rows; ++i) trace[i * stride] = 1;
  DtwPath path;
  int i = rows, j = cols;
  while (i > 0 || j > 0) {
    path.rows.push_back(i - 1);
    path.columns.push_back(j - 1);
    const signed char step = trace[i * stride + j];
    if (step == 0) {
      --i, --j;
    } else if (step == 1) {
      --i;
    } else {
      --j;
    }
  }
  std::reverse(path.rows.begin(), path.rows.end());
  std::reverse(path.columns.begin(), path.columns.end());
  return path;
}

void median_filter_rows(std::vector<float>& values, int rows, int cols, int width) {
  const int half = width / 2;
  if (cols <= half) return;  // reflection needs more columns than the half width (OpenAI skips it too)
  std::vector<float> row_copy(static_cast<std::size_t>(cols)), window(static_cast<std::size_t>(width));
  for (int r = 0; r < rows; ++r) {
    float* row = values.data() + static_cast<std::size_t>(r) * cols;
    std::copy(row, row + cols, row_copy.begin());
    for (int c = 0; c < cols; ++c) {
      for (int k = -half; k <= half; ++k) {
        int source = c + k;
        if (source < 0) source = -source;  // reflect without repeating the edge
        if (source >= cols) source = 2 * (cols - 1) - source;
        window[static_cast<std::size_t>(k + half)] = row_copy[static_cast<std::size_t>(source)];
      }
      std::nth_element(window.begin(), window.begin() + half, window.end());
      row[c] = window[static_cast<std::size_t>(half)];
    }
  }
}

std::vector<std::pair<int, int>> split_words(const Tokenizer& tokenizer, std::span<const int> text_tokens,
                                             bool split_on_characters, std::span<const int> forced_breaks) {
  // Pieces are whole characters; a piece never straddles a forced break (segments hold whole tokens).
  std::vector<std::pair<int, int>> pieces;
  int begin = 0;
  for (int end : forced_breaks) {
    if (end <= begin || end > static_cast<int>(text_tokens.size())) continue;
    for (auto [b, e] : unicode_pieces(tokenizer, text_tokens.subspan(static_cast<std::size_t>(begin),
                                                                     static_cast<std::size_t>(end - begin))))
      pieces.emplace_back(b + begin, e + begin);
    begin = end;
  }
  for (auto [b, e] : unicode_pieces(tokenizer, text_tokens.subspan(static_cast<std::size_t>(begin))))
    pieces.emplace_back(b + begin, e + begin);
  if (split_on_characters) return pieces;
  auto is_forced_break = [&](int index) {
    return std::find(forced_breaks.begin(), forced_breaks.end(), index) != forced_breaks.end();
  };
  std::vector<std::pair<int, int>> words;
  for (const auto& piece : pieces) {
    const std::string text = piece_text(tokenizer, text_tokens, piece);
    const bool special = tokenizer.is_special(text_tokens[static_cast<std::size_t>(piece.first)]);
    const bool starts_word = words.empty() || special || (!text.empty() && text[0] == ' ') ||
                             is_punctuation(text) || is_forced_break(piece.first);
    if (starts_word) {
      words.push_back(piece);
    } else {
      words.back().second = piece.second;
    }
  }
  return words;
}

std::vector<AlignedWord> align_words(const Decoder& decoder, const Tokenizer& tokenizer,
                                     const CrossAttentionKv& cross, std::span<const int> sot_sequence,
                                     std::span<const int> text_tokens, int content_frames,
                                     double window_start_s, bool split_on_characters,
                                     std::span<const int> segment_starts, std::vector<TokenTiming>* tokens) {
  if (text_tokens.empty()) return {};
  const WhisperHparams& h = decoder.model().hparams();
  const SpecialTokens& special = tokenizer.special();
  // [sot sequence..., notimestamps, text..., eot] in one pass, recording the alignment heads.
  std::vector<int> sequence(sot_sequence.begin(), sot_sequence.end());
  if (sequence.empty() || sequence.back() != special.notimestamps) sequence.push_back(special.notimestamps);
  const int first_text_row = static_cast<int>(sequence.size());
  sequence.insert(sequence.end(), text_tokens.begin(), text_tokens.end());
  sequence.push_back(special.eot);
  if (static_cast<int>(sequence.size()) > h.n_text_ctx) return {};

  CrossAttentionCapture capture;
  capture.heads = alignment_heads(h);
  SelfAttentionCache cache = decoder.new_cache();
  std::vector<int> rows;
  for (int r = first_text_row - 1; r < first_text_row - 1 + static_cast<int>(text_tokens.size()); ++r)
    rows.push_back(r);
  std::vector<float> logits;
  const DecodeSequence pass{sequence, &cache};
  decoder.decode_batch(std::span<const DecodeSequence>(&pass, 1), cross, rows, logits, &capture);

  // Probability of each text token where it was predicted (text tokens only, as OpenAI does).
  const std::size_t n_vocab = static_cast<std::size_t>(h.n_vocab);
  std::vector<float> token_probabilities(text_tokens.size());
  for (std::size_t i = 0; i < text_tokens.size(); ++i) {
    std::span<const float> row(logits.data() + i * n_vocab, static_cast<std::size_t>(special.eot));
    const float max_value = *std::max_element(row.begin(), row.end());
    double sum = 0;
    for (float v : row) sum += std::exp(static_cast<double>(v - max_value));
    token_probabilities[i] = static_cast<float>(
        std::exp(static_cast<double>(row[static_cast<std::size_t>(text_tokens[i])] - max_value)) / sum);
  }

  // Attention of each head over the content frames: softmax over time, standardise over tokens, median
  // filter over time; average the heads. Rows: notimestamps + text tokens (what predicts each text token).
  const int n_frames = std::clamp(content_frames / 2, 1, cross.n_audio_ctx);
  const int n_rows = static_cast<int>(text_tokens.size()) + 1;
  const int total_rows = static_cast<int>(sequence.size());
  std::vector<float> matrix(static_cast<std::size_t>(n_rows) * n_frames, 0.0f);
  std::vector<float> weights(static_cast<std::size_t>(total_rows) * n_frames);
  for (const std::vector<float>& scores : capture.scores) {
    for (int r = 0; r < total_rows; ++r) {
      const float* source = scores.data() + static_cast<std::size_t>(r) * cross.n_audio_ctx;
      float* row = weights.data() + static_cast<std::size_t>(r) * n_frames;
      const float max_value = *std::max_element(source, source + n_frames);
      double sum = 0;
      for (int t = 0; t < n_frames; ++t) sum += row[t] = std::exp(source[t] - max_value);
      for (int t = 0; t < n_frames; ++t) row[t] = static_cast<float>(row[t] / sum);
    }
    for (int t = 0; t < n_frames; ++t) {
      double mean = 0, sum_sq = 0;
      for (int r = 0; r < total_rows; ++r) mean += weights[static_cast<std::size_t>(r) * n_frames + t];
      mean /= total_rows;
      for (int r = 0; r < total_rows; ++r) {
        const double d = weights[static_cast<std::size_t>(r) * n_frames + t] - mean;
        sum_sq += d * d;
      }
      const double std_dev = std::sqrt(sum_sq / total_rows);
      for (int r = 0; r < total_rows; ++r) {
        float& w = weights[static_cast<std::size_t>(r) * n_frames + t];
        w = static_cast<float>(std_dev > 0 ? (w - mean) / std_dev : 0.0);
      }
    }
    median_filter_rows(weights, total_rows, n_frames, kMedianFilterWidth);
    for (int r = 0; r < n_rows; ++r) {
      const float* source = weights.data() + static_cast<std::size_t>(first_text_row - 1 + r) * n_frames;
      float* destination = matrix.data() + static_cast<std::size_t>(r) * n_frames;
      for (int t = 0; t < n_frames; ++t)
        destination[t] += source[t] / static_cast<float>(capture.scores.size());
    }
  }
  for (float& v : matrix) v = -v;
  const DtwPath path = dynamic_time_warping(matrix, n_rows, n_frames);

  // Times where the path moves to a new token row.
  std::vector<double> jump_times_s;
  for (std::size_t k = 0; k < path.rows.size(); ++k) {
    if (k == 0 || path.rows[k] != path.rows[k - 1])
      jump_times_s.push_back(window_start_s + path.columns[k] * kSecondsPerAudioFrame);
  }
  jump_times_s.resize(static_cast<std::size_t>(n_rows),
                      jump_times_s.empty() ? window_start_s : jump_times_s.back());

  if (tokens) {
    tokens->resize(text_tokens.size());
    for (std::size_t i = 0; i < text_tokens.size(); ++i) {
      (*tokens)[i].start_s = jump_times_s[i];
      (*tokens)[i].end_s = jump_times_s[i + 1];
    }
  }
  std::vector<AlignedWord> words;
  for (const auto& [begin, end] : split_words(tokenizer, text_tokens, split_on_characters, segment_starts)) {
    AlignedWord aligned;
    aligned.first_token = begin;
    WordTiming& word = aligned.timing;
    word.text = piece_text(tokenizer, text_tokens, {begin, end});
    word.start_s = jump_times_s[static_cast<std::size_t>(begin)];
    word.end_s = jump_times_s[static_cast<std::size_t>(end)];
    double probability = 0;
    for (int i = begin; i < end; ++i) probability += token_probabilities[static_cast<std::size_t>(i)];
    word.probability = static_cast<float>(probability / (end - begin));
    words.push_back(std::move(aligned));
  }
  // Punctuation belongs to its neighbour: opening marks to the next word, closing marks to the previous,
  // never across a segment start.
  static const std::string kOpening = "\"'([{-";
  static const std::string kClosing = "\"'.,!?:)]}";
  auto same_segment = [&](const AlignedWord& a, const AlignedWord& b) {
    for (int start : segment_starts)
      if (a.first_token < start && b.first_token >= start) return false;
    return true;
  };
  std::vector<AlignedWord> merged;
  for (std::size_t i = 0; i < words.size(); ++i) {
    std::string stripped = words[i].timing.text;
    stripped.erase(0, stripped.find_first_not_of(' '));
    const bool single_mark = stripped.size() == 1;
    if (single_mark && kClosing.find(stripped[0]) != std::string::npos && !merged.empty() &&
        same_segment(merged.back(), words[i])) {
      merged.back().timing.text += words[i].timing.text;
      merged.back().timing.end_s = words[i].timing.end_s;
      continue;
    }
    if (single_mark && kOpening.find(stripped[0]) != std::string::npos && i + 1 < words.size() &&
        same_segment(words[i], words[i + 1])) {
      words[i + 1].timing.text = words[i].timing.text + words[i + 1].timing.text;
      words[i + 1].timing.start_s = words[i].timing.start_s;
      words[i + 1].first_token = words[i].first_token;
      continue;
    }
    merged.push_back(words[i]);
  }
  return merged;
}

}  // namespace npuscribe
