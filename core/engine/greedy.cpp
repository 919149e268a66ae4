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
        "\"", "#",  "(",   ")",   "*",  "+",   "/",  ":",  ";",   "<",   "=",   ">",  "@",  "[",  "\\", "]",  "^",
        "_",  "`",  "{",   "|",   "}",  "~",   "「", "」", "『",  "』",  "<<",  ">>", "<<<", ">>>", "--", "---",
        "-(", "-[", "('",  "(\"", "((", "))",  "(((", ")))", "[[", "]]",  "{{",  "}}", "♪♪", "♪♪♪"};
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

std::vector<int> transcription_prompt(const Tokenizer& tokenizer, int language_index, bool translate) {
  const SpecialTokens& s = tokenizer.special();
  std::vector<int> prompt = {s.sot};
  if (s.language_count > 0) {
    prompt.push_back(s.language(std::clamp(language_index, 0, s.language_count - 1)));
    prompt.push_back(translate ? s.translate : s.transcribe);
  }
  prompt.push_back(s.notimestamps);
  return prompt;
}

namespace {
double log_softmax_at(std::span<const float> logits, int index) {
  const float max_value = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v - max_value));
  return static_cast<double>(logits[static_cast<std::size_t>(index)] - max_value) - std::log(sum);
}
}  // namespace

DecodedText greedy_decode(const Decoder& decoder, const Tokenizer& tokenizer, const CrossAttentionKv& cross,
                          std::span<const int> prompt, const GreedyOptions& options) {
  const WhisperHparams& h = decoder.model().hparams();
  const int max_new = options.max_new_tokens > 0 ? options.max_new_tokens : h.n_text_ctx / 2;
  const std::vector<int> suppressed = suppressed_tokens(tokenizer, options.suppress_non_speech, false);
  const int eot = tokenizer.special().eot;
  const int blank = tokenizer.find(" ");

  SelfAttentionCache cache = decoder.new_cache();
  std::vector<float> logits;
  decoder.decode(prompt, cross, cache, logits, LogitsRows::last);

  DecodedText result;
  for (int step = 0; step < max_new; ++step) {
    for (int id : suppressed) logits[static_cast<std::size_t>(id)] = -INFINITY;
    if (step == 0 && options.suppress_blank) {
      logits[static_cast<std::size_t>(eot)] = -INFINITY;
      if (blank >= 0) logits[static_cast<std::size_t>(blank)] = -INFINITY;
    }
    const int token = argmax(logits);
    result.sum_logprob += log_softmax_at(logits, token);
    if (token == eot) {
      result.reached_end_of_text = true;
      break;
    }
    result.tokens.push_back(token);
    if (cache.n_past + 1 > h.n_text_ctx) break;  // context full: stop rather than fail
    const int next[] = {token};
    decoder.decode(next, cross, cache, logits, LogitsRows::last);
  }
  result.text = tokenizer.decode(result.tokens);
  return result;
}

std::vector<int> argmax_decode(const Decoder& decoder, const CrossAttentionKv& cross, std::span<const int> prompt,
                               int count) {
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
