#include "engine/decoding.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "engine/greedy.h"

namespace npuscribe {

std::vector<int> sot_sequence(const Tokenizer& tokenizer, const DecodingOptions& options) {
  const SpecialTokens& s = tokenizer.special();
  std::vector<int> sequence = {s.sot};
  if (s.language_count > 0) {
    sequence.push_back(s.language(std::clamp(options.language_index, 0, s.language_count - 1)));
    sequence.push_back(options.translate ? s.translate : s.transcribe);
  }
  if (!options.timestamps) sequence.push_back(s.notimestamps);
  return sequence;
}

std::vector<int> decoder_prompt(const Tokenizer& tokenizer, const DecodingOptions& options, int n_text_ctx,
                                int* sot_index) {
  std::vector<int> prompt;
  if (!options.previous_tokens.empty()) {
    // Whisper keeps at most n_text_ctx / 2 - 1 tokens of context, the most recent ones.
    const std::size_t keep =
        std::min(options.previous_tokens.size(), static_cast<std::size_t>(n_text_ctx / 2 - 1));
    prompt.push_back(tokenizer.special().prev);
    prompt.insert(prompt.end(), options.previous_tokens.end() - static_cast<std::ptrdiff_t>(keep),
                  options.previous_tokens.end());
  }
  if (sot_index) *sot_index = static_cast<int>(prompt.size());
  const std::vector<int> sot = sot_sequence(tokenizer, options);
  prompt.insert(prompt.end(), sot.begin(), sot.end());
  return prompt;
}

LogitFilter::LogitFilter(const Tokenizer& tokenizer, const DecodingOptions& options)
    : tokenizer_(tokenizer), options_(options) {
  suppressed_ = suppressed_tokens(tokenizer, options.suppress_non_speech, /*timestamps_allowed=*/true);
  blank_ = tokenizer.find(" ");
  max_initial_timestamp_index_ = static_cast<int>(std::lround(options.max_initial_timestamp_s / 0.02));
}

void LogitFilter::apply(std::span<float> logits, std::span<const int> sampled) const {
  const SpecialTokens& s = tokenizer_.special();
  const int n_vocab = static_cast<int>(logits.size());
  const float minus_inf = -std::numeric_limits<float>::infinity();
  auto suppress_range = [&](int begin, int end) {
    for (int id = std::max(0, begin); id < std::min(end, n_vocab); ++id)
      logits[static_cast<std::size_t>(id)] = minus_inf;
  };
  // SuppressBlank: no " " or end-of-text as the first token.
  if (sampled.empty() && options_.suppress_blank) {
    if (blank_ >= 0) logits[static_cast<std::size_t>(blank_)] = minus_inf;
    logits[static_cast<std::size_t>(s.eot)] = minus_inf;
  }
  // SuppressTokens: non-speech symbols and every control token (notimestamps included).
  for (int id : suppressed_) logits[static_cast<std::size_t>(id)] = minus_inf;
  if (!options_.timestamps) {
    suppress_range(s.timestamp_begin, n_vocab);
    return;
  }

  // ApplyTimestampRules.
  const bool last_was_timestamp = !sampled.empty() && sampled.back() >= s.timestamp_begin;
  const bool penultimate_was_timestamp =
      sampled.size() < 2 || sampled[sampled.size() - 2] >= s.timestamp_begin;
  if (last_was_timestamp) {
    if (penultimate_was_timestamp) {
      suppress_range(s.timestamp_begin, n_vocab);  // a pair is complete: text (or end) must follow
    } else {
      suppress_range(0, s.eot);  // a segment is open: close it with a timestamp (or end)
    }
  }
  int last_timestamp = -1;
  for (auto it = sampled.rbegin(); it != sampled.rend(); ++it) {
    if (*it >= s.timestamp_begin) {
      last_timestamp = *it;
      break;
    }
  }
  if (last_timestamp >= 0) {
    // Monotonic, and every segment has a non-zero length (prevents an infinite loop of empty segments).
    const int lowest_allowed =
        (last_was_timestamp && !penultimate_was_timestamp) ? last_timestamp : last_timestamp + 1;
    suppress_range(s.timestamp_begin, lowest_allowed);
  }
  if (sampled.empty()) {
    suppress_range(0, s.timestamp_begin);  // a window starts with a timestamp
    suppress_range(s.timestamp_begin + max_initial_timestamp_index_ + 1, n_vocab);
  }
  // When all timestamps together are likelier than the best text token, force a timestamp.
  float max_logit = minus_inf;
  for (float v : logits) max_logit = std::max(max_logit, v);
  if (!std::isfinite(max_logit)) return;
  double total = 0, timestamp_total = 0;
  float max_text_logit = minus_inf;
  for (int id = 0; id < n_vocab; ++id) {
    const double e = std::exp(static_cast<double>(logits[static_cast<std::size_t>(id)] - max_logit));
    total += e;
    if (id >= s.timestamp_begin) {
      timestamp_total += e;
    } else {
      max_text_logit = std::max(max_text_logit, logits[static_cast<std::size_t>(id)]);
    }
  }
  const double timestamp_logprob = std::log(timestamp_total) - std::log(total);
  const double max_text_logprob = static_cast<double>(max_text_logit - max_logit) - std::log(total);
  if (timestamp_total > 0 && timestamp_logprob > max_text_logprob) suppress_range(0, s.timestamp_begin);
}

double compression_ratio(std::string_view text) {
  if (text.empty()) return 0.0;
  uLongf compressed_size = compressBound(static_cast<uLong>(text.size()));
  std::vector<Bytef> compressed(compressed_size);
  if (compress2(compressed.data(), &compressed_size, reinterpret_cast<const Bytef*>(text.data()),
                static_cast<uLong>(text.size()), Z_DEFAULT_COMPRESSION) != Z_OK) {
    return 0.0;
  }
  return static_cast<double>(text.size()) / static_cast<double>(compressed_size);
}

double log_softmax_at(std::span<const float> logits, int index) {
  const float max_value = *std::max_element(logits.begin(), logits.end());
  if (!std::isfinite(max_value)) return -std::numeric_limits<double>::infinity();
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v - max_value));
  return static_cast<double>(logits[static_cast<std::size_t>(index)] - max_value) - std::log(sum);
}

