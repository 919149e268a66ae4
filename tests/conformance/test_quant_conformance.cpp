// The engine on whisper.cpp's quantised fixture models (q8_0, q5_1) against whisper.cpp's own dumps, with
// the tolerances of the fixture README ("Quantised models", "Recommended tolerances"): encoder output,
// forced-token logits, teacher-forced and free-running greedy tokens. whisper.cpp quantises activations to
// 8 bits inside every product; we keep them in float32, which the README's tolerances allow for.
#include <QtTest>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "audio/wav_reader.h"
#include "engine/greedy.h"
#include "engine/transcriber.h"
#include "model/quant.h"
#include "test_support.h"
#include "util/parallel.h"

using namespace npuscribe;

namespace {

const std::vector<int> kForcedTokens = {50257, 50362, 843, 523, 616, 5891, 3399, 11, 1265, 407};

// whisper.cpp's top-1 minus top-2 margins of the 10 forced rows, from
// /work/shared/fixtures/jfk.quant.meta.json (results.<type>.forced_margin). The test also recomputes them
// from the logits dump.
const std::map<std::string, std::array<double, 10>> kForcedMargins = {
    {"q8_0",
     {0.562911, 1.014628, 0.412888, 0.019815, 0.14525, 0.254498, 0.384022, 0.375157, 0.576291, 0.563094}},
    {"q5_1",
     {0.620259, 1.191498, 0.356806, 0.400991, 0.168673, 0.141906, 0.075447, 0.410949, 0.374639, 0.374349}},
};

// README: where whisper.cpp's margin is at least this, our top token must be its token; elsewhere its token
// must be within this of our best logit.
constexpr double kDecisiveMargin = 0.15;

using test::GreedyStep;

std::vector<GreedyStep> read_greedy(const std::string& name) {
  return test::read_greedy_steps(name);
}

double top_minus_second(std::span<const float> row) {
  const int best = argmax(row);
  double second = -INFINITY;
  for (std::size_t i = 0; i < row.size(); ++i)
    if (static_cast<int>(i) != best) second = std::max(second, double{row[i]});
  return row[static_cast<std::size_t>(best)] - second;
}

struct QuantRun {
  std::shared_ptr<const WhisperModel> model;
  std::unique_ptr<Transcriber> transcriber;
  Activations encoded;
};

}  // namespace

class TestQuantConformance : public QObject {
  Q_OBJECT

 private:
  LogMel mel_;
  std::map<std::string, QuantRun> runs_;

  QuantRun& run(const QString& type) { return runs_.at(type.toStdString()); }

  static void add_type_rows() {
    QTest::addColumn<QString>("type");
    QTest::newRow("q8_0") << "q8_0";
    QTest::newRow("q5_1") << "q5_1";
  }

  // The logit rule of the README for one row: decisive margins need the same argmax, close calls need
  // whisper.cpp's token within kDecisiveMargin of our best logit. Returns "" or a failure description.
  static QString check_row(std::span<const float> ours, int their_token, double their_margin,
                           const QString& what) {
    const int our_token = argmax(ours);
    const double gap =
        ours[static_cast<std::size_t>(our_token)] - ours[static_cast<std::size_t>(their_token)];
    if (their_margin >= kDecisiveMargin && our_token != their_token)
      return QString("%1: our token %2, whisper.cpp %3 (its margin %4)")
          .arg(what)
          .arg(our_token)
          .arg(their_token)
          .arg(their_margin);
    if (gap > kDecisiveMargin)
      return QString("%1: whisper.cpp's token %2 is %3 below our best %4")
          .arg(what)
          .arg(their_token)
          .arg(gap)
          .arg(our_token);
    return {};
  }

 private slots:
  void initTestCase() {
    set_thread_count(2);
    for (const char* type : {"q8_0", "q5_1"}) {
      QuantRun quant_run;
      quant_run.model =
          WhisperModel::load(test::fixture(std::string("ggml-tiny.en-random-") + type + ".bin"));
      quant_run.transcriber = std::make_unique<Transcriber>(quant_run.model);
      // The mel comes from the model's own filters (byte-identical to the f16 file's): jfk.mel.f32 applies.
      if (mel_.n_frames == 0)
        mel_ = quant_run.transcriber->mel().compute(read_wav_file(test::fixture("jfk.wav")).samples);
      quant_run.encoded = quant_run.transcriber->encoder().encode(mel_);
      runs_.emplace(type, std::move(quant_run));
    }
    QCOMPARE(mel_.n_frames, 4100);
  }

