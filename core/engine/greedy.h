// Greedy decoding of one 30-s window with Whisper's standard token suppression.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "engine/decoder.h"
#include "engine/tokenizer.h"

namespace npuscribe {

struct GreedyOptions {
  bool suppress_non_speech = true;  // OpenAI Whisper's default suppress_tokens="-1" set
  bool suppress_blank = true;       // no " " or end-of-text as the first sampled token
  int max_new_tokens = 0;           // 0: n_text_ctx / 2, Whisper's sample_len
};

struct DecodedText {
  std::vector<int> tokens;   // sampled tokens, end-of-text excluded
  std::string text;
  double sum_logprob = 0.0;  // of the sampled tokens, end-of-text included
  bool reached_end_of_text = false;
};

// Tokens suppressed at every step: the non-speech symbol set (as OpenAI Whisper and whisper.cpp build it
// from the vocabulary) plus the task/control tokens that must never be sampled as text.
std::vector<int> suppressed_tokens(const Tokenizer& tokenizer, bool non_speech, bool timestamps_allowed);

// The decoder prompt for plain transcription: [sot, (language, task,) notimestamps].
std::vector<int> transcription_prompt(const Tokenizer& tokenizer, int language_index, bool translate);

DecodedText greedy_decode(const Decoder& decoder, const Tokenizer& tokenizer, const CrossAttentionKv& cross,
                          std::span<const int> prompt, const GreedyOptions& options = {});

// Pure argmax for count steps from the prompt: no suppression, no stop (conformance checks).
std::vector<int> argmax_decode(const Decoder& decoder, const CrossAttentionKv& cross, std::span<const int> prompt,
                               int count);

// Index of the largest value (first on ties).
int argmax(std::span<const float> values);

}  // namespace npuscribe