namespace {

struct Candidate {
  std::vector<int> tokens;
  std::vector<float> probabilities;
  double sum_logprob = 0.0;
  SelfAttentionCache cache;
  bool finished = false;
};

// log-softmax of a whole row into out (double for stable sums over 51864 entries).
void log_softmax(std::span<const float> logits, std::vector<double>& out) {
  out.resize(logits.size());
  const float max_value = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v - max_value));
  const double log_sum = std::log(sum) + max_value;
  for (std::size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<double>(logits[i]) - log_sum;
}

int sample_token(std::span<const float> logits, float temperature, std::mt19937_64& random) {
  if (temperature <= 0.0f) return argmax(logits);
  const float max_value = *std::max_element(logits.begin(), logits.end());
  std::vector<double> weights(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i)
    weights[i] = std::exp(static_cast<double>(logits[i] - max_value) / temperature);
  std::discrete_distribution<int> distribution(weights.begin(), weights.end());
  return distribution(random);
}

// Copies the first n_past rows of a cache (beams fork from one another).
void copy_cache(const SelfAttentionCache& from, SelfAttentionCache& to, int max_rows) {
  reserve_cache_rows(to, from.n_past, max_rows);
  to.n_past = from.n_past;
  for (std::size_t layer = 0; layer < from.key.size(); ++layer) {
    const std::size_t count = static_cast<std::size_t>(from.n_past) * from.key[layer].cols;
    std::copy_n(from.key[layer].values.begin(), count, to.key[layer].values.begin());
    std::copy_n(from.value[layer].values.begin(), count, to.value[layer].values.begin());
  }
}

DecodingResult finish_result(const Candidate& best, const Tokenizer& tokenizer, float temperature,
                             double no_speech_probability) {
  DecodingResult result;
  result.tokens = best.tokens;
  result.token_probabilities = best.probabilities;
  result.sum_logprob = best.sum_logprob;
  result.avg_logprob = best.sum_logprob / static_cast<double>(best.tokens.size() + 1);
  result.no_speech_probability = no_speech_probability;
  result.temperature = temperature;
  result.text = tokenizer.decode(best.tokens);
  result.compression_ratio = compression_ratio(result.text);
  return result;
}

// Length-normalised log-probability (OpenAI's MaximumLikelihoodRanker without a length penalty).
double candidate_score(const Candidate& candidate) {
  return candidate.sum_logprob / std::max<std::size_t>(1, candidate.tokens.size());
}

}  // namespace

