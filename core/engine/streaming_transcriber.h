// Live transcription with the LocalAgreement-2 policy of whisper_streaming (Machacek, Dabre, Bojar 2023):
// audio accumulates in a buffer; each pass transcribes the whole buffer; words that two consecutive
// passes agree on (the longest common prefix of their not-yet-confirmed parts) are confirmed; the rest of
// the latest pass is unconfirmed. Confirmed text that has scrolled out of the buffer is the next pass's
// prompt; the buffer is trimmed at a confirmed segment end so a pass never exceeds 30 s. A voice activity
// detector gates the passes (silence produces no text), and a long pause or stop() confirms the last pass.
//
// push_audio() may be called from any thread (a short mutex-guarded append); process() and flush() run on
// one worker thread (or the test's thread, with a simulated clock: nothing here sleeps).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "audio/voice_activity.h"
#include "engine/transcriber.h"

namespace npuscribe {

struct StreamingOptions {
  std::string language;  // "" = the model's default (English-only: "en"; multilingual: detect per pass)
  bool use_vad = true;
  int vad_sensitivity = 1;  // 0 (lenient) .. 3 (strict)
  // Passes are paced by their own duration: the worker starts the next one as soon as the previous is
  // done and this much audio arrived that it did not see (so a slow machine makes fewer, not late, passes).
  double min_new_audio_s = 0.4;
  double first_pass_speech_s = 0.3;  // the first pass of a speech run starts after this much speech
  double trim_after_s = 15.0;        // buffers longer than this are trimmed at a confirmed segment end
  double max_buffer_s = 28.0;        // hard limit: a pass never sees more (Whisper's window is 30 s)
  double pause_confirm_s = 2.0;      // this much non-speech after speech confirms the last pass
  double lead_in_s = 0.5;            // silence kept before speech so its onset is not clipped
  std::size_t prompt_chars = 200;    // confirmed text used as the prompt (the part before the buffer)
  ProfileSink* profile_sink = nullptr;
};

// Token cap of a pass over audio_s seconds: 12 tokens (start, timestamps, a first short segment) plus 8
// per second. Fast speech is about 3-4 words (4-6 tokens) a second plus timestamp pairs, so this bounds
// real speech, while a model that never emits end-of-text (or hallucinates on noise) stops early instead
// of decoding 224 tokens per pass. Never above Whisper's own limit (n_text_ctx / 2 = 224).
int streaming_max_new_tokens(double audio_s);

// The engine options of a pass over audio_s seconds: greedy at temperature 0 with no fallback, timestamps
// on (segment ends are where the buffer is trimmed), the given language, tokens capped by
// streaming_max_new_tokens(audio_s). The final text of a dictation whose buffer was never trimmed is the
// transcription of the final pass's audio (StreamingUpdate::pass_start_s to the end) with these options
// and no prompt: the final pass decides everything not yet confirmed, and keeps what was confirmed when
// its own text starts with it (see StreamingTranscriber::run_pass).
TranscribeOptions streaming_pass_options(const std::string& language, double audio_s);

struct StreamingWord {
  std::string text;                   // with its leading space, as Whisper produces it
  double start_s = 0.0, end_s = 0.0;  // on the recording's audio clock (approximate within a segment)
  double first_seen_audio_s = 0.0;    // audio received when a pass first showed this word
};

struct StreamingUpdate {
  std::string confirmed_delta;  // newly confirmed text (append it to what came before)
  std::string confirmed;        // all confirmed text so far
  std::string unconfirmed;      // the latest pass's words beyond the confirmed text
  double audio_time_s = 0.0;    // audio received when the pass started
  double pass_start_s = 0.0;    // audio clock of the first sample the pass transcribed
  double pass_audio_s = 0.0;    // length of the audio the pass transcribed (0: no pass ran)
  int pass_max_tokens = 0;      // the pass's token cap
  double pass_compute_s = 0.0;  // wall time the pass took
  bool voice_active = false;
  bool final = false;  // from flush()
  // Latency: seconds from speech start (audio clock) to the first words of this speech run, counted as
  // (audio received at the pass + its compute time) - speech start; -1 when this update has no first words.
  double first_words_latency_s = -1.0;
  // For each newly confirmed word: (audio received at the pass + compute) - the word's end time.
  std::vector<double> confirmed_lags_s;
  // The encoder's device failed during this pass and the CPU finished it (Encoder::set_notice_handler).
  std::vector<std::string> notices;
};

// The LocalAgreement-2 bookkeeping alone (no engine): feed it each pass's words on the absolute clock.
class LocalAgreement {
 public:
  // Words of a new pass; returns the words it confirms. Words that end before the confirmed time (audio
  // already confirmed) and a repeat of the confirmed tail at the start (1..5 words) are dropped first.
  std::vector<StreamingWord> insert(std::vector<StreamingWord> words);
  // Confirms everything still unconfirmed (on stop or a long pause).
  std::vector<StreamingWord> flush();
  // The final pass of a buffer starting at buffer_start_s (stop or a long pause): when its words begin
  // with the confirmed words inside the buffer, everything after them is confirmed, so the text equals the
  // pass's transcription exactly (no time heuristics). Otherwise (the earlier passes' agreement was not
  // borne out) it falls back to insert() then flush(). Returns the words it confirms.
  std::vector<StreamingWord> finish(std::vector<StreamingWord> words, double buffer_start_s);
  const std::vector<StreamingWord>& confirmed() const { return confirmed_; }
  const std::vector<StreamingWord>& unconfirmed() const { return previous_; }
  double confirmed_end_s() const { return confirmed_end_s_; }
  void drop_confirmed_before(double time_s);  // forget old confirmed words (memory stays flat)

