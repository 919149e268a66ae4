// Voice activity: real speech (the jfk fixture, and espeak-ng speech when installed) is detected; white
// noise, pink noise, mains hum and silence are rejected; stricter sensitivity never detects more.
#include <QProcess>
#include <QtTest>
#include <cmath>
#include <random>

#include "audio/voice_activity.h"
#include "audio/wav_reader.h"
#include "test_support.h"

using namespace npuscribe;

namespace {

constexpr int kRateHz = 16000;

std::vector<float> scaled_to_rms_dbfs(std::vector<float> samples, double rms_dbfs) {
  double sum_sq = 0;
  for (float s : samples) sum_sq += static_cast<double>(s) * s;
  const double rms = std::sqrt(sum_sq / static_cast<double>(samples.size()));
  const double gain = std::pow(10.0, rms_dbfs / 20.0) / std::max(rms, 1e-12);
  for (float& s : samples) s = static_cast<float>(s * gain);
  return samples;
}

std::vector<float> white_noise(double seconds, unsigned seed) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> out(static_cast<std::size_t>(seconds * kRateHz));
  for (float& s : out) s = normal(random);
  return out;
}

// Pink (1/f) noise: Paul Kellet's refined filter of white noise.
std::vector<float> pink_noise(double seconds, unsigned seed) {
  std::vector<float> white = white_noise(seconds, seed);
  double b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0, b6 = 0;
  for (float& s : white) {
    const double w = s;
    b0 = 0.99886 * b0 + w * 0.0555179;
    b1 = 0.99332 * b1 + w * 0.0750759;
    b2 = 0.96900 * b2 + w * 0.1538520;
    b3 = 0.86650 * b3 + w * 0.3104856;
    b4 = 0.55000 * b4 + w * 0.5329522;
    b5 = -0.7616 * b5 - w * 0.0168980;
    s = static_cast<float>(b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362);
    b6 = w * 0.115926;
  }
  return white;
}

// 50-Hz mains hum with its odd and even harmonics up to 250 Hz.
std::vector<float> hum(double seconds) {
  std::vector<float> out(static_cast<std::size_t>(seconds * kRateHz));
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double t = static_cast<double>(i) / kRateHz;
    double v = 0;
    for (int h = 1; h <= 5; ++h) v += std::sin(2 * M_PI * 50.0 * h * t) / h;
    out[i] = static_cast<float>(v);
  }
  return out;
}

struct Detection {
  std::int64_t frames = 0, speech_frames = 0, voiced_frames = 0;
  double speech_fraction() const { return frames ? static_cast<double>(speech_frames) / frames : 0.0; }
};

Detection detect(const std::vector<float>& samples, int sensitivity) {
  VoiceActivityDetector vad(sensitivity);
  // Uneven chunk sizes, as a capture callback delivers them.
  std::size_t pos = 0, step = 0;
  const std::size_t sizes[] = {441, 160, 1000, 37, 320};
  while (pos < samples.size()) {
    const std::size_t n = std::min(sizes[step++ % 5], samples.size() - pos);
    vad.push(std::span<const float>(samples).subspan(pos, n));
    pos += n;
  }
  return {vad.frames(), vad.speech_frames(), vad.voiced_frames()};
}

}  // namespace

class TestVoiceActivity : public QObject {
  Q_OBJECT

 private slots:
  void frames_are_counted_across_chunks() {
    const Detection d = detect(std::vector<float>(16000 * 2 + 100, 0.0f), 1);
    QCOMPARE(d.frames, std::int64_t{200});  // 2 s = 200 whole 10-ms frames; the 100-sample rest waits
  }

  void speech_is_detected() {
    const MonoAudio jfk = read_wav_file(npuscribe::test::fixture("jfk.wav"));
    for (int sensitivity = 0; sensitivity <= 3; ++sensitivity) {
      const Detection d = detect(jfk.samples, sensitivity);
      qInfo("jfk, sensitivity %d: %.0f%% of frames in speech", sensitivity, 100 * d.speech_fraction());
      // jfk.wav is about 8 s of speech in 11 s with pauses between the phrases.
      if (sensitivity <= 2) QVERIFY2(d.speech_fraction() > 0.5, "speech not detected");
      QVERIFY2(d.speech_fraction() > 0.25, "speech not detected at the strictest setting");
    }
  }

