// The real `npuscribe` binary, run as a user would: inspect dumps against whisper.cpp's fixtures, transcribe,
// bench, usage errors (exit 2) and runtime errors (exit 1, one "error:" line on stderr).
#include <QtTest>

#include <QRegularExpression>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "cli_runner.h"
#include "model_writer.h"
#include "test_support.h"

using namespace npuscribe;

namespace {

constexpr int kTimeoutMs = 120'000;

// Greedy decoding without temperature fallback. With random weights every window "fails" Whisper's
// compression and log-probability checks, so the defaults (beam 5, then five sampled candidates at each of
// five temperatures) cost about 25 decodes of 224 tokens per window: ~45 s of CPU instead of ~2 s.
const QStringList kGreedy = {"--beam", "1", "--temperature-increment", "0"};

using RunResult = test::CliRun;

QString q(const std::filesystem::path& path) {
  return QString::fromStdString(path.string());
}

QProcessEnvironment clean_environment() {
  return test::clean_cli_environment();
}

RunResult run(const QStringList& arguments, const QProcessEnvironment& environment = clean_environment()) {
  return test::run_npuscribe(arguments, environment, kTimeoutMs);
}

QString describe(const QStringList& arguments, const RunResult& result) {
  return QStringLiteral("npuscribe %1\n  finished normally: %2, exit code %3\n  stdout: %4\n  stderr: %5")
      .arg(arguments.join(' '), result.finished ? "yes" : "no (crashed or timed out)")
      .arg(result.exit_code)
      .arg(result.out.left(600), result.err.left(600));
}

std::size_t argmax(std::span<const float> row) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < row.size(); ++i)
    if (row[i] > row[best]) best = i;
  return best;
}

// The text printed after the header line that names `file`, up to the header line naming `next_file` (or the
// end). Empty when `file` is not on any line. Agnostic of the header's decoration ("F:", "==> F <==").
QString text_under_header(const QString& out, const QString& file, const QString& next_file) {
  const int header = out.indexOf(file);
  if (header < 0) return QString();
  const int body = out.indexOf('\n', header);
  if (body < 0) return QString();
  int end = out.size();
  if (!next_file.isEmpty()) {
    const int next = out.indexOf(next_file, body);
    if (next < 0) return QString();
    end = out.lastIndexOf('\n', next);
  }
  return out.mid(body + 1, end - body - 1).trimmed();
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

}  // namespace

// Fails the calling test unless the run finished normally with the expected exit code.
#define EXPECT_EXIT(arguments, result, code)                                                                \
  do {                                                                                                      \
    const RunResult& checked_ = (result);                                                                   \
    QVERIFY2(checked_.exit_code == (code) && checked_.finished, qPrintable(describe(arguments, checked_))); \
  } while (false)

// Usage error: exit 2 and something on stderr that names the problem. `result` is evaluated once.
#define EXPECT_USAGE_ERROR(arguments, result, mention)                                \
  do {                                                                                \
    const RunResult usage_ = (result);                                                \
    EXPECT_EXIT(arguments, usage_, 2);                                                \
    QVERIFY2(usage_.err.contains(mention, Qt::CaseInsensitive),                       \
             qPrintable(QStringLiteral("stderr should mention '%1'\n").arg(mention) + \
                        describe(arguments, usage_)));                                \
  } while (false)

// Runtime error: exit 1 and exactly one line on stderr, starting with "error:". `result` is evaluated once.
#define EXPECT_RUNTIME_ERROR(arguments, result, mention)                              \
  do {                                                                                \
    const RunResult runtime_ = (result);                                              \
    EXPECT_EXIT(arguments, runtime_, 1);                                              \
    const QString error_text_ = runtime_.err.trimmed();                               \
    QVERIFY2(error_text_.startsWith("error:") && !error_text_.contains('\n'),         \
             qPrintable(QStringLiteral("expected one 'error:' line on stderr\n") +    \
                        describe(arguments, runtime_)));                              \
    QVERIFY2(error_text_.contains(mention),                                           \
             qPrintable(QStringLiteral("stderr should mention '%1'\n").arg(mention) + \
                        describe(arguments, runtime_)));                              \
  } while (false)

class TestCli : public QObject {
  Q_OBJECT

  QString model_ = q(test::fixture("ggml-tiny.en-random.bin"));
  QString jfk_ = q(test::fixture("jfk.wav"));