  void models_are_quantised_as_stored_data() { add_type_rows(); }
  void models_are_quantised_as_stored() {
    QFETCH(QString, type);
    const WhisperModel& model = *run(type).model;
    const std::string name = type.toStdString();
    QCOMPARE(std::string(ggml_type_name(model.decoder().token_embedding.type)), name);
    QCOMPARE(std::string(ggml_type_name(model.encoder().blocks[0].mlp.up.type)), name);
    QCOMPARE(model.encoder().conv1.type, GgmlType::f16);  // 3-D: never quantised
    QCOMPARE(model.hparams().ftype, name == "q8_0" ? 2007 : 2009);
  }

  void conv_stem_is_the_f16_models_data() { add_type_rows(); }
  void conv_stem_is_the_f16_models() {
    // README: the conv kernels stay f16, so the stem equals jfk.conv.f32 within the f16-model tolerance.
    QFETCH(QString, type);
    const Activations stem = run(type).transcriber->encoder().conv_stem(mel_);
    std::vector<float> channel_major(stem.values.size());
    for (int t = 0; t < stem.rows; ++t)
      for (int c = 0; c < stem.cols; ++c)
        channel_major[static_cast<std::size_t>(c) * 1500 + t] = stem.row(t)[c];
    const test::Difference difference =
        test::compare(channel_major, test::read_f32_file(test::fixture("jfk.conv.f32"), 384 * 1500));
    qInfo("%s conv stem: max abs %.3g, rel L2 %.3g", qPrintable(type), difference.max_abs, difference.rel_l2);
    QVERIFY2(difference.max_abs <= 2e-3, qPrintable(QString::number(difference.max_abs)));
  }

  void encoder_matches_whisper_cpp_data() { add_type_rows(); }
  void encoder_matches_whisper_cpp() {
    QFETCH(QString, type);
    const Activations& encoded = run(type).encoded;
    QCOMPARE(encoded.rows, 1500);
    QCOMPARE(encoded.cols, 384);
    const auto reference =
        test::read_f32_file(test::fixture("jfk." + type.toStdString() + ".encoder.f32"), 1500 * 384);
    const test::Difference difference = test::compare(encoded.values, reference);
    qInfo("%s encoder: max abs %.3g, rel L2 %.3g, cosine %.7f", qPrintable(type), difference.max_abs,
          difference.rel_l2, difference.cosine);
    QVERIFY2(difference.max_abs <= 0.1, qPrintable(QString::number(difference.max_abs)));
    QVERIFY2(difference.rel_l2 <= 2e-2, qPrintable(QString::number(difference.rel_l2)));
  }

  void forced_token_logits_match_whisper_cpp_data() { add_type_rows(); }
  void forced_token_logits_match_whisper_cpp() {
    QFETCH(QString, type);
    QuantRun& quant_run = run(type);
    const Decoder& decoder = quant_run.transcriber->decoder();
    const CrossAttentionKv cross = decoder.cross_attention_kv(quant_run.encoded);
    SelfAttentionCache cache = decoder.new_cache();
    std::vector<float> logits;
    decoder.decode(kForcedTokens, cross, cache, logits, LogitsRows::all);
    const auto n_vocab = static_cast<std::size_t>(quant_run.model->hparams().n_vocab);
    QCOMPARE(logits.size(), kForcedTokens.size() * n_vocab);
    const auto reference = test::read_f32_file(test::fixture("jfk." + type.toStdString() + ".logits.f32"),
                                               kForcedTokens.size() * n_vocab);
    const test::Difference difference = test::compare(logits, reference);
    qInfo("%s logits: max abs %.3g, rel L2 %.3g, cosine %.7f", qPrintable(type), difference.max_abs,
          difference.rel_l2, difference.cosine);
    QVERIFY2(difference.max_abs <= 0.12, qPrintable(QString::number(difference.max_abs)));
    QVERIFY2(difference.rel_l2 <= 2.5e-2, qPrintable(QString::number(difference.rel_l2)));

    const auto& margins = kForcedMargins.at(type.toStdString());
    QStringList failures;
    for (std::size_t row = 0; row < kForcedTokens.size(); ++row) {
      const std::span<const float> ours(logits.data() + row * n_vocab, n_vocab);
      const std::span<const float> theirs(reference.data() + row * n_vocab, n_vocab);
      // The hard-coded margins are the dump's own (guards against a stale table).
      QVERIFY(std::fabs(top_minus_second(theirs) - margins[row]) < 1e-5);
      const QString failure =
          check_row(ours, argmax(theirs), margins[row], QString("forced row %1").arg(row));
      if (!failure.isEmpty()) failures << failure;
      qInfo("%s forced row %zu: ours %d (margin %.3f), whisper.cpp %d (margin %.3f)", qPrintable(type), row,
            argmax(ours), top_minus_second(ours), argmax(theirs), margins[row]);
    }
    QVERIFY2(failures.isEmpty(), qPrintable(failures.join("; ")));
  }

