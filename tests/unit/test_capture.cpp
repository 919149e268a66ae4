// Microphone capture through PortAudio against a private PulseAudio daemon (own XDG_RUNTIME_DIR, a null
// sink whose monitor is the default source; testing.md): device listing, the default device, conversion
// of 44.1 and 48 kHz stereo to 16 kHz mono (a 1 kHz tone on the left channel only: frequency and the
// level halved by the downmix), pause/resume, and a clear error for an unknown device.
#include <QProcess>
#include <QStandardPaths>
#include <QtTest>
#include <cmath>
#include <mutex>
#include <numbers>

#include "audio/capture.h"
#include "io/wav_writer.h"
#include "private_pulseaudio.h"
#include "test_support.h"
#include "util/error.h"

using namespace npuscribe;

namespace {

// Positive-going zero crossings per second over the middle of the part above -30 dBFS.
double tone_frequency_hz(const std::vector<float>& samples, double* rms_dbfs) {
  std::size_t first = samples.size(), last = 0;
  for (std::size_t i = 0; i < samples.size(); ++i)
    if (std::abs(samples[i]) > 0.03f) {
      first = std::min(first, i);
      last = i;
    }
  if (first >= last || last - first < 16000) return -1;
  const std::size_t begin = first + (last - first) / 4, end = last - (last - first) / 4;
  int crossings = 0;
  double sum_sq = 0;
  for (std::size_t i = begin; i < end; ++i) {
    if (samples[i - 1] < 0 && samples[i] >= 0) ++crossings;
    sum_sq += static_cast<double>(samples[i]) * samples[i];
  }
  *rms_dbfs = 20 * std::log10(std::sqrt(sum_sq / static_cast<double>(end - begin)));
  return crossings / (static_cast<double>(end - begin) / 16000.0);
}

}  // namespace

class TestCapture : public QObject {
  Q_OBJECT

  npuscribe::test::TempDir dir_;
  npuscribe::test::PrivatePulseAudio pulse_{dir_.path()};
  QString tone_wav_;

  QString pulseDevice() {
    QString fallback;
    for (const AudioDeviceInfo& device : list_input_devices(false)) {
      if (device.name == "pulse") return "pulse";
      if (device.name == "default") fallback = "default";
    }
    return fallback;
  }

  // Records while paplay plays the tone; returns the 16 kHz mono samples.
  std::vector<float> recordTone(const CaptureOptions& options, int* device_rate_hz) {
    AudioCapture capture;
    std::mutex mutex;
    std::vector<float> samples;
    capture.set_samples_callback([&](std::span<const float> chunk) {
      std::lock_guard lock(mutex);
      samples.insert(samples.end(), chunk.begin(), chunk.end());
    });
    QStringList errors;
    capture.set_error_callback([&](const std::string& message) {
      std::lock_guard lock(mutex);
      errors << QString::fromStdString(message);
    });
    capture.start(options);
    *device_rate_hz = capture.device_rate_hz();
    QProcess player;
    player.setProcessEnvironment(pulse_.environment());
    player.start("paplay", {"-d", "virt", tone_wav_});
    player.waitForFinished(20000);
    QTest::qWait(300);
    capture.stop();
    std::lock_guard lock(mutex);
    if (!errors.isEmpty()) qWarning("capture error: %s", qPrintable(errors.join("; ")));
    // The callback's frames all reach the consumer, converted to 16 kHz.
    const double received_s = static_cast<double>(capture.frames_received()) / capture.device_rate_hz();
    qInfo("%d Hz x %d: callback %.3f s, delivered %.3f s", capture.device_rate_hz(), options.channels,
          received_s, samples.size() / 16000.0);
    if (std::abs(received_s - samples.size() / 16000.0) > 0.005) samples.clear();
    return samples;
  }

 private slots:
  void initTestCase() {
    if (const QString missing = npuscribe::test::PrivatePulseAudio::missing_tools(); !missing.isEmpty())
      QSKIP(qPrintable(missing));
    QString why;
    if (!pulse_.start("rate=48000 channels=2", &why)) QSKIP(qPrintable(why));
    // 2 s of a 1 kHz tone at amplitude 0.5 on the left channel, silence on the right (48 kHz stereo).
    tone_wav_ = QString::fromStdString(dir_.file("tone.wav").string());
    WavWriter writer(tone_wav_.toStdString(), 48000, 2);
    std::vector<float> frames(2 * 48000 * 2, 0.0f);
    for (std::size_t i = 0; i < frames.size() / 2; ++i)
      frames[2 * i] = 0.5f * static_cast<float>(std::sin(2 * std::numbers::pi * 1000.0 * i / 48000.0));
    writer.write(frames);
    writer.close();
    list_input_devices(true);  // rescan: the daemon started after PortAudio may have been initialised
  }

  void cleanupTestCase() { pulse_.stop(); }

