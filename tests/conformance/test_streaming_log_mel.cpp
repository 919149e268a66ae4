// StreamingLogMel against LogMelSpectrogram::compute(): the same bits for every length and every way of
// cutting the audio into pushes, including the edge cases of the reflected start (< 201 samples) and of
// frames that end past the signal.
#include <QtTest>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "audio/wav_reader.h"
#include "dsp/log_mel.h"
#include "dsp/streaming_log_mel.h"
#include "test_support.h"
#include "util/error.h"
#include "util/parallel.h"

using namespace npuscribe;

namespace {

constexpr int kMels = 80;
constexpr int kBins = 201;

// ggml model file: 12 int32 header, int32 n_mel, int32 n_fft, then n_mel * n_fft float32.
MelFilterBank read_filters(const std::filesystem::path& path) {
  constexpr std::size_t kHeaderBytes = 12 * 4;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::vector<char> bytes(kHeaderBytes + 8 + std::size_t{kMels} * kBins * 4);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (static_cast<std::size_t>(in.gcount()) != bytes.size()) throw std::runtime_error("truncated model");
  const auto i32_at = [&](std::size_t offset) {
    std::int32_t value;
    std::memcpy(&value, bytes.data() + offset, sizeof(value));  // the fixtures are little-endian, as is x86
    return value;
  };
  if (static_cast<std::uint32_t>(i32_at(0)) != 0x67676d6c) throw std::runtime_error("not a ggml file");
  MelFilterBank filters;
  filters.n_mels = i32_at(kHeaderBytes);
  filters.n_fft_bins = i32_at(kHeaderBytes + 4);
  if (filters.n_mels != kMels || filters.n_fft_bins != kBins)
    throw std::runtime_error("unexpected filter shape");
  filters.weights.resize(std::size_t{kMels} * kBins);
  std::memcpy(filters.weights.data(), bytes.data() + kHeaderBytes + 8,
              filters.weights.size() * sizeof(float));
  return filters;
}

std::vector<float> noise(std::size_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.2f);
  std::vector<float> samples(count);
  for (float& s : samples) s = normal(rng);
  return samples;
}

// Pushes samples in pieces of chunk (0: all at once) and finishes.
LogMel stream(StreamingLogMel& streaming, const std::vector<float>& samples, std::size_t chunk) {
  const std::span<const float> all(samples);
  if (chunk == 0) {
    streaming.push(all);
  } else {
    for (std::size_t at = 0; at < samples.size(); at += chunk)
      streaming.push(all.subspan(at, std::min(chunk, samples.size() - at)));
  }
  return streaming.finish();
}

// Empty string when identical, else what differs.
std::string difference(const LogMel& actual, const LogMel& expected) {
  if (actual.n_mels != expected.n_mels) return "n_mels " + std::to_string(actual.n_mels);
  if (actual.n_frames != expected.n_frames)
    return "n_frames " + std::to_string(actual.n_frames) + " vs " + std::to_string(expected.n_frames);
  if (actual.n_frames_with_audio != expected.n_frames_with_audio)
    return "n_frames_with_audio " + std::to_string(actual.n_frames_with_audio) + " vs " +
           std::to_string(expected.n_frames_with_audio);
  if (actual.values.size() != expected.values.size()) return "values.size()";
  if (std::memcmp(actual.values.data(), expected.values.data(), actual.values.size() * sizeof(float)) == 0)
    return "";
  std::size_t first = 0;
  while (actual.values[first] == expected.values[first] &&
         std::memcmp(&actual.values[first], &expected.values[first], sizeof(float)) == 0)
    ++first;
  return "first difference at mel " + std::to_string(first / actual.n_frames) + " frame " +
         std::to_string(first % actual.n_frames) + ": " + std::to_string(actual.values[first]) + " vs " +
         std::to_string(expected.values[first]);
}

}  // namespace

class TestStreamingLogMel : public QObject {
  Q_OBJECT

 private:
  MelFilterBank filters_;
  std::vector<float> jfk_;

 private slots:
  void initTestCase() {
    filters_ = read_filters(test::fixture("ggml-tiny.en-random.bin"));
    jfk_ = read_wav_file(test::fixture("jfk.wav")).samples;
    QCOMPARE(jfk_.size(), std::size_t{176000});
  }

  void cleanup() { set_thread_count(0); }

  void matches_compute_data() {
    QTest::addColumn<int>("length");
    QTest::addColumn<int>("chunk");
    const int lengths[] = {0, 1, 150, 199, 200, 201, 399, 400, 401, 16000, 176000};
    const int chunks[] = {1, 7, 160, 1000, 4096, 0};
    for (int length : lengths)
      for (int chunk : chunks) {
        if (chunk == 1 && length > 401) continue;  // one sample per push: tiny inputs only
        const std::string name = "noise " + std::to_string(length) + " / " +
                                 (chunk == 0 ? std::string("all") : std::to_string(chunk));
        QTest::newRow(name.c_str()) << length << chunk;
      }
  }

