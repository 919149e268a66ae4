// Long-form transcription (Transcriber::transcribe: 30-s windows, seeking, silence guard, word timestamps,
// language detection, prompts, cancellation) on the random-weight fixture models. Random weights produce
// nonsense text, so the checks are structural: segment order and bounds, progress, timing, and that lossless
// copies of the same audio give the same features and transcript.
#include <QElapsedTimer>
#include <QObject>
#include <QProcess>
#include <QStandardPaths>
#include <QString>
#include <QStringList>
#include <QTest>

#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "audio/wav_reader.h"
#include "engine/features.h"
#include "engine/transcriber.h"
#include "model/whisper_model.h"
#include "model_writer.h"
#include "test_support.h"
#include "util/error.h"
#include "util/parallel.h"

using namespace npuscribe;

namespace {

constexpr double kSlack = 0.02;  // one timestamp step

TranscribeOptions fast_options() {
  TranscribeOptions options;
  options.temperatures = {0.0f};
  options.beam_size = 0;
  options.word_timestamps = false;
  return options;
}

QString describe(const TranscriptResult& result) {
  QStringList lines;
  for (const Segment& segment : result.segments) {
    lines << QString("[%1 - %2] %3 tokens")
                 .arg(segment.start_s, 0, 'f', 2)
                 .arg(segment.end_s, 0, 'f', 2)
                 .arg(segment.tokens.size());
    for (const TokenTiming& token : segment.tokens)
      lines << QString("    token %1 [%2 - %3]")
                   .arg(token.id)
                   .arg(token.start_s, 0, 'f', 2)
                   .arg(token.end_s, 0, 'f', 2);
    for (const WordTiming& word : segment.words)
      lines << QString("    word '%1' [%2 - %3]")
                   .arg(QString::fromStdString(word.text))
                   .arg(word.start_s, 0, 'f', 2)
                   .arg(word.end_s, 0, 'f', 2);
  }
  for (const std::string& warning : result.warnings)
    lines << QString("warning: %1").arg(QString::fromStdString(warning));
  return lines.join('\n');
}

// Sorted by start, each start <= end, inside [0, duration], no overlap beyond one timestamp step.
QString structure_violation(const TranscriptResult& result, double duration_s) {
  for (std::size_t i = 0; i < result.segments.size(); ++i) {
    const Segment& s = result.segments[i];
    const QString where = QString("segment %1 [%2, %3]").arg(i).arg(s.start_s).arg(s.end_s);
    if (!(s.start_s >= 0.0)) return where + " starts before 0";
    if (!(s.start_s <= s.end_s)) return where + " ends before it starts";
    if (!(s.end_s <= duration_s + kSlack))
      return where + QString(" ends after the audio (%1 s)").arg(duration_s);
    if (s.tokens.empty() || s.text.empty()) return where + " has no text";
    if (i > 0) {
      const Segment& previous = result.segments[i - 1];
      if (s.start_s < previous.start_s) return where + " starts before the previous segment";
      if (s.start_s < previous.end_s - kSlack)
        return where + QString(" overlaps the previous one (ends %1)").arg(previous.end_s);
    }
  }
  return {};
}

}  // namespace

class TestLongForm : public QObject {
  Q_OBJECT

 private:
  std::shared_ptr<const WhisperModel> model_;
  std::unique_ptr<Transcriber> transcriber_;
  MonoAudio jfk_;

 private slots:
  void initTestCase() {
    set_thread_count(2);
    model_ = WhisperModel::load(test::fixture("ggml-tiny.en-random.bin"));
    transcriber_ = std::make_unique<Transcriber>(model_);
    jfk_ = read_wav_file(test::fixture("jfk.wav"));
    QCOMPARE(jfk_.samples.size(), std::size_t{176000});
  }

