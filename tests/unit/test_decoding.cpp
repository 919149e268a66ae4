// Decoding of one window and the pieces around it, checked against OpenAI Whisper's rules:
// - LogitFilter on hand-made logits: SuppressBlank, SuppressTokens (non-speech symbols, control tokens) and
//   ApplyTimestampRules (first step, pairing, monotonicity, the timestamp-probability-mass rule),
// - compression_ratio (against Qt's own zlib: qCompress), needs_fallback, split_window (transcribe.py's
//   segmenting and seeking), language_probabilities, repetition_cut, decoder_prompt, Tokenizer::encode,
//   dynamic_time_warping / median_filter_rows / split_words / alignment_heads (timing.py),
// - decode_window on the random-weight tiny.en fixture: greedy == the filtered argmax replayed step by step,
//   beam search == an independent transcription of OpenAI's BeamSearchDecoder, sampling reproducibility, and
//   every produced sequence obeys the timestamp rules.
#include <QByteArray>
#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "audio/wav_reader.h"
#include "engine/alignment.h"
#include "engine/decoding.h"
#include "engine/tokenizer.h"
#include "engine/transcriber.h"
#include "model/whisper_model.h"
#include "test_support.h"
#include "util/parallel.h"

using namespace npuscribe;

namespace {

constexpr int kVocab = 51864;  // tiny.en
constexpr int kAnd = 843;      // " And" (fixture README)
constexpr int kSo = 523;       // " so"
constexpr float kMinusInf = -std::numeric_limits<float>::infinity();

WhisperHparams tiny_hparams(int n_vocab, int n_text_layer = 4, int n_text_head = 6, int n_state = 384) {
  WhisperHparams h;
  h.n_vocab = n_vocab;
  h.n_audio_ctx = 1500;
  h.n_audio_state = n_state;
  h.n_audio_head = n_text_head;
  h.n_audio_layer = n_text_layer;
  h.n_text_ctx = 448;
  h.n_text_state = n_state;
  h.n_text_head = n_text_head;
  h.n_text_layer = n_text_layer;
  h.n_mels = 80;
  h.ftype = 1;
  return h;
}

// "0 T 10 U" -> [<|0.00|>, " And", <|0.20|>, " so"]: numbers are timestamp offsets (in 0.02 s steps), T and U
// text tokens, E end-of-text.
std::vector<int> seq(const QString& spec, int timestamp_begin, int eot = 50256) {
  std::vector<int> tokens;
  for (const QString& part : spec.split(' ', Qt::SkipEmptyParts)) {
    if (part == "T") {
      tokens.push_back(kAnd);
    } else if (part == "U") {
      tokens.push_back(kSo);
    } else if (part == "E") {
      tokens.push_back(eot);
    } else {
      bool ok = false;
      const int offset = part.toInt(&ok);
      if (!ok) qFatal("bad token spec %s", qPrintable(spec));
      tokens.push_back(timestamp_begin + offset);
    }
  }
  return tokens;
}

QByteArray ids_text(const std::vector<int>& ids) {
  QByteArray out = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ", ";
    out += QByteArray::number(ids[i]);
  }
  return out + "]";
}

int first_argmax(const std::vector<float>& values) {
  return static_cast<int>(std::max_element(values.begin(), values.end()) - values.begin());
}

// Independent statement of OpenAI's ApplyTimestampRules (decoding.py) as a checker of a finished sequence
// (end-of-text excluded). Returns an empty string when every token was allowed when it was sampled.
QString timestamp_rule_violation(const std::vector<int>& tokens, int timestamp_begin, int eot,
                                 int max_initial_offset = 50) {
  int last_timestamp = -1;
  for (std::size_t k = 0; k < tokens.size(); ++k) {
    const int token = tokens[k];
    const bool is_ts = token >= timestamp_begin;
    const QString where = QString("token %1 (%2) of %3").arg(k).arg(token).arg(QString(ids_text(tokens)));
    if (token >= eot && token < timestamp_begin) return "control token sampled at " + where;
    if (k == 0) {
      if (!is_ts) return "the window does not start with a timestamp: " + where;
      if (token - timestamp_begin > max_initial_offset) return "initial timestamp too late: " + where;
    } else {
      const bool last_ts = tokens[k - 1] >= timestamp_begin;
      const bool penultimate_ts = k < 2 || tokens[k - 2] >= timestamp_begin;
      if (last_ts && penultimate_ts && is_ts) return "a third timestamp in a row: " + where;
      if (last_ts && !penultimate_ts && !is_ts) return "text right after a closing timestamp: " + where;
      if (is_ts && last_timestamp >= 0) {
        const int lowest = (last_ts && !penultimate_ts) ? last_timestamp : last_timestamp + 1;
        if (token < lowest) return "timestamp went backwards: " + where;
      }
    }
    if (is_ts) last_timestamp = token;
  }
  return {};
}

QString pieces_text(const WindowSegments& window) {
  QStringList parts;
  for (const WindowSegments::Piece& piece : window.pieces)
    parts << QString("%1-%2 %3-%4")
                 .arg(piece.begin)
                 .arg(piece.end)
                 .arg(piece.start_s, 0, 'f', 2)
                 .arg(piece.end_s, 0, 'f', 2);
  return parts.join("; ");
}

std::vector<double> log_softmax_row(const std::vector<float>& logits) {
  const float max_value = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - max_value);
  const double log_sum = std::log(sum) + max_value;
  std::vector<double> out(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<double>(logits[i]) - log_sum;
  return out;
}

}  // namespace

class TestDecoding : public QObject {
  Q_OBJECT

 private:
  std::shared_ptr<const WhisperModel> model_;
  std::unique_ptr<Transcriber> transcriber_;
  CrossAttentionKv cross_;
  int tb_ = 0;
  int eot_ = 0;

  const Tokenizer& tok() const { return transcriber_->tokenizer(); }

  // Baseline logits: text and end-of-text at 0, every timestamp at -20 (their mass stays far below one text
  // token, so the probability-mass rule does not fire).
  std::vector<float> baseline_logits() const {
    std::vector<float> logits(kVocab, 0.0f);
    for (int id = tb_; id < kVocab; ++id) logits[static_cast<std::size_t>(id)] = -20.0f;
    return logits;
  }

  std::vector<float> decoder_logits(const std::vector<int>& tokens) const {
    SelfAttentionCache cache = transcriber_->decoder().new_cache();
    std::vector<float> logits;
    transcriber_->decoder().decode(tokens, cross_, cache, logits, LogitsRows::last);
    return logits;
  }

