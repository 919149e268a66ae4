// Audio in, timed segments out: OpenAI Whisper's long-form algorithm (30-s windows, timestamp tokens and
// seeking, temperature fallback, no-speech detection, conditioning on previous text) over our encoder,
// decoder and decoding. The CLI and the GUI worker drive this one facade.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "audio/audio_buffer.h"
#include "dsp/log_mel.h"
#include "engine/decoder.h"
#include "engine/decoding.h"
#include "engine/encoder.h"
#include "engine/tokenizer.h"
#include "engine/transcript.h"

namespace npuscribe {

struct TranscribeOptions {
  std::string language;  // "" or "auto": detect (multilingual models); English-only models always use "en"
  bool translate = false;
  std::vector<float> temperatures = {0.0f, 0.2f, 0.4f, 0.6f, 0.8f, 1.0f};
  int beam_size = 0;  // 0 or 1: greedy at temperature 0
  int best_of = 5;    // candidates when sampling at temperature > 0
  float patience = 1.0f;
  double compression_ratio_threshold = 2.4;
  double logprob_threshold = -1.0;
  double no_speech_threshold = 0.6;
  bool condition_on_previous_text = true;
  std::string initial_prompt;
  bool timestamps = true;
  bool word_timestamps = false;
  bool suppress_non_speech = true;
  // Cap on tokens sampled per 30-s window; 0: Whisper's n_text_ctx / 2. Live dictation caps each pass by
  // the length of its buffer, because speech runs at most a few tokens per second.
  int max_new_tokens = 0;
  // A window whose audio is quieter than this (RMS, dBFS) is skipped without decoding: no text on silence.
  double silence_threshold_dbfs = -60.0;
  std::uint64_t seed = 0;
  const std::atomic<bool>* cancel = nullptr;  // set to stop early; the segments so far are returned
};

// Log-mel plus the per-hop audio level the silence guard reads. Built from samples at once, or
// incrementally by a streaming decoder.
struct AudioFeatures {
  LogMel mel;
  std::vector<float> hop_rms;  // RMS of each 160-sample hop
  double duration_s = 0.0;
};

// Running RMS per 160-sample hop across arbitrary chunk boundaries (streaming decoders push chunks).
class HopLevelMeter {
 public:
  void push(std::span<const float> samples);
  std::vector<float> finish();  // includes the last partial hop

 private:
  std::vector<float> levels_;
  double sum_sq_ = 0.0;
  int count_ = 0;
};

// RMS of each 160-sample hop of the samples (the last partial hop included).
std::vector<float> hop_rms(std::span<const float> samples);

// The fallback rule of Whisper's decode_with_fallback: too repetitive or too unlikely, unless it looks
// like silence (then no fallback: the window will be skipped).
bool needs_fallback(const DecodingResult& result, const TranscribeOptions& options);

// Splits one window's tokens into segments at timestamp pairs and says how far to seek (in mel frames).
struct WindowSegments {
  struct Piece {
    std::size_t begin = 0, end = 0;  // token range, timestamps included
    double start_s = 0.0, end_s = 0.0;
  };
  std::vector<Piece> pieces;
  int seek_frames = 0;  // always > 0
};
WindowSegments split_window(std::span<const int> tokens, int timestamp_begin, double window_start_s,
                            int window_frames);

class Transcriber {
 public:
  explicit Transcriber(std::shared_ptr<const WhisperModel> model,
                       std::unique_ptr<EncoderBackend> encoder_backend = nullptr);

  using Progress = std::function<void(double fraction, std::span<const Segment> new_segments)>;
  TranscriptResult transcribe(const MonoAudio& audio, const TranscribeOptions& options = {},
                              const Progress& progress = {});
  TranscriptResult transcribe(const AudioFeatures& features, const TranscribeOptions& options = {},
                              const Progress& progress = {});

  const WhisperModel& model() const { return *model_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  LogMelSpectrogram& mel() { return mel_; }
  Encoder& encoder() { return encoder_; }
  const Decoder& decoder() const { return decoder_; }
  void set_profile_sink(ProfileSink* sink);

 private:
  DecodingResult decode_with_fallback(const CrossAttentionKv& cross, DecodingOptions decoding,
                                      const TranscribeOptions& options, std::mt19937_64& random);

  std::shared_ptr<const WhisperModel> model_;
  Tokenizer tokenizer_;
  LogMelSpectrogram mel_;
  Encoder encoder_;
  Decoder decoder_;
};

// Language index for a code ("en", "de", ...) in Whisper's order; throws npuscribe::Error for unknown codes.
int language_index(const std::string& code);

}  // namespace npuscribe
