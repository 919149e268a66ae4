#include "engine/greedy.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace npuscribe {

int argmax(std::span<const float> values) {
  return static_cast<int>(std::max_element(values.begin(), values.end()) - values.begin());
}

std::vector<int> suppressed_tokens(const Tokenizer& tokenizer, bool non_speech, bool timestamps_allowed) {
  const SpecialTokens& s = tokenizer.special();
  // Every control token between end-of-text and the first timestamp (start, language, task, no-speech,
  // no-timestamps, ...): whisper.cpp suppresses these for English-only models too.
  std::vector<int> ids;
  for (int id = s.eot + 1; id < s.timestamp_begin; ++id) ids.push_back(id);
  if (!timestamps_allowed) {
    for (int id = s.timestamp_begin; id < tokenizer.vocab_size(); ++id) ids.push_back(id);
  }
  if (non_speech) {
    // Symbols that are never speech; each is suppressed as a token on its own and with a leading space.
    static const char* const kSymbols[] = {
        "\"",  "#",  "(",  ")",  "*",   "+",  "/",  ":",   ";",   "<",  "=",  ">",  "@",  "[",   "\\",  "]",
        "^",   "_",  "`",  "{",  "|",   "}",  "~",  "「",  "」",  "『", "』", "<<", ">>", "<<<", ">>>", "--",
        "---", "-(", "-[", "('", "(\"", "((", "))", "(((", ")))", "[[", "]]", "{{", "}}", "♪♪",  "♪♪♪"};
    static const char* const kMusicSymbols[] = {"♩", "♪", "♫", "♬", "♭", "♮", "♯"};
    auto add = [&](const std::string& text) {
      if (int id = tokenizer.find(text); id >= 0) ids.push_back(id);
    };
    for (const char* symbol : kSymbols) {
      add(symbol);
      add(std::string(" ") + symbol);
    }
    for (const char* symbol : kMusicSymbols) {
      // A music symbol's first BPE token is suppressed even when the symbol spans several tokens: take the
      // longest stored token that starts it and holds at least one of the symbol's own bytes (never " ").
      for (const std::string& text : {std::string(symbol), std::string(" ") + symbol}) {
        const std::size_t shortest = text.size() - std::strlen(symbol) + 1;
        for (std::size_t length = text.size(); length >= shortest; --length) {
          if (int id = tokenizer.find(text.substr(0, length)); id >= 0) {
            ids.push_back(id);
            break;
          }
        }
      }
    }
    add(" -");  // a hyphen or quote may join words, but may not start one
    add(" '");
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

std::vector<int> argmax_decode(const Decoder& decoder, const CrossAttentionKv& cross,
                               std::span<const int> prompt, int count) {
  SelfAttentionCache cache = decoder.new_cache();
  std::vector<float> logits;
  decoder.decode(prompt, cross, cache, logits, LogitsRows::last);
  std::vector<int> tokens;
  const int limit = decoder.model().hparams().n_text_ctx;
  for (int step = 0; step < count; ++step) {
    const int token = argmax(logits);
    tokens.push_back(token);
    if (step + 1 == count || cache.n_past >= limit) break;
    const int next[] = {token};
    decoder.decode(next, cross, cache, logits, LogitsRows::last);
  }
  return tokens;
}

}  // namespace npuscribe
