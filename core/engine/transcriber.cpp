#include "engine/transcriber.h"

#include <algorithm>

#include "util/error.h"

namespace npuscribe {

std::string Transcript::text() const {
  std::string joined;
  for (const TranscriptWindow& window : windows) joined += window.text;
  // Whisper's text starts with the space of its first token; users expect none.
  const auto first = joined.find_first_not_of(' ');
  return first == std::string::npos ? std::string() : joined.substr(first);
}

int language_index(const std::string& code) {
  const auto codes = whisper_language_codes();
  for (std::size_t i = 0; i < codes.size(); ++i)
    if (codes[i] == code) return static_cast<int>(i);
  throw Error("unknown language code '" + code + "'; use a Whisper language code such as en, de, fr, es, zh, ja.");
}

Transcriber::Transcriber(std::shared_ptr<const WhisperModel> model, std::unique_ptr<EncoderBackend> encoder_backend)
    : model_(std::move(model)),
      tokenizer_(model_->vocabulary(), model_->hparams()),
      mel_(model_->mel_filters()),
      encoder_(model_, std::move(encoder_backend)),
      decoder_(model_) {}

void Transcriber::set_profile_sink(ProfileSink* sink) {
  encoder_.set_profile_sink(sink);
  decoder_.set_profile_sink(sink);
}

Transcript Transcriber::transcribe(const MonoAudio& audio, const TranscribeOptions& options,
                                   const std::function<void(double)>& progress) {
  const int language = model_->hparams().is_multilingual() ? language_index(options.language) : 0;
  const std::vector<int> prompt = transcription_prompt(tokenizer_, language, options.translate);
  const LogMel mel = mel_.compute(audio.samples);
  const int window_frames = 2 * model_->hparams().n_audio_ctx;
  const int audio_frames = std::max(1, mel.n_frames_with_audio);

  Transcript transcript;
  for (int offset = 0; offset < audio_frames; offset += window_frames) {
    const Activations encoded = encoder_.encode(mel, offset);
    const CrossAttentionKv cross = decoder_.cross_attention_kv(encoded);
    DecodedText decoded = greedy_decode(decoder_, tokenizer_, cross, prompt, options.greedy);
    TranscriptWindow window;
    window.start_s = offset * kWhisperHopLength / static_cast<double>(kWhisperSampleRateHz);
    window.end_s = std::min(audio.duration_s(), (offset + window_frames) * kWhisperHopLength /
                                                    static_cast<double>(kWhisperSampleRateHz));
    window.text = std::move(decoded.text);
    window.tokens = std::move(decoded.tokens);
    transcript.windows.push_back(std::move(window));
    if (progress) progress(std::min(1.0, static_cast<double>(offset + window_frames) / audio_frames));
  }
  return transcript;
}

}  // namespace npuscribe
