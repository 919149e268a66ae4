// Token suppression sets and pure-argmax decoding (conformance checks). Sampling, beams and the timestamp
// rules are in decoding.h.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "engine/decoder.h"
#include "engine/tokenizer.h"

namespace npuscribe {

// Tokens suppressed at every step: the non-speech symbol set (as OpenAI Whisper and whisper.cpp build it
// from the vocabulary) plus the task/control tokens that must never be sampled as text.
std::vector<int> suppressed_tokens(const Tokenizer& tokenizer, bool non_speech, bool timestamps_allowed);

// Pure argmax for count steps from the prompt: no suppression, no stop (conformance checks).
std::vector<int> argmax_decode(const Decoder& decoder, const CrossAttentionKv& cross,
                               std::span<const int> prompt, int count);

// Index of the largest value (first on ties).
int argmax(std::span<const float> values);

}  // namespace npuscribe