  void three_minutes_of_repeated_speech() {
    // jfk (11 s) + 1 s of silence, 16 times: 192 s, seven 30-s windows at least.
    MonoAudio audio;
    for (int i = 0; i < 16; ++i) {
      audio.samples.insert(audio.samples.end(), jfk_.samples.begin(), jfk_.samples.end());
      audio.samples.insert(audio.samples.end(), 16000, 0.0f);
    }
    const double duration = audio.duration_s();
    QCOMPARE(duration, 192.0);

    std::vector<double> fractions;
    std::size_t reported_segments = 0;
    QElapsedTimer timer;
    timer.start();
    const TranscriptResult result = transcriber_->transcribe(
        audio, fast_options(), [&](double fraction, std::span<const Segment> segments) {
          fractions.push_back(fraction);
          reported_segments += segments.size();
        });
    const qint64 elapsed_ms = timer.elapsed();
    qInfo("%zu segments, %zu progress calls, %lld ms", result.segments.size(), fractions.size(),
          static_cast<long long>(elapsed_ms));

    QCOMPARE(result.duration_s, duration);
    QCOMPARE(result.language, std::string("en"));
    QCOMPARE(result.task, std::string("transcribe"));
    QCOMPARE(result.model_name, std::string("ggml-tiny.en-random.bin"));
    QVERIFY2(!result.segments.empty(), "192 s of speech gave no segment");
    const QString violation = structure_violation(result, duration);
    QVERIFY2(violation.isEmpty(), qPrintable(violation + "\n" + describe(result)));
    // The last segment reaches into the last repetition (the audio was consumed to the end).
    QVERIFY2(result.segments.back().end_s > duration - 30.0, qPrintable(describe(result)));

    // Progress: strictly increasing (every window advanced the seek), ending at exactly 1.
    QVERIFY(fractions.size() >= 7);
    for (std::size_t i = 0; i < fractions.size(); ++i) {
      QVERIFY2(fractions[i] > 0.0 && fractions[i] <= 1.0, qPrintable(QString::number(fractions[i])));
      if (i)
        QVERIFY2(fractions[i] > fractions[i - 1],
                 qPrintable(QString("call %1: %2 after %3").arg(i).arg(fractions[i]).arg(fractions[i - 1])));
    }
    QCOMPARE(fractions.back(), 1.0);
    QCOMPARE(reported_segments, result.segments.size());  // every segment was reported exactly once
    QVERIFY2(elapsed_ms < 85000, qPrintable(QString::number(elapsed_ms)));
  }

  void digital_silence_gives_no_segments() {
    MonoAudio silence;
    silence.samples.assign(30 * 16000, 0.0f);
    std::vector<double> fractions;
    QElapsedTimer timer;
    timer.start();
    const TranscriptResult result = transcriber_->transcribe(
        silence, fast_options(),
        [&](double fraction, std::span<const Segment>) { fractions.push_back(fraction); });
    QVERIFY2(result.segments.empty(), qPrintable(describe(result)));
    QVERIFY(!fractions.empty());
    QCOMPARE(fractions.back(), 1.0);
    QVERIFY2(timer.elapsed() < 2000, "silence should be skipped without encoding");  // nothing decoded
  }

  void quiet_noise_gives_no_segments() {
    // White noise at -90 dBFS RMS, far below the -60 dBFS silence guard.
    MonoAudio noise;
    std::mt19937 random(42);
    std::normal_distribution<float> normal(0.0f, static_cast<float>(std::pow(10.0, -90.0 / 20.0)));
    noise.samples.resize(30 * 16000);
    for (float& sample : noise.samples) sample = normal(random);
    const TranscriptResult result = transcriber_->transcribe(noise, fast_options());
    QVERIFY2(result.segments.empty(), qPrintable(describe(result)));
  }

  void empty_audio() {
    int calls = 0;
    const TranscriptResult result = transcriber_->transcribe(
        MonoAudio{}, fast_options(), [&](double, std::span<const Segment>) { ++calls; });
    QVERIFY(result.segments.empty());
    QCOMPARE(result.duration_s, 0.0);
    QCOMPARE(result.text(), std::string());
    QVERIFY(calls <= 1);
  }

  void word_timestamps_data() {
    QTest::addColumn<int>("repeats");
    QTest::newRow("jfk") << 1;
    QTest::newRow("jfk twice in one window") << 2;
  }

