#include "engine/tokenizer.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>

namespace npuscribe {

namespace {
constexpr std::array<std::string_view, 100> kLanguageCodes = {
    "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt",  "tr", "pl", "ca", "nl", "ar", "sv", "it", "id",
    "hi", "fi", "vi", "he", "uk", "el", "ms", "cs", "ro",  "da", "hu", "ta", "no", "th", "ur", "hr", "bg",
    "lt", "la", "mi", "ml", "cy", "sk", "te", "fa", "lv",  "bn", "sr", "az", "sl", "kn", "et", "mk", "br",
    "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw",  "gl", "mr", "pa", "si", "km", "sn", "yo", "so",
    "af", "oc", "ka", "be", "tg", "sd", "gu", "am", "yi",  "lo", "uz", "fo", "ht", "ps", "tk", "nn", "mt",
    "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln", "ha", "ba", "jw", "su", "yue"};
const std::string kReplacementCharacter = "\xEF\xBF\xBD";

// Length of the UTF-8 sequence starting with this byte, 0 for a byte that cannot start one.
int sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

bool is_continuation(unsigned char byte) {
  return (byte & 0xC0) == 0x80;
}
}  // namespace

std::span<const std::string_view> whisper_language_codes() {
  return kLanguageCodes;
}

SpecialTokens SpecialTokens::for_hparams(const WhisperHparams& h) {
  // whisper.cpp: English-only ids, shifted by one for multilingual models and by the number of language
  // tokens beyond 98 for the task and timestamp tokens.
  SpecialTokens t;
  t.eot = 50256;
  t.sot = 50257;
  t.translate = 50357;
  t.transcribe = 50358;
  t.solm = 50359;
  t.prev = 50360;
  t.nosp = 50361;
  t.notimestamps = 50362;
  t.timestamp_begin = 50363;
  t.language_count = 0;
  if (h.is_multilingual()) {
    t.language_count = h.language_count();
    const int shift = t.language_count - 98;
    t.eot += 1;
    t.sot += 1;
    t.translate += shift;
    t.transcribe += shift;
    t.solm += shift;
    t.prev += shift;
    t.nosp += shift;
    t.notimestamps += shift;
    t.timestamp_begin += shift;
  }
  return t;
}

std::string Utf8Assembler::push(std::string_view bytes) {
  pending_.append(bytes);
  std::string complete;
  std::size_t i = 0;
  while (i < pending_.size()) {
    const auto lead = static_cast<unsigned char>(pending_[i]);
    const int length = sequence_length(lead);
    if (length == 0) {
      complete += kReplacementCharacter;
      ++i;
      continue;
    }
    if (i + static_cast<std::size_t>(length) > pending_.size()) {
      // Possibly incomplete: keep it if what is there so far is a valid prefix.
      bool valid_prefix = true;
      for (std::size_t j = i + 1; j < pending_.size(); ++j)
        valid_prefix = valid_prefix && is_continuation(static_cast<unsigned char>(pending_[j]));
      if (valid_prefix) break;
    }
    bool valid = i + static_cast<std::size_t>(length) <= pending_.size();
    for (int j = 1; valid && j < length; ++j)
      valid = is_continuation(static_cast<unsigned char>(pending_[i + j]));
    if (valid && length >= 3) {
      // Reject overlong forms, surrogates and code points above U+10FFFF.
      const auto second = static_cast<unsigned char>(pending_[i + 1]);
      if (lead == 0xE0 && second < 0xA0) valid = false;
      if (lead == 0xED && second > 0x9F) valid = false;
      if (lead == 0xF0 && second < 0x90) valid = false;
      if (lead == 0xF4 && second > 0x8F) valid = false;
    }
    if (!valid) {
      complete += kReplacementCharacter;
      ++i;
      continue;
    }
    complete.append(pending_, i, static_cast<std::size_t>(length));
    i += static_cast<std::size_t>(length);
  }
  pending_.erase(0, i);
  return complete;
}

std::string Utf8Assembler::finish() {
  std::string tail = pending_.empty() ? std::string() : kReplacementCharacter;
  pending_.clear();
  return tail;
}

Tokenizer::Tokenizer(const std::vector<std::string>& vocabulary, const WhisperHparams& hparams)
    : vocabulary_(vocabulary), special_(SpecialTokens::for_hparams(hparams)), n_vocab_(hparams.n_vocab) {
  const std::size_t ordinary = std::min(vocabulary_.size(), static_cast<std::size_t>(special_.eot));
  id_of_bytes_.reserve(ordinary);
  for (std::size_t id = 0; id < ordinary; ++id) id_of_bytes_.emplace(vocabulary_[id], static_cast<int>(id));
}

std::string Tokenizer::token_bytes(int id) const {
  if (id >= 0 && id < special_.eot && static_cast<std::size_t>(id) < vocabulary_.size())
    return vocabulary_[static_cast<std::size_t>(id)];
  const SpecialTokens& s = special_;
  if (id == s.eot) return "<|endoftext|>";
  if (id == s.sot) return "<|startoftranscript|>";
  if (id == s.translate) return "<|translate|>";
  if (id == s.transcribe) return "<|transcribe|>";
  if (id == s.solm) return "<|startoflm|>";
  if (id == s.prev) return "<|startofprev|>";
  if (id == s.nosp) return "<|nospeech|>";
  if (id == s.notimestamps) return "<|notimestamps|>";
  if (id >= s.timestamp_begin && id < n_vocab_) {
    char text[32];
    std::snprintf(text, sizeof(text), "<|%.2f|>", (id - s.timestamp_begin) * 0.02);
    return text;
  }
  if (s.language_count > 0 && id > s.sot && id <= s.sot + s.language_count) {
    return "<|" + std::string(kLanguageCodes[static_cast<std::size_t>(id - s.sot - 1)]) + "|>";
  }
  return "[_extra_token_" + std::to_string(id) + "]";
}

std::string Tokenizer::decode(std::span<const int> ids) const {
  Utf8Assembler assembler;
  std::string text;
  for (int id : ids) {
    if (id < 0 || is_special(id) || static_cast<std::size_t>(id) >= vocabulary_.size()) continue;
    text += assembler.push(vocabulary_[static_cast<std::size_t>(id)]);
  }
  return text + assembler.finish();
}

int Tokenizer::find(std::string_view bytes) const {
  const auto found = id_of_bytes_.find(bytes);
  return found == id_of_bytes_.end() ? -1 : found->second;
}

namespace {
enum class CharClass { letter = 1, digit, space, other };
CharClass classify(unsigned char c) {
  if (std::isalpha(c) || c >= 0x80) return CharClass::letter;  // UTF-8 letters count as letters
  if (std::isdigit(c)) return CharClass::digit;
  if (std::isspace(c)) return CharClass::space;
  return CharClass::other;
}

// GPT-2's pre-tokeniser: 's|'t|'re|'ve|'m|'ll|'d| ?letters| ?digits| ?other+|spaces.
std::vector<std::string_view> pre_tokenize(std::string_view text) {
  std::vector<std::string_view> pieces;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t start = i;
    if (text[i] == '\'') {
      for (std::string_view suffix : {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}) {
        if (text.substr(i, suffix.size()) == suffix) {
          i += suffix.size();
          break;
        }
      }
      if (i != start) {
        pieces.push_back(text.substr(start, i - start));
        continue;
      }
    }
    std::size_t body = i;
    if (text[i] == ' ' && i + 1 < text.size() &&
        classify(static_cast<unsigned char>(text[i + 1])) != CharClass::space)
      body = i + 1;
    const CharClass kind = classify(static_cast<unsigned char>(text[body]));
    i = body + 1;
    while (i < text.size() && classify(static_cast<unsigned char>(text[i])) == kind &&
           !(kind == CharClass::other && text[i] == '\'')) {
      ++i;
    }
    pieces.push_back(text.substr(start, i - start));
  }
  return pieces;
}
}  // namespace

std::vector<int> Tokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  for (std::string_view piece : pre_tokenize(text)) {
    std::size_t position = 0;
    while (position < piece.size()) {
      std::size_t length = std::min<std::size_t>(piece.size() - position, 256);
      int id = -1;
      for (; length > 0; --length) {
        id = find(piece.substr(position, length));
        if (id >= 0) break;
      }
      if (id < 0) {  // a byte the vocabulary lacks (never for GPT-2's byte-level vocabulary): skip it
        ++position;
        continue;
      }
      ids.push_back(id);
      position += length;
    }
  }
  return ids;
}

}  // namespace npuscribe
