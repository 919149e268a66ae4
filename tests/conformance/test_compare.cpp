// Accuracy comparison: tensor agreement on hand-worked vectors, the token diff against an independent LCS,
// the encoder on npu-sim against fp32 layer by layer on the jfk fixture, and `npuscribe compare --json`.
#include <QtTest>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <cmath>
#include <random>

#include "audio/wav_reader.h"
#include "backend/backend_factory.h"
#include "cli_runner.h"
#include "profile/accuracy.h"
#include "test_support.h"
#include "util/error.h"

using namespace npuscribe;

namespace {

using Kind = TokenDifference::Kind;

bool near(double a, double b, double tolerance = 1e-9) {
  return std::abs(a - b) <= tolerance;
}

// Longest common subsequence length by the textbook O(n m) table: the reference for the diff.
std::size_t lcs_length(const std::vector<int>& a, const std::vector<int>& b) {
  std::vector<std::size_t> previous(b.size() + 1, 0), current(b.size() + 1, 0);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j)
      current[j] = a[i - 1] == b[j - 1] ? previous[j - 1] + 1 : std::max(previous[j], current[j - 1]);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

// Fails the test unless the script turns a into b with the fewest edits.
void check_script(const std::vector<TokenDifference>& script, const std::vector<int>& a,
                  const std::vector<int>& b) {
  std::vector<int> from, to;
  std::size_t same = 0;
  for (const TokenDifference& edit : script) {
    if (edit.kind != Kind::added) from.push_back(edit.token);
    if (edit.kind != Kind::removed) to.push_back(edit.token);
    same += edit.kind == Kind::same;
  }
  QVERIFY(from == a);
  QVERIFY(to == b);
  QCOMPARE(same, lcs_length(a, b));
  // Within a run of changes, removals come first.
  for (std::size_t i = 1; i < script.size(); ++i)
    QVERIFY(!(script[i - 1].kind == Kind::added && script[i].kind == Kind::removed));
}

std::string kinds(const std::vector<TokenDifference>& script) {
  std::string out;
  for (const TokenDifference& edit : script)
    out += edit.kind == Kind::same ? '=' : edit.kind == Kind::removed ? '-' : '+';
  return out;
}

using RunResult = test::CliRun;

RunResult run_cli(const QStringList& arguments) {
  return test::run_npuscribe(arguments);
}

QString words(const QString& text) {
  return text.simplified();
}

}  // namespace

class TestCompare : public QObject {
  Q_OBJECT

  std::shared_ptr<const WhisperModel> model_;
  QString model_path_ = QString::fromStdString(test::fixture("ggml-tiny.en-random.bin").string());
  QString jfk_ = QString::fromStdString(test::fixture("jfk.wav").string());

 private slots:
  void initTestCase() { model_ = WhisperModel::load(test::fixture("ggml-tiny.en-random.bin")); }

  void agreement_on_known_vectors() {
    const std::vector<float> reference = {3, -4, 0, 12};  // norm 13
    const TensorAgreement same = agreement(reference, reference);
    QVERIFY(near(same.cosine, 1.0));
    QCOMPARE(same.rel_l2, 0.0);
    QCOMPARE(same.max_abs, 0.0);

    const std::vector<float> doubled = {6, -8, 0, 24};
    const TensorAgreement scaled = agreement(doubled, reference);
    QVERIFY(near(scaled.cosine, 1.0));
    QVERIFY(near(scaled.rel_l2, 1.0));
    QVERIFY(near(scaled.max_abs, 12.0));

    const std::vector<float> x = {1, 0}, y = {0, 1};
    const TensorAgreement orthogonal = agreement(x, y);
    QVERIFY(near(orthogonal.cosine, 0.0));
    QVERIFY(near(orthogonal.rel_l2, std::sqrt(2.0)));
    QVERIFY(near(orthogonal.max_abs, 1.0));

    const std::vector<float> opposite = {-3, 4, 0, -12};
    QVERIFY(near(agreement(opposite, reference).cosine, -1.0));
    QVERIFY(near(agreement(opposite, reference).rel_l2, 2.0));

    const std::vector<float> zeros = {0, 0, 0, 0};
    QVERIFY(near(agreement(zeros, zeros).cosine, 1.0));
    QVERIFY(near(agreement(zeros, reference).cosine, 0.0));
    QVERIFY(near(agreement(zeros, reference).rel_l2, 1.0));
  }

