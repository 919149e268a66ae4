#include "engine/transcriber.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/alignment.h"
#include "util/error.h"

namespace npuscribe {

namespace {
constexpr double kSecondsPerTimestamp = 0.02;
constexpr double kSecondsPerMelFrame = static_cast<double>(kWhisperHopLength) / kWhisperSampleRateHz;

std::string format_seconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f s", seconds);
  return text;
}

bool language_without_spaces(const std::string& code) {
  return code == "zh" || code == "ja" || code == "th" || code == "lo" || code == "my" || code == "yue";
}
}  // namespace

std::string TranscriptResult::text() const {
  std::string joined;
  for (const Segment& segment : segments) joined += segment.text;
  const auto first = joined.find_first_not_of(' ');
  return first == std::string::npos ? std::string() : joined.substr(first);
}

int language_index(const std::string& code) {
  const auto codes = whisper_language_codes();
  for (std::size_t i = 0; i < codes.size(); ++i)
    if (codes[i] == code) return static_cast<int>(i);
  throw Error("unknown language code '" + code +
              "'; use a Whisper language code such as en, de, fr, es, zh, ja, or 'auto' to detect it.");
}

void HopLevelMeter::push(std::span<const float> samples) {
  for (float sample : samples) {
    sum_sq_ += static_cast<double>(sample) * sample;
    if (++count_ == kWhisperHopLength) {
      levels_.push_back(static_cast<float>(std::sqrt(sum_sq_ / count_)));
      sum_sq_ = 0.0;
      count_ = 0;
    }
  }
}

std::vector<float> HopLevelMeter::finish() {
  if (count_ > 0) levels_.push_back(static_cast<float>(std::sqrt(sum_sq_ / count_)));
  sum_sq_ = 0.0;
  count_ = 0;
  return std::move(levels_);
}

std::vector<float> hop_rms(std::span<const float> samples) {
  HopLevelMeter meter;
  meter.push(samples);
  return meter.finish();
}

bool needs_fallback(const DecodingResult& result, const TranscribeOptions& options) {
  bool fallback = result.compression_ratio > options.compression_ratio_threshold ||
                  result.avg_logprob < options.logprob_threshold;
  if (result.no_speech_probability > options.no_speech_threshold &&
      result.avg_logprob < options.logprob_threshold)
    fallback = false;  // silence: the window is skipped, sampling harder would only invent text
  return fallback;
}

WindowSegments split_window(std::span<const int> tokens, int timestamp_begin, double window_start_s,
                            int window_frames) {
  WindowSegments result;
  auto is_timestamp = [&](std::size_t i) { return tokens[i] >= timestamp_begin; };
  auto time_of = [&](std::size_t i) {
    return window_start_s + (tokens[i] - timestamp_begin) * kSecondsPerTimestamp;
  };
  const std::size_t n = tokens.size();
  const bool single_timestamp_ending = n >= 2 && !is_timestamp(n - 2) && is_timestamp(n - 1);
  std::vector<std::size_t> slices;  // positions where a consecutive timestamp pair starts a new segment
  for (std::size_t i = 1; i < n; ++i)
    if (is_timestamp(i - 1) && is_timestamp(i)) slices.push_back(i);

  if (!slices.empty()) {
    if (single_timestamp_ending) slices.push_back(n);
    std::size_t last_slice = 0;
    for (std::size_t slice : slices) {
      if (slice - last_slice >= 2)  // a piece needs its start and end timestamps
        result.pieces.push_back({last_slice, slice, time_of(last_slice), time_of(slice - 1)});
      last_slice = slice;
    }
    if (single_timestamp_ending) {
      result.seek_frames = window_frames;  // no speech after the last segment: take the whole window
    } else {
      // Resume at the last complete segment's end: the rest of the window is decoded again.
      const int last_timestamp_position = tokens[last_slice - 1] - timestamp_begin;
      result.seek_frames = last_timestamp_position * 2;
    }
  } else {
    double duration_s = window_frames * kSecondsPerMelFrame;
    for (std::size_t i = n; i-- > 0;) {
      if (is_timestamp(i)) {
        if (tokens[i] != timestamp_begin) duration_s = (tokens[i] - timestamp_begin) * kSecondsPerTimestamp;
        break;
      }
    }
    if (n > 0) result.pieces.push_back({0, n, window_start_s, window_start_s + duration_s});
    result.seek_frames = window_frames;
  }
  // Timestamps past the audio in this window (the model predicts up to 30 s) are clamped to it; a segment
  // that would start after the audio ends is dropped.
  const double window_end_s = window_start_s + window_frames * kSecondsPerMelFrame;
  std::erase_if(result.pieces,
                [&](const WindowSegments::Piece& piece) { return piece.start_s >= window_end_s; });
  for (WindowSegments::Piece& piece : result.pieces)
    piece.end_s = std::clamp(piece.end_s, piece.start_s, window_end_s);
  // Seeking must always advance, or a window could be decoded forever.
  result.seek_frames = std::clamp(result.seek_frames, 1, std::max(1, window_frames));
  if (result.seek_frames < 2 && window_frames >= 2) result.seek_frames = window_frames;
  return result;
}