DecodingResult decode_window(const Decoder& decoder, const Tokenizer& tokenizer,
                             const CrossAttentionKv& cross, const DecodingOptions& options,
                             std::mt19937_64& random) {
  const WhisperHparams& h = decoder.model().hparams();
  const int eot = tokenizer.special().eot;
  const int sample_len = options.max_new_tokens > 0 ? options.max_new_tokens : h.n_text_ctx / 2;
  const LogitFilter filter(tokenizer, options);
  const bool beam_search = options.temperature <= 0.0f && options.beam_size > 1;
  const int n_candidates =
      beam_search ? options.beam_size : (options.temperature > 0.0f ? std::max(1, options.best_of) : 1);

  // Prompt once; its logits give the no-speech probability (row of <|startoftranscript|>) and the first step.
  int sot_index = 0;
  const std::vector<int> prompt = decoder_prompt(tokenizer, options, h.n_text_ctx, &sot_index);
  SelfAttentionCache prompt_cache = decoder.new_cache();
  std::vector<float> logits;
  {
    const DecodeSequence sequence{prompt, &prompt_cache};
    const int rows[] = {sot_index, static_cast<int>(prompt.size()) - 1};
    decoder.decode_batch(std::span<const DecodeSequence>(&sequence, 1), cross, rows, logits);
  }
  const std::size_t n_vocab = static_cast<std::size_t>(h.n_vocab);
  std::vector<float> sot_row(logits.begin(), logits.begin() + static_cast<std::ptrdiff_t>(n_vocab));
  const double no_speech_probability = std::exp(log_softmax_at(sot_row, tokenizer.special().nosp));
  std::vector<float> first_logits(logits.begin() + static_cast<std::ptrdiff_t>(n_vocab), logits.end());

  // Sampled candidates are independent copies; beam search starts from the single prompt, so that beams
  // are distinct sequences (OpenAI keys candidates by sequence, which collapses identical starts).
  std::vector<Candidate> live(static_cast<std::size_t>(beam_search ? 1 : n_candidates));
  for (Candidate& candidate : live) candidate.cache = prompt_cache;
  const int max_tokens = std::min(sample_len, h.n_text_ctx - static_cast<int>(prompt.size()));
  std::vector<Candidate> finished;
  const std::size_t max_finished =
      static_cast<std::size_t>(std::max(1L, std::lround(options.beam_size * options.patience)));
  std::vector<std::vector<float>> step_logits(live.size(), first_logits);
  std::vector<SelfAttentionCache> spare_caches;
  std::vector<double> logprobs;

  for (int step = 0; step < max_tokens && !live.empty(); ++step) {
    if (!beam_search) {
      // Greedy or sampling: every live candidate picks its own next token.
      for (std::size_t i = 0; i < live.size(); ++i) {
        Candidate& candidate = live[i];
        std::span<float> row(step_logits[i]);
        filter.apply(row, candidate.tokens);
        const int token = sample_token(row, options.temperature, random);
        log_softmax(row, logprobs);
        candidate.sum_logprob += logprobs[static_cast<std::size_t>(token)];
        if (token == eot) {
          candidate.finished = true;
        } else {
          candidate.tokens.push_back(token);
          candidate.probabilities.push_back(
              static_cast<float>(std::exp(logprobs[static_cast<std::size_t>(token)])));
        }
      }
    } else {
      // Beam search: the top beam_size + 1 continuations of every beam compete; finished ones are kept
      // aside until round(beam_size * patience) of them exist.
      struct Continuation {
        double score;
        std::size_t parent;
        int token;
        float probability;
      };
      std::vector<Continuation> continuations;
      for (std::size_t i = 0; i < live.size(); ++i) {
        std::span<float> row(step_logits[i]);
        filter.apply(row, live[i].tokens);
        log_softmax(row, logprobs);
        std::vector<int> order(logprobs.size());
        std::iota(order.begin(), order.end(), 0);
        const std::size_t keep =
            std::min<std::size_t>(static_cast<std::size_t>(options.beam_size) + 1, order.size());
        std::partial_sort(
            order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep), order.end(), [&](int a, int b) {
              return logprobs[static_cast<std::size_t>(a)] > logprobs[static_cast<std::size_t>(b)];
            });
        for (std::size_t k = 0; k < keep; ++k) {
          const double lp = logprobs[static_cast<std::size_t>(order[k])];
          if (!std::isfinite(lp)) continue;
          continuations.push_back({live[i].sum_logprob + lp, i, order[k], static_cast<float>(std::exp(lp))});
        }
      }
      std::stable_sort(continuations.begin(), continuations.end(),
                       [](const Continuation& a, const Continuation& b) { return a.score > b.score; });
      std::vector<Candidate> next;
      for (const Continuation& c : continuations) {
        const Candidate& parent = live[c.parent];
        if (c.token == eot) {
          if (finished.size() < max_finished) {
            Candidate done;
            done.tokens = parent.tokens;
            done.probabilities = parent.probabilities;
            done.sum_logprob = c.score;
            done.finished = true;
            finished.push_back(std::move(done));
          }
          continue;
        }
        Candidate child;
        child.tokens = parent.tokens;
        child.tokens.push_back(c.token);
        child.probabilities = parent.probabilities;
        child.probabilities.push_back(c.probability);
        child.sum_logprob = c.score;
        // Caches are recycled between steps: allocating and zeroing 5 full caches per token cost more
        // than the token itself on small models.
        if (spare_caches.empty()) spare_caches.push_back(decoder.new_cache());
        child.cache = std::move(spare_caches.back());
        spare_caches.pop_back();
        copy_cache(parent.cache, child.cache, h.n_text_ctx);
        next.push_back(std::move(child));
        if (next.size() == static_cast<std::size_t>(options.beam_size))
          break;  // lower-ranked ends are dropped
      }
      for (Candidate& old : live) spare_caches.push_back(std::move(old.cache));
      live = std::move(next);
      if (finished.size() >= max_finished) break;
    }

    // Retire finished candidates, then run one batched decoder step for the rest.
    if (!beam_search) {
      for (Candidate& candidate : live)
        if (candidate.finished) finished.push_back(std::move(candidate));
      live.erase(std::remove_if(live.begin(), live.end(), [](const Candidate& c) { return c.finished; }),
                 live.end());
    }
    if (live.empty() || step + 1 >= max_tokens) break;
    std::vector<int> next_tokens(live.size());
    std::vector<DecodeSequence> sequences(live.size());
    std::vector<int> rows(live.size());
    for (std::size_t i = 0; i < live.size(); ++i) {
      next_tokens[i] = live[i].tokens.back();
      sequences[i] = DecodeSequence{std::span<const int>(&next_tokens[i], 1), &live[i].cache};
      rows[i] = static_cast<int>(i);
    }
    decoder.decode_batch(sequences, cross, rows, logits);
    step_logits.resize(live.size());
    for (std::size_t i = 0; i < live.size(); ++i)
      step_logits[i].assign(logits.begin() + static_cast<std::ptrdiff_t>(i * n_vocab),
                            logits.begin() + static_cast<std::ptrdiff_t>((i + 1) * n_vocab));
  }
  // At the length limit, unfinished candidates fill up the finished list, best first, as OpenAI Whisper
  // does when too few sequences ended (for sampling every candidate counts).
  std::stable_sort(live.begin(), live.end(),
                   [](const Candidate& a, const Candidate& b) { return a.sum_logprob > b.sum_logprob; });
  const std::size_t wanted =
      beam_search ? static_cast<std::size_t>(options.beam_size) : live.size() + finished.size();
  for (Candidate& candidate : live) {
    if (!finished.empty() && finished.size() >= wanted) break;
    finished.push_back(std::move(candidate));
  }
  const auto best = std::max_element(
      finished.begin(), finished.end(),
      [](const Candidate& a, const Candidate& b) { return candidate_score(a) < candidate_score(b); });
  return finish_result(*best, tokenizer, options.temperature, no_speech_probability);
}

