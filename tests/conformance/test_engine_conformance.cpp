// The engine against whisper.cpp's own dumps for the random-weight tiny.en fixture (tolerances from the
// fixture README): conv stem, encoder output, forced-token logits, and 24 greedy tokens.
#include <QtTest>

#include <fstream>
#include <sstream>

#include "audio/wav_reader.h"
#include "engine/greedy.h"
#include "engine/transcriber.h"
#include "test_support.h"
#include "util/error.h"
#include "util/parallel.h"

using namespace npuscribe;

class TestEngineConformance : public QObject {
  Q_OBJECT

 private:
  std::shared_ptr<const WhisperModel> model_;
  std::unique_ptr<Transcriber> transcriber_;
  LogMel mel_;
  Activations encoded_;

 private slots:
  void initTestCase() {
    set_thread_count(2);
    model_ = WhisperModel::load(test::fixture("ggml-tiny.en-random.bin"));
    transcriber_ = std::make_unique<Transcriber>(model_);
    mel_ = transcriber_->mel().compute(read_wav_file(test::fixture("jfk.wav")).samples);
    QCOMPARE(mel_.n_frames, 4100);
    encoded_ = transcriber_->encoder().encode(mel_);
  }

  void conv_stem_matches_whisper_cpp() {
    const Activations stem = transcriber_->encoder().conv_stem(mel_);
    QCOMPARE(stem.rows, 1500);
    QCOMPARE(stem.cols, 384);
    std::vector<float> channel_major(stem.values.size());
    for (int t = 0; t < stem.rows; ++t)
      for (int c = 0; c < stem.cols; ++c)
        channel_major[static_cast<std::size_t>(c) * 1500 + t] = stem.row(t)[c];
    const auto reference = test::read_f32_file(test::fixture("jfk.conv.f32"), 384 * 1500);
    const test::Difference difference = test::compare(channel_major, reference);
    qInfo("conv stem: max abs %.3g, rel L2 %.3g", difference.max_abs, difference.rel_l2);
    QVERIFY2(difference.max_abs <= 2e-3, qPrintable(QString::number(difference.max_abs)));
  }

  void encoder_matches_whisper_cpp() {
    QCOMPARE(encoded_.rows, 1500);
    QCOMPARE(encoded_.cols, 384);
    const auto reference = test::read_f32_file(test::fixture("jfk.encoder.f32"), 1500 * 384);
    const test::Difference difference = test::compare(encoded_.values, reference);
    qInfo("encoder: max abs %.3g, rel L2 %.3g, cosine %.7f", difference.max_abs, difference.rel_l2,
          difference.cosine);
    QVERIFY2(difference.rel_l2 <= 1e-3, qPrintable(QString::number(difference.rel_l2)));
    QVERIFY2(difference.max_abs <= 5e-3, qPrintable(QString::number(difference.max_abs)));
  }

  void encoder_is_the_same_on_one_thread() {
    set_thread_count(1);
    const Activations single = transcriber_->encoder().encode(mel_);
    set_thread_count(2);
    const test::Difference difference = test::compare(single.values, encoded_.values);
    QVERIFY2(difference.rel_l2 <= 1e-5, qPrintable(QString::number(difference.rel_l2)));
  }

  void forced_token_logits_match_whisper_cpp() {
    const std::vector<int> tokens = {50257, 50362, 843, 523, 616, 5891, 3399, 11, 1265, 407};
    const CrossAttentionKv cross = transcriber_->decoder().cross_attention_kv(encoded_);
    SelfAttentionCache cache = transcriber_->decoder().new_cache();
    std::vector<float> logits;
    transcriber_->decoder().decode(tokens, cross, cache, logits, LogitsRows::all);
    const int n_vocab = model_->hparams().n_vocab;
    QCOMPARE(logits.size(), tokens.size() * static_cast<std::size_t>(n_vocab));
    const auto reference = test::read_f32_file(test::fixture("jfk.logits.f32"), tokens.size() * n_vocab);
    const test::Difference difference = test::compare(logits, reference);
    qInfo("logits: max abs %.3g, rel L2 %.3g", difference.max_abs, difference.rel_l2);
    QVERIFY2(difference.rel_l2 <= 1e-3, qPrintable(QString::number(difference.rel_l2)));
    for (std::size_t row = 0; row < tokens.size(); ++row) {
      const std::span<const float> ours(logits.data() + row * n_vocab, n_vocab);
      const std::span<const float> theirs(reference.data() + row * n_vocab, n_vocab);
      QCOMPARE(argmax(ours), argmax(theirs));
    }
  }

