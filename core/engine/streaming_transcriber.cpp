#include "engine/streaming_transcriber.h"

#include <utility>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "util/error.h"

namespace npuscribe {

namespace {

constexpr double kSampleRateHz = kWhisperSampleRateHz;

std::string trimmed(const std::string& text) {
  const std::size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return {};
  const std::size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

bool same_word(const StreamingWord& a, const StreamingWord& b) {
  return trimmed(a.text) == trimmed(b.text);
}

// A segment's words, each keeping its leading space; times spread over the segment by character count
// (per-word alignment would cost a second decoder pass, and only segment ends are used for trimming).
void append_segment_words(const Segment& segment, double offset_s, double audio_s,
                          std::vector<StreamingWord>& out) {
  std::vector<std::string> words;
  for (std::size_t i = 0; i < segment.text.size();) {
    std::size_t j = i;
    while (j < segment.text.size() && segment.text[j] == ' ') ++j;
    while (j < segment.text.size() && segment.text[j] != ' ') ++j;
    std::string word = segment.text.substr(i, j - i);
    if (!trimmed(word).empty()) words.push_back(std::move(word));
    i = j;
  }
  std::size_t total_chars = 0;
  for (const std::string& w : words) total_chars += w.size();
  const double start_s = offset_s + segment.start_s;
  const double span_s = std::max(0.0, segment.end_s - segment.start_s);
  std::size_t chars_before = 0;
  for (std::string& w : words) {
    StreamingWord word;
    word.start_s =
        start_s + span_s * static_cast<double>(chars_before) / std::max<std::size_t>(1, total_chars);
    chars_before += w.size();
    word.end_s = start_s + span_s * static_cast<double>(chars_before) / std::max<std::size_t>(1, total_chars);
    word.first_seen_audio_s = audio_s;
    word.text = std::move(w);
    out.push_back(std::move(word));
  }
}

}  // namespace

int streaming_max_new_tokens(double audio_s) {
  return std::clamp(12 + static_cast<int>(std::ceil(8.0 * std::max(0.0, audio_s))), 12, 224);
}

TranscribeOptions streaming_pass_options(const std::string& language, double audio_s) {
  TranscribeOptions options;
  options.max_new_tokens = streaming_max_new_tokens(audio_s);
  options.language = language;
  options.temperatures = {0.0f};
  options.beam_size = 0;
  options.timestamps = true;
  options.word_timestamps = false;
  options.condition_on_previous_text = true;
  return options;
}

std::string join_words(const std::vector<StreamingWord>& words) {
  std::string text;
  for (const StreamingWord& word : words) text += word.text;
  return text;
}

std::vector<StreamingWord> LocalAgreement::insert(std::vector<StreamingWord> words) {
  // Audio that is already confirmed: whisper_streaming's 0.1-s tolerance.
  std::erase_if(words, [&](const StreamingWord& w) { return w.start_s < confirmed_end_s_ - 0.1; });
  // A pass that starts by repeating the confirmed tail (the buffer still holds that audio).
  if (!words.empty() && !confirmed_.empty() && std::abs(words.front().start_s - confirmed_end_s_) < 1.0) {
    const std::size_t max_n = std::min<std::size_t>({5, confirmed_.size(), words.size()});
    for (std::size_t n = max_n; n >= 1; --n) {
      bool equal = true;
      for (std::size_t i = 0; i < n && equal; ++i)
        equal = same_word(confirmed_[confirmed_.size() - n + i], words[i]);
      if (equal) {
        words.erase(words.begin(), words.begin() + static_cast<std::ptrdiff_t>(n));
        break;
      }
    }
  }
  std::size_t agreed = 0;
  while (agreed < words.size() && agreed < previous_.size() && same_word(words[agreed], previous_[agreed])) {
    words[agreed].first_seen_audio_s = previous_[agreed].first_seen_audio_s;
    ++agreed;
  }
  for (std::size_t i = agreed; i < words.size() && i < previous_.size(); ++i)
    if (same_word(words[i], previous_[i])) words[i].first_seen_audio_s = previous_[i].first_seen_audio_s;
  std::vector<StreamingWord> confirmed(words.begin(), words.begin() + static_cast<std::ptrdiff_t>(agreed));
  previous_.assign(words.begin() + static_cast<std::ptrdiff_t>(agreed), words.end());
  for (const StreamingWord& w : confirmed) {
    confirmed_.push_back(w);
    confirmed_end_s_ = std::max(confirmed_end_s_, w.end_s);
  }
  return confirmed;
}

std::vector<StreamingWord> LocalAgreement::flush() {
  std::vector<StreamingWord> confirmed = std::move(previous_);
  previous_.clear();
  for (const StreamingWord& w : confirmed) {
    confirmed_.push_back(w);
    confirmed_end_s_ = std::max(confirmed_end_s_, w.end_s);
  }
  return confirmed;
}

std::vector<StreamingWord> LocalAgreement::finish(std::vector<StreamingWord> words, double buffer_start_s) {
  // Confirmed words whose audio is still in the buffer (the pass re-transcribed them).
  std::size_t first_in_buffer = confirmed_.size();
  while (first_in_buffer > 0 && confirmed_[first_in_buffer - 1].end_s > buffer_start_s + 1e-6)
    --first_in_buffer;
  const std::size_t in_buffer = confirmed_.size() - first_in_buffer;
  bool prefix = in_buffer <= words.size();
  for (std::size_t i = 0; prefix && i < in_buffer; ++i)
    prefix = same_word(confirmed_[first_in_buffer + i], words[i]);
  if (!prefix) {
    std::vector<StreamingWord> confirmed = insert(std::move(words));
    std::vector<StreamingWord> rest = flush();
    confirmed.insert(confirmed.end(), rest.begin(), rest.end());
    return confirmed;
  }
  for (std::size_t i = in_buffer; i < words.size() && i - in_buffer < previous_.size(); ++i)
    if (same_word(words[i], previous_[i - in_buffer]))
      words[i].first_seen_audio_s = previous_[i - in_buffer].first_seen_audio_s;
  std::vector<StreamingWord> confirmed(words.begin() + static_cast<std::ptrdiff_t>(in_buffer), words.end());
  previous_.clear();
  for (const StreamingWord& w : confirmed) {
    confirmed_.push_back(w);
    confirmed_end_s_ = std::max(confirmed_end_s_, w.end_s);
  }
  return confirmed;
}

void LocalAgreement::drop_confirmed_before(double time_s) {
  // Keep five words at least: the overlap check compares against the confirmed tail.
  while (confirmed_.size() > 5 && confirmed_.front().end_s <= time_s) confirmed_.erase(confirmed_.begin());
}

StreamingTranscriber::StreamingTranscriber(std::shared_ptr<const WhisperModel> model,
                                           StreamingOptions options,
                                           std::unique_ptr<EncoderBackend> encoder_backend)
    : model_(model),
      options_(std::move(options)),
      transcriber_(model, std::move(encoder_backend)),
      vad_(options_.vad_sensitivity) {
  if (options_.max_buffer_s <= 1.0 || options_.max_buffer_s > 30.0)
    throw Error("the streaming buffer limit must be between 1 and 30 s (Whisper's window)");
  if (options_.min_new_audio_s <= 0.0 || options_.min_new_audio_s >= options_.max_buffer_s - 1.0)
    throw Error("the new audio per streaming pass must be positive and shorter than the buffer limit");
  transcriber_.set_profile_sink(options_.profile_sink);
  // Passes run on one thread at a time (the worker, or flush() after it stopped), as do these notices.
  transcriber_.encoder().set_notice_handler(
      [this](const std::string& message) { notices_.push_back(message); });
}

StreamingTranscriber::~StreamingTranscriber() {
  {
    std::lock_guard lock(pending_mutex_);
    stop_requested_ = true;
    on_update_ = nullptr;
  }
  pending_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void StreamingTranscriber::push_audio(std::span<const float> samples) {
  {
    std::lock_guard lock(pending_mutex_);
    pending_.insert(pending_.end(), samples.begin(), samples.end());
    received_samples_ += static_cast<std::int64_t>(samples.size());
  }
  pending_cv_.notify_one();
}

void StreamingTranscriber::set_vad_sensitivity(int sensitivity) {
  requested_sensitivity_.store(sensitivity);
}

double StreamingTranscriber::audio_received_s() const {
  std::lock_guard lock(pending_mutex_);
  return static_cast<double>(received_samples_) / kSampleRateHz;
}

double StreamingTranscriber::buffer_s() const {
  return static_cast<double>(buffer_.size()) / kSampleRateHz;
}

void StreamingTranscriber::take_pending() {
  std::vector<float> chunk;
  {
    std::lock_guard lock(pending_mutex_);
    chunk.swap(pending_);
  }
  const int sensitivity = requested_sensitivity_.exchange(-1);
  if (sensitivity >= 0) vad_.set_sensitivity(sensitivity);
  // The detector runs frame by frame so speech starts and ends land on 10-ms boundaries.
  const std::size_t frame = VoiceActivityDetector::kFrameSamples;
  for (std::size_t i = 0; i < chunk.size(); i += frame) {
    const std::size_t n = std::min(frame, chunk.size() - i);
    const bool was_speech = vad_.in_speech();
    vad_.push(std::span<const float>(chunk).subspan(i, n));
    const std::int64_t end_sample = taken_samples_ + static_cast<std::int64_t>(i + n);
    if (!options_.use_vad || vad_.in_speech()) {
      if (!options_.use_vad ? last_speech_sample_ < 0 : !was_speech) {
        speech_run_start_sample_ =
            options_.use_vad ? vad_.speech_start_frame() * static_cast<std::int64_t>(frame) : end_sample - n;
        run_has_words_ = false;
      }
      last_speech_sample_ = end_sample;
    }
  }
  buffer_.insert(buffer_.end(), chunk.begin(), chunk.end());
  taken_samples_ += static_cast<std::int64_t>(chunk.size());
}

void StreamingTranscriber::drop_buffer_front(std::size_t samples) {
  samples = std::min(samples, buffer_.size());
  if (samples == 0) return;
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(samples));
  buffer_start_sample_ += static_cast<std::int64_t>(samples);
  const double start_s = static_cast<double>(buffer_start_sample_) / kSampleRateHz;
  // Confirmed words now before the buffer become the prompt of later passes.
  for (const StreamingWord& w : agreement_.confirmed())
    if (w.end_s <= start_s + 1e-6 && w.end_s > (scrolled_out_.empty() ? -1.0 : scrolled_out_.back().end_s))
      scrolled_out_.push_back(w);
  std::size_t chars = 0, keep_from = scrolled_out_.size();
  while (keep_from > 0 && chars < options_.prompt_chars) chars += scrolled_out_[--keep_from].text.size();
  scrolled_out_.erase(scrolled_out_.begin(), scrolled_out_.begin() + static_cast<std::ptrdiff_t>(keep_from));
  agreement_.drop_confirmed_before(start_s);
}

std::string StreamingTranscriber::prompt() const {
  std::string text = join_words(scrolled_out_);
  if (text.size() > options_.prompt_chars) text.erase(0, text.size() - options_.prompt_chars);
  return trimmed(text);
}

std::optional<StreamingUpdate> StreamingTranscriber::process() {
  take_pending();
  const auto min_new = static_cast<std::int64_t>(options_.min_new_audio_s * kSampleRateHz);
  const auto lead_in = static_cast<std::int64_t>(options_.lead_in_s * kSampleRateHz);
  const std::int64_t buffer_end = buffer_start_sample_ + static_cast<std::int64_t>(buffer_.size());
  const bool speech_in_buffer = last_speech_sample_ > buffer_start_sample_;
  const bool unseen_speech = last_speech_sample_ > last_pass_end_sample_;
  const bool has_unconfirmed = !agreement_.unconfirmed().empty();

  if (!speech_in_buffer && !has_unconfirmed) {
    // Only silence: keep a short lead-in so the next word's onset is not clipped; no pass, no text.
    if (static_cast<std::int64_t>(buffer_.size()) > lead_in)
      drop_buffer_front(buffer_.size() - static_cast<std::size_t>(lead_in));
    return std::nullopt;
  }
  const bool in_pause = options_.use_vad && !vad_.in_speech() &&
                        buffer_end - last_speech_sample_ >= options_.pause_confirm_s * kSampleRateHz;
  if (in_pause) {
    // The speaker paused: confirm the last pass (after one more if it did not hear the end of the speech).
    StreamingUpdate update = run_pass(true);
    drop_buffer_front(buffer_.size() > static_cast<std::size_t>(lead_in) ? buffer_.size() - lead_in : 0);
    return update;
  }
  if (!unseen_speech) return std::nullopt;
  const bool first_of_run = !run_has_words_ && last_pass_end_sample_ <= speech_run_start_sample_;
  if (first_of_run) {
    // The first grey words come from a pass over the first half second of speech.
    const auto first_speech = static_cast<std::int64_t>(options_.first_pass_speech_s * kSampleRateHz);
    if (last_speech_sample_ - speech_run_start_sample_ < first_speech) return std::nullopt;
  } else if (buffer_end - last_pass_end_sample_ < min_new) {
    return std::nullopt;
  }
  return run_pass(false);
}

StreamingUpdate StreamingTranscriber::flush() {
  take_pending();
  return run_pass(true);
}

StreamingUpdate StreamingTranscriber::run_pass(bool final) {
  StreamingUpdate update;
  const double audio_s = static_cast<double>(taken_samples_) / kSampleRateHz;
  update.audio_time_s = audio_s;
  update.final = final;
  update.pass_start_s = static_cast<double>(buffer_start_sample_) / kSampleRateHz;
  update.voice_active = vad_.in_speech();
  const auto max_samples = static_cast<std::size_t>(options_.max_buffer_s * kSampleRateHz);
  const std::size_t pass_samples = std::min(buffer_.size(), max_samples);
  const std::int64_t pass_end = buffer_start_sample_ + static_cast<std::int64_t>(pass_samples);
  const bool needs_pass = pass_end > last_pass_end_sample_ && last_speech_sample_ > buffer_start_sample_;

  std::vector<StreamingWord> confirmed_words;
  TranscriptResult result;
  const auto started = std::chrono::steady_clock::now();
  if (needs_pass) {
    MonoAudio audio;
    audio.samples.assign(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(pass_samples));
    TranscribeOptions options = streaming_pass_options(options_.language, audio.duration_s());
    options.initial_prompt = prompt();
    result = transcriber_.transcribe(audio, options);
    update.notices = std::exchange(notices_, {});
    update.pass_audio_s = audio.duration_s();
    update.pass_max_tokens = options.max_new_tokens;
    last_pass_end_sample_ = pass_end;
    std::vector<StreamingWord> words;
    const double offset_s = static_cast<double>(buffer_start_sample_) / kSampleRateHz;
    for (const Segment& segment : result.segments) append_segment_words(segment, offset_s, audio_s, words);
    last_pass_words_ = words;
    last_pass_start_sample_ = buffer_start_sample_;
    confirmed_words =
        final ? agreement_.finish(std::move(words), offset_s) : agreement_.insert(std::move(words));
  } else if (final && last_pass_start_sample_ == buffer_start_sample_ && !agreement_.unconfirmed().empty()) {
    // The last pass already saw all of this audio: decide its tail as a final pass would.
    confirmed_words =
        agreement_.finish(last_pass_words_, static_cast<double>(buffer_start_sample_) / kSampleRateHz);
  }
  update.pass_compute_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // A full window with no confirmed segment end to trim at: confirm the pass and move on, as Whisper's
  // long-form algorithm moves to the next window.
  const double start_s = static_cast<double>(buffer_start_sample_) / kSampleRateHz;
  const double cut_s = needs_pass ? confirmed_segment_end(result, start_s) : -1.0;
  const bool window_full = !final && needs_pass && cut_s <= start_s &&
                           buffer_s() > options_.max_buffer_s - options_.min_new_audio_s;
  if (final || window_full) {
    std::vector<StreamingWord> rest = agreement_.flush();
    confirmed_words.insert(confirmed_words.end(), rest.begin(), rest.end());
  }

  const double emitted_at_s = audio_s + update.pass_compute_s;
  for (const StreamingWord& w : confirmed_words)
    update.confirmed_lags_s.push_back(emitted_at_s - std::min(w.end_s, audio_s));
  update.confirmed_delta = join_words(confirmed_words);
  if (confirmed_text_.empty()) update.confirmed_delta = trimmed(update.confirmed_delta);
  confirmed_text_ += update.confirmed_delta;
  update.confirmed = confirmed_text_;
  update.unconfirmed = join_words(agreement_.unconfirmed());
  if (confirmed_text_.empty()) update.unconfirmed = trimmed(update.unconfirmed);
  if (!run_has_words_ && !(confirmed_words.empty() && agreement_.unconfirmed().empty()) &&
      speech_run_start_sample_ >= 0) {
    run_has_words_ = true;
    update.first_words_latency_s =
        emitted_at_s - static_cast<double>(speech_run_start_sample_) / kSampleRateHz;
  }
  if (window_full) {
    drop_buffer_front(static_cast<std::size_t>(last_pass_end_sample_ - buffer_start_sample_));
  } else if (!final && cut_s > start_s && buffer_s() > options_.trim_after_s) {
    drop_buffer_front(static_cast<std::size_t>(std::llround((cut_s - start_s) * kSampleRateHz)));
  }
  return update;
}

double StreamingTranscriber::confirmed_segment_end(const TranscriptResult& pass,
                                                   double buffer_start_s) const {
  // The latest segment end that is confirmed: audio before it will never be transcribed again.
  double cut_s = -1.0;
  for (const Segment& segment : pass.segments) {
    const double end_s = buffer_start_s + segment.end_s;
    if (end_s <= agreement_.confirmed_end_s() + 1e-3) cut_s = std::max(cut_s, end_s);
  }
  return cut_s;
}

void StreamingTranscriber::start_worker(UpdateCallback on_update, ErrorCallback on_error) {
  if (worker_.joinable()) throw Error("the dictation worker is already running; stop it first");
  on_update_ = std::move(on_update);
  on_error_ = std::move(on_error);
  stop_requested_ = false;
  worker_ = std::thread([this] {
    try {
      for (;;) {
        {
          std::unique_lock lock(pending_mutex_);
          pending_cv_.wait(lock, [&] { return stop_requested_ || !pending_.empty(); });
          if (stop_requested_) break;
        }
        if (std::optional<StreamingUpdate> update = process(); update && on_update_) on_update_(*update);
      }
      StreamingUpdate last = flush();
      if (on_update_) on_update_(last);
    } catch (const std::exception& e) {
      if (on_error_) on_error_(std::string("dictation stopped: ") + e.what());
    }
  });
}

void StreamingTranscriber::stop_worker() {
  {
    std::lock_guard lock(pending_mutex_);
    stop_requested_ = true;
  }
  pending_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

}  // namespace npuscribe
