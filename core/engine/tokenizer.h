// Token ids <-> text for Whisper's byte-level BPE vocabulary, and the special-token ids that whisper.cpp
// derives from n_vocab (English-only 51864, multilingual 51865, large-v3 51866 with one more language).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/ggml_file.h"

namespace npuscribe {

struct SpecialTokens {
  int eot = 0;
  int sot = 0;
  int translate = 0;
  int transcribe = 0;
  int solm = 0;  // start of language-model (no audio) context
  int prev = 0;  // start of previous-text context
  int nosp = 0;  // no speech
  int notimestamps = 0;
  int timestamp_begin = 0;  // <|0.00|>
  int language_count = 0;
  int language(int index) const { return sot + 1 + index; }  // only meaningful for multilingual models
  static SpecialTokens for_hparams(const WhisperHparams& hparams);
};

// Language codes in Whisper's token order (index 0 = "en"); language_count of them are in a model.
std::span<const std::string_view> whisper_language_codes();

// Accumulates token bytes and hands out only whole UTF-8 characters, so a character whose bytes are split
// across tokens appears once complete. Invalid byte sequences become U+FFFD.
class Utf8Assembler {
 public:
  std::string push(std::string_view bytes);
  std::string finish();  // flushes an incomplete tail as U+FFFD

 private:
  std::string pending_;
};

class Tokenizer {
 public:
  Tokenizer(const std::vector<std::string>& vocabulary, const WhisperHparams& hparams);

  const SpecialTokens& special() const { return special_; }
  bool is_special(int id) const { return id >= special_.eot; }
  bool is_timestamp(int id) const { return id >= special_.timestamp_begin; }
  int vocab_size() const { return n_vocab_; }

  // Raw bytes of a token; special tokens give their "<|...|>" name.
  std::string token_bytes(int id) const;
  // Text of the ordinary tokens (special tokens dropped), as valid UTF-8.
  std::string decode(std::span<const int> ids) const;
  // Token id of a whole stored token string, or -1.
  int find(std::string_view bytes) const;
  // Text to token ids as whisper.cpp tokenises prompts: GPT-2 pre-tokenisation (contractions, words with
  // their leading space, numbers, punctuation runs, spaces), then the longest vocabulary match from the left.
  std::vector<int> encode(std::string_view text) const;

 private:
  const std::vector<std::string>& vocabulary_;
  std::unordered_map<std::string_view, int> id_of_bytes_;
  SpecialTokens special_;
  int n_vocab_ = 0;
};

}  // namespace npuscribe