 private slots:
  void initTestCase() {
    QVERIFY2(QFileInfo(QStringLiteral(NPUSCRIBE_CLI_PATH)).isExecutable(), NPUSCRIBE_CLI_PATH);
    QVERIFY2(QFileInfo::exists(model_), qPrintable(model_));
    QVERIFY2(QFileInfo::exists(jfk_), qPrintable(jfk_));
  }

  // ---- inspect against whisper.cpp's dumps ----

  void inspect_matches_whisper_cpp_dumps() {
    test::TempDir dir;
    const QStringList arguments = {"inspect",
                                   "--model",
                                   model_,
                                   "--audio",
                                   jfk_,
                                   "--mel",
                                   q(dir.file("mel.f32")),
                                   "--conv",
                                   q(dir.file("conv.f32")),
                                   "--encoder",
                                   q(dir.file("encoder.f32")),
                                   "--tokens",
                                   "50257,50362,843,523,616,5891,3399,11,1265,407",
                                   "--logits",
                                   q(dir.file("logits.f32")),
                                   "--greedy",
                                   "24",
                                   "--threads",
                                   "2"};
    const RunResult result = run(arguments);
    EXPECT_EXIT(arguments, result, 0);

    for (const char* name : {"mel", "conv", "encoder", "logits"}) {
      const auto written = dir.file(std::string(name) + ".f32");
      const auto reference = test::fixture(std::string("jfk.") + name + ".f32");
      QVERIFY2(std::filesystem::exists(written), name);
      QCOMPARE(std::filesystem::file_size(written), std::filesystem::file_size(reference));
    }

    {
      const auto mel = test::read_f32_file(dir.file("mel.f32"), 80 * 4100);
      const auto reference = test::read_f32_file(test::fixture("jfk.mel.f32"), 80 * 4100);
      const test::Difference d = test::compare(mel, reference);
      qInfo("mel: max abs %.3g", d.max_abs);
      QVERIFY2(d.max_abs <= 1e-4, qPrintable(QString::number(d.max_abs)));
    }
    {
      const auto conv = test::read_f32_file(dir.file("conv.f32"), 384 * 1500);
      const auto reference = test::read_f32_file(test::fixture("jfk.conv.f32"), 384 * 1500);
      const test::Difference d = test::compare(conv, reference);
      qInfo("conv: max abs %.3g", d.max_abs);
      QVERIFY2(d.max_abs <= 2e-3, qPrintable(QString::number(d.max_abs)));
    }
    {
      const auto encoder = test::read_f32_file(dir.file("encoder.f32"), 1500 * 384);
      const auto reference = test::read_f32_file(test::fixture("jfk.encoder.f32"), 1500 * 384);
      const test::Difference d = test::compare(encoder, reference);
      qInfo("encoder: max abs %.3g, rel L2 %.3g", d.max_abs, d.rel_l2);
      QVERIFY2(d.rel_l2 <= 1e-3, qPrintable(QString::number(d.rel_l2)));
      QVERIFY2(d.max_abs <= 5e-3, qPrintable(QString::number(d.max_abs)));
    }
    {
      constexpr std::size_t kRows = 10, kVocab = 51864;
      const auto logits = test::read_f32_file(dir.file("logits.f32"), kRows * kVocab);
      const auto reference = test::read_f32_file(test::fixture("jfk.logits.f32"), kRows * kVocab);
      const test::Difference d = test::compare(logits, reference);
      qInfo("logits: max abs %.3g, rel L2 %.3g", d.max_abs, d.rel_l2);
      QVERIFY2(d.rel_l2 <= 1e-3, qPrintable(QString::number(d.rel_l2)));
      for (std::size_t row = 0; row < kRows; ++row) {
        const std::span<const float> ours(logits.data() + row * kVocab, kVocab);
        const std::span<const float> theirs(reference.data() + row * kVocab, kVocab);
        QVERIFY2(argmax(ours) == argmax(theirs),
                 qPrintable(QStringLiteral("row %1: argmax %2, whisper.cpp %3")
                                .arg(row)
                                .arg(argmax(ours))
                                .arg(argmax(theirs))));
      }
    }

    // stdout: exactly one line holding the 24 greedy ids.
    const std::vector<int> expected = test::read_greedy_tokens("jfk.greedy.txt");
    QCOMPARE(expected.size(), std::size_t{24});
    const QStringList lines = result.out.split('\n', Qt::SkipEmptyParts);
    QVERIFY2(lines.size() == 1, qPrintable(result.out));
    const QStringList ids = lines[0].split(' ', Qt::SkipEmptyParts);
    QCOMPARE(ids.size(), 24);
    for (int i = 0; i < 24; ++i) {
      bool ok = false;
      const int id = ids[i].toInt(&ok);
      QVERIFY2(ok, qPrintable(ids[i]));
      QVERIFY2(id == expected[static_cast<std::size_t>(i)],
               qPrintable(QStringLiteral("step %1: %2, whisper.cpp %3").arg(i).arg(id).arg(expected[i])));
    }
  }