  void synthetic_speech_is_detected() {
    if (QStandardPaths::findExecutable("espeak-ng").isEmpty() ||
        QStandardPaths::findExecutable("sox").isEmpty())
      QSKIP("espeak-ng or sox is not installed (apt-get install espeak-ng sox)");
    npuscribe::test::TempDir dir;
    const QString raw = QString::fromStdString((dir.path() / "raw.wav").string());
    const QString speech = QString::fromStdString((dir.path() / "speech.wav").string());
    QCOMPARE(
        QProcess::execute("espeak-ng", {"-v", "en-us", "-s", "160", "-w", raw,
                                        "The quick brown fox jumps over the lazy dog near the river bank."}),
        0);
    QCOMPARE(QProcess::execute("sox", {raw, "-r", "16000", "-c", "1", "-b", "16", speech}), 0);
    const MonoAudio audio = read_wav_file(speech.toStdString());
    const Detection d = detect(audio.samples, 1);
    qInfo("espeak-ng speech: %.0f%% of %lld frames in speech", 100 * d.speech_fraction(),
          static_cast<long long>(d.frames));
    QVERIFY(d.speech_fraction() > 0.6);
  }

  void noise_is_rejected_data() {
    QTest::addColumn<QString>("kind");
    QTest::addColumn<double>("level_dbfs");
    for (double level : {-45.0, -30.0, -15.0}) {
      const QByteArray suffix = QByteArray::number(level);
      QTest::newRow("white " + suffix) << "white" << level;
      QTest::newRow("pink " + suffix) << "pink" << level;
      QTest::newRow("hum " + suffix) << "hum" << level;
    }
  }

  void noise_is_rejected() {
    QFETCH(QString, kind);
    QFETCH(double, level_dbfs);
    std::vector<float> noise = kind == "white"  ? white_noise(6.0, 1)
                               : kind == "pink" ? pink_noise(6.0, 2)
                                                : hum(6.0);
    noise = scaled_to_rms_dbfs(std::move(noise), level_dbfs);
    for (int sensitivity = 0; sensitivity <= 3; ++sensitivity) {
      const Detection d = detect(noise, sensitivity);
      qInfo("%s at %.0f dBFS, sensitivity %d: %lld speech frames, %lld voiced", qPrintable(kind), level_dbfs,
            sensitivity, static_cast<long long>(d.speech_frames), static_cast<long long>(d.voiced_frames));
      if (sensitivity >= 1)
        QCOMPARE(d.speech_frames, std::int64_t{0});
      else
        QVERIFY2(d.speech_fraction() < 0.05, "lenient setting takes noise for speech");
    }
  }

  void silence_is_rejected() {
    std::vector<float> zeros(16000 * 3, 0.0f);
    std::vector<float> faint = scaled_to_rms_dbfs(white_noise(3.0, 3), -70.0);
    for (int sensitivity = 0; sensitivity <= 3; ++sensitivity) {
      QCOMPARE(detect(zeros, sensitivity).speech_frames, std::int64_t{0});
      QCOMPARE(detect(faint, sensitivity).speech_frames, std::int64_t{0});
    }
  }

  void speech_in_noise_and_sensitivity_order() {
    // jfk mixed with white noise 20 dB below it: stricter settings detect no more speech than lenient ones.
    const MonoAudio jfk = read_wav_file(npuscribe::test::fixture("jfk.wav"));
    std::vector<float> mixed = jfk.samples;
    const std::vector<float> noise = scaled_to_rms_dbfs(white_noise(jfk.duration_s() + 1, 4), -45.0);
    for (std::size_t i = 0; i < mixed.size(); ++i) mixed[i] += noise[i];
    std::int64_t previous = std::numeric_limits<std::int64_t>::max();
    for (int sensitivity = 0; sensitivity <= 3; ++sensitivity) {
      const Detection d = detect(mixed, sensitivity);
      qInfo("jfk + noise, sensitivity %d: %.0f%% speech", sensitivity, 100 * d.speech_fraction());
      QVERIFY(d.speech_frames <= previous);
      previous = d.speech_frames;
    }
    QVERIFY(detect(mixed, 0).speech_fraction() > detect(mixed, 3).speech_fraction());
    QVERIFY(detect(mixed, 1).speech_fraction() > 0.4);
  }

  void sensitivity_is_clamped() {
    VoiceActivityDetector vad(9);
    QCOMPARE(vad.sensitivity(), 3);
    vad.set_sensitivity(-4);
    QCOMPARE(vad.sensitivity(), 0);
    QCOMPARE(voice_activity_settings(0).likelihood, 3);  // lenient = WebRTC's high likelihood
    QCOMPARE(voice_activity_settings(3).likelihood, 0);
  }
};

QTEST_GUILESS_MAIN(TestVoiceActivity)
#include "test_voice_activity.moc"