  void word_timestamps() {
    QFETCH(int, repeats);
    MonoAudio audio;
    for (int i = 0; i < repeats; ++i) {
      if (i) audio.samples.insert(audio.samples.end(), 16000, 0.0f);
      audio.samples.insert(audio.samples.end(), jfk_.samples.begin(), jfk_.samples.end());
    }
    const double duration = audio.duration_s();
    TranscribeOptions options = fast_options();
    options.word_timestamps = true;
    const TranscriptResult result = transcriber_->transcribe(audio, options);
    QVERIFY2(!result.segments.empty(), "no segments");
    double previous_word_start = 0.0;
    for (std::size_t s = 0; s < result.segments.size(); ++s) {
      const Segment& segment = result.segments[s];
      const QString where = QString("segment %1 [%2, %3]").arg(s).arg(segment.start_s).arg(segment.end_s);
      if (segment.tokens.empty()) continue;
      QVERIFY2(!segment.words.empty(), qPrintable(where + " has tokens but no words\n" + describe(result)));
      std::string joined;
      for (const WordTiming& word : segment.words) {
        const QString w = where + QString(": word '%1' [%2, %3]")
                                      .arg(QString::fromStdString(word.text))
                                      .arg(word.start_s)
                                      .arg(word.end_s);
        joined += word.text;
        QVERIFY2(word.start_s <= word.end_s, qPrintable(w));
        QVERIFY2(word.start_s >= previous_word_start, qPrintable(w + " starts before the previous word"));
        QVERIFY2(word.start_s >= segment.start_s - kSlack && word.end_s <= segment.end_s + kSlack,
                 qPrintable(w + " outside its segment"));
        QVERIFY2(word.start_s >= 0.0 && word.end_s <= duration, qPrintable(w + " outside the audio"));
        QVERIFY2(word.probability >= 0.0f && word.probability <= 1.0f, qPrintable(w));
        previous_word_start = word.start_s;
      }
      QCOMPARE(QString::fromStdString(joined), QString::fromStdString(segment.text));  // words cover the text
      for (const TokenTiming& token : segment.tokens) {
        QVERIFY2(
            token.start_s >= 0.0 && token.end_s >= token.start_s,
            qPrintable(where +
                       QString(": token %1 [%2, %3]").arg(token.id).arg(token.start_s).arg(token.end_s)));
        QVERIFY(token.end_s <= duration + kSlack);
      }
    }
    // Segment times come from the words now; they must still be ordered and not overlap.
    const QString violation = structure_violation(result, duration);
    QVERIFY2(violation.isEmpty(), qPrintable(violation + "\n" + describe(result)));
  }

  void multilingual_model() {
    test::TempDir dir;
    const auto path = dir.file("ggml-tiny-random.bin");
    test::WriteOptions write;
    write.matrix_type = GgmlType::f16;
    write.seed = 3;
    QElapsedTimer timer;
    timer.start();
    test::write_random_model(path, test::official_shape("tiny"), write);
    qInfo("wrote the multilingual tiny model in %lld ms", static_cast<long long>(timer.elapsed()));
    const auto model = WhisperModel::load(path);
    QVERIFY(model->hparams().is_multilingual());
    Transcriber transcriber(model);
    MonoAudio clip;  // the first 3 s of jfk: one window, enough for detection
    clip.samples.assign(jfk_.samples.begin(), jfk_.samples.begin() + 3 * 16000);

    TranscribeOptions options = fast_options();
    options.language = "auto";
    const TranscriptResult detected = transcriber.transcribe(clip, options);
    QVERIFY(!detected.detected_languages.empty());
    QVERIFY(detected.detected_languages.size() <= 5);
    double total = 0;
    for (std::size_t i = 0; i < detected.detected_languages.size(); ++i) {
      const LanguageProbability& language = detected.detected_languages[i];
      QVERIFY(language.probability >= 0.0f && language.probability <= 1.0f);
      QVERIFY(!language.code.empty());
      if (i) QVERIFY(detected.detected_languages[i - 1].probability >= language.probability);
      total += language.probability;
    }
    QVERIFY2(total <= 1.0 + 1e-5, qPrintable(QString::number(total)));
    QCOMPARE(detected.language, detected.detected_languages.front().code);
    qInfo("detected %s (%.3f)", detected.language.c_str(), detected.detected_languages.front().probability);
    QVERIFY(structure_violation(detected, clip.duration_s()).isEmpty());

    QCOMPARE(detected.task, std::string("transcribe"));

    // A fixed language is not detected; translate sets the task (one run checks both, to save time).
    options.language = "de";
    options.translate = true;
    const TranscriptResult translated = transcriber.transcribe(clip, options);
    QCOMPARE(translated.language, std::string("de"));
    QVERIFY(translated.detected_languages.empty());
    QCOMPARE(translated.task, std::string("translate"));
    QVERIFY(structure_violation(translated, clip.duration_s()).isEmpty());

    options.language = "xx";
    QVERIFY_THROWS_EXCEPTION(npuscribe::Error, transcriber.transcribe(clip, options));
    options.language = "english";
    QVERIFY_THROWS_EXCEPTION(npuscribe::Error, transcriber.transcribe(clip, options));
  }

