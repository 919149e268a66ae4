// Audio in, text out: log-mel, encoder (on the chosen backend), cross-attention K/V, greedy decoding,
// window by window. The CLI and (later) the GUI worker drive this one facade.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "audio/audio_buffer.h"
#include "dsp/log_mel.h"
#include "engine/decoder.h"
#include "engine/encoder.h"
#include "engine/greedy.h"
#include "engine/tokenizer.h"

namespace npuscribe {

struct TranscribeOptions {
  std::string language = "en";  // for multilingual models
  bool translate = false;
  GreedyOptions greedy;
};

struct TranscriptWindow {
  double start_s = 0;
  double end_s = 0;
  std::string text;
  std::vector<int> tokens;
};

struct Transcript {
  std::vector<TranscriptWindow> windows;
  std::string text() const;
};

class Transcriber {
 public:
  explicit Transcriber(std::shared_ptr<const WhisperModel> model,
                       std::unique_ptr<EncoderBackend> encoder_backend = nullptr);

  // Transcribes consecutive 30-s windows. progress(fraction 0..1) is called after each window.
  Transcript transcribe(const MonoAudio& audio, const TranscribeOptions& options = {},
                        const std::function<void(double)>& progress = {});

  const WhisperModel& model() const { return *model_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  LogMelSpectrogram& mel() { return mel_; }
  Encoder& encoder() { return encoder_; }
  const Decoder& decoder() const { return decoder_; }
  void set_profile_sink(ProfileSink* sink);

 private:
  std::shared_ptr<const WhisperModel> model_;
  Tokenizer tokenizer_;
  LogMelSpectrogram mel_;
  Encoder encoder_;
  Decoder decoder_;
};

// Language index for a code ("en", "de", ...) in Whisper's order; throws npuscribe::Error for unknown codes.
int language_index(const std::string& code);

}  // namespace npuscribe