  // OpenAI's BeamSearchDecoder + MaximumLikelihoodRanker (decoding.py), written from the Python: candidate
  // sequences are dict keys (so identical beams merge), each beam proposes its top beam_size + 1 tokens, the
  // ranked candidates are scanned until beam_size live ones are kept (finished ones met on the way are
  // collected up to round(beam_size * patience)), and at the length limit the best live beams fill the
  // finished list up to beam_size. Every step re-decodes prompt + prefix from scratch.
  std::vector<int> reference_beam_search(const DecodingOptions& options, double* best_sum_logprob) const {
    const int n_text_ctx = model_->hparams().n_text_ctx;
    int sot_index = 0;
    const std::vector<int> prompt = decoder_prompt(tok(), options, n_text_ctx, &sot_index);
    const LogitFilter filter(tok(), options);
    const int beam_size = options.beam_size;
    const std::size_t max_candidates =
        static_cast<std::size_t>(std::lround(static_cast<double>(beam_size) * options.patience));
    const int sample_len = options.max_new_tokens;
    std::vector<std::pair<std::vector<int>, double>> beams = {{{}, 0.0}};
    std::vector<std::pair<std::vector<int>, double>> finished;  // insertion order, tokens without eot
    for (int step = 0; step < sample_len; ++step) {
      std::vector<std::pair<std::vector<int>, double>> scores;
      std::map<std::vector<int>, std::size_t> index_of;
      for (const auto& [prefix, sum] : beams) {
        std::vector<int> input = prompt;
        input.insert(input.end(), prefix.begin(), prefix.end());
        std::vector<float> logits = decoder_logits(input);
        filter.apply(logits, prefix);
        const std::vector<double> logprobs = log_softmax_row(logits);
        std::vector<int> order(logprobs.size());
        std::iota(order.begin(), order.end(), 0);
        const std::size_t keep = static_cast<std::size_t>(beam_size) + 1;
        std::partial_sort(
            order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep), order.end(), [&](int a, int b) {
              return logprobs[static_cast<std::size_t>(a)] > logprobs[static_cast<std::size_t>(b)];
            });
        for (std::size_t k = 0; k < keep; ++k) {
          std::vector<int> sequence = prefix;
          sequence.push_back(order[k]);
          const double score = sum + logprobs[static_cast<std::size_t>(order[k])];
          if (auto it = index_of.find(sequence); it != index_of.end()) {
            scores[it->second].second = score;
          } else {
            index_of.emplace(sequence, scores.size());
            scores.emplace_back(std::move(sequence), score);
          }
        }
      }
      std::stable_sort(scores.begin(), scores.end(),
                       [](const auto& a, const auto& b) { return a.second > b.second; });
      std::vector<std::pair<std::vector<int>, double>> next, newly_finished;
      for (auto& [sequence, score] : scores) {
        if (sequence.back() == eot_) {
          std::vector<int> tokens(sequence.begin(), sequence.end() - 1);
          newly_finished.emplace_back(std::move(tokens), score);
        } else {
          next.emplace_back(sequence, score);
          if (next.size() == static_cast<std::size_t>(beam_size)) break;
        }
      }
      for (auto& candidate : newly_finished) {
        if (finished.size() >= max_candidates) break;
        finished.push_back(std::move(candidate));
      }
      beams = std::move(next);
      if (finished.size() >= max_candidates) break;
    }
    if (finished.size() < static_cast<std::size_t>(beam_size)) {
      std::vector<std::pair<std::vector<int>, double>> sorted = beams;
      std::stable_sort(sorted.begin(), sorted.end(),
                       [](const auto& a, const auto& b) { return a.second > b.second; });
      for (auto& candidate : sorted) {
        finished.push_back(candidate);
        if (finished.size() >= static_cast<std::size_t>(beam_size)) break;
      }
    }
    std::size_t best = 0;
    double best_score = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < finished.size(); ++i) {
      const double score =
          finished[i].second / static_cast<double>(std::max<std::size_t>(1, finished[i].first.size()));
      if (score > best_score) best_score = score, best = i;
    }
    if (best_sum_logprob) *best_sum_logprob = finished[best].second;
    return finished[best].first;
  }

  void check_result_invariants(const DecodingResult& result, const DecodingOptions& options) {
    QCOMPARE(result.token_probabilities.size(), result.tokens.size());
    for (float p : result.token_probabilities)
      QVERIFY2(p > 0.0f && p <= 1.0f, qPrintable(QString::number(p)));
    QVERIFY(result.no_speech_probability >= 0.0 && result.no_speech_probability <= 1.0);
    QVERIFY(static_cast<int>(result.tokens.size()) <= options.max_new_tokens);
    QVERIFY(std::isfinite(result.sum_logprob));
    QVERIFY(result.sum_logprob <= 0.0);
    QCOMPARE(result.avg_logprob, result.sum_logprob / static_cast<double>(result.tokens.size() + 1));
    QCOMPARE(result.text, tok().decode(result.tokens));
    QCOMPARE(result.compression_ratio, compression_ratio(result.text));
    QCOMPARE(result.temperature, options.temperature);
    if (options.timestamps) {
      const QString violation = timestamp_rule_violation(result.tokens, tb_, eot_);
      QVERIFY2(violation.isEmpty(), qPrintable(violation));
    } else {
      for (int token : result.tokens) QVERIFY2(token < eot_, qPrintable(QString(ids_text(result.tokens))));
    }
  }

 private slots:
  void initTestCase() {
    set_thread_count(2);
    model_ = WhisperModel::load(test::fixture("ggml-tiny.en-random.bin"));
    QCOMPARE(model_->hparams().n_vocab, kVocab);
    transcriber_ = std::make_unique<Transcriber>(model_);
    tb_ = tok().special().timestamp_begin;
    eot_ = tok().special().eot;
    QCOMPARE(tb_, 50363);
    QCOMPARE(eot_, 50256);
    QCOMPARE(tok().token_bytes(kAnd), std::string(" And"));
    QCOMPARE(tok().token_bytes(kSo), std::string(" so"));
    const LogMel mel = transcriber_->mel().compute(read_wav_file(test::fixture("jfk.wav")).samples);
    cross_ = transcriber_->decoder().cross_attention_kv(transcriber_->encoder().encode(mel, 0));
  }

  // ------------------------------------------------------------------------------------------------------
  // LogitFilter: one row per timestamp rule. Baseline logits (text 0, timestamps -20), then apply(); the row
  // says whether ordinary text, end-of-text, and which timestamp offsets [lo, hi] survive.

  void timestamp_rules_data() {
    QTest::addColumn<QString>("sampled");
    QTest::addColumn<bool>("timestamps");
    QTest::addColumn<bool>("text_allowed");
    QTest::addColumn<bool>("eot_allowed");
    QTest::addColumn<int>("ts_lo");  // -1: no timestamp allowed
    QTest::addColumn<int>("ts_hi");

    QTest::newRow("first step: only <|0.00|>..<|1.00|>, no text, no eot")
        << "" << true << false << false << 0 << 50;
    QTest::newRow("after the initial timestamp (penultimate counts as one): text or eot")
        << "0" << true << true << true << -1 << -1;
    QTest::newRow("late initial timestamp: text or eot") << "50" << true << true << true << -1 << -1;
    QTest::newRow("open segment: text, eot, or a strictly later timestamp")
        << "0 T" << true << true << true << 1 << 1500;
    QTest::newRow("closing timestamp: no text; eot, or a timestamp >= it")
        << "0 T 10" << true << false << true << 10 << 1500;
    QTest::newRow("closing at <|30.00|>: only <|30.00|> or eot")
        << "0 T 1500" << true << false << true << 1500 << 1500;
    QTest::newRow("pair complete (same time): text or eot, no timestamp")
        << "0 T 10 10" << true << true << true << -1 << -1;
    QTest::newRow("pair complete (jump): text or eot, no timestamp")
        << "0 T 10 12" << true << true << true << -1 << -1;
    QTest::newRow("text after a pair: timestamps after the pair only")
        << "0 T 10 12 U" << true << true << true << 13 << 1500;
    QTest::newRow("monotonic: two text tokens after <|1.00|>")
        << "50 T U" << true << true << true << 51 << 1500;
    QTest::newRow("second closing timestamp: >= the last one")
        << "0 T 10 12 U 40" << true << false << true << 40 << 1500;
    QTest::newRow("timestamps off, first step: text (blank excepted), no eot")
        << "" << false << true << false << -1 << -1;
    QTest::newRow("timestamps off, later step: text or eot") << "T" << false << true << true << -1 << -1;
  }

  void timestamp_rules() {
    QFETCH(QString, sampled);
    QFETCH(bool, timestamps);
    QFETCH(bool, text_allowed);
    QFETCH(bool, eot_allowed);
    QFETCH(int, ts_lo);
    QFETCH(int, ts_hi);
    DecodingOptions options;
    options.timestamps = timestamps;
    const LogitFilter filter(tok(), options);
    const std::vector<float> input = baseline_logits();
    std::vector<float> logits = input;
    const std::vector<int> tokens = seq(sampled, tb_);
    filter.apply(logits, tokens);

    // Allowed entries keep their value; suppressed ones become -inf.
    for (int id = 0; id < kVocab; ++id) {
      const float v = logits[static_cast<std::size_t>(id)];
      QVERIFY2(v == kMinusInf || v == input[static_cast<std::size_t>(id)], qPrintable(QString::number(id)));
    }
    // Ordinary text: representative speech tokens ("!" is id 0, not a non-speech symbol).
    for (int id : {0, kAnd, kSo, 11 /* "," */, 50255}) {
      QVERIFY2((logits[static_cast<std::size_t>(id)] != kMinusInf) == text_allowed,
               qPrintable(QString("text id %1: %2").arg(id).arg(logits[static_cast<std::size_t>(id)])));
    }
    if (!text_allowed) {
      for (int id = 0; id < eot_; ++id)
        QVERIFY2(logits[static_cast<std::size_t>(id)] == kMinusInf, qPrintable(QString::number(id)));
    }
    QCOMPARE(logits[static_cast<std::size_t>(eot_)] != kMinusInf, eot_allowed);
    // Control tokens (sot, task, prev, nospeech, notimestamps, ...) never.
    for (int id = eot_ + 1; id < tb_; ++id)
      QVERIFY2(logits[static_cast<std::size_t>(id)] == kMinusInf, tok().token_bytes(id).c_str());
    for (int offset = 0; offset <= 1500; ++offset) {
      const bool allowed = ts_lo >= 0 && offset >= ts_lo && offset <= ts_hi;
      QVERIFY2((logits[static_cast<std::size_t>(tb_ + offset)] != kMinusInf) == allowed,
               qPrintable(QString("timestamp offset %1 (%2)")
                              .arg(offset)
                              .arg(QString::fromStdString(tok().token_bytes(tb_ + offset)))));
    }
  }

  void max_initial_timestamp_option() {
    DecodingOptions options;
    options.max_initial_timestamp_s = 0.1;  // <|0.00|> .. <|0.10|>
    const LogitFilter filter(tok(), options);
    std::vector<float> logits = baseline_logits();
    filter.apply(logits, {});
    for (int offset = 0; offset <= 1500; ++offset)
      QCOMPARE(logits[static_cast<std::size_t>(tb_ + offset)] != kMinusInf, offset <= 5);
  }

  // When the timestamps together are likelier than the best text token, text is suppressed (the best single
  // text token still beats every single timestamp). sampled = "<|0.00|> And": timestamps 1..1500 allowed.
  void timestamp_probability_mass_data() {
    QTest::addColumn<float>("timestamp_logit");
    QTest::addColumn<bool>("text_suppressed");
    // Best text token " And" at 5, every other text token and eot at -30. 1500 allowed timestamps at v:
    // sum 1500 e^v against e^5; equal at v = 5 - ln 1500 = -2.313.
    QTest::newRow("each 0.5 below the best text: the sum wins") << 4.5f << true;
    QTest::newRow("just above the break-even (-2.2): the sum wins") << -2.2f << true;
    QTest::newRow("just below the break-even (-2.45): text stays") << -2.45f << false;
    QTest::newRow("far below (-5): text stays") << -5.0f << false;
  }

  void timestamp_probability_mass() {
    QFETCH(float, timestamp_logit);
    QFETCH(bool, text_suppressed);
    std::vector<float> logits(kVocab, -30.0f);
    logits[kAnd] = 5.0f;
    for (int id = tb_; id < kVocab; ++id) logits[static_cast<std::size_t>(id)] = timestamp_logit;
    DecodingOptions options;
    const LogitFilter filter(tok(), options);
    const std::vector<int> sampled = seq("0 T", tb_);
    filter.apply(logits, sampled);
    QCOMPARE(logits[kAnd] == kMinusInf, text_suppressed);
    QCOMPARE(logits[static_cast<std::size_t>(eot_)] == kMinusInf, text_suppressed);
    QCOMPARE(logits[static_cast<std::size_t>(tb_)], kMinusInf);  // monotonic: <|0.00|> is taken
    for (int id = tb_ + 1; id < kVocab; ++id) QCOMPARE(logits[static_cast<std::size_t>(id)], timestamp_logit);
    const int winner = first_argmax(logits);
    QCOMPARE(winner >= tb_, text_suppressed);
  }

  void suppress_blank_only_at_first_step() {
    const int blank = tok().find(" ");
    QCOMPARE(blank, 220);
    DecodingOptions options;
    options.timestamps = false;  // the first step is not all-timestamps then, so the blank rule is visible
    const LogitFilter filter(tok(), options);
    std::vector<float> first = baseline_logits();
    filter.apply(first, {});
    QCOMPARE(first[static_cast<std::size_t>(blank)], kMinusInf);
    QCOMPARE(first[static_cast<std::size_t>(eot_)], kMinusInf);
    std::vector<float> later = baseline_logits();
    const std::vector<int> sampled = {kAnd};
    filter.apply(later, sampled);
    QCOMPARE(later[static_cast<std::size_t>(blank)], 0.0f);
    QCOMPARE(later[static_cast<std::size_t>(eot_)], 0.0f);

    options.suppress_blank = false;
    const LogitFilter no_blank_rule(tok(), options);
    std::vector<float> unsuppressed = baseline_logits();
    no_blank_rule.apply(unsuppressed, {});
    QCOMPARE(unsuppressed[static_cast<std::size_t>(blank)], 0.0f);
    QCOMPARE(unsuppressed[static_cast<std::size_t>(eot_)], 0.0f);
  }

  void non_speech_symbols_suppressed() {
    // OpenAI's non_speech_tokens: single-token symbols with and without a leading space, " -" and " '".
    const std::vector<std::string> suppressed = {"(", " (", "[", " [", "\"", " \"", "#",
                                                 "*", "@",  "~", ">>", " -", " '"};
    const std::vector<std::string> kept = {",", ".", "?", "!", "-", "'", " And", " so"};
    const std::vector<int> sampled = {kAnd};  // a later step, timestamps off: only the symbol rules act
    for (bool non_speech : {true, false}) {
      DecodingOptions options;
      options.timestamps = false;
      options.suppress_non_speech = non_speech;
      const LogitFilter filter(tok(), options);
      std::vector<float> logits = baseline_logits();
      filter.apply(logits, sampled);
      for (const std::string& text : suppressed) {
        const int id = tok().find(text);
        QVERIFY2(id >= 0, text.c_str());
        QVERIFY2((logits[static_cast<std::size_t>(id)] == kMinusInf) == non_speech, text.c_str());
      }
      for (const std::string& text : kept) {
        const int id = tok().find(text);
        QVERIFY2(id >= 0, text.c_str());
        QVERIFY2(logits[static_cast<std::size_t>(id)] == 0.0f, text.c_str());
      }
      // notimestamps and every other control token, whatever the options.
      QCOMPARE(logits[static_cast<std::size_t>(tok().special().notimestamps)], kMinusInf);
      QCOMPARE(logits[static_cast<std::size_t>(tok().special().sot)], kMinusInf);
      QCOMPARE(logits[static_cast<std::size_t>(tok().special().nosp)], kMinusInf);
      // timestamps off: every timestamp.
      for (int id = tb_; id < kVocab; ++id) QCOMPARE(logits[static_cast<std::size_t>(id)], kMinusInf);
    }
  }

  void eot_allowed_after_closing_timestamp() {
    // End-of-text is the likeliest token after a closing timestamp: it must survive and win.
    DecodingOptions options;
    const LogitFilter filter(tok(), options);
    std::vector<float> logits = baseline_logits();
    logits[static_cast<std::size_t>(eot_)] = 3.0f;
    logits[kAnd] = 4.0f;  // text is not allowed here
    const std::vector<int> sampled = seq("0 T U 25", tb_);
    filter.apply(logits, sampled);
    QCOMPARE(first_argmax(logits), eot_);
  }

  // ------------------------------------------------------------------------------------------------------
  // compression_ratio: len(text) / len(zlib.compress(text)); Qt's qCompress is zlib compress2 at the same
  // default level with a 4-byte length header in front.

  void compression_ratio_values_data() {
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<bool>("above_threshold");
    QByteArray repetitive;
    for (int i = 0; i < 40; ++i) repetitive += " I'm going to go to the store.";
    QTest::newRow("repetitive") << repetitive << true;
    QByteArray loop;
    for (int i = 0; i < 30; ++i) loop += " no";
    QTest::newRow("no no no x30") << loop << true;
    QTest::newRow("sentence") << QByteArray(
                                     " And so my fellow Americans, ask not what your country can do for you, "
                                     "ask what you can do for your country.")
                              << false;
    QTest::newRow("short") << QByteArray(" Hello.") << false;
    QTest::newRow("utf-8") << QByteArray(" Grüße aus München, schöne Straße.") << false;
  }

  void compression_ratio_values() {
    QFETCH(QByteArray, text);
    QFETCH(bool, above_threshold);
    const double ratio =
        compression_ratio(std::string_view(text.constData(), static_cast<std::size_t>(text.size())));
    const QByteArray compressed = qCompress(text, -1);
    const double expected = static_cast<double>(text.size()) / static_cast<double>(compressed.size() - 4);
    QCOMPARE(ratio, expected);
    QCOMPARE(ratio > 2.4, above_threshold);
  }

  void compression_ratio_edges() {
    QCOMPARE(compression_ratio(""), 0.0);
    // zlib.compress(b"a") == b"x\x9cK\x04\x00\x00b\x00b": 2 header + 3 deflate + 4 adler32 bytes.
    QCOMPARE(compression_ratio("a"), 1.0 / 9.0);
  }

  // ------------------------------------------------------------------------------------------------------
  // needs_fallback: transcribe.py's decode_with_fallback.

  void needs_fallback_table_data() {
    QTest::addColumn<double>("compression");
    QTest::addColumn<double>("avg_logprob");
    QTest::addColumn<double>("no_speech");
    QTest::addColumn<bool>("fallback");
    QTest::newRow("fine") << 1.5 << -0.5 << 0.1 << false;
    QTest::newRow("repetitive") << 2.5 << -0.5 << 0.1 << true;
    QTest::newRow("ratio exactly 2.4 (strict >)") << 2.4 << -0.5 << 0.1 << false;
    QTest::newRow("unlikely") << 1.5 << -1.5 << 0.1 << true;
    QTest::newRow("logprob exactly -1 (strict <)") << 1.5 << -1.0 << 0.1 << false;
    QTest::newRow("silence: unlikely and no speech") << 1.5 << -1.5 << 0.7 << false;
    QTest::newRow("silence wins over repetition") << 2.5 << -1.5 << 0.7 << false;
    QTest::newRow("no speech but likely: repetition still falls back") << 2.5 << -0.5 << 0.7 << true;
    QTest::newRow("no speech exactly 0.6 (strict >)") << 1.5 << -1.5 << 0.6 << true;
    QTest::newRow("no speech alone") << 1.5 << -0.5 << 0.9 << false;
  }

  void needs_fallback_table() {
    QFETCH(double, compression);
    QFETCH(double, avg_logprob);
    QFETCH(double, no_speech);
    QFETCH(bool, fallback);
    DecodingResult result;
    result.compression_ratio = compression;
    result.avg_logprob = avg_logprob;
    result.no_speech_probability = no_speech;
    QCOMPARE(needs_fallback(result, TranscribeOptions{}), fallback);
  }

  void needs_fallback_custom_thresholds() {
    TranscribeOptions options;
    options.compression_ratio_threshold = 3.0;
    options.logprob_threshold = -2.0;
    options.no_speech_threshold = 0.9;
    DecodingResult result;
    result.compression_ratio = 2.5;
    result.avg_logprob = -1.5;
    result.no_speech_probability = 0.7;
    QCOMPARE(needs_fallback(result, options), false);
    result.avg_logprob = -2.5;
    QCOMPARE(needs_fallback(result, options), true);
    result.no_speech_probability = 0.95;
    QCOMPARE(needs_fallback(result, options), false);
  }

  // ------------------------------------------------------------------------------------------------------
  // split_window: transcribe.py's segmenting. Pieces are "begin-end start-end", seek in mel frames
  // (timestamp position * 2).

  void split_window_cases_data() {
    QTest::addColumn<QString>("tokens");
    QTest::addColumn<double>("window_start");
    QTest::addColumn<int>("window_frames");
    QTest::addColumn<QString>("pieces");
    QTest::addColumn<int>("seek");
    // consecutive pairs at 4 and 7; the unfinished "<|4.00|> T T" is dropped, seek to <|4.00|>.
    QTest::newRow("pairs, unfinished tail")
        << "0 T T 100 100 T 200 200 T T" << 10.0 << 3000 << "0-4 10.00-12.00; 4-7 12.00-14.00" << 400;
    QTest::newRow("pairs, single timestamp ending: whole window")
        << "0 T 50 50 T T 150" << 10.0 << 3000 << "0-3 10.00-11.00; 3-7 11.00-13.00" << 3000;
    QTest::newRow("pair at the very end: seek to it") << "0 T 50 50" << 0.0 << 3000 << "0-3 0.00-1.00" << 100;
    QTest::newRow("pair with a jump")
        << "0 T 50 60 U 90" << 0.0 << 3000 << "0-3 0.00-1.00; 3-6 1.20-1.80" << 3000;
    QTest::newRow("no timestamps: the whole window") << "T T U" << 10.0 << 3000 << "0-3 10.00-40.00" << 3000;
    QTest::newRow("no timestamps, short window") << "T T U" << 10.0 << 1100 << "0-3 10.00-21.00" << 1100;
    QTest::newRow("only <|0.00|>: the whole window") << "0 T T" << 10.0 << 3000 << "0-3 10.00-40.00" << 3000;
    QTest::newRow("one segment, single timestamp ending, no pair")
        << "0 T T 250" << 10.0 << 3000 << "0-4 10.00-15.00" << 3000;
    QTest::newRow("one open timestamp after text, no pair")
        << "0 T 100 U" << 10.0 << 3000 << "0-4 10.00-12.00" << 3000;
    // 10-s window: <|12.00|> is past its end: the second piece is clamped, the third starts after the audio.
    QTest::newRow("timestamps beyond the window")
        << "0 T 400 400 T 600 600 T 1200" << 0.0 << 1000 << "0-3 0.00-8.00; 3-6 8.00-10.00" << 1000;
    QTest::newRow("no pair, last timestamp beyond the window")
        << "0 T 900" << 5.0 << 500 << "0-3 5.00-10.00" << 500;
    QTest::newRow("empty") << "" << 0.0 << 3000 << "" << 3000;
  }

  void split_window_cases() {
    QFETCH(QString, tokens);
    QFETCH(double, window_start);
    QFETCH(int, window_frames);
    QFETCH(QString, pieces);
    QFETCH(int, seek);
    const std::vector<int> ids = seq(tokens, tb_);
    const WindowSegments window = split_window(ids, tb_, window_start, window_frames);
    QCOMPARE(pieces_text(window), pieces);
    QCOMPARE(window.seek_frames, seek);
  }

  void split_window_seek_never_zero() {
    // A pair closing at <|0.00|> would seek by 0 frames; with a 1-frame window every seek is at least 1.
    for (const char* spec : {"0 T 0 0 T", "0 0", "0 T 0 0", "0 T 0"}) {
      const std::vector<int> ids = seq(spec, tb_);
      for (int frames : {3000, 1099, 2, 1}) {
        const WindowSegments window = split_window(ids, tb_, 3.0, frames);
        QVERIFY2(window.seek_frames > 0, qPrintable(QString("%1 / %2 frames").arg(spec).arg(frames)));
        QVERIFY(window.seek_frames <= frames);
        for (const auto& piece : window.pieces) {
          QVERIFY(piece.start_s <= piece.end_s);
          QVERIFY(piece.begin < piece.end && piece.end <= ids.size());
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------------------------

  void language_probabilities_multilingual() {
    const std::vector<std::string> vocabulary = {"a", "b", "c", " the", " and"};
    const Tokenizer multilingual(vocabulary, tiny_hparams(51865));
    const SpecialTokens& s = multilingual.special();
    QCOMPARE(s.language_count, 99);
    std::vector<float> logits(51865, 0.0f);
    logits[static_cast<std::size_t>(s.language(2))] = 5.0f;  // "de"
    logits[static_cast<std::size_t>(s.language(6))] = 3.0f;  // "fr"
    logits[static_cast<std::size_t>(s.language(0))] = 1.0f;  // "en"
    logits[static_cast<std::size_t>(s.eot)] = 50.0f;         // not a language: ignored
    logits[3] = 40.0f;
    const std::vector<LanguageScore> scores = language_probabilities(logits, multilingual);
    QCOMPARE(scores.size(), std::size_t{99});
    double total = 0;
    for (std::size_t i = 0; i < scores.size(); ++i) {
      total += scores[i].probability;
      if (i) QVERIFY(scores[i - 1].probability >= scores[i].probability);
    }
    QVERIFY(std::abs(total - 1.0) < 1e-5);
    QCOMPARE(scores[0].index, 2);
    QCOMPARE(scores[1].index, 6);
    QCOMPARE(scores[2].index, 0);
    QCOMPARE(std::string(whisper_language_codes()[static_cast<std::size_t>(scores[0].index)]),
             std::string("de"));
    const double denominator = std::exp(5.0) + std::exp(3.0) + std::exp(1.0) + 96.0;
    QVERIFY(std::abs(scores[0].probability - std::exp(5.0) / denominator) < 1e-6);
    QVERIFY(std::abs(scores[3].probability - 1.0 / denominator) < 1e-6);
  }

  void language_probabilities_english_only() {
    std::vector<float> logits(kVocab, 0.0f);
    QVERIFY(language_probabilities(logits, tok()).empty());
    QVERIFY(detect_language(transcriber_->decoder(), tok(), cross_).empty());
  }

  void log_softmax_at_values() {
    const std::vector<float> logits = {1.0f, 2.0f, 3.0f, kMinusInf};
    const double log_sum = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
    QVERIFY(std::abs(log_softmax_at(logits, 2) - (3.0 - log_sum)) < 1e-6);
    QVERIFY(std::abs(log_softmax_at(logits, 0) - (1.0 - log_sum)) < 1e-6);
    QVERIFY(std::isinf(log_softmax_at(logits, 3)) && log_softmax_at(logits, 3) < 0);
    // Large values do not overflow.
    const std::vector<float> large = {1000.0f, 1000.0f};
    QVERIFY(std::abs(log_softmax_at(large, 1) - std::log(0.5)) < 1e-6);
  }

  // ------------------------------------------------------------------------------------------------------

  void repetition_cut_cases() {
    std::vector<int> phrase_loop = {1, 2, 3};
    for (int i = 0; i < 10; ++i) phrase_loop.insert(phrase_loop.end(), {10, 11, 12, 13, 14});
    QCOMPARE(repetition_cut(phrase_loop), std::size_t{3 + 2 * 5});  // the prefix and two copies

    const std::vector<int> no_no_no = {kAnd, 645, 645, 645};  // " no" " no" " no": ordinary speech
    QCOMPARE(repetition_cut(no_no_no), no_no_no.size());

    std::vector<int> distinct(40);
    std::iota(distinct.begin(), distinct.end(), 100);
    QCOMPARE(repetition_cut(distinct), distinct.size());

    std::vector<int> run = {1, 2, 3};
    run.insert(run.end(), 20, 9);  // period 1, 20 copies
    QCOMPARE(repetition_cut(run), std::size_t{5});

    std::vector<int> three_copies = {7};  // 5-token phrase x3 = 15 tokens: shorter than a loop (16)
    for (int i = 0; i < 3; ++i) three_copies.insert(three_copies.end(), {10, 11, 12, 13, 14});
    QCOMPARE(repetition_cut(three_copies), three_copies.size());

    std::vector<int> four_by_four = {7, 8};  // 4-token phrase x4 = 16 tokens: a loop
    for (int i = 0; i < 4; ++i) four_by_four.insert(four_by_four.end(), {20, 21, 22, 23});
    QCOMPARE(repetition_cut(four_by_four), std::size_t{2 + 8});

    std::vector<int> two_copies = {5};  // 8-token phrase x2: at most two copies anyway
    for (int i = 0; i < 2; ++i) two_copies.insert(two_copies.end(), {1, 2, 3, 4, 5, 6, 7, 8});
    QCOMPARE(repetition_cut(two_copies), two_copies.size());

    QCOMPARE(repetition_cut(std::vector<int>{}), std::size_t{0});
    QCOMPARE(repetition_cut(std::vector<int>{42}), std::size_t{1});
    // Custom limits: three copies allowed, loops from 4 tokens.
    std::vector<int> short_loop = {1};
    short_loop.insert(short_loop.end(), 10, 3);
    QCOMPARE(repetition_cut(short_loop, 3, 4), std::size_t{1 + 3});
  }

  // ------------------------------------------------------------------------------------------------------

  void decoder_prompt_clips_previous_tokens() {
    DecodingOptions options;
    for (int i = 0; i < 300; ++i) options.previous_tokens.push_back(1000 + i);
    int sot_index = -1;
    const std::vector<int> prompt = decoder_prompt(tok(), options, 448, &sot_index);
    QCOMPARE(prompt.size(), std::size_t{1 + 223 + 1});
    QCOMPARE(prompt.front(), tok().special().prev);
    QCOMPARE(prompt[1], 1000 + 300 - 223);  // the most recent 223 = 448 / 2 - 1
    QCOMPARE(prompt[223], 1299);
    QCOMPARE(sot_index, 224);
    QCOMPARE(prompt[static_cast<std::size_t>(sot_index)], tok().special().sot);

    options.timestamps = false;
    const std::vector<int> without_timestamps = decoder_prompt(tok(), options, 448, &sot_index);
    QCOMPARE(sot_index, 224);
    QCOMPARE(without_timestamps.back(), tok().special().notimestamps);
    QCOMPARE(without_timestamps.size(), std::size_t{226});

    options.previous_tokens = {kAnd, kSo};
    options.timestamps = true;
    const std::vector<int> short_prompt = decoder_prompt(tok(), options, 448, &sot_index);
    QCOMPARE(short_prompt, (std::vector<int>{tok().special().prev, kAnd, kSo, tok().special().sot}));
    QCOMPARE(sot_index, 3);

    options.previous_tokens.clear();
    const std::vector<int> bare = decoder_prompt(tok(), options, 448, &sot_index);
    QCOMPARE(bare, (std::vector<int>{tok().special().sot}));
    QCOMPARE(sot_index, 0);
  }

  void decoder_prompt_multilingual() {
    const std::vector<std::string> vocabulary = {"a", "b"};
    const Tokenizer multilingual(vocabulary, tiny_hparams(51865));
    const SpecialTokens& s = multilingual.special();
    DecodingOptions options;
    options.language_index = 2;
    options.translate = true;
    options.previous_tokens = {1, 0};
    int sot_index = -1;
    const std::vector<int> prompt = decoder_prompt(multilingual, options, 448, &sot_index);
    QCOMPARE(prompt, (std::vector<int>{50361, 1, 0, 50258, 50261, 50358}));
    QCOMPARE(s.prev, 50361);
    QCOMPARE(sot_index, 3);
    options.translate = false;
    options.timestamps = false;
    QCOMPARE(sot_sequence(multilingual, options), (std::vector<int>{50258, 50261, 50359, 50363}));
  }

  // ------------------------------------------------------------------------------------------------------

  void encode_round_trip_data() {
    QTest::addColumn<QByteArray>("text");
    QTest::newRow("jfk") << QByteArray(" And so my fellow Americans");
    QTest::newRow("digits, punctuation, contractions") << QByteArray("It's 2024, isn't it?");
    QTest::newRow("more contractions")
        << QByteArray(" We'll see: they're here, you've won, I'd go, I'm done.");
    QTest::newRow("spaces and newline") << QByteArray("  two  spaces\nand a newline");
    // The fixture's vocabulary (whisper.cpp's for-tests file) stores the 68 lone bytes >= 0x80 as U+FFFD and
    // no partial characters, so only characters that are whole tokens can be encoded with it.
    QTest::newRow("utf-8") << QByteArray(" Grüße aus München, café");
  }

  void encode_round_trip() {
    QFETCH(QByteArray, text);
    const std::string input = text.toStdString();
    const std::vector<int> ids = tok().encode(input);
    QVERIFY(!ids.empty());
    for (int id : ids) QVERIFY(id >= 0 && id < eot_);
    QCOMPARE(QByteArray::fromStdString(tok().decode(ids)), text);
  }

  void encode_known_ids() {
    QCOMPARE(tok().encode(" And so my fellow Americans"), (std::vector<int>{843, 523, 616, 5891, 3399}));
    QCOMPARE(tok().encode(" And"), (std::vector<int>{kAnd}));
    QCOMPARE(tok().encode(" Americans, ask not"), (std::vector<int>{3399, 11, 1265, 407}));
    QVERIFY(tok().encode("").empty());
  }

  // ------------------------------------------------------------------------------------------------------
  // timing.py

  void dtw_known_path() {
    // cost (3 x 4):        accumulated D (OpenAI's dtw_cpu; D[i][j] = x[i-1][j-1] + chosen predecessor,
    //   0 0 9 9            ties between diagonal and up go "left"):
    //   9 9 0 9              D(1,·) = 0  0  9 18
    //   9 9 9 0              D(2,·) = 9 18  0  9      (D22: diag 0 == up 0 -> left 9 -> 18)
    //                        D(3,·) = 18 18 9  0
    // Backtrace from (3,4): diag -> (2,3) diag -> (1,2) left -> (1,1) diag -> (0,0).
    // Path (row, col): (0,0) (0,1) (1,2) (2,3).
    const std::vector<float> cost = {0, 0, 9, 9, 9, 9, 0, 9, 9, 9, 9, 0};
    const DtwPath path = dynamic_time_warping(cost, 3, 4);
    QCOMPARE(path.rows, (std::vector<int>{0, 0, 1, 2}));
    QCOMPARE(path.columns, (std::vector<int>{0, 1, 2, 3}));
  }

  void dtw_ties_go_left() {
    // All-zero 2 x 2: D(1,1) = 0; D(2,1): only "up" is finite -> up; D(1,2): left; D(2,2): diag == up == left
    // -> left. Backtrace: (2,2) left (2,1) up (1,1) diag. Path (0,0) (1,0) (1,1).
    const std::vector<float> zeros(4, 0.0f);
    const DtwPath path = dynamic_time_warping(zeros, 2, 2);
    QCOMPARE(path.rows, (std::vector<int>{0, 1, 1}));
    QCOMPARE(path.columns, (std::vector<int>{0, 0, 1}));
  }

  void dtw_degenerate_shapes() {
    const DtwPath row = dynamic_time_warping(std::vector<float>{1, 2, 3}, 1, 3);
    QCOMPARE(row.rows, (std::vector<int>{0, 0, 0}));
    QCOMPARE(row.columns, (std::vector<int>{0, 1, 2}));
    const DtwPath column = dynamic_time_warping(std::vector<float>{1, 2, 3}, 3, 1);
    QCOMPARE(column.rows, (std::vector<int>{0, 1, 2}));
    QCOMPARE(column.columns, (std::vector<int>{0, 0, 0}));
  }

  void median_filter_examples() {
    // Row 0: 3 1 4 1 5 9 2 6. Width 3, reflect-padded: [1 | 3 1 4 1 5 9 2 6 | 2]:
    //   medians 1 3 1 4 5 5 6 2. Width 7, padded [1 4 1 | 3 1 4 1 5 9 2 6 | 2 9 5]:
    //   windows -> 1 3 3 3 4 4 5 5.
    // Row 1: a single spike 0 0 0 10 0 0 0 0 disappears with either width.
    const std::vector<float> input = {3, 1, 4, 1, 5, 9, 2, 6, 0, 0, 0, 10, 0, 0, 0, 0};
    std::vector<float> width3 = input;
    median_filter_rows(width3, 2, 8, 3);
    QCOMPARE(width3, (std::vector<float>{1, 3, 1, 4, 5, 5, 6, 2, 0, 0, 0, 0, 0, 0, 0, 0}));
    std::vector<float> width7 = input;
    median_filter_rows(width7, 2, 8, 7);
    QCOMPARE(width7, (std::vector<float>{1, 3, 3, 3, 4, 4, 5, 5, 0, 0, 0, 0, 0, 0, 0, 0}));
    // Too short to reflect (cols <= width / 2): unchanged, as OpenAI returns x.
    std::vector<float> narrow = {5, 1, 3};
    median_filter_rows(narrow, 1, 3, 7);
    QCOMPARE(narrow, (std::vector<float>{5, 1, 3}));
  }

  void split_words_on_spaces() {
    const std::vector<int> tokens = tok().encode(" And so my fellow Americans,");
    QCOMPARE(tokens, (std::vector<int>{843, 523, 616, 5891, 3399, 11}));
    const auto words = split_words(tok(), tokens, false);
    // Punctuation is its own word here (align_words merges it into the previous word afterwards).
    QCOMPARE(words, (std::vector<std::pair<int, int>>{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}, {5, 6}}));
  }

  void split_words_joins_subwords() {
    // A word split into several tokens stays one word; words start at a leading space.
    const std::vector<int> tokens = tok().encode(" unquestionably fellowship");
    QVERIFY2(tokens.size() >= 3, ids_text(tokens).constData());
    const auto words = split_words(tok(), tokens, false);
    QCOMPARE(words.size(), std::size_t{2});
    QCOMPARE(words.front().first, 0);
    QCOMPARE(words.back().second, static_cast<int>(tokens.size()));
    QCOMPARE(words[0].second, words[1].first);
    std::string second;
    for (int i = words[1].first; i < words[1].second; ++i)
      second += tok().token_bytes(tokens[static_cast<std::size_t>(i)]);
    QCOMPARE(second, std::string(" fellowship"));
  }

  void split_words_on_characters() {
    // The fixture vocabulary has no partial UTF-8 tokens, so a small hand-made one: "你" (E4 BD A0) split
    // over two tokens, "好" (E5 A5 BD) whole, "世界" split 2 + 4 bytes, and ASCII.
    const std::vector<std::string> vocabulary = {
        "\xE4\xBD", "\xA0", "\xE5\xA5\xBD", "\xE4\xB8", "\x96\xE7\x95\x8C", " a", "b"};
    const Tokenizer small(vocabulary, tiny_hparams(51864));
    const std::vector<int> tokens = {0, 1, 2, 3, 4};
    QCOMPARE(small.decode(tokens), std::string("\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C"));
    // Per character: whole characters only; a token holding the end of one character and a whole next one
    // cannot be split, so "世界" stays one piece.
    QCOMPARE(split_words(small, tokens, true), (std::vector<std::pair<int, int>>{{0, 2}, {2, 3}, {3, 5}}));
    // On spaces: no space anywhere, so one word.
    QCOMPARE(split_words(small, tokens, false), (std::vector<std::pair<int, int>>{{0, 5}}));
    // ASCII per character: one token per piece; on spaces " a" starts a word and "b" joins it.
    const std::vector<int> ascii = {5, 6, 5};
    QCOMPARE(split_words(small, ascii, true), (std::vector<std::pair<int, int>>{{0, 1}, {1, 2}, {2, 3}}));
    QCOMPARE(split_words(small, ascii, false), (std::vector<std::pair<int, int>>{{0, 2}, {2, 3}}));
    // An unfinished character at the end becomes a piece of its own.
    const std::vector<int> unfinished = {2, 0};
    QCOMPARE(split_words(small, unfinished, true), (std::vector<std::pair<int, int>>{{0, 1}, {1, 2}}));
  }

  void alignment_heads_presets() {
    QCOMPARE(
        alignment_heads(model_->hparams()),
        (std::vector<std::pair<int, int>>{{1, 0}, {2, 0}, {2, 5}, {3, 0}, {3, 1}, {3, 2}, {3, 3}, {3, 4}}));
    QCOMPARE(alignment_heads(tiny_hparams(51865)),
             (std::vector<std::pair<int, int>>{{2, 2}, {3, 0}, {3, 2}, {3, 3}, {3, 4}, {3, 5}}));
    // Unknown shape (6 layers of 384, 6 heads): every head of layers 3..5.
    const auto heads = alignment_heads(tiny_hparams(51864, 6, 6, 384));
    QCOMPARE(heads.size(), std::size_t{18});
    for (std::size_t i = 0; i < heads.size(); ++i) {
      QCOMPARE(heads[i].first, 3 + static_cast<int>(i) / 6);
      QCOMPARE(heads[i].second, static_cast<int>(i) % 6);
    }
    const auto odd = alignment_heads(tiny_hparams(51864, 5, 4, 256));  // top half of 5 layers: 2, 3, 4
    QCOMPARE(odd.size(), std::size_t{12});
    QCOMPARE(odd.front(), (std::pair<int, int>{2, 0}));
  }

  // ------------------------------------------------------------------------------------------------------
  // decode_window on the fixture (jfk.wav, random weights).

  void greedy_is_deterministic_and_obeys_rules() {
    DecodingOptions options;
    options.max_new_tokens = 32;
    std::mt19937_64 random_a(1), random_b(99);
    const DecodingResult a = decode_window(transcriber_->decoder(), tok(), cross_, options, random_a);
    const DecodingResult b = decode_window(transcriber_->decoder(), tok(), cross_, options, random_b);
    qInfo("greedy: %s", ids_text(a.tokens).constData());
    QCOMPARE(a.tokens, b.tokens);
    QCOMPARE(a.sum_logprob, b.sum_logprob);
    QVERIFY(!a.tokens.empty());
    check_result_invariants(a, options);

    options.beam_size = 1;  // a beam of one is greedy
    std::mt19937_64 random_c(5);
    const DecodingResult c = decode_window(transcriber_->decoder(), tok(), cross_, options, random_c);
    QCOMPARE(c.tokens, a.tokens);
  }

  void greedy_replays_as_filtered_argmax() {
    // Step by step with the plain decoder: filter, argmax, stop at end-of-text. The probabilities and the
    // sum of log-probabilities (end-of-text included) must match.
    DecodingOptions options;
    options.max_new_tokens = 32;
    std::mt19937_64 random(1);
    const DecodingResult greedy = decode_window(transcriber_->decoder(), tok(), cross_, options, random);

    int sot_index = 0;
    const std::vector<int> prompt = decoder_prompt(tok(), options, 448, &sot_index);
    SelfAttentionCache cache = transcriber_->decoder().new_cache();
    std::vector<float> all_rows;
    transcriber_->decoder().decode(prompt, cross_, cache, all_rows, LogitsRows::all);
    const std::vector<float> sot_row(all_rows.begin() + static_cast<std::ptrdiff_t>(sot_index) * kVocab,
                                     all_rows.begin() + static_cast<std::ptrdiff_t>(sot_index + 1) * kVocab);
    const double no_speech =
        std::exp(log_softmax_row(sot_row)[static_cast<std::size_t>(tok().special().nosp)]);
    QVERIFY2(std::abs(no_speech - greedy.no_speech_probability) < 1e-5,
             qPrintable(QString("%1 vs %2").arg(no_speech).arg(greedy.no_speech_probability)));
    std::vector<float> logits(all_rows.end() - kVocab, all_rows.end());

    const LogitFilter filter(tok(), options);
    std::vector<int> sampled;
    double sum = 0;
    for (int step = 0; step < options.max_new_tokens; ++step) {
      filter.apply(logits, sampled);
      const int token = first_argmax(logits);
      const double logprob = log_softmax_row(logits)[static_cast<std::size_t>(token)];
      sum += logprob;
      if (token == eot_) break;
      QVERIFY2(static_cast<std::size_t>(step) < greedy.tokens.size(), "greedy stopped early");
      QCOMPARE(token, greedy.tokens[static_cast<std::size_t>(step)]);
      QVERIFY(std::abs(std::exp(logprob) - greedy.token_probabilities[static_cast<std::size_t>(step)]) <
              1e-4);
      sampled.push_back(token);
      if (step + 1 == options.max_new_tokens) break;
      const int next[] = {token};
      transcriber_->decoder().decode(next, cross_, cache, logits, LogitsRows::last);
    }
    QCOMPARE(sampled, greedy.tokens);
    QVERIFY2(std::abs(sum - greedy.sum_logprob) < 1e-3,
             qPrintable(QString("%1 vs %2").arg(sum).arg(greedy.sum_logprob)));
  }

  void greedy_without_timestamps() {
    DecodingOptions options;
    options.max_new_tokens = 16;
    options.timestamps = false;
    std::mt19937_64 random(1);
    const DecodingResult result = decode_window(transcriber_->decoder(), tok(), cross_, options, random);
    check_result_invariants(result, options);
  }

  void greedy_with_previous_text() {
    DecodingOptions options;
    options.max_new_tokens = 16;
    options.previous_tokens = tok().encode(" And so my fellow Americans");
    std::mt19937_64 random(1);
    const DecodingResult result = decode_window(transcriber_->decoder(), tok(), cross_, options, random);
    check_result_invariants(result, options);
  }

  void beam_search_obeys_rules_and_is_deterministic() {
    DecodingOptions options;
    options.max_new_tokens = 32;
    options.beam_size = 5;
    std::mt19937_64 random_a(1), random_b(2);
    QElapsedTimer timer;
    timer.start();
    const DecodingResult a = decode_window(transcriber_->decoder(), tok(), cross_, options, random_a);
    qInfo("beam 5: %s (%lld ms)", ids_text(a.tokens).constData(), static_cast<long long>(timer.elapsed()));
    const DecodingResult b = decode_window(transcriber_->decoder(), tok(), cross_, options, random_b);
    QCOMPARE(a.tokens, b.tokens);
    QCOMPARE(a.sum_logprob, b.sum_logprob);
    QVERIFY(!a.tokens.empty());
    check_result_invariants(a, options);
  }

  void reference_beam_search_of_one_is_greedy() {
    // Self-check of the test's OpenAI transcription: a beam of one is greedy decoding.
    DecodingOptions options;
    options.max_new_tokens = 12;
    std::mt19937_64 random(1);
    const DecodingResult greedy = decode_window(transcriber_->decoder(), tok(), cross_, options, random);
    options.beam_size = 1;
    double reference_sum = 0;
    QCOMPARE(reference_beam_search(options, &reference_sum), greedy.tokens);
    QVERIFY(std::abs(reference_sum - greedy.sum_logprob) < 1e-3);
  }

  void beam_search_matches_openai_reference_data() {
    QTest::addColumn<int>("beam_size");
    QTest::addColumn<float>("patience");
    QTest::addColumn<int>("max_new_tokens");
    QTest::newRow("beam 5, 12 tokens") << 5 << 1.0f << 12;
    QTest::newRow("beam 3, 12 tokens") << 3 << 1.0f << 12;
    QTest::newRow("beam 2, patience 2, 10 tokens") << 2 << 2.0f << 10;
  }

  void beam_search_matches_openai_reference() {
    QFETCH(int, beam_size);
    QFETCH(float, patience);
    QFETCH(int, max_new_tokens);
    DecodingOptions options;
    options.max_new_tokens = max_new_tokens;
    options.beam_size = beam_size;
    options.patience = patience;
    std::mt19937_64 random(1);
    const DecodingResult result = decode_window(transcriber_->decoder(), tok(), cross_, options, random);
    double reference_sum = 0;
    const std::vector<int> reference = reference_beam_search(options, &reference_sum);
    qInfo("decode_window: %s sum %.4f; reference: %s sum %.4f", ids_text(result.tokens).constData(),
          result.sum_logprob, ids_text(reference).constData(), reference_sum);
    QCOMPARE(result.tokens, reference);
    QVERIFY(std::abs(result.sum_logprob - reference_sum) < 1e-3);
  }

  void sampling_is_reproducible() {
    DecodingOptions options;
    options.max_new_tokens = 32;
    options.temperature = 0.7f;
    options.best_of = 1;
    std::vector<std::vector<int>> by_seed;
    for (std::uint64_t seed : {11u, 22u, 33u}) {
      std::mt19937_64 random_a(seed), random_b(seed);
      const DecodingResult a = decode_window(transcriber_->decoder(), tok(), cross_, options, random_a);
      const DecodingResult b = decode_window(transcriber_->decoder(), tok(), cross_, options, random_b);
      QCOMPARE(a.tokens, b.tokens);
      QCOMPARE(a.sum_logprob, b.sum_logprob);
      check_result_invariants(a, options);
      by_seed.push_back(a.tokens);
    }
    QVERIFY2(!(by_seed[0] == by_seed[1] && by_seed[1] == by_seed[2]), "three seeds gave the same sample");
  }

  void sampling_best_of() {
    DecodingOptions options;
    options.max_new_tokens = 24;
    options.temperature = 1.0f;
    options.best_of = 3;
    std::mt19937_64 random(7);
    const DecodingResult result = decode_window(transcriber_->decoder(), tok(), cross_, options, random);
    check_result_invariants(result, options);
  }
};

QTEST_GUILESS_MAIN(TestDecoding)
#include "test_decoding.moc"
