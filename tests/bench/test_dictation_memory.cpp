// Memory of a long dictation: the jfk fixture replayed (twice back to back, then a 3-s pause, over and
// over) through StreamingTranscriber without pacing, with the random-weight fixture model. Resident
// memory after a warm-up is compared with the end: the buffer is trimmed and old confirmed words are
// forgotten, so it must stay flat (goal: within 10%). Default: 2 minutes of audio (a few minutes of wall
// time here); NPUSCRIBE_LONG_BENCH=1: 30 minutes.
#include <QtTest>
#include <cstdlib>
#include <fstream>
#include <string>

#include "audio/wav_reader.h"
#include "engine/streaming_transcriber.h"
#include "model/whisper_model.h"
#include "test_support.h"

using namespace npuscribe;

namespace {

double resident_mib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      double kib = 0;
      status >> kib;
      return kib / 1024.0;
    }
    status.ignore(1 << 12, '\n');
  }
  return -1;
}

}  // namespace

class TestDictationMemory : public QObject {
  Q_OBJECT

 private slots:
  void long_dictation_keeps_memory_flat() {
    const bool long_run = qEnvironmentVariableIntValue("NPUSCRIBE_LONG_BENCH") == 1;
    const double total_s = long_run ? 30 * 60.0 : 2 * 60.0;
    const MonoAudio jfk = read_wav_file(npuscribe::test::fixture("jfk.wav"));
    std::vector<float> cycle(jfk.samples);
    cycle.insert(cycle.end(), jfk.samples.begin(), jfk.samples.end());
    cycle.insert(cycle.end(), 3 * 16000, 0.0f);  // a pause: confirms and empties the buffer

    StreamingOptions options;
    options.language = "en";
    options.min_new_audio_s = 5.0;  // unpaced: fewer passes than live, same buffer bookkeeping
    StreamingTranscriber streaming(WhisperModel::load(npuscribe::test::fixture("ggml-tiny.en-random.bin")),
                                   options);
    const std::size_t chunk = 16000;  // 1 s per push: an unpaced feed
    const auto total_samples = static_cast<std::size_t>(total_s * 16000);
    const auto warm_up_samples = static_cast<std::size_t>(std::min(120.0, total_s / 4) * 16000);
    double start_mib = -1, max_buffer_s = 0;
    int passes = 0;
    std::size_t confirmed_chars = 0;
    QElapsedTimer clock;
    clock.start();
    for (std::size_t pos = 0; pos < total_samples; pos += chunk) {
      std::vector<float> samples(chunk);
      for (std::size_t i = 0; i < chunk; ++i) samples[i] = cycle[(pos + i) % cycle.size()];
      streaming.push_audio(samples);
      if (std::optional<StreamingUpdate> update = streaming.process()) {
        ++passes;
        QVERIFY(update->pass_audio_s <= 30.0);
        confirmed_chars = update->confirmed.size();
      }
      max_buffer_s = std::max(max_buffer_s, streaming.buffer_s());
      if (start_mib < 0 && pos + chunk >= warm_up_samples) {
        start_mib = resident_mib();
        qInfo("after %.0f s of audio (warm-up): RSS %.1f MiB", (pos + chunk) / 16000.0, start_mib);
      }
    }
    const StreamingUpdate last = streaming.flush();
    const double end_mib = resident_mib();
    qInfo("%.0f min of audio, %d passes in %.0f s of wall time; buffer at most %.1f s; %zu confirmed chars",
          total_s / 60, passes, clock.elapsed() / 1e3, max_buffer_s, last.confirmed.size());
    qInfo("RSS at start %.1f MiB, at end %.1f MiB: ratio end/start %.3f (goal <= 1.10)", start_mib, end_mib,
          end_mib / start_mib);
    QVERIFY(start_mib > 0);
    QVERIFY(passes > 0);
    QVERIFY(max_buffer_s <= 30.0);
    QVERIFY(last.confirmed.size() >= confirmed_chars);
    QVERIFY(end_mib / start_mib <= 1.10);
  }
};

int main(int argc, char** argv) {
  // The 30-minute replay runs far longer than Qt Test's default 5-minute limit per test function.
  if (qEnvironmentVariableIsEmpty("QTEST_FUNCTION_TIMEOUT")) qputenv("QTEST_FUNCTION_TIMEOUT", "86400000");
  QCoreApplication app(argc, argv);
  TestDictationMemory test;
  return QTest::qExec(&test, argc, argv);
}
#include "test_dictation_memory.moc"
