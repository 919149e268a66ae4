// AudioFileDecoder / load_audio_file / probe_audio_file on files made from jfk.wav by the ffmpeg tool:
// lossless formats give the WAV reader's exact samples, lossy ones the right length and waveform;
// stream selection, probing, non-media and damaged files, chunked reads.
#include <QObject>
#include <QProcess>
#include <QStandardPaths>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <numbers>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "audio/audio_file.h"
#include "audio/wav_reader.h"
#include "test_support.h"
#include "util/error.h"

using namespace npuscribe;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kJfkSamples = 176000;
constexpr double kJfkSeconds = 11.0;
constexpr std::size_t kLengthToleranceSamples = 800;  // 50 ms at 16 kHz

// Empty when the call does not throw npuscribe::Error.
std::string error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += (text.empty() ? "" : " | ") + line;
  return text;
}

bool bit_identical(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Highest normalised correlation of a against reference over lags of up to max_lag samples (encoders
// and resamplers may shift the signal by a few samples).
double best_correlation(const std::vector<float>& a, const std::vector<float>& reference, int max_lag) {
  double best = -1.0;
  const auto n_a = static_cast<std::ptrdiff_t>(a.size());
  const auto n_r = static_cast<std::ptrdiff_t>(reference.size());
  for (int lag = -max_lag; lag <= max_lag; ++lag) {
    double dot = 0, energy_a = 0, energy_r = 0;
    const std::ptrdiff_t begin = std::max<std::ptrdiff_t>(0, -lag);
    const std::ptrdiff_t end = std::min<std::ptrdiff_t>(n_r, n_a - lag);
    for (std::ptrdiff_t i = begin; i < end; ++i) {
      const double x = a[static_cast<std::size_t>(i + lag)], r = reference[static_cast<std::size_t>(i)];
      dot += x * r;
      energy_a += x * x;
      energy_r += r * r;
    }
    if (energy_a > 0 && energy_r > 0) best = std::max(best, dot / std::sqrt(energy_a * energy_r));
  }
  return best;
}

// Frequency (10 Hz steps, 100..4000 Hz) with the most energy in the first second (Goertzel).
double dominant_frequency_hz(const std::vector<float>& samples) {
  const std::size_t n = std::min<std::size_t>(samples.size(), 16000);
  double best_power = -1, best_hz = 0;
  for (int hz = 100; hz <= 4000; hz += 10) {
    const double coefficient = 2.0 * std::cos(2.0 * std::numbers::pi * hz / 16000.0);
    double s1 = 0, s2 = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double s0 = samples[i] + coefficient * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    const double power = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
    if (power > best_power) {
      best_power = power;
      best_hz = hz;
    }
  }
  return best_hz;
}

std::vector<char> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Resident memory of this process (VmRSS), in bytes.
std::int64_t resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "VmRSS:  1234 kB"
  return -1;
}

void write_bytes(const fs::path& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

class TestAudioFile : public QObject {
  Q_OBJECT

 private:
  std::unique_ptr<test::TempDir> dir_;
  fs::path jfk_path_;
  std::vector<float> jfk_;  // the WAV reader's samples: int16 / 32768
  QString ffmpeg_;

  fs::path file(const std::string& name) const { return dir_->file(name); }

  // Runs the ffmpeg tool quietly; throws with its error output on failure.
  void ffmpeg(const QStringList& arguments) const {
    QProcess process;
    process.start(ffmpeg_, QStringList{"-hide_banner", "-nostdin", "-loglevel", "error", "-y"} + arguments);
    if (!process.waitForFinished(60000) || process.exitStatus() != QProcess::NormalExit ||
        process.exitCode() != 0)
      throw std::runtime_error("ffmpeg " + arguments.join(' ').toStdString() +
                               " failed: " + process.readAllStandardError().toStdString());
  }

  // jfk.wav encoded with the given ffmpeg output options into dir_/name.
  void encode_jfk(const std::string& name, const QStringList& options) const {
    ffmpeg(QStringList{"-i", QString::fromStdString(jfk_path_.string())} + options +
           QStringList{QString::fromStdString(file(name).string())});
  }

  static QString q(const fs::path& path) { return QString::fromStdString(path.string()); }

 private slots:
  void initTestCase() {
    ffmpeg_ = QStandardPaths::findExecutable("ffmpeg");
    if (ffmpeg_.isEmpty()) QSKIP("the ffmpeg tool is not installed (apt-get install ffmpeg)");
    jfk_path_ = test::fixture("jfk.wav");
    jfk_ = read_wav_file(jfk_path_).samples;
    QCOMPARE(jfk_.size(), kJfkSamples);
    dir_ = std::make_unique<test::TempDir>();

    encode_jfk("jfk.flac", {"-c:a", "flac"});
    encode_jfk("jfk_16k_mono_s16.wav", {"-c:a", "pcm_s16le"});
    encode_jfk("jfk_44k_stereo_s16.wav", {"-ar", "44100", "-ac", "2", "-c:a", "pcm_s16le"});
    encode_jfk("jfk_f32.wav", {"-c:a", "pcm_f32le"});
    encode_jfk("jfk.mp3", {"-c:a", "libmp3lame", "-b:a", "64k"});
    encode_jfk("jfk.ogg", {"-c:a", "libvorbis", "-q:a", "3"});
    encode_jfk("jfk.opus", {"-c:a", "libopus", "-b:a", "32k"});
    encode_jfk("jfk.m4a", {"-c:a", "aac", "-b:a", "64k"});
    encode_jfk("jfk.webm", {"-c:a", "libopus", "-b:a", "32k"});
    encode_jfk("jfk_alac.mov", {"-c:a", "alac"});
    encode_jfk("jfk_aac.mov", {"-c:a", "aac", "-b:a", "64k"});
    // Stereo with R = -L: the average is silence.
    encode_jfk("antiphase.wav", {"-af", "aeval=val(0)|-val(0)", "-c:a", "pcm_f32le"});
    // Video (black, 11 s, plain MPEG-4 part 2: libx264 may be missing) with jfk as stream 1.
    ffmpeg({"-f", "lavfi", "-i", "color=c=black:s=64x64:d=11", "-i", q(jfk_path_), "-map", "0:v", "-map",
            "1:a", "-c:v", "mpeg4", "-c:a", "aac", "-b:a", "64k", "-shortest", q(file("jfk_video.mp4"))});
    // Two audio streams: jfk (English) and a 440 Hz tone at 48 kHz (German).
    ffmpeg({"-i", q(jfk_path_), "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=11",
            "-map", "0:a", "-map", "1:a", "-c:a", "libvorbis", "-metadata:s:a:0", "language=eng",
            "-metadata:s:a:1", "language=deu", q(file("two_tracks.mkv"))});
    ffmpeg({"-f", "lavfi", "-i", "color=c=black:s=64x64:d=2", "-c:v", "mpeg4", q(file("video_only.mp4"))});
    ffmpeg({"-f", "lavfi", "-i", "color=c=red:s=32x32", "-frames:v", "1", q(file("image.png"))});
    ffmpeg({"-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0", "-c:a", "pcm_s16le",
            q(file("no_samples.wav"))});
    write_bytes(file("notes.txt"), {'H', 'e', 'l', 'l', 'o', ',', ' ', 'w', 'o', 'r', 'l', 'd', '.', '\n'});
    write_bytes(file("empty.mp3"), {});

    // Damaged copies: cut at half their bytes, and 4 KB of random bytes in the middle.
    for (const std::string name : {"jfk.mp3", "jfk.flac"}) {
      std::vector<char> bytes = read_bytes(file(name));
      const std::vector<char> half(bytes.begin(),
                                   bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() / 2));
      write_bytes(file("half_" + name), half);
      std::mt19937 rng(12345);
      for (std::size_t i = 0; i < 4096; ++i) bytes[bytes.size() / 2 + i] = static_cast<char>(rng() & 0xFF);
      write_bytes(file("noisy_" + name), bytes);
    }
  }

  // The FFmpeg path gives exactly int16 / 32768 for lossless 16 kHz mono files, as the WAV reader does.
  void lossless_is_bit_identical_data() {
    QTest::addColumn<QString>("name");
    QTest::newRow("fixture wav") << QString::fromStdString(jfk_path_.string());
    for (const char* name : {"jfk_16k_mono_s16.wav", "jfk.flac", "jfk_f32.wav", "jfk_alac.mov"})
      QTest::newRow(name) << q(file(name));
  }

  void lossless_is_bit_identical() {
    QFETCH(QString, name);
    DecodeReport report;
    const MonoAudio audio = load_audio_file(name.toStdString(), -1, &report);
    QCOMPARE(audio.samples.size(), kJfkSamples);
    QVERIFY(bit_identical(audio.samples, jfk_));
    QVERIFY2(report.warnings.empty(), joined(report.warnings).c_str());
    QCOMPARE(report.decoded_s, kJfkSeconds);
    QVERIFY(std::abs(report.expected_s - kJfkSeconds) < 0.01);
  }

  void lossy_and_resampled_data() {
    QTest::addColumn<QString>("name");
    for (const char* name : {"jfk_44k_stereo_s16.wav", "jfk.mp3", "jfk.ogg", "jfk.opus", "jfk.m4a",
                             "jfk.webm", "jfk_aac.mov", "jfk_video.mp4"})
      QTest::newRow(name) << QString(name);
  }

  void lossy_and_resampled() {
    QFETCH(QString, name);
    DecodeReport report;
    const MonoAudio audio = load_audio_file(file(name.toStdString()), -1, &report);
    const auto length_error = static_cast<std::ptrdiff_t>(audio.samples.size()) - std::ptrdiff_t{kJfkSamples};
    QVERIFY2(std::abs(length_error) <= static_cast<std::ptrdiff_t>(kLengthToleranceSamples),
             std::to_string(audio.samples.size()).c_str());
    const double correlation = best_correlation(audio.samples, jfk_, 320);
    QVERIFY2(correlation > 0.9, std::to_string(correlation).c_str());
    QVERIFY2(report.warnings.empty(), joined(report.warnings).c_str());
    QVERIFY(std::abs(report.decoded_s - static_cast<double>(audio.samples.size()) / 16000.0) < 1e-9);
  }

  void stereo_is_averaged() {
    const MonoAudio audio = load_audio_file(file("antiphase.wav"));
    QCOMPARE(audio.samples.size(), kJfkSamples);
    float peak = 0;
    for (float s : audio.samples) peak = std::max(peak, std::abs(s));
    QVERIFY2(peak < 1e-6f, std::to_string(peak).c_str());
  }

  void selects_streams() {
    const MonoAudio tone = load_audio_file(file("two_tracks.mkv"), 1);
    QVERIFY(std::abs(static_cast<double>(tone.samples.size()) - 176000.0) <= kLengthToleranceSamples);
    QCOMPARE(dominant_frequency_hz(tone.samples), 440.0);

    AudioFileDecoder decoder(file("two_tracks.mkv"));  // -1: the first audio stream, jfk
    QCOMPARE(decoder.stream().index, 0);
    QCOMPARE(decoder.stream().language, std::string("eng"));
    std::vector<float> speech;
    while (decoder.read(speech, 8192) > 0) {
    }
    QVERIFY(best_correlation(speech, jfk_, 320) > 0.9);

    // In the MP4 the video is stream 0 and the audio stream 1.
    AudioFileDecoder video(file("jfk_video.mp4"));
    QCOMPARE(video.stream().index, 1);
    QCOMPARE(video.stream().codec_name, std::string("aac"));
  }

  void rejects_bad_stream_index() {
    const std::string out_of_range = error_of([&] { load_audio_file(file("two_tracks.mkv"), 5); });
    qInfo("%s", out_of_range.c_str());
    QVERIFY2(contains(out_of_range, "has no stream 5"), out_of_range.c_str());
    QVERIFY2(contains(out_of_range, "0 (vorbis, 16000 Hz, 1 ch, eng)"), out_of_range.c_str());
    QVERIFY2(contains(out_of_range, "1 (vorbis, 48000 Hz, 1 ch, deu)"), out_of_range.c_str());
    QVERIFY2(contains(out_of_range, "two_tracks.mkv"), out_of_range.c_str());

    const std::string not_audio = error_of([&] { AudioFileDecoder decoder(file("jfk_video.mp4"), 0); });
    qInfo("%s", not_audio.c_str());
    QVERIFY2(contains(not_audio, "stream 0 is video (mpeg4), not audio"), not_audio.c_str());
    QVERIFY2(contains(not_audio, "1 (aac, 16000 Hz, 1 ch"), not_audio.c_str());
  }

  void probes() {
    const AudioProbe flac = probe_audio_file(file("jfk.flac"));
    QCOMPARE(flac.container_name, std::string("flac"));
    QCOMPARE(flac.audio_streams.size(), std::size_t{1});
    QCOMPARE(flac.audio_streams[0].codec_name, std::string("flac"));
    QCOMPARE(flac.audio_streams[0].sample_rate_hz, 16000);
    QCOMPARE(flac.audio_streams[0].channel_count, 1);
    QVERIFY(std::abs(flac.audio_streams[0].duration_s - kJfkSeconds) < 0.01);
    QVERIFY(std::abs(flac.duration_s - kJfkSeconds) < 0.01);

    const AudioProbe stereo = probe_audio_file(file("jfk_44k_stereo_s16.wav"));
    QCOMPARE(stereo.container_name, std::string("wav"));
    QCOMPARE(stereo.audio_streams[0].sample_rate_hz, 44100);
    QCOMPARE(stereo.audio_streams[0].channel_count, 2);
    QVERIFY(std::abs(stereo.duration_s - kJfkSeconds) < 0.01);

    const AudioProbe mkv = probe_audio_file(file("two_tracks.mkv"));
    QCOMPARE(mkv.container_name, std::string("matroska,webm"));
    QCOMPARE(mkv.audio_streams.size(), std::size_t{2});
    QCOMPARE(mkv.audio_streams[1].index, 1);
    QCOMPARE(mkv.audio_streams[1].sample_rate_hz, 48000);
    QCOMPARE(mkv.audio_streams[1].language, std::string("deu"));
    for (const AudioStreamInfo& s : mkv.audio_streams)  // from Matroska's per-track DURATION tag
      QVERIFY2(std::abs(s.duration_s - kJfkSeconds) < 0.05, std::to_string(s.duration_s).c_str());
    QVERIFY(std::abs(mkv.duration_s - kJfkSeconds) < 0.05);

    const AudioProbe video = probe_audio_file(file("jfk_video.mp4"));
    QCOMPARE(video.audio_streams.size(), std::size_t{1});
    QCOMPARE(video.audio_streams[0].index, 1);
    QVERIFY(std::abs(video.audio_streams[0].duration_s - kJfkSeconds) < 0.05);
  }

  void rejects_non_media_files() {
    struct Case {
      fs::path path;
      std::string expected;
    };
    const Case cases[] = {
        {file("notes.txt"), "not an audio or video file FFmpeg can read"},
        {file("image.png"), "is an image (png)"},
        {file("video_only.mp4"), "has no audio stream (video only?)"},
        {file("empty.mp3"), "is empty (0 bytes)"},
        {file("missing.mp3"), "cannot open: No such file or directory"},
        {dir_->path(), "is a directory"},
    };
    for (const Case& c : cases) {
      const std::string load_error = error_of([&] { load_audio_file(c.path); });
      const std::string probe_error = error_of([&] { probe_audio_file(c.path); });
      qInfo("%s", load_error.c_str());
      QVERIFY2(contains(load_error, c.expected), load_error.c_str());
      QVERIFY2(contains(load_error, c.path.string()), load_error.c_str());
      QVERIFY2(contains(probe_error, c.expected), probe_error.c_str());
    }
  }

  void rejects_zero_length_audio() {
    QCOMPARE(probe_audio_file(file("no_samples.wav")).audio_streams.size(), std::size_t{1});
    const std::string error = error_of([&] { load_audio_file(file("no_samples.wav")); });
    qInfo("%s", error.c_str());
    QVERIFY2(contains(error, "no audio could be decoded"), error.c_str());
  }

  void truncated_files_decode_what_is_there_data() {
    QTest::addColumn<QString>("name");
    QTest::newRow("mp3") << QString("half_jfk.mp3");
    QTest::newRow("flac") << QString("half_jfk.flac");
  }

  void truncated_files_decode_what_is_there() {
    QFETCH(QString, name);
    DecodeReport report;
    const MonoAudio audio = load_audio_file(file(name.toStdString()), -1, &report);
    qInfo("%s: decoded %.3f s of %.3f s; %s", qPrintable(name), report.decoded_s, report.expected_s,
          joined(report.warnings).c_str());
    QVERIFY2(std::abs(report.decoded_s - kJfkSeconds / 2) < 1.0, std::to_string(report.decoded_s).c_str());
    QVERIFY(std::abs(report.expected_s - kJfkSeconds) < 0.1);
    const std::string warnings = joined(report.warnings);
    // FFmpeg announces 11.1 s for the MP3: its frame count includes the encoder's padding.
    QVERIFY2(
        contains(warnings, "the file ends early: ") && contains(warnings, " s announced could be decoded"),
        warnings.c_str());
    // What was decoded is the start of the speech.
    const std::vector<float> first_half(jfk_.begin(),
                                        jfk_.begin() + static_cast<std::ptrdiff_t>(audio.samples.size()));
    QVERIFY(best_correlation(audio.samples, first_half, 320) > 0.9);
  }

  void damaged_middle_is_skipped_data() {
    QTest::addColumn<QString>("name");
    QTest::newRow("mp3") << QString("noisy_jfk.mp3");
    QTest::newRow("flac") << QString("noisy_jfk.flac");
  }

  void damaged_middle_is_skipped() {
    QFETCH(QString, name);
    DecodeReport report;
    const MonoAudio audio = load_audio_file(file(name.toStdString()), -1, &report);
    qInfo("%s: decoded %.3f s of %.3f s; %s", qPrintable(name), report.decoded_s, report.expected_s,
          joined(report.warnings).c_str());
    QVERIFY2(!report.warnings.empty(), "damage went unnoticed");
    QVERIFY2(report.decoded_s > 9.0 && report.decoded_s < 11.5, std::to_string(report.decoded_s).c_str());
    for (float s : audio.samples) QVERIFY(std::isfinite(s));
  }

  void chunked_reads_match_load_data() {
    QTest::addColumn<QString>("name");
    for (const char* name : {"jfk.mp3", "jfk_44k_stereo_s16.wav", "jfk.opus", "noisy_jfk.mp3"})
      QTest::newRow(name) << QString(name);
  }

  void chunked_reads_match_load() {
    QFETCH(QString, name);
    const fs::path path = file(name.toStdString());
    const MonoAudio whole = load_audio_file(path);
    AudioFileDecoder decoder(path);
    std::vector<float> samples;
    std::size_t got = 0;
    while ((got = decoder.read(samples, 1000)) > 0) {
      // Every read but the last is full.
      if (got < 1000) QCOMPARE(decoder.read(samples, 1000), std::size_t{0});
    }
    QCOMPARE(decoder.read(samples, 1000), std::size_t{0});  // the end stays the end
    QVERIFY(bit_identical(samples, whole.samples));
    QCOMPARE(decoder.report().decoded_s, static_cast<double>(samples.size()) / 16000.0);
  }

  // An hour of audio (230 MB as float) streams through read() without the decoder holding it.
  void long_file_streams_in_bounded_memory() {
#if defined(__SANITIZE_ADDRESS__)
    QSKIP("AddressSanitizer keeps freed memory in quarantine, so resident-set growth says nothing here");
#endif
    const fs::path path = file("hour.flac");
    ffmpeg(
        {"-f", "lavfi", "-i", "sine=frequency=300:sample_rate=16000:duration=3600", "-c:a", "flac", q(path)});
    AudioFileDecoder decoder(path);
    QVERIFY(std::abs(decoder.report().expected_s - 3600.0) < 0.1);
    std::vector<float> chunk;
    const std::int64_t rss_before = resident_bytes();
    std::int64_t rss_peak = rss_before;
    std::int64_t total = 0;
    for (int reads = 0;; ++reads) {
      chunk.clear();
      const std::size_t got = decoder.read(chunk, 16000);
      if (got == 0) break;
      total += static_cast<std::int64_t>(got);
      if (reads % 64 == 0) rss_peak = std::max(rss_peak, resident_bytes());
    }
    QCOMPARE(total, std::int64_t{3600} * 16000);
    QVERIFY2(decoder.report().warnings.empty(), joined(decoder.report().warnings).c_str());
    const std::int64_t growth_mb = (rss_peak - rss_before) >> 20;
    qInfo("resident memory grew by %lld MB while decoding an hour", static_cast<long long>(growth_mb));
    QVERIFY2(growth_mb < 32, std::to_string(growth_mb).c_str());
  }

  void decoder_without_file_throws() {
    AudioFileDecoder decoder;
    QVERIFY(!decoder.is_open());
    std::vector<float> out;
    QVERIFY_THROWS_EXCEPTION(Error, decoder.read(out, 10));
  }
};

QTEST_GUILESS_MAIN(TestAudioFile)
#include "test_audio_file.moc"
