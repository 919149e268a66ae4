// LogMelSpectrogram against whisper.cpp's own mel dump of jfk.wav, plus properties that hold for any
// correct implementation (silence, a pure tone, output lengths, thread-count independence).
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <numbers>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "dsp/log_mel.h"
#include "test_support.h"
#include "util/error.h"
#include "util/parallel.h"

using namespace npuscribe;

namespace {

constexpr int kJfkSamples = 176000;
constexpr int kJfkFrames = 4100;
constexpr int kJfkFramesWithAudio = 1099;
constexpr int kMels = 80;
constexpr int kBins = 201;

std::vector<char> read_bytes(const std::filesystem::path& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::vector<char> bytes(max_bytes);
  in.read(bytes.data(), static_cast<std::streamsize>(max_bytes));
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  return bytes;
}

template <typename T>
T read_le(const std::vector<char>& bytes, std::size_t offset) {
  if (offset + sizeof(T) > bytes.size()) throw std::runtime_error("truncated file");
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));  // the fixtures are little-endian, as is x86
  return value;
}

// ggml model file: 12 int32 header, int32 n_mel, int32 n_fft, then n_mel * n_fft float32.
MelFilterBank read_filters(const std::filesystem::path& path) {
  constexpr std::size_t kHeaderBytes = 12 * 4;
  const auto bytes = read_bytes(path, kHeaderBytes + 8 + std::size_t{kMels} * kBins * 4);
  if (read_le<std::uint32_t>(bytes, 0) != 0x67676d6c) throw std::runtime_error("not a ggml file");
  MelFilterBank filters;
  filters.n_mels = read_le<std::int32_t>(bytes, kHeaderBytes);
  filters.n_fft_bins = read_le<std::int32_t>(bytes, kHeaderBytes + 4);
  if (filters.n_mels != kMels || filters.n_fft_bins != kBins)
    throw std::runtime_error("unexpected filter shape");
  filters.weights.resize(std::size_t{kMels} * kBins);
  for (std::size_t i = 0; i < filters.weights.size(); ++i)
    filters.weights[i] = read_le<float>(bytes, kHeaderBytes + 8 + 4 * i);
  return filters;
}

// RIFF/WAVE PCM16 mono 16 kHz: walk the chunks to "data" instead of assuming a 44-byte header.
std::vector<float> read_wav_pcm16_mono(const std::filesystem::path& path) {
  const auto bytes = read_bytes(path, std::size_t{64} << 20);
  if (bytes.size() < 12 || std::memcmp(bytes.data(), "RIFF", 4) != 0 ||
      std::memcmp(bytes.data() + 8, "WAVE", 4) != 0)
    throw std::runtime_error("not a RIFF/WAVE file");
  bool format_ok = false;
  for (std::size_t offset = 12; offset + 8 <= bytes.size();) {
    const std::string id(bytes.data() + offset, 4);
    const std::uint32_t size = read_le<std::uint32_t>(bytes, offset + 4);
    const std::size_t body = offset + 8;
    if (body + size > bytes.size()) throw std::runtime_error("truncated chunk " + id);
    if (id == "fmt ") {
      format_ok = read_le<std::uint16_t>(bytes, body) == 1 && read_le<std::uint16_t>(bytes, body + 2) == 1 &&
                  read_le<std::uint32_t>(bytes, body + 4) == 16000 &&
                  read_le<std::uint16_t>(bytes, body + 14) == 16;
    } else if (id == "data") {
      if (!format_ok) throw std::runtime_error("expected a PCM16 mono 16 kHz fmt chunk before data");
      std::vector<float> samples(size / 2);
      for (std::size_t i = 0; i < samples.size(); ++i)
        samples[i] = static_cast<float>(read_le<std::int16_t>(bytes, body + 2 * i)) / 32768.0f;
      return samples;
    }
    offset = body + size + (size & 1);  // chunks are padded to an even length
  }
  throw std::runtime_error("no data chunk");
}