  void lists_devices() {
    const std::vector<AudioDeviceInfo> inputs = list_input_devices(true);
    QVERIFY(!inputs.empty());
    int defaults = 0;
    for (const AudioDeviceInfo& device : inputs) {
      QVERIFY(!device.name.empty());
      QVERIFY(device.max_input_channels > 0);
      QVERIFY(device.default_sample_rate_hz >= 8000);
      QVERIFY(device.index >= 0);
      defaults += device.is_default;
    }
    QCOMPARE(defaults, 1);
    QVERIFY2(!pulseDevice().isEmpty(), "neither \"pulse\" nor \"default\" is listed");
    const std::vector<AudioDeviceInfo> outputs = list_output_devices(false);
    QVERIFY(!outputs.empty());
    for (const AudioDeviceInfo& device : outputs) QVERIFY(device.max_output_channels > 0);
  }

  void opens_the_default_device() {
    AudioCapture capture;
    std::atomic<std::int64_t> delivered{0};
    capture.set_samples_callback([&](std::span<const float> chunk) { delivered += chunk.size(); });
    std::atomic<int> levels{0};
    capture.set_level_callback([&](const AudioLevel&) { ++levels; });
    capture.start({});
    QVERIFY(capture.is_running());
    QVERIFY(capture.device().is_default);
    QTRY_VERIFY_WITH_TIMEOUT(delivered.load() >= 8000, 10000);  // half a second of (silent) audio
    QVERIFY(levels.load() > 0);
    capture.stop();
    QVERIFY(!capture.is_running());
    capture.stop();  // twice is fine
  }

  void converts_stereo_to_16k_mono_data() {
    QTest::addColumn<int>("rate_hz");
    QTest::newRow("44.1 kHz stereo") << 44100;
    QTest::newRow("48 kHz stereo") << 48000;
  }
  void converts_stereo_to_16k_mono() {
    QFETCH(int, rate_hz);
    CaptureOptions options;
    options.device_name = pulseDevice().toStdString();
    options.sample_rate_hz = rate_hz;
    options.channels = 2;
    int device_rate_hz = 0;
    const std::vector<float> samples = recordTone(options, &device_rate_hz);
    QCOMPARE(device_rate_hz, rate_hz);
    QVERIFY2(!samples.empty(), "the samples delivered differ from what the callback received");
    double rms_dbfs = 0;
    const double frequency_hz = tone_frequency_hz(samples, &rms_dbfs);
    qInfo("captured %.2f s: %.1f Hz at %.2f dBFS RMS", samples.size() / 16000.0, frequency_hz, rms_dbfs);
    QVERIFY(std::abs(frequency_hz - 1000.0) < 10.0);
    // Amplitude 0.5 on one of two channels: the mono mix has amplitude 0.25, RMS 0.25 / sqrt(2).
    const double expected_dbfs = 20 * std::log10(0.25 / std::sqrt(2.0));
    QVERIFY2(std::abs(rms_dbfs - expected_dbfs) < 1.0, qPrintable(QString::number(rms_dbfs)));
  }

  void pause_drops_audio_until_resumed() {
    AudioCapture capture;
    std::atomic<std::int64_t> delivered{0};
    capture.set_samples_callback([&](std::span<const float> chunk) { delivered += chunk.size(); });
    CaptureOptions options;
    options.device_name = pulseDevice().toStdString();
    capture.start(options);
    QTRY_VERIFY_WITH_TIMEOUT(delivered.load() >= 4000, 10000);
    capture.pause();
    QVERIFY(capture.is_paused());
    QTest::qWait(100);  // a chunk being converted at pause() may still arrive
    const std::int64_t at_pause = delivered.load();
    QTest::qWait(700);
    QCOMPARE(delivered.load(), at_pause);
    QCOMPARE(capture.samples_delivered(), at_pause);
    capture.resume();
    QVERIFY(!capture.is_paused());
    QTRY_VERIFY_WITH_TIMEOUT(delivered.load() >= at_pause + 4000, 10000);
    capture.stop();
    // The stream ran on while paused (a lost device would still be noticed): the callback got more.
    QVERIFY(static_cast<double>(capture.frames_received()) / capture.device_rate_hz() >
            delivered.load() / 16000.0 + 0.5);
  }

  void unknown_device_is_a_clear_error() {
    AudioCapture capture;
    CaptureOptions options;
    options.device_name = "no such microphone";
    try {
      capture.start(options);
      QFAIL("start() accepted an unknown device");
    } catch (const Error& e) {
      const QString message = e.what();
      QVERIFY2(message.contains("no such microphone") && message.contains("not available"),
               qPrintable(message));
    }
    QVERIFY(!capture.is_running());
    options.device_name = pulseDevice().toStdString();
    options.channels = 100000;
    QVERIFY_THROWS_EXCEPTION(Error, capture.start(options));
    QVERIFY(!capture.is_running());
  }
};

QTEST_GUILESS_MAIN(TestCapture)
#include "test_capture.moc"
