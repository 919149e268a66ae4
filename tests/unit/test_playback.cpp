// Click-to-play output through PortAudio into a private PulseAudio daemon's null sink (testing.md): the
// sink's monitor, recorded with AudioCapture, must receive the tone that was played; playback runs to its
// end at about real-time pace with the position advancing; start_s and stop() work.
#include <QProcess>
#include <QStandardPaths>
#include <QtTest>
#include <cmath>
#include <mutex>
#include <numbers>

#include "audio/capture.h"
#include "audio/playback.h"
#include "private_pulseaudio.h"
#include "test_support.h"
#include "util/error.h"

using namespace npuscribe;

namespace {

MonoAudio tone(double frequency_hz, double duration_s, float amplitude) {
  MonoAudio audio;
  audio.samples.resize(static_cast<std::size_t>(duration_s * 16000));
  for (std::size_t i = 0; i < audio.samples.size(); ++i)
    audio.samples[i] =
        amplitude * static_cast<float>(std::sin(2 * std::numbers::pi * frequency_hz * i / 16000.0));
  return audio;
}

}  // namespace

class TestPlayback : public QObject {
  Q_OBJECT

  npuscribe::test::TempDir dir_;
  npuscribe::test::PrivatePulseAudio pulse_{dir_.path()};

 private slots:
  void initTestCase() {
    if (const QString missing = npuscribe::test::PrivatePulseAudio::missing_tools(); !missing.isEmpty())
      QSKIP(qPrintable("no output device to play into: " + missing));
    QString why;
    if (!pulse_.start({}, &why)) QSKIP(qPrintable("no output device to play into: " + why));
    list_input_devices(true);
    if (list_output_devices(false).empty()) QSKIP("PortAudio lists no output device");
  }

  void cleanupTestCase() { pulse_.stop(); }

  void plays_into_the_sink_in_real_time() {
    // Record the sink's monitor while a 2-s 440 Hz tone plays.
    AudioCapture capture;
    std::mutex mutex;
    std::vector<float> recorded;
    capture.set_samples_callback([&](std::span<const float> chunk) {
      std::lock_guard lock(mutex);
      recorded.insert(recorded.end(), chunk.begin(), chunk.end());
    });
    CaptureOptions options;
    for (const AudioDeviceInfo& device : list_input_devices(false))
      if (device.name == "pulse") options.device_name = "pulse";
    capture.start(options);
    QTest::qWait(300);

    AudioPlayer player;
    QVERIFY(!player.is_playing());
    const MonoAudio audio = tone(440.0, 2.0, 0.5f);
    QElapsedTimer clock;
    clock.start();
    player.play(audio);
    QVERIFY(player.is_playing());
    QCOMPARE(player.duration_s(), 2.0);
    // The position advances while playing (PulseAudio's ALSA plugin holds the stream for about a second
    // before it starts consuming: a known start-up delay, reported, not asserted).
    QTRY_VERIFY_WITH_TIMEOUT(player.position_s() > 0.5 && player.is_playing(), 10000);
    const double middle_s = player.position_s();
    QVERIFY2(middle_s < 2.0, qPrintable(QString::number(middle_s)));
    QTRY_VERIFY_WITH_TIMEOUT(!player.is_playing(), 20000);
    const double elapsed_s = clock.elapsed() / 1e3;
    qInfo("played 2.00 s in %.2f s of wall time (position %.2f s seen while playing)", elapsed_s, middle_s);
    QCOMPARE(player.position_s(), 2.0);
    // A null sink consumes at real-time pace: playback cannot end much sooner than the audio lasts.
    QVERIFY(elapsed_s > 1.6);
    QTest::qWait(400);
    capture.stop();

    std::lock_guard lock(mutex);
    std::size_t first = recorded.size(), last = 0;
    for (std::size_t i = 0; i < recorded.size(); ++i)
      if (std::abs(recorded[i]) > 0.1f) {
        first = std::min(first, i);
        last = i;
      }
    QVERIFY2(first < last, "the monitor received no tone");
    // About 2 s of a 440 Hz tone at amplitude 0.5 (RMS -9 dBFS) came back from the monitor.
    const double tone_s = (last - first) / 16000.0;
    const std::size_t begin = first + (last - first) / 4, end = last - (last - first) / 4;
    double sum_sq = 0;
    int crossings = 0;
    for (std::size_t i = begin; i < end; ++i) {
      sum_sq += static_cast<double>(recorded[i]) * recorded[i];
      if (recorded[i - 1] < 0 && recorded[i] >= 0) ++crossings;
    }
    const double rms_dbfs = 10 * std::log10(sum_sq / static_cast<double>(end - begin));
    const double frequency_hz = crossings / ((end - begin) / 16000.0);
    qInfo("monitor: tone for %.2f s of %.2f s recorded, %.2f dBFS RMS, %.1f Hz", tone_s,
          recorded.size() / 16000.0, rms_dbfs, frequency_hz);
    QVERIFY(tone_s > 1.8 && tone_s < 2.2);
    QVERIFY(std::abs(rms_dbfs - 20 * std::log10(0.5 / std::sqrt(2.0))) < 1.0);
    QVERIFY(std::abs(frequency_hz - 440.0) < 5.0);
  }

  void starts_at_the_given_time_and_stops() {
    AudioPlayer player;
    const MonoAudio audio = tone(440.0, 5.0, 0.1f);
    player.play(audio, 4.0);
    QVERIFY(player.position_s() >= 4.0);
    QTRY_VERIFY_WITH_TIMEOUT(!player.is_playing(), 20000);
    QCOMPARE(player.position_s(), 5.0);

    player.play(audio, 0.0);
    QTest::qWait(300);
    QVERIFY(player.is_playing());
    player.stop();
    QVERIFY(!player.is_playing());
    const double stopped_at_s = player.position_s();
    QVERIFY(stopped_at_s < 5.0);
    QTest::qWait(200);
    QCOMPARE(player.position_s(), stopped_at_s);  // no more progress after stop()
    player.stop();                                // twice is fine
  }

  void unknown_output_device_is_a_clear_error() {
    AudioPlayer player;
    try {
      player.play(tone(440.0, 0.5, 0.1f), 0.0, "no such speaker");
      QFAIL("play() accepted an unknown device");
    } catch (const Error& e) {
      QVERIFY2(QString(e.what()).contains("no such speaker"), e.what());
    }
    QVERIFY(!player.is_playing());
  }
};

QTEST_GUILESS_MAIN(TestPlayback)
#include "test_playback.moc"