// Straightforward float64 transcription of whisper.cpp's pipeline (naive DFT), independent of the
// implementation under test: reflection x[200..1] (missing samples 0), signal, zeros; periodic Hann.
std::vector<double> reference_log_mel(const MelFilterBank& filters, const std::vector<float>& x) {
  const int n = static_cast<int>(x.size());
  const int n_frames = (n + 480000) / 160;
  std::vector<double> padded(static_cast<std::size_t>(200 + n + 400), 0.0);  // zeros beyond: never read
  for (int i = 0; i < 200; ++i) padded[i] = 200 - i < n ? x[200 - i] : 0.0;
  for (int i = 0; i < n; ++i) padded[200 + i] = x[i];
  std::vector<double> window(400), cos_table(400), sin_table(400);
  for (int j = 0; j < 400; ++j) {
    window[j] = static_cast<float>(0.5 * (1.0 - std::cos(2.0 * std::numbers::pi * j / 400.0)));
    cos_table[j] = std::cos(2.0 * std::numbers::pi * j / 400.0);
    sin_table[j] = std::sin(2.0 * std::numbers::pi * j / 400.0);
  }
  std::vector<double> out(std::size_t{kMels} * n_frames, -10.0);
  std::vector<double> frame(400), power(kBins);
  for (int i = 0; i < n_frames; ++i) {
    const std::size_t start = std::size_t(i) * 160;
    if (start >= padded.size()) break;  // the rest is all zeros: -10
    for (int j = 0; j < 400; ++j) frame[j] = start + j < padded.size() ? window[j] * padded[start + j] : 0.0;
    for (int k = 0; k < kBins; ++k) {
      double re = 0, im = 0;
      for (int j = 0; j < 400; ++j) {
        re += frame[j] * cos_table[(k * j) % 400];
        im -= frame[j] * sin_table[(k * j) % 400];
      }
      power[k] = re * re + im * im;
    }
    for (int m = 0; m < kMels; ++m) {
      double sum = 0;
      for (int k = 0; k < kBins; ++k) sum += power[k] * filters.weights[std::size_t(m) * kBins + k];
      out[std::size_t(m) * n_frames + i] = std::log10(std::max(sum, 1e-10));
    }
  }
  const double threshold = *std::max_element(out.begin(), out.end()) - 8.0;
  for (double& v : out) v = (std::max(v, threshold) + 4.0) / 4.0;
  return out;
}