std::vector<LanguageScore> language_probabilities(std::span<const float> logits_after_sot,
                                                  const Tokenizer& tokenizer) {
  const SpecialTokens& s = tokenizer.special();
  std::vector<LanguageScore> scores;
  if (s.language_count == 0) return scores;
  float max_logit = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < s.language_count; ++i)
    max_logit = std::max(max_logit, logits_after_sot[static_cast<std::size_t>(s.language(i))]);
  double total = 0;
  for (int i = 0; i < s.language_count; ++i) {
    const double e =
        std::exp(static_cast<double>(logits_after_sot[static_cast<std::size_t>(s.language(i))] - max_logit));
    scores.push_back({i, static_cast<float>(e)});
    total += e;
  }
  for (LanguageScore& score : scores) score.probability = static_cast<float>(score.probability / total);
  std::stable_sort(scores.begin(), scores.end(), [](const LanguageScore& a, const LanguageScore& b) {
    return a.probability > b.probability;
  });
  return scores;
}

std::vector<LanguageScore> detect_language(const Decoder& decoder, const Tokenizer& tokenizer,
                                           const CrossAttentionKv& cross) {
  SelfAttentionCache cache = decoder.new_cache();
  std::vector<float> logits;
  const int prompt[] = {tokenizer.special().sot};
  decoder.decode(prompt, cross, cache, logits);
  return language_probabilities(logits, tokenizer);
}

std::size_t repetition_cut(std::span<const int> tokens, int max_repeats, int min_loop_tokens) {
  const std::size_t n = tokens.size();
  // Try every period: the tail is a loop when it is the same `period` tokens repeated more than
  // max_repeats times and the repeated stretch is long enough not to be ordinary speech ("no, no, no").
  for (std::size_t period = 1; period <= n / static_cast<std::size_t>(max_repeats + 1); ++period) {
    std::size_t repeated = period;  // length of the periodic tail
    while (repeated + 1 <= n && tokens[n - repeated - 1] == tokens[n - repeated - 1 + period]) ++repeated;
    const std::size_t copies = repeated / period;
    if (copies > static_cast<std::size_t>(max_repeats) &&
        repeated >= static_cast<std::size_t>(min_loop_tokens)) {
      return n - repeated + period * static_cast<std::size_t>(max_repeats);
    }
  }
  return n;
}

}  // namespace npuscribe