  void agreement_rejects_nan_and_mismatched_sizes() {
    const std::vector<float> reference = {1, 2, 3};
    const std::vector<float> broken = {1, NAN, 3};
    const TensorAgreement result = agreement(broken, reference);
    QVERIFY(!(result.cosine >= 0.995));
    QVERIFY(!(result.rel_l2 <= 0.1));
    QVERIFY(std::isinf(result.max_abs));
    const std::vector<float> shorter = {1, 2};
    QVERIFY_THROWS_EXCEPTION(Error, agreement(shorter, reference));
  }

  void diff_small_cases() {
    const Tokenizer tokenizer(model_->vocabulary(), model_->hparams());
    const std::vector<int> a = {10, 11, 12, 13}, b = {10, 14, 12, 13, 15};
    const std::vector<TokenDifference> script = diff_tokens(a, b, tokenizer);
    QCOMPARE(kinds(script), std::string("=-+==+"));
    QCOMPARE(script[1].token, 11);
    QCOMPARE(script[2].token, 14);
    QCOMPARE(script[1].text, tokenizer.token_bytes(11));
    QCOMPARE(kinds(diff_tokens({}, b, tokenizer)), std::string("+++++"));
    QCOMPARE(kinds(diff_tokens(a, {}, tokenizer)), std::string("----"));
    QVERIFY(diff_tokens({}, {}, tokenizer).empty());
    QCOMPARE(kinds(diff_tokens(a, a, tokenizer)), std::string("===="));
    check_script(script, a, b);
  }

  void diff_is_minimal_on_random_sequences() {
    const Tokenizer tokenizer(model_->vocabulary(), model_->hparams());
    std::mt19937 random(42);
    // Small sequences (table path) and long ones (the linear-space middle-snake path: n * m > 2^20).
    for (const auto& [length, alphabet, cases] :
         {std::tuple{12, 3, 200}, std::tuple{60, 8, 60}, std::tuple{1500, 30, 3}, std::tuple{2500, 4, 2}}) {
      std::uniform_int_distribution<int> token(100, 100 + alphabet - 1);
      std::uniform_int_distribution<int> size(0, length);
      for (int c = 0; c < cases; ++c) {
        std::vector<int> a(static_cast<std::size_t>(size(random))), b;
        for (int& t : a) t = token(random);
        // b: a edited (so the sequences share a lot, as two transcripts do), or unrelated.
        if (c % 2 == 0) {
          std::uniform_int_distribution<int> edit(0, 9);
          for (int t : a) {
            const int e = edit(random);
            if (e == 0) continue;                    // removed
            if (e == 1) b.push_back(token(random));  // added
            b.push_back(t);
          }
        } else {
          b.resize(static_cast<std::size_t>(size(random)));
          for (int& t : b) t = token(random);
        }
        check_script(diff_tokens(a, b, tokenizer), a, b);
        if (QTest::currentTestFailed()) {
          qWarning() << "length" << length << "alphabet" << alphabet << "case" << c;
          return;
        }
      }
    }
  }

  void encoder_against_itself_is_exact() {
    const MonoAudio audio = read_wav_file(test::fixture("jfk.wav"));
    Transcriber transcriber(model_);
    const LogMel mel = transcriber.mel().compute(audio.samples);
    const EncoderComparison comparison = compare_encoder(model_, nullptr, mel);
    QCOMPARE(comparison.layers.size(), std::size_t(model_->hparams().n_audio_layer));
    for (const LayerAgreement& layer : comparison.layers) {
      QCOMPARE(layer.agreement.max_abs, 0.0);
      QCOMPARE(layer.agreement.rel_l2, 0.0);
    }
    QCOMPARE(comparison.encoder.max_abs, 0.0);
    QCOMPARE(comparison.conv_stem.max_abs, 0.0);
    QCOMPARE(comparison.candidate_backend, std::string("cpu"));
  }