Transcriber::Transcriber(std::shared_ptr<const WhisperModel> model,
                         std::unique_ptr<EncoderBackend> encoder_backend)
    : model_(std::move(model)),
      tokenizer_(model_->vocabulary(), model_->hparams()),
      mel_(model_->mel_filters()),
      encoder_(model_, std::move(encoder_backend)),
      decoder_(model_) {}

void Transcriber::set_profile_sink(ProfileSink* sink) {
  encoder_.set_profile_sink(sink);
  decoder_.set_profile_sink(sink);
}

DecodingResult Transcriber::decode_with_fallback(const CrossAttentionKv& cross, DecodingOptions decoding,
                                                 const TranscribeOptions& options, std::mt19937_64& random) {
  DecodingResult result;
  const std::vector<float> temperatures =
      options.temperatures.empty() ? std::vector<float>{0.0f} : options.temperatures;
  for (float temperature : temperatures) {
    decoding.temperature = temperature;
    decoding.beam_size = temperature > 0.0f ? 0 : options.beam_size;
    decoding.best_of = temperature > 0.0f ? std::max(1, options.best_of) : 1;
    result = decode_window(decoder_, tokenizer_, cross, decoding, random);
    if (!needs_fallback(result, options)) break;
  }
  return result;
}

TranscriptResult Transcriber::transcribe(const MonoAudio& audio, const TranscribeOptions& options,
                                         const Progress& progress) {
  AudioFeatures features;
  features.mel = mel_.compute(audio.samples);
  features.hop_rms = hop_rms(audio.samples);
  features.duration_s = audio.duration_s();
  return transcribe(features, options, progress);
}