  void teacher_forced_greedy_matches_whisper_cpp_data() { add_type_rows(); }
  void teacher_forced_greedy_matches_whisper_cpp() {
    // Feed whisper.cpp's own 24 greedy tokens after the prompt; the logits row before each token is the
    // step that chose it.
    QFETCH(QString, type);
    QuantRun& quant_run = run(type);
    const std::vector<GreedyStep> steps = read_greedy("jfk." + type.toStdString() + ".greedy.txt");
    QCOMPARE(steps.size(), std::size_t{24});
    std::vector<int> tokens = {50257, 50362};
    for (std::size_t i = 0; i + 1 < steps.size(); ++i) tokens.push_back(steps[i].token);
    const Decoder& decoder = quant_run.transcriber->decoder();
    const CrossAttentionKv cross = decoder.cross_attention_kv(quant_run.encoded);
    SelfAttentionCache cache = decoder.new_cache();
    std::vector<float> logits;
    decoder.decode(tokens, cross, cache, logits, LogitsRows::all);
    const auto n_vocab = static_cast<std::size_t>(quant_run.model->hparams().n_vocab);
    QStringList failures;
    double worst_top1 = 0;
    int decisive = 0;
    for (std::size_t s = 0; s < steps.size(); ++s) {
      QCOMPARE(steps[s].step, static_cast<int>(s));
      const std::span<const float> ours(logits.data() + (s + 1) * n_vocab, n_vocab);
      const int our_token = argmax(ours);
      decisive += steps[s].margin >= kDecisiveMargin;
      if (our_token == steps[s].token)
        worst_top1 =
            std::max(worst_top1, std::fabs(ours[static_cast<std::size_t>(our_token)] - steps[s].top1_logit));
      const QString failure = check_row(ours, steps[s].token, steps[s].margin, QString("step %1").arg(s));
      if (!failure.isEmpty()) failures << failure;
    }
    qInfo("%s teacher forcing: %d decisive steps, max |top-1 logit difference| %.3g", qPrintable(type),
          decisive, worst_top1);
    QVERIFY2(failures.isEmpty(), qPrintable(failures.join("; ")));
  }

  void free_running_greedy_data() { add_type_rows(); }
  void free_running_greedy() {
    // q8_0 must reproduce whisper.cpp's 24 tokens; q5_1 may differ only at whisper.cpp's close calls
    // (margin < 0.1: README lists steps 1, 5, 15, 17, 19; exact arithmetic gives 34929 at step 19).
    QFETCH(QString, type);
    QuantRun& quant_run = run(type);
    const std::vector<GreedyStep> steps = read_greedy("jfk." + type.toStdString() + ".greedy.txt");
    QCOMPARE(steps.size(), std::size_t{24});
    std::vector<int> expected;
    for (const GreedyStep& step : steps) expected.push_back(step.token);
    const CrossAttentionKv cross = quant_run.transcriber->decoder().cross_attention_kv(quant_run.encoded);
    const std::vector<int> prompt = {50257, 50362};
    const std::vector<int> tokens = argmax_decode(quant_run.transcriber->decoder(), cross, prompt, 24);
    QCOMPARE(tokens.size(), expected.size());
    QStringList differences;
    for (std::size_t s = 0; s < tokens.size(); ++s) {
      if (tokens[s] == expected[s]) continue;
      differences << QString("step %1: %2 instead of %3 (whisper.cpp margin %4)")
                         .arg(s)
                         .arg(tokens[s])
                         .arg(expected[s])
                         .arg(steps[s].margin);
    }
    if (!differences.isEmpty())
      qInfo("%s free-running: %s", qPrintable(type), qPrintable(differences.join("; ")));
    if (type == "q8_0") {
      QCOMPARE(tokens, expected);
    } else {
      for (std::size_t s = 0; s < tokens.size(); ++s) {
        if (tokens[s] != expected[s]) QVERIFY2(steps[s].margin < 0.1, qPrintable(differences.join("; ")));
      }
    }
  }
};

QTEST_GUILESS_MAIN(TestQuantConformance)
#include "test_quant_conformance.moc"