  void logits_one_token_at_a_time_equal_one_pass() {
    // The KV cache path must give what the batched pass gives.
    const std::vector<int> tokens = {50257, 50362, 843, 523, 616};
    const CrossAttentionKv cross = transcriber_->decoder().cross_attention_kv(encoded_);
    SelfAttentionCache batched_cache = transcriber_->decoder().new_cache();
    std::vector<float> batched;
    transcriber_->decoder().decode(tokens, cross, batched_cache, batched, LogitsRows::all);
    SelfAttentionCache cache = transcriber_->decoder().new_cache();
    std::vector<float> step_logits;
    const std::size_t n_vocab = static_cast<std::size_t>(model_->hparams().n_vocab);
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      transcriber_->decoder().decode(std::span<const int>(&tokens[i], 1), cross, cache, step_logits);
      const test::Difference difference =
          test::compare(step_logits, std::span<const float>(batched.data() + i * n_vocab, n_vocab));
      QVERIFY2(difference.max_abs < 1e-4, qPrintable(QString("step %1: %2").arg(i).arg(difference.max_abs)));
    }
    QCOMPARE(cache.n_past, 5);
  }

  void greedy_tokens_match_whisper_cpp() {
    const std::vector<int> expected = test::read_greedy_tokens("jfk.greedy.txt");
    QCOMPARE(expected.size(), std::size_t{24});
    const CrossAttentionKv cross = transcriber_->decoder().cross_attention_kv(encoded_);
    const SpecialTokens& special = transcriber_->tokenizer().special();
    const std::vector<int> prompt = {special.sot, special.notimestamps};
    const std::vector<int> tokens = argmax_decode(transcriber_->decoder(), cross, prompt, 24);
    QCOMPARE(tokens, expected);
  }

  void decoder_rejects_overflow_and_bad_tokens() {
    const CrossAttentionKv cross = transcriber_->decoder().cross_attention_kv(encoded_);
    SelfAttentionCache cache = transcriber_->decoder().new_cache();
    std::vector<float> logits;
    const std::vector<int> bad = {50257, 999999};
    QVERIFY_THROWS_EXCEPTION(npuscribe::Error, transcriber_->decoder().decode(bad, cross, cache, logits));
    const std::vector<int> too_many(449, 220);
    QVERIFY_THROWS_EXCEPTION(npuscribe::Error,
                             transcriber_->decoder().decode(too_many, cross, cache, logits));
  }

  void greedy_decoding_stops_and_never_emits_suppressed_tokens() {
    const CrossAttentionKv cross = transcriber_->decoder().cross_attention_kv(encoded_);
    const Tokenizer& tokenizer = transcriber_->tokenizer();
    DecodingOptions options;
    options.timestamps = false;
    std::mt19937_64 random(1);
    const DecodingResult decoded = decode_window(transcriber_->decoder(), tokenizer, cross, options, random);
    QVERIFY(!decoded.tokens.empty());
    QVERIFY(decoded.tokens.size() <= 224);  // n_text_ctx / 2
    const std::vector<int> suppressed = suppressed_tokens(tokenizer, true, false);
    for (int token : decoded.tokens) {
      QVERIFY(!std::binary_search(suppressed.begin(), suppressed.end(), token));
      QVERIFY(token < tokenizer.special().eot);
    }
    QVERIFY(decoded.tokens.front() != tokenizer.find(" "));
    QCOMPARE(QString::fromStdString(decoded.text), QString::fromStdString(tokenizer.decode(decoded.tokens)));
    QCOMPARE(decoded.token_probabilities.size(), decoded.tokens.size());
    QVERIFY(decoded.avg_logprob < 0.0);
    QVERIFY(decoded.no_speech_probability >= 0.0 && decoded.no_speech_probability <= 1.0);
  }
};

QTEST_GUILESS_MAIN(TestEngineConformance)
#include "test_engine_conformance.moc"