  void npu_sim_encoder_agrees_at_every_layer() {
    const MonoAudio audio = read_wav_file(test::fixture("jfk.wav"));
    Transcriber transcriber(model_);
    const LogMel mel = transcriber.mel().compute(audio.samples);
    BackendChoice sim = make_encoder_backend(BackendKind::npu_sim, model_);
    const EncoderComparison comparison = compare_encoder(model_, sim.backend.get(), mel);
    QCOMPARE(comparison.candidate_backend, std::string("npu-sim"));
    QCOMPARE(comparison.reference_backend, std::string("cpu"));
    QCOMPARE(comparison.layers.size(), std::size_t(model_->hparams().n_audio_layer));
    for (const LayerAgreement& layer : comparison.layers) {
      const TensorAgreement& a = layer.agreement;
      qInfo("layer %d: cosine %.6f rel_l2 %.5f max_abs %.4f", layer.index, a.cosine, a.rel_l2, a.max_abs);
      QVERIFY2(a.cosine >= 0.995 && a.rel_l2 <= 0.1, qPrintable(QString::number(layer.index)));
      // Quantisation error is never zero: an exact match would mean the emulator was not used.
      QVERIFY(a.max_abs > 0.0);
    }
    QVERIFY(comparison.encoder.cosine >= 0.995 && comparison.encoder.rel_l2 <= 0.1);
  }

  void compare_cli_json() {
    const QStringList common = {
        "--model", model_path_, "--threads", "2", "--beam", "1", "--temperature-increment", "0"};
    const RunResult compare = run_cli(QStringList{"compare", "--json", "--audio", jfk_} + common);
    QVERIFY2(compare.exit_code == 0, qPrintable(compare.err));
    QJsonParseError error{};
    const QJsonDocument document = QJsonDocument::fromJson(compare.out.toUtf8(), &error);
    QVERIFY2(error.error == QJsonParseError::NoError, qPrintable(error.errorString() + "\n" + compare.out));
    const QJsonObject root = document.object();
    for (const char* field : {"layers", "encoder", "cpu_text", "npu_text", "candidate_backend"})
      QVERIFY2(root.contains(field), field);
    // No NPU here: the emulator, and stderr says so.
    QCOMPARE(root.value("candidate_backend").toString(), QString("npu-sim"));
    QVERIFY2(compare.err.contains("npu-sim"), qPrintable(compare.err));

    const QJsonArray layers = root.value("layers").toArray();
    QCOMPARE(layers.size(), model_->hparams().n_audio_layer);
    for (int i = 0; i < layers.size(); ++i) {
      const QJsonObject layer = layers[i].toObject();
      QCOMPARE(layer.value("index").toInt(-1), i);
      const double cosine = layer.value("cosine").toDouble(-2), rel_l2 = layer.value("rel_l2").toDouble(-1),
                   max_abs = layer.value("max_abs").toDouble(-1);
      QVERIFY2(cosine >= 0.995 && cosine <= 1.0 + 1e-9, qPrintable(QString::number(cosine)));
      QVERIFY2(rel_l2 > 0.0 && rel_l2 <= 0.1, qPrintable(QString::number(rel_l2)));
      QVERIFY2(max_abs > 0.0 && std::isfinite(max_abs), qPrintable(QString::number(max_abs)));
    }
    const QJsonObject encoder = root.value("encoder").toObject();
    for (const char* field : {"cosine", "rel_l2", "max_abs"})
      QVERIFY2(encoder.value(field).isDouble(), field);
    QVERIFY(encoder.value("cosine").toDouble() >= 0.995);

    // cpu_text is what plain CPU transcription prints.
    const RunResult transcribe = run_cli(QStringList{"transcribe", "--backend", "cpu", jfk_} + common);
    QVERIFY2(transcribe.exit_code == 0, qPrintable(transcribe.err));
    QVERIFY(!words(transcribe.out).isEmpty());
    QCOMPARE(words(root.value("cpu_text").toString()), words(transcribe.out));
  }
};

QTEST_GUILESS_MAIN(TestCompare)
#include "test_compare.moc"