  void english_only_model_ignores_language_and_translate() {
    MonoAudio clip;
    clip.samples.assign(jfk_.samples.begin(), jfk_.samples.begin() + 3 * 16000);
    // The language and task are settled before the first window; cancelling up front skips the decoding.
    std::atomic<bool> cancel{true};
    TranscribeOptions options = fast_options();
    options.language = "de";
    options.translate = true;
    options.cancel = &cancel;
    const TranscriptResult result = transcriber_->transcribe(clip, options);
    QCOMPARE(result.language, std::string("en"));
    bool translate_warning = false;
    for (const std::string& warning : result.warnings)
      translate_warning |= warning.find("translate") != std::string::npos;
    QVERIFY2(translate_warning, qPrintable(describe(result)));
  }

  void initial_prompt_conditions_decoding() {
    TranscribeOptions options = fast_options();
    options.initial_prompt = "  President Kennedy's inaugural address, January 20, 1961.";
    const TranscriptResult result = transcriber_->transcribe(jfk_, options);
    QVERIFY(structure_violation(result, 11.0).isEmpty());
    qInfo("with prompt: %zu segments, '%s'", result.segments.size(), result.text().c_str());
    // The prompt is not part of the transcript.
    QVERIFY(result.text().find("inaugural") == std::string::npos);
  }

  void cancel_before_start() {
    std::atomic<bool> cancel{true};
    TranscribeOptions options = fast_options();
    options.cancel = &cancel;
    QElapsedTimer timer;
    timer.start();
    const TranscriptResult result = transcriber_->transcribe(jfk_, options);
    QVERIFY(timer.elapsed() < 2000);
    QVERIFY(result.segments.empty());
    QVERIFY(!result.warnings.empty());
  }

  void lossless_copies_give_identical_transcripts() {
    const QString ffmpeg = QStandardPaths::findExecutable("ffmpeg");
    if (ffmpeg.isEmpty()) QSKIP("the ffmpeg CLI is not installed");
    test::TempDir dir;
    const auto flac = dir.file("jfk.flac");
    QProcess process;
    process.start(ffmpeg, {"-nostdin", "-loglevel", "error", "-y", "-i",
                           QString::fromStdString(test::fixture("jfk.wav").string()), "-c:a", "flac",
                           QString::fromStdString(flac.string())});
    QVERIFY(process.waitForFinished(60000));
    QVERIFY2(process.exitStatus() == QProcess::NormalExit && process.exitCode() == 0,
             process.readAllStandardError().constData());

    const AudioFeatures from_wav = features_from_file(test::fixture("jfk.wav"), model_->mel_filters());
    const AudioFeatures from_flac = features_from_file(flac, model_->mel_filters());
    QCOMPARE(from_flac.duration_s, from_wav.duration_s);
    QCOMPARE(from_flac.mel.n_mels, from_wav.mel.n_mels);
    QCOMPARE(from_flac.mel.n_frames, from_wav.mel.n_frames);
    QCOMPARE(from_flac.mel.n_frames_with_audio, from_wav.mel.n_frames_with_audio);
    QCOMPARE(from_flac.mel.values.size(), from_wav.mel.values.size());
    QVERIFY(std::memcmp(from_flac.mel.values.data(), from_wav.mel.values.data(),
                        from_wav.mel.values.size() * sizeof(float)) == 0);
    QCOMPARE(from_flac.hop_rms, from_wav.hop_rms);
    QCOMPARE(from_wav.hop_rms, hop_rms(jfk_.samples));  // the streaming meter equals the one-shot levels

    const TranscriptResult a = transcriber_->transcribe(from_wav, fast_options());
    const TranscriptResult b = transcriber_->transcribe(from_flac, fast_options());
    QCOMPARE(b.text(), a.text());
    QCOMPARE(b.segments.size(), a.segments.size());
    for (std::size_t i = 0; i < a.segments.size(); ++i) {
      QCOMPARE(b.segments[i].start_s, a.segments[i].start_s);
      QCOMPARE(b.segments[i].end_s, a.segments[i].end_s);
    }
    // The streaming file path computes the same mel bits as the one-shot in-memory path (so both transcribe
    // alike).
    const LogMel one_shot = transcriber_->mel().compute(jfk_.samples);
    QCOMPARE(one_shot.n_frames, from_wav.mel.n_frames);
    QCOMPARE(one_shot.n_frames_with_audio, from_wav.mel.n_frames_with_audio);
    QVERIFY(std::memcmp(one_shot.values.data(), from_wav.mel.values.data(),
                        one_shot.values.size() * sizeof(float)) == 0);
  }
};

QTEST_GUILESS_MAIN(TestLongForm)
#include "test_long_form.moc"
