// What a transcription produces: timed segments with their tokens (and words when asked), the language,
// and the decoding statistics Whisper's fallback logic uses. Value types only; every output format and
// the GUI read this.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace npuscribe {

struct TokenTiming {
  int id = 0;
  std::string text;          // the token's bytes (may be a partial UTF-8 character)
  float probability = 0.0f;  // softmax probability when it was sampled
  double start_s = -1.0;     // with word timestamps; -1 when unknown
  double end_s = -1.0;
};

struct WordTiming {
  std::string text;  // with its leading space, as Whisper produces it
  double start_s = 0.0;
  double end_s = 0.0;
  float probability = 0.0f;  // mean of its tokens' probabilities
};

struct Segment {
  double start_s = 0.0;
  double end_s = 0.0;
  std::string text;                 // valid UTF-8
  std::vector<TokenTiming> tokens;  // text tokens only (no timestamps or control tokens)
  std::vector<WordTiming> words;    // filled with word timestamps
  double avg_logprob = 0.0;
  double no_speech_probability = 0.0;
  double compression_ratio = 0.0;
  double temperature = 0.0;
};

struct LanguageProbability {
  std::string code;  // "en", "de", ...
  float probability = 0.0f;
};

struct TranscriptResult {
  std::vector<Segment> segments;
  std::string language;  // code of the transcribed language ("en" for English-only models)
  std::vector<LanguageProbability> detected_languages;  // top candidates when detected, most likely first
  std::string task = "transcribe";                      // or "translate"
  double duration_s = 0.0;
  std::string model_name;
  std::vector<std::string> warnings;  // e.g. "the file is truncated: 12.3 s of 60.0 s could not be decoded"

  // Segment texts joined, without the leading space Whisper puts on the first token.
  std::string text() const;
};

}  // namespace npuscribe
