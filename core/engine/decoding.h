// Decoding of one 30-s window, as OpenAI Whisper's DecodingTask does it: the logit filters (token
// suppression and the timestamp rules), greedy / temperature sampling with best-of candidates, and beam
// search with patience, all batched so that candidates share one decoder pass per step.
#pragma once

#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/decoder.h"
#include "engine/tokenizer.h"

namespace npuscribe {

struct DecodingOptions {
  bool translate = false;
  int language_index = 0;  // multilingual models only
  bool timestamps = true;
  float temperature = 0.0f;
  int beam_size = 0;       // > 1: beam search (temperature 0 only)
  float patience = 1.0f;   // beam search stops after round(beam_size * patience) finished candidates
  int best_of = 1;         // candidates sampled at temperature > 0
  int max_new_tokens = 0;  // 0: n_text_ctx / 2 (Whisper's sample_len)
  bool suppress_blank = true;
  bool suppress_non_speech = true;
  double max_initial_timestamp_s = 1.0;
  std::vector<int> previous_tokens;  // text to condition on (previous window, or the user's prompt)
};

struct DecodingResult {
  std::vector<int> tokens;                 // sampled tokens, timestamps included, end-of-text excluded
  std::vector<float> token_probabilities;  // one per token
  double sum_logprob = 0.0;                // end-of-text included, as OpenAI Whisper counts it
  double avg_logprob = 0.0;                // sum_logprob / (tokens + 1)
  double no_speech_probability = 0.0;
  double compression_ratio = 0.0;
  float temperature = 0.0f;
  std::string text;  // text tokens only
};

// [sot, language, task] (multilingual) or [sot], plus notimestamps when timestamps are off.
std::vector<int> sot_sequence(const Tokenizer& tokenizer, const DecodingOptions& options);

// [prev, last (n_text_ctx/2 - 1) previous tokens...] + sot sequence. *sot_index receives sot's position.
std::vector<int> decoder_prompt(const Tokenizer& tokenizer, const DecodingOptions& options, int n_text_ctx,
                                int* sot_index);

// Whisper's logit filters for one sequence. `sampled` holds the tokens generated so far in this window.
class LogitFilter {
 public:
  LogitFilter(const Tokenizer& tokenizer, const DecodingOptions& options);
  void apply(std::span<float> logits, std::span<const int> sampled) const;

 private:
  const Tokenizer& tokenizer_;
  DecodingOptions options_;
  std::vector<int> suppressed_;
  int blank_ = -1;
  int max_initial_timestamp_index_ = 0;
};

// gzip-style compression ratio of the text (zlib, default level), Whisper's repetition signal.
double compression_ratio(std::string_view text);

// log(softmax(logits))[index], computed stably.
double log_softmax_at(std::span<const float> logits, int index);

DecodingResult decode_window(const Decoder& decoder, const Tokenizer& tokenizer,
                             const CrossAttentionKv& cross, const DecodingOptions& options,
                             std::mt19937_64& random);

// Language probabilities from the logits after <|startoftranscript|>, most likely first (multilingual).
struct LanguageScore {
  int index = 0;
  float probability = 0.0f;
};
std::vector<LanguageScore> detect_language(const Decoder& decoder, const Tokenizer& tokenizer,
                                           const CrossAttentionKv& cross);
std::vector<LanguageScore> language_probabilities(std::span<const float> logits_after_sot,
                                                  const Tokenizer& tokenizer);

// A token sequence stuck in a loop ends with the same n-gram repeated: returns the length to keep so that
// at most `max_repeats` copies of a repeated tail remain (tokens.size() when there is no loop).
std::size_t repetition_cut(std::span<const int> tokens, int max_repeats = 2, int min_loop_tokens = 16);

}  // namespace npuscribe