bool bit_identical(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

class TestLogMel : public QObject {
  Q_OBJECT

 private:
  MelFilterBank filters_;
  std::vector<float> jfk_;
  std::vector<float> reference_;

  // Runs compute() with the given thread count, restoring "all cores" afterwards.
  static LogMel compute_with_threads(const LogMelSpectrogram& spectrogram, std::span<const float> samples,
                                     int threads) {
    set_thread_count(threads);
    LogMel mel = spectrogram.compute(samples);
    set_thread_count(0);
    return mel;
  }

 private slots:
  void initTestCase() {
    try {
      filters_ = read_filters(test::fixture("ggml-tiny.en-random.bin"));
      jfk_ = read_wav_pcm16_mono(test::fixture("jfk.wav"));
      reference_ = test::read_f32_file(test::fixture("jfk.mel.f32"), std::size_t{kMels} * kJfkFrames);
    } catch (const std::exception& e) {
      QFAIL(e.what());
    }
    QCOMPARE(static_cast<int>(jfk_.size()), kJfkSamples);
  }

  void cleanupTestCase() { set_thread_count(0); }

  void matchesWhisperCppOnJfk() {
    const LogMelSpectrogram spectrogram(filters_);
    const LogMel mel = spectrogram.compute(jfk_);
    QCOMPARE(mel.n_mels, kMels);
    QCOMPARE(mel.n_frames, kJfkFrames);
    QCOMPARE(mel.n_frames_with_audio, kJfkFramesWithAudio);
    QCOMPARE(mel.values.size(), reference_.size());
    const test::Difference diff = test::compare(mel.values, reference_);
    qInfo("jfk mel vs whisper.cpp: max_abs %.3g, rel_l2 %.3g, cosine %.9f", diff.max_abs, diff.rel_l2,
          diff.cosine);
    QVERIFY2(diff.max_abs <= 1e-4, qPrintable(QString("max abs error %1 > 1e-4").arg(diff.max_abs)));
  }

  void matchesFloat64Reference_data() {
    QTest::addColumn<int>("n_samples");
    QTest::newRow("3000 samples") << 3000;
    QTest::newRow("150 samples (partial reflection)") << 150;
    QTest::newRow("1 sample") << 1;
  }

  // Noise carries full-band energy into the reflected frames 0 and 1, so an off-by-one reflection, a
  // wrong window or wrong padding shows here even where jfk.wav starts quietly.
  void matchesFloat64Reference() {
    QFETCH(int, n_samples);
    std::mt19937 random(7 + n_samples);
    std::normal_distribution<float> normal(0.0f, 0.2f);
    std::vector<float> samples(static_cast<std::size_t>(n_samples));
    for (float& v : samples) v = normal(random);
    const LogMelSpectrogram spectrogram(filters_);
    const LogMel mel = spectrogram.compute(samples);
    const std::vector<double> reference = reference_log_mel(filters_, samples);
    QCOMPARE(mel.values.size(), reference.size());
    double max_abs = 0;
    for (std::size_t i = 0; i < reference.size(); ++i)
      max_abs = std::max(max_abs, std::abs(double(mel.values[i]) - reference[i]));
    qInfo("%d samples vs float64 reference: max_abs %.3g", n_samples, max_abs);
    QVERIFY2(max_abs <= 1e-4, qPrintable(QString("max abs error %1 > 1e-4").arg(max_abs)));
  }

  void oneAndTwoThreadsAreBitIdentical() {
    const LogMelSpectrogram spectrogram(filters_);
    const LogMel one = compute_with_threads(spectrogram, jfk_, 1);
    const LogMel two = compute_with_threads(spectrogram, jfk_, 2);
    const LogMel three = compute_with_threads(spectrogram, jfk_, 3);  // more threads than cores, odd split
    QCOMPARE(one.n_frames, two.n_frames);
    QVERIFY2(bit_identical(one.values, two.values), "1 and 2 threads give different bits");
    QVERIFY2(bit_identical(one.values, three.values), "1 and 3 threads give different bits");
  }

  void silenceIsConstant() {
    const LogMelSpectrogram spectrogram(filters_);
    for (const int n_samples : {0, 1000, 160000}) {
      const std::vector<float> silence(static_cast<std::size_t>(n_samples), 0.0f);
      const LogMel mel = spectrogram.compute(silence);
      QVERIFY(!mel.values.empty());
      const float first = mel.values.front();
      QVERIFY(std::isfinite(first));
      QVERIFY2(std::all_of(mel.values.begin(), mel.values.end(), [first](float v) { return v == first; }),
               qPrintable(QString("silence of %1 samples is not constant").arg(n_samples)));
      // log10(1e-10) = -10, clamp is a no-op (max - 8 < -10), (-10 + 4) / 4 = -1.5.
      QCOMPARE(first, -1.5f);
    }
  }

  void toneOf1kHzPeaksAtTheMelOfBin25() {
    constexpr int kToneBin = 1000 * 400 / 16000;  // 25
    int expected_mel = 0;
    for (int m = 1; m < kMels; ++m)
      if (filters_.weights[std::size_t(m) * kBins + kToneBin] >
          filters_.weights[std::size_t(expected_mel) * kBins + kToneBin])
        expected_mel = m;
    QVERIFY(filters_.weights[std::size_t(expected_mel) * kBins + kToneBin] > 0.0f);

    std::vector<float> tone(32000);  // 2 s
    for (std::size_t i = 0; i < tone.size(); ++i)
      tone[i] = 0.5f * static_cast<float>(
                           std::sin(2.0 * std::numbers::pi * 1000.0 * static_cast<double>(i) / 16000.0));
    const LogMelSpectrogram spectrogram(filters_);
    const LogMel mel = spectrogram.compute(tone);
    for (const int frame : {10, 100, 190}) {  // well inside the tone, away from both ends
      int peak = 0;
      for (int m = 1; m < kMels; ++m)
        if (mel.row(m)[frame] > mel.row(peak)[frame]) peak = m;
      QCOMPARE(peak, expected_mel);
    }
    // After the tone (padding frames) everything sits at the clamp floor, max - 8, i.e. below the peak.
    QVERIFY(mel.row(expected_mel)[100] > mel.row(expected_mel)[mel.n_frames - 1] + 1.0f);
  }

  void outputLengths_data() {
    QTest::addColumn<int>("n_samples");
    QTest::addColumn<int>("n_frames");
    QTest::addColumn<int>("n_frames_with_audio");
    // n_frames = (n + 480000) / 160; with audio = 1 + (n + 200 - 400) / 160, truncated like whisper.cpp's
    // int64 division, never negative.
    QTest::newRow("0") << 0 << 3000 << 0;
    QTest::newRow("1") << 1 << 3000 << 0;
    QTest::newRow("199") << 199 << 3001 << 1;
    QTest::newRow("200") << 200 << 3001 << 1;
    QTest::newRow("400") << 400 << 3002 << 2;
    QTest::newRow("160000") << 160000 << 4000 << 999;
    QTest::newRow("480000") << 480000 << 6000 << 2999;
  }

  void outputLengths() {
    QFETCH(int, n_samples);
    QFETCH(int, n_frames);
    QFETCH(int, n_frames_with_audio);
    std::mt19937 random(n_samples);
    std::uniform_real_distribution<float> uniform(-0.5f, 0.5f);
    std::vector<float> samples(static_cast<std::size_t>(n_samples));
    for (float& s : samples) s = uniform(random);
    const LogMelSpectrogram spectrogram(filters_);
    const LogMel mel = spectrogram.compute(samples);
    QCOMPARE(mel.n_mels, kMels);
    QCOMPARE(mel.n_frames, n_frames);
    QCOMPARE(mel.n_frames_with_audio, n_frames_with_audio);
    QCOMPARE(mel.values.size(), std::size_t{kMels} * std::size_t(n_frames));
    QVERIFY(std::all_of(mel.values.begin(), mel.values.end(), [](float v) { return std::isfinite(v); }));
  }

  void tinyInputsDoNotCrash() {
    // Fewer than 201 samples: the reflection must only read samples that exist. Put each tiny signal at
    // the very end of a guarded buffer so an out-of-bounds read would at least see NaN guards.
    const LogMelSpectrogram spectrogram(filters_);
    for (const int n_samples : {0, 1, 2, 3, 50, 199, 200, 201, 399, 400, 401}) {
      std::vector<float> buffer(static_cast<std::size_t>(n_samples) + 512,
                                std::numeric_limits<float>::quiet_NaN());
      for (int i = 0; i < n_samples; ++i) buffer[i] = 0.25f * std::sin(0.3f * static_cast<float>(i + 1));
      const LogMel mel = spectrogram.compute(std::span<const float>(buffer.data(), std::size_t(n_samples)));
      QCOMPARE(mel.n_frames, (n_samples + 480000) / 160);
      QVERIFY2(std::all_of(mel.values.begin(), mel.values.end(), [](float v) { return std::isfinite(v); }),
               qPrintable(QString("non-finite output for %1 samples (out-of-bounds read?)").arg(n_samples)));
    }
    // An empty span with a null pointer, too.
    const LogMel empty = spectrogram.compute(std::span<const float>());
    QCOMPARE(empty.n_frames, 3000);
    QCOMPARE(empty.n_frames_with_audio, 0);
  }

  void shortInputReflectsOnlyExistingSamples() {
    // 100 samples: frame 0 holds x[200..1] where x[100..200] do not exist and count as 0. A signal
    // explicitly zero-extended to 1000 samples has the same padded buffer wherever the short one
    // reaches, so every frame of the short result must match it bit for bit.
    const LogMelSpectrogram spectrogram(filters_);
    std::vector<float> short_signal(100);
    for (std::size_t i = 0; i < short_signal.size(); ++i) short_signal[i] = 0.3f * std::cos(0.05f * float(i));
    std::vector<float> zero_extended = short_signal;
    zero_extended.resize(1000, 0.0f);
    const LogMel a = spectrogram.compute(short_signal);
    const LogMel b = spectrogram.compute(zero_extended);
    QCOMPARE(a.n_frames, 3000);
    QCOMPARE(b.n_frames, 3006);
    QVERIFY(a.row(0)[0] != a.row(0)[a.n_frames - 1]);  // frame 0 carries the reflected signal
    for (int m = 0; m < kMels; ++m)
      for (int frame = 0; frame < a.n_frames; ++frame)
        if (a.row(m)[frame] != b.row(m)[frame])
          QFAIL(qPrintable(QString("mel %1 frame %2: %3 != %4")
                               .arg(m)
                               .arg(frame)
                               .arg(a.row(m)[frame])
                               .arg(b.row(m)[frame])));
  }

  void badFilterBankThrows() {
    MelFilterBank wrong_bins = filters_;
    wrong_bins.n_fft_bins = 200;
    wrong_bins.weights.resize(std::size_t{kMels} * 200);
    QVERIFY_THROWS_EXCEPTION(Error, LogMelSpectrogram{wrong_bins});

    MelFilterBank short_weights = filters_;
    short_weights.weights.pop_back();
    QVERIFY_THROWS_EXCEPTION(Error, LogMelSpectrogram{short_weights});

    MelFilterBank no_mels;
    no_mels.n_fft_bins = kBins;
    QVERIFY_THROWS_EXCEPTION(Error, LogMelSpectrogram{no_mels});

    try {
      LogMelSpectrogram spectrogram(wrong_bins);
      QFAIL("no exception");
    } catch (const Error& e) {
      qInfo("bad filter bank message: %s", e.what());
      QVERIFY(std::string(e.what()).find("201") != std::string::npos);
    }
  }

  void timing30Seconds() {
    std::mt19937 random(30);
    std::normal_distribution<float> normal(0.0f, 0.1f);
    std::vector<float> audio(480000);
    for (float& s : audio) s = normal(random);
    const LogMelSpectrogram spectrogram(filters_);
    for (const int threads : {1, 2}) {
      set_thread_count(threads);
      spectrogram.compute(audio);  // warm-up: thread team, page faults
      double best_ms = 1e9;
      for (int run = 0; run < 5; ++run) {
        const std::int64_t start = now_ns();
        const LogMel mel = spectrogram.compute(audio);
        best_ms = std::min(best_ms, double(now_ns() - start) * 1e-6);
        QCOMPARE(mel.n_frames, 6000);
      }
      qInfo("log-mel of 30 s audio, %d thread(s): %.3f ms (min of 5)", threads, best_ms);
    }
    set_thread_count(0);
  }
};

QTEST_GUILESS_MAIN(TestLogMel)
#include "test_log_mel.moc"