TranscriptResult Transcriber::transcribe(const AudioFeatures& features, const TranscribeOptions& options,
                                         const Progress& progress) {
  const WhisperHparams& h = model_->hparams();
  const SpecialTokens& special = tokenizer_.special();
  const int window_frames = 2 * h.n_audio_ctx;
  const int content_frames = std::max(0, features.mel.n_frames_with_audio);
  std::mt19937_64 random(options.seed);

  TranscriptResult result;
  result.duration_s = features.duration_s;
  result.task = options.translate ? "translate" : "transcribe";
  result.model_name = model_->file().path().filename().string();

  DecodingOptions decoding;
  decoding.translate = options.translate;
  decoding.timestamps = options.timestamps;
  decoding.patience = options.patience;
  decoding.suppress_non_speech = options.suppress_non_speech;
  decoding.max_new_tokens = options.max_new_tokens;

  // Language: fixed, or detected on the first window.
  if (!h.is_multilingual()) {
    result.language = "en";
    if (options.translate) result.warnings.push_back("English-only model: --translate has no effect");
  } else if (!options.language.empty() && options.language != "auto") {
    decoding.language_index = language_index(options.language);
    result.language = options.language;
  } else if (content_frames > 0) {
    const Activations encoded = encoder_.encode(features.mel, 0);
    const CrossAttentionKv cross = decoder_.cross_attention_kv(encoded);
    const std::vector<LanguageScore> scores = detect_language(decoder_, tokenizer_, cross);
    for (std::size_t i = 0; i < std::min<std::size_t>(5, scores.size()); ++i) {
      result.detected_languages.push_back(
          {std::string(whisper_language_codes()[static_cast<std::size_t>(scores[i].index)]),
           scores[i].probability});
    }
    if (!scores.empty()) {
      decoding.language_index = scores.front().index;
      result.language = result.detected_languages.front().code;
    }
  }
  const bool split_characters = language_without_spaces(result.language);

  std::vector<int> all_tokens;
  if (!options.initial_prompt.empty()) {
    std::string prompt = options.initial_prompt;
    prompt.erase(0, prompt.find_first_not_of(" \t\r\n"));
    prompt.erase(prompt.find_last_not_of(" \t\r\n") + 1);
    if (!prompt.empty()) all_tokens = tokenizer_.encode(" " + prompt);
  }
  std::size_t prompt_reset_since = 0;

  int seek = 0;
  while (seek < content_frames) {
    if (options.cancel && options.cancel->load()) {
      result.warnings.push_back("cancelled at " + format_seconds(seek * kSecondsPerMelFrame));
      break;
    }
    const int segment_frames = std::min(window_frames, content_frames - seek);
    const double window_start_s = seek * kSecondsPerMelFrame;
    const std::size_t first_new_segment = result.segments.size();

    // Silence guard: skip a window with no audible signal without decoding it.
    double sum_sq = 0;
    const int hop_end = std::min<int>(seek + segment_frames, static_cast<int>(features.hop_rms.size()));
    for (int hop = seek; hop < hop_end; ++hop)
      sum_sq += static_cast<double>(features.hop_rms[hop]) * features.hop_rms[hop];
    const double rms = hop_end > seek ? std::sqrt(sum_sq / (hop_end - seek)) : 0.0;
    const bool silent = features.hop_rms.empty()
                            ? false
                            : 20.0 * std::log10(std::max(rms, 1e-10)) < options.silence_threshold_dbfs;
    if (silent) {
      seek += segment_frames;
      if (progress) progress(std::min(1.0, static_cast<double>(seek) / content_frames), {});
      continue;
    }

    const Activations encoded = encoder_.encode(features.mel, seek);
    const CrossAttentionKv cross = decoder_.cross_attention_kv(encoded);
    decoding.previous_tokens.assign(all_tokens.begin() + static_cast<std::ptrdiff_t>(prompt_reset_since),
                                    all_tokens.end());
    DecodingResult decoded = decode_with_fallback(cross, decoding, options, random);

    bool skip = decoded.no_speech_probability > options.no_speech_threshold;
    if (decoded.avg_logprob > options.logprob_threshold) skip = false;
    if (skip) {
      seek += segment_frames;
      if (progress) progress(std::min(1.0, static_cast<double>(seek) / content_frames), {});
      continue;
    }
    // A window that still loops after every fallback keeps its first two repetitions only.
    const std::size_t keep = repetition_cut(decoded.tokens);
    if (keep < decoded.tokens.size()) {
      decoded.tokens.resize(keep);
      decoded.token_probabilities.resize(keep);
      result.warnings.push_back("a repetition loop at " + format_seconds(window_start_s) + " was cut off");
    }

    const WindowSegments window =
        split_window(decoded.tokens, special.timestamp_begin, window_start_s, segment_frames);
    std::vector<int> window_text_tokens;
    for (const WindowSegments::Piece& piece : window.pieces) {
      Segment segment;
      segment.start_s = piece.start_s;
      segment.end_s = piece.end_s;
      std::vector<int> text_tokens;
      for (std::size_t i = piece.begin; i < piece.end; ++i) {
        const int token = decoded.tokens[i];
        if (tokenizer_.is_special(token)) continue;
        text_tokens.push_back(token);
        segment.tokens.push_back(
            {token, tokenizer_.token_bytes(token), decoded.token_probabilities[i], -1.0, -1.0});
      }
      segment.text = tokenizer_.decode(text_tokens);
      segment.avg_logprob = decoded.avg_logprob;
      segment.no_speech_probability = decoded.no_speech_probability;
      segment.compression_ratio = decoded.compression_ratio;
      segment.temperature = decoded.temperature;
      window_text_tokens.insert(window_text_tokens.end(), text_tokens.begin(), text_tokens.end());
      if (!text_tokens.empty()) result.segments.push_back(std::move(segment));
    }

    if (options.word_timestamps && !window_text_tokens.empty()) {
      std::vector<int> segment_starts;  // index of each new segment's first text token in the window
      int token_count = 0;
      for (std::size_t s = first_new_segment; s < result.segments.size(); ++s) {
        segment_starts.push_back(token_count);
        token_count += static_cast<int>(result.segments[s].tokens.size());
      }
      std::vector<TokenTiming> timings;
      const std::vector<int> sot = sot_sequence(tokenizer_, decoding);
      const std::vector<AlignedWord> words =
          align_words(decoder_, tokenizer_, cross, sot, window_text_tokens, segment_frames, window_start_s,
                      split_characters, segment_starts, &timings);
      // Hand tokens and words back to their segments: a word belongs to the segment of its first token.
      std::size_t token_cursor = 0, word_cursor = 0;
      for (std::size_t s = first_new_segment; s < result.segments.size(); ++s) {
        Segment& segment = result.segments[s];
        const int segment_end_token = static_cast<int>(token_cursor + segment.tokens.size());
        for (TokenTiming& token : segment.tokens) {
          if (token_cursor < timings.size()) {
            token.start_s = timings[token_cursor].start_s;
            token.end_s = timings[token_cursor].end_s;
          }
          ++token_cursor;
        }
        while (word_cursor < words.size() && words[word_cursor].first_token < segment_end_token)
          segment.words.push_back(words[word_cursor++].timing);
        if (!segment.words.empty()) {
          segment.start_s = segment.words.front().start_s;
          segment.end_s = std::max(segment.words.back().end_s, segment.start_s);
        }
      }
    }

    // The next window is conditioned on the kept segments only, not on the unfinished tail it re-decodes.
    for (const WindowSegments::Piece& piece : window.pieces)
      all_tokens.insert(all_tokens.end(), decoded.tokens.begin() + static_cast<std::ptrdiff_t>(piece.begin),
                        decoded.tokens.begin() + static_cast<std::ptrdiff_t>(piece.end));
    if (!options.condition_on_previous_text || decoded.temperature > 0.5f)
      prompt_reset_since = all_tokens.size();
    seek += window.seek_frames;
    if (progress) {
      progress(std::min(1.0, static_cast<double>(seek) / std::max(1, content_frames)),
               std::span<const Segment>(result.segments).subspan(first_new_segment));
    }
  }
  return result;
}

}  // namespace npuscribe