 private:
  std::vector<StreamingWord> confirmed_;  // a tail of the confirmed words (for overlap removal)
  std::vector<StreamingWord> previous_;   // the previous pass's unconfirmed words
  double confirmed_end_s_ = 0.0;
};

// Joins words into text; the first word's leading space is dropped when `at_start`.
std::string join_words(const std::vector<StreamingWord>& words);

class StreamingTranscriber {
 public:
  StreamingTranscriber(std::shared_ptr<const WhisperModel> model, StreamingOptions options,
                       std::unique_ptr<EncoderBackend> encoder_backend = nullptr);
  ~StreamingTranscriber();  // stops the worker

  // 16 kHz mono samples. Thread-safe, never waits on a pass.
  void push_audio(std::span<const float> samples);

  // Runs one pass when there is enough new audio with speech in it (or confirms on a long pause).
  // Returns nothing when no pass was due.
  std::optional<StreamingUpdate> process();
  // Takes all pushed audio, runs a last pass over the buffer if it holds unseen speech, and confirms it.
  StreamingUpdate flush();

  // Worker thread: calls process() whenever audio arrives and hands each update to `on_update` (on the
  // worker thread); stop_worker() flushes and delivers the final update before it returns.
  using UpdateCallback = std::function<void(const StreamingUpdate& update)>;
  using ErrorCallback = std::function<void(const std::string& message)>;
  void start_worker(UpdateCallback on_update, ErrorCallback on_error);
  void stop_worker();

  void set_vad_sensitivity(int sensitivity);  // thread-safe; applies from the next chunk
  double audio_received_s() const;
  double buffer_s() const;  // audio currently held (worker thread)
  const std::string& confirmed_text() const { return confirmed_text_; }

 private:
  void take_pending();
  StreamingUpdate run_pass(bool final);
  double confirmed_segment_end(const TranscriptResult& pass, double buffer_start_s) const;
  void drop_buffer_front(std::size_t samples);
  std::string prompt() const;

  std::shared_ptr<const WhisperModel> model_;
  StreamingOptions options_;
  Transcriber transcriber_;
  VoiceActivityDetector vad_;

  mutable std::mutex pending_mutex_;
  std::condition_variable pending_cv_;
  std::vector<float> pending_;
  std::int64_t received_samples_ = 0;  // guarded by pending_mutex_
  std::atomic<int> requested_sensitivity_{-1};

  // Worker-side state.
  std::vector<float> buffer_;
  std::int64_t buffer_start_sample_ = 0;  // absolute index of buffer_[0]
  std::int64_t taken_samples_ = 0;        // absolute samples moved from pending_ into buffer_
  std::int64_t last_pass_end_sample_ = 0;
  std::int64_t last_speech_sample_ = -1;  // absolute end of the last frame judged speech
  std::int64_t speech_run_start_sample_ = -1;
  bool run_has_words_ = false;  // the current speech run already produced words
  LocalAgreement agreement_;
  std::vector<StreamingWord> last_pass_words_;  // all words of the last pass, as it produced them
  std::vector<std::string> notices_;            // device-failure notices of the pass in progress
  std::int64_t last_pass_start_sample_ = -1;    // buffer start of the last pass
  std::string confirmed_text_;
  std::vector<StreamingWord> scrolled_out_;  // confirmed words before the buffer (the prompt source)

  std::thread worker_;
  bool stop_requested_ = false;  // guarded by pending_mutex_
  UpdateCallback on_update_;
  ErrorCallback on_error_;
};

}  // namespace npuscribe