  void inspect_base_en_shaped_model() {
    test::TempDir dir;
    const auto model_path = dir.file("ggml-base.en-random.bin");
    test::WriteOptions options;
    options.matrix_type = GgmlType::f16;
    options.sparse_data = false;
    QElapsedTimer timer;
    timer.start();
    test::write_random_model(model_path, test::official_shape("base.en"), options);
    qInfo("wrote the base.en model in %lld ms", static_cast<long long>(timer.elapsed()));

    const auto encoder_path = dir.file("encoder.f32");
    const QStringList arguments = {"inspect",       "--model",  q(model_path), "--audio",   jfk_, "--encoder",
                                   q(encoder_path), "--greedy", "3",           "--threads", "2"};
    timer.restart();
    const RunResult result = run(arguments);
    qInfo("inspect on the base.en model took %lld ms", static_cast<long long>(timer.elapsed()));
    EXPECT_EXIT(arguments, result, 0);
    QCOMPARE(std::filesystem::file_size(encoder_path), std::uintmax_t{1500 * 512 * 4});
    const auto encoded = test::read_f32_file(encoder_path, 1500 * 512);
    const auto non_finite =
        std::find_if(encoded.begin(), encoded.end(), [](float v) { return !std::isfinite(v); });
    QVERIFY2(non_finite == encoded.end(),
             qPrintable(QStringLiteral("encoder[%1] = %2")
                            .arg(non_finite - encoded.begin())
                            .arg(non_finite == encoded.end() ? 0.0f : *non_finite)));
    const QStringList lines = result.out.split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 1);
    QCOMPARE(lines[0].split(' ', Qt::SkipEmptyParts).size(), 3);
  }

  void inspect_takes_the_model_from_the_environment() {
    test::TempDir dir;
    QProcessEnvironment environment = clean_environment();
    environment.insert("NPUSCRIBE_MODEL", model_);
    const QStringList arguments = {"inspect", "--audio", jfk_, "--mel", q(dir.file("mel.f32"))};
    const RunResult result = run(arguments, environment);
    EXPECT_EXIT(arguments, result, 0);
    QCOMPARE(std::filesystem::file_size(dir.file("mel.f32")), std::uintmax_t{80 * 4100 * 4});
  }

  // ---- transcribe ----

  void transcribe_prints_text() {
    const QStringList arguments =
        QStringList{"transcribe", "--model", model_, "--threads", "2"} + kGreedy + QStringList{jfk_};
    const RunResult result = run(arguments);
    EXPECT_EXIT(arguments, result, 0);
    QVERIFY2(!result.out.trimmed().isEmpty(), qPrintable(describe(arguments, result)));
    QVERIFY2(!result.out.contains("jfk.wav"), "one file: no file-name header expected");
  }

  void no_subcommand_means_transcribe() {
    const QStringList arguments =
        QStringList{"--model", model_, "--threads", "2"} + kGreedy + QStringList{jfk_};
    const RunResult result = run(arguments);
    EXPECT_EXIT(arguments, result, 0);
    QVERIFY2(!result.out.trimmed().isEmpty(), qPrintable(describe(arguments, result)));
  }

  void transcribe_two_files_names_both() {
    test::TempDir dir;
    const auto second = dir.file("second.wav");
    std::filesystem::copy_file(test::fixture("jfk.wav"), second);
    const QStringList arguments = QStringList{"transcribe", "--model", model_, "--threads", "2"} + kGreedy +
                                  QStringList{jfk_, q(second)};
    const RunResult result = run(arguments);
    EXPECT_EXIT(arguments, result, 0);
    const QString first_text = text_under_header(result.out, jfk_, q(second));
    const QString second_text = text_under_header(result.out, q(second), QString());
    QVERIFY2(!first_text.isEmpty() && !second_text.isEmpty(),
             qPrintable(QStringLiteral("expected each file name on a header line followed by its text\n") +
                        describe(arguments, result)));
  }

  void transcribe_keeps_going_after_a_bad_file() {
    test::TempDir dir;
    const auto bad = dir.file("x.wav");
    write_text(bad, "this is not audio\n");
    const QStringList arguments =
        QStringList{"transcribe", "--model", model_, "--threads", "2"} + kGreedy + QStringList{q(bad), jfk_};
    const RunResult result = run(arguments);
    EXPECT_RUNTIME_ERROR(arguments, result, "x.wav");
    QVERIFY2(!text_under_header(result.out, jfk_, QString()).isEmpty(),
             qPrintable(describe(arguments, result)));
  }

  // ---- usage errors: exit 2 ----

  void inspect_without_audio_is_a_usage_error() {
    const QStringList arguments = {"inspect", "--model", model_};
    EXPECT_USAGE_ERROR(arguments, run(arguments), "--audio");
  }

  void unknown_option_is_a_usage_error() {
    const QStringList arguments = {"transcribe", "--model", model_, "--no-such-option", jfk_};
    EXPECT_USAGE_ERROR(arguments, run(arguments), "--no-such-option");
    const QStringList implicit = {"--model", model_, "--no-such-option", jfk_};
    EXPECT_USAGE_ERROR(implicit, run(implicit), "--no-such-option");
  }

  void zero_threads_is_a_usage_error() {
    const QStringList arguments = {"transcribe", "--model", model_, "--threads", "0", jfk_};
    EXPECT_USAGE_ERROR(arguments, run(arguments), "threads");
  }

  void tokens_without_logits_is_a_usage_error() {
    const QStringList arguments = {"inspect", "--model", model_, "--audio", jfk_, "--tokens", "50257,50362"};
    EXPECT_USAGE_ERROR(arguments, run(arguments), "--logits");
  }

  void bad_token_list_is_a_usage_error() {
    test::TempDir dir;
    const QStringList arguments = {"inspect",  "--model", model_,     "--audio",       jfk_,
                                   "--tokens", "abc",     "--logits", q(dir.file("x"))};
    const RunResult result = run(arguments);
    EXPECT_USAGE_ERROR(arguments, result, "abc");
    QVERIFY2(!std::filesystem::exists(dir.file("x")), "no logits file on a usage error");
  }

  void token_ids_outside_the_model_are_rejected() {
    test::TempDir dir;
    for (const QString& tokens : {QStringLiteral("50257,99999"), QStringLiteral("-1")}) {
      const QStringList arguments = {"inspect",   "--model",  model_,
                                     "--audio",   jfk_,       "--tokens",
                                     tokens,      "--logits", q(dir.file("l.f32")),
                                     "--threads", "2"};
      const RunResult result = run(arguments);
      QVERIFY2(result.finished && (result.exit_code == 1 || result.exit_code == 2),
               qPrintable(describe(arguments, result)));
      QVERIFY2(result.err.trimmed().startsWith("error:") && !result.err.trimmed().contains('\n'),
               qPrintable(describe(arguments, result)));
    }
  }

  void missing_model_is_a_usage_error() {
    const QStringList arguments = {"transcribe", jfk_};
    EXPECT_USAGE_ERROR(arguments, run(arguments), "NPUSCRIBE_MODEL");
    const QStringList implicit = {jfk_};
    EXPECT_USAGE_ERROR(implicit, run(implicit), "--model");
  }

  void missing_audio_file_is_a_usage_error() {
    const QStringList arguments = {"transcribe", "--model", model_, "/no/such/dir/audio.wav"};
    EXPECT_USAGE_ERROR(arguments, run(arguments), "audio.wav");
  }

  // ---- runtime errors: exit 1, one "error:" line ----

  void nonexistent_model_is_a_runtime_error() {
    const QStringList arguments = {"transcribe", "--model", "/no/such/dir/ggml-tiny.en.bin", jfk_};
    const RunResult result = run(arguments);
    EXPECT_RUNTIME_ERROR(arguments, result, "/no/such/dir/ggml-tiny.en.bin");
    QVERIFY2(result.out.isEmpty(), qPrintable(result.out));
  }

  void garbage_model_is_a_runtime_error() {
    test::TempDir dir;
    const auto garbage = dir.file("garbage.bin");
    {
      std::mt19937 random(12345);
      std::string bytes(1024, '\0');
      for (char& byte : bytes) byte = static_cast<char>(random() & 0xff);
      write_text(garbage, bytes);
    }
    const QStringList arguments = {"transcribe", "--model", q(garbage), jfk_};
    const RunResult result = run(arguments);
    EXPECT_RUNTIME_ERROR(arguments, result, "garbage.bin");
    QVERIFY2(result.out.isEmpty(), qPrintable(result.out));
  }

  void truncated_model_is_a_runtime_error() {
    test::TempDir dir;
    const auto truncated = dir.file("truncated.bin");
    {
      std::ifstream in(test::fixture("ggml-tiny.en-random.bin"), std::ios::binary);
      std::string bytes(1 << 20, '\0');
      in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      QCOMPARE(in.gcount(), std::streamsize{1 << 20});
      write_text(truncated, bytes);
    }
    const QStringList arguments = {"inspect", "--model", q(truncated), "--audio", jfk_, "--greedy", "1"};
    const RunResult result = run(arguments);
    EXPECT_RUNTIME_ERROR(arguments, result, "truncated.bin");
    QVERIFY2(result.out.isEmpty(), qPrintable(result.out));
  }

  void non_wav_audio_is_a_runtime_error() {
    test::TempDir dir;
    const auto text = dir.file("x.wav");
    write_text(text, "Hello, I am a text file with a .wav name.\n");
    const QStringList arguments = {"transcribe", "--model", model_, q(text)};
    const RunResult result = run(arguments);
    EXPECT_RUNTIME_ERROR(arguments, result, "x.wav");
    QVERIFY2(result.out.isEmpty(), qPrintable(result.out));

    const QStringList inspect = {"inspect", "--model",           model_, "--audio", q(text),
                                 "--mel",   q(dir.file("m.f32"))};
    EXPECT_RUNTIME_ERROR(inspect, run(inspect), "x.wav");
  }

  void unwritable_output_is_a_runtime_error() {
    const QStringList arguments = {
        "inspect", "--model", model_, "--audio", jfk_, "--mel", "/no/such/dir/mel.f32"};
    EXPECT_RUNTIME_ERROR(arguments, run(arguments), "/no/such/dir/mel.f32");
  }

  // ---- help and version ----

  void help_exits_zero() {
    const QStringList arguments = {"--help"};
    const RunResult result = run(arguments);
    EXPECT_EXIT(arguments, result, 0);
    for (const char* word : {"transcribe", "inspect", "bench"})
      QVERIFY2(result.out.contains(word), qPrintable(describe(arguments, result)));
    const QStringList sub = {"inspect", "--help"};
    const RunResult sub_result = run(sub);
    EXPECT_EXIT(sub, sub_result, 0);
    QVERIFY2(sub_result.out.contains("--encoder"), qPrintable(describe(sub, sub_result)));
  }

  void version_prints_a_version() {
    const QStringList arguments = {"--version"};
    const RunResult result = run(arguments);
    EXPECT_EXIT(arguments, result, 0);
    QVERIFY2(result.out.contains(QRegularExpression(R"(\d+\.\d+\.\d+)")),
             qPrintable(describe(arguments, result)));
  }

  // ---- bench ----

  void bench_reports_every_stage() {
    const QStringList arguments = {"bench",           "--model", model_,      "--runs", "1",
                                   "--decode-tokens", "4",       "--threads", "2"};
    const RunResult result = run(arguments);
    EXPECT_EXIT(arguments, result, 0);
    for (const char* label : {"mel:", "encoder:", "sgemm:", "decoder:", "peak RSS:", "ratio"})
      QVERIFY2(result.out.contains(label),
               qPrintable(QStringLiteral("no '%1' in\n").arg(label) + result.out));
    const QRegularExpressionMatch encoder =
        QRegularExpression(R"(^encoder:\s+([0-9]+(?:\.[0-9]+)?)\s*ms)", QRegularExpression::MultilineOption)
            .match(result.out);
    QVERIFY2(encoder.hasMatch(), qPrintable(result.out));
    bool ok = false;
    const double encoder_ms = encoder.captured(1).toDouble(&ok);
    QVERIFY(ok);
    QVERIFY2(std::isfinite(encoder_ms) && encoder_ms > 0, qPrintable(encoder.captured(1)));
    const QRegularExpressionMatch ratio =
        QRegularExpression(R"(ratio:\s*([0-9]+(?:\.[0-9]+)?))").match(result.out);
    QVERIFY2(ratio.hasMatch() && ratio.captured(1).toDouble() > 0, qPrintable(result.out));
  }

  // ---- --backend ----

  void unknown_backend_is_a_usage_error() {
    for (const char* command : {"transcribe", "inspect", "bench"}) {
      QStringList arguments = {command, "--model", model_, "--backend", "gpu"};
      arguments += command == QString("transcribe") ? QStringList{jfk_} : QStringList{"--audio", jfk_};
      const RunResult result = run(arguments);
      EXPECT_USAGE_ERROR(arguments, result, "gpu");
      for (const char* choice : {"cpu", "npu-sim", "auto"})
        QVERIFY2(result.err.contains(choice), qPrintable(describe(arguments, result)));
    }
  }

  void npu_backend_without_an_npu_says_why() {
    const QStringList arguments =
        QStringList{"transcribe", "--model", model_, "--threads", "2", "--backend", "npu"} + kGreedy +
        QStringList{jfk_};
    const RunResult result = run(arguments);
    if (result.exit_code == 0) QSKIP("an NPU is usable here");
    // One error line that names the NPU, why it is unavailable and what to use instead.
    EXPECT_RUNTIME_ERROR(arguments, result, "NPU");
    QVERIFY2(result.err.contains("--backend cpu"), qPrintable(describe(arguments, result)));
    QVERIFY2(result.out.isEmpty(), qPrintable(describe(arguments, result)));
  }

  void auto_backend_without_an_npu_uses_the_cpu_and_says_why() {
    const QStringList arguments =
        QStringList{"transcribe", "--model", model_, "--threads", "2", "--backend", "auto"} + kGreedy +
        QStringList{jfk_};
    const RunResult result = run(arguments);
    EXPECT_EXIT(arguments, result, 0);
    QVERIFY2(!result.out.trimmed().isEmpty(), qPrintable(describe(arguments, result)));
    if (result.err.contains("backend: npu ")) QSKIP("an NPU is usable here");
    QVERIFY2(result.err.contains("backend: cpu") && result.err.contains("no usable NPU"),
             qPrintable(describe(arguments, result)));
    // The same text as the plain CPU run.
    const QStringList cpu =
        QStringList{"transcribe", "--model", model_, "--threads", "2", "--backend", "cpu"} + kGreedy +
        QStringList{jfk_};
    const RunResult cpu_result = run(cpu);
    EXPECT_EXIT(cpu, cpu_result, 0);
    QCOMPARE(cpu_result.out, result.out);
  }

  void inspect_on_npu_sim_writes_a_close_encoder_output() {
    test::TempDir dir;
    const QStringList arguments = {"inspect",
                                   "--model",
                                   model_,
                                   "--audio",
                                   jfk_,
                                   "--threads",
                                   "2",
                                   "--backend",
                                   "npu-sim",
                                   "--encoder",
                                   q(dir.file("enc.f32"))};
    const RunResult result = run(arguments);
    EXPECT_EXIT(arguments, result, 0);
    QVERIFY2(result.err.contains("npu-sim"), qPrintable(describe(arguments, result)));
    const std::size_t count = 1500 * 384;  // tiny: n_audio_ctx x n_audio_state
    const std::vector<float> npu = test::read_f32_file(dir.file("enc.f32"), count);
    const std::vector<float> reference = test::read_f32_file(test::fixture("jfk.encoder.f32"), count);
    const test::Difference difference = test::compare(npu, reference);
    QVERIFY2(difference.cosine >= 0.995 && difference.rel_l2 <= 0.1,
             qPrintable(QString("cosine %1 rel_l2 %2").arg(difference.cosine).arg(difference.rel_l2)));
    QVERIFY2(difference.max_abs > 0.0, "an exact match means the emulator did not run");
  }

  void bench_on_npu_sim_prints_modelled_beside_measured() {
    const QStringList arguments = {"bench", "--model",   model_, "--runs",    "1",      "--decode-tokens",
                                   "4",     "--threads", "2",    "--backend", "npu-sim"};
    const RunResult result = run(arguments);
    EXPECT_EXIT(arguments, result, 0);
    const QRegularExpressionMatch modelled =
        QRegularExpression(R"(^encoder:\s+([0-9.]+)\s*ms per 30-s window modelled.*?([0-9.]+) ms measured)",
                           QRegularExpression::MultilineOption)
            .match(result.out);
    QVERIFY2(modelled.hasMatch(), qPrintable(result.out));
    QVERIFY(modelled.captured(1).toDouble() > 0.0 && modelled.captured(2).toDouble() > 0.0);
    QVERIFY2(result.out.contains("(modelled)") && result.out.contains("(measured)"), qPrintable(result.out));
  }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