  void matches_compute() {
    QFETCH(int, length);
    QFETCH(int, chunk);
    const std::vector<float> samples = noise(static_cast<std::size_t>(length), 1000u + length);
    const LogMelSpectrogram spectrogram(filters_);
    const LogMel expected = spectrogram.compute(samples);
    StreamingLogMel streaming(filters_);
    const LogMel actual = stream(streaming, samples, static_cast<std::size_t>(chunk));
    QCOMPARE(QString::fromStdString(difference(actual, expected)), QString());
  }

  void jfk_matches_compute_data() {
    QTest::addColumn<int>("chunk");
    for (int chunk : {7, 160, 1000, 4096, 0})
      QTest::newRow(chunk == 0 ? "all" : std::to_string(chunk).c_str()) << chunk;
  }

  void jfk_matches_compute() {
    QFETCH(int, chunk);
    const LogMelSpectrogram spectrogram(filters_);
    const LogMel expected = spectrogram.compute(jfk_);
    StreamingLogMel streaming(filters_);
    const LogMel actual = stream(streaming, jfk_, static_cast<std::size_t>(chunk));
    QCOMPARE(QString::fromStdString(difference(actual, expected)), QString());
    QCOMPARE(actual.n_frames, 4100);
    QCOMPARE(actual.n_frames_with_audio, 1099);
  }

  // Irregular pieces, with a single thread for the stream and all cores for compute().
  void jfk_irregular_pushes_one_thread() {
    const LogMelSpectrogram spectrogram(filters_);
    const LogMel expected = spectrogram.compute(jfk_);
    set_thread_count(1);
    StreamingLogMel streaming(filters_);
    std::mt19937 rng(7);
    std::uniform_int_distribution<std::size_t> size(0, 3000);
    const std::span<const float> all(jfk_);
    for (std::size_t at = 0; at < jfk_.size();) {
      const std::size_t count = std::min(size(rng), jfk_.size() - at);
      streaming.push(all.subspan(at, count));
      at += count;
    }
    const LogMel actual = streaming.finish();
    QCOMPARE(QString::fromStdString(difference(actual, expected)), QString());
  }

  // Frames are computed as soon as their samples are in, not at finish().
  void computes_frames_as_samples_arrive() {
    StreamingLogMel streaming(filters_);
    const std::span<const float> all(jfk_);
    streaming.push(all.subspan(0, 200));
    QCOMPARE(streaming.frames_computed(), 0);  // frame 0 also needs x[200] for its reflected start
    streaming.push(all.subspan(200, 1));
    QCOMPARE(streaming.frames_computed(), 1);
    streaming.push(all.subspan(201, 16000 - 201));
    QCOMPARE(streaming.frames_computed(), (16000 - 200) / 160 + 1);
    QCOMPARE(streaming.sample_count(), std::int64_t{16000});
    streaming.push(all.subspan(16000));
    QCOMPARE(streaming.frames_computed(), (176000 - 200) / 160 + 1);
    const LogMel mel = streaming.finish();
    QCOMPARE(mel.n_frames, 4100);
  }

  // finish() leaves the object ready for the next stream; reset() forgets what was pushed.
  void reusable_after_finish_and_reset() {
    const LogMelSpectrogram spectrogram(filters_);
    const std::vector<float> short_noise = noise(5000, 3);
    StreamingLogMel streaming(filters_);
    stream(streaming, jfk_, 4096);
    QCOMPARE(streaming.sample_count(), std::int64_t{0});
    QCOMPARE(QString::fromStdString(
                 difference(stream(streaming, short_noise, 1000), spectrogram.compute(short_noise))),
             QString());
    streaming.push(jfk_);
    streaming.reset();
    QCOMPARE(QString::fromStdString(
                 difference(stream(streaming, short_noise, 0), spectrogram.compute(short_noise))),
             QString());
    StreamingLogMel moved = std::move(streaming);
    QCOMPARE(QString::fromStdString(difference(stream(moved, jfk_, 160), spectrogram.compute(jfk_))),
             QString());
  }

  void rejects_bad_filters() {
    MelFilterBank bad = filters_;
    bad.n_fft_bins = 200;
    QVERIFY_THROWS_EXCEPTION(Error, StreamingLogMel{bad});
    bad = filters_;
    bad.weights.pop_back();
    QVERIFY_THROWS_EXCEPTION(Error, StreamingLogMel{bad});
  }
};

QTEST_GUILESS_MAIN(TestStreamingLogMel)
#include "test_streaming_log_mel.moc"
