// WAV reader: format coverage, whisper.cpp-exact int16 scaling, downmix, resampling, damaged files, errors.
#include <QObject>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <numbers>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audio/wav_reader.h"
#include "test_support.h"
#include "util/error.h"

namespace {

using Bytes = std::vector<unsigned char>;

constexpr std::uint16_t kPcm = 0x0001;
constexpr std::uint16_t kFloat = 0x0003;
constexpr std::uint16_t kExtensible = 0xFFFE;

void put_u16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<unsigned char>(v & 0xFF));
  out.push_back(static_cast<unsigned char>(v >> 8));
}

void put_u32(Bytes& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<unsigned char>((v >> (8 * i)) & 0xFF));
}

void put_text(Bytes& out, std::string_view text) {
  out.insert(out.end(), text.begin(), text.end());
}

// One RIFF chunk; odd bodies get the pad byte. declared_bytes overrides the size field (truncation tests).
Bytes chunk(std::string_view id, const Bytes& body, std::optional<std::uint32_t> declared_bytes = {}) {
  Bytes out;
  put_text(out, id);
  put_u32(out, declared_bytes.value_or(static_cast<std::uint32_t>(body.size())));
  out.insert(out.end(), body.begin(), body.end());
  if (body.size() % 2 == 1 && !declared_bytes) out.push_back(0);
  return out;
}

Bytes riff(const std::vector<Bytes>& chunks, std::string_view form = "WAVE") {
  Bytes body;
  put_text(body, form);
  for (const Bytes& c : chunks) body.insert(body.end(), c.begin(), c.end());
  Bytes out;
  put_text(out, "RIFF");
  put_u32(out, static_cast<std::uint32_t>(body.size()));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Bytes fmt_body(std::uint16_t tag, std::uint16_t channels, std::uint32_t rate_hz, std::uint16_t bits,
               std::optional<std::uint16_t> block_align = {}) {
  const std::uint16_t align = block_align.value_or(static_cast<std::uint16_t>(channels * (bits / 8)));
  Bytes out;
  put_u16(out, tag);
  put_u16(out, channels);
  put_u32(out, rate_hz);
  put_u32(out, rate_hz * align);
  put_u16(out, align);
  put_u16(out, bits);
  return out;
}

Bytes fmt_extensible_body(std::uint16_t sub_format, std::uint16_t channels, std::uint32_t rate_hz,
                          std::uint16_t bits) {
  Bytes out = fmt_body(kExtensible, channels, rate_hz, bits);
  put_u16(out, 22);                         // cbSize
  put_u16(out, bits);                       // valid bits per sample
  put_u32(out, channels == 1 ? 0x4 : 0x3);  // channel mask: front centre / front left+right
  put_u16(out, sub_format);                 // KSDATAFORMAT_SUBTYPE_*: tag, then the fixed GUID tail
  const unsigned char guid_tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                       0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
  out.insert(out.end(), std::begin(guid_tail), std::end(guid_tail));
  return out;
}

// Interleaved float samples to the on-disk encoding (round to nearest, clamp like a real writer).
Bytes encode(const std::vector<float>& samples, std::uint16_t tag, int bits) {
  Bytes out;
  for (float x : samples) {
    if (tag == kFloat && bits == 32) {
      std::uint32_t raw;
      std::memcpy(&raw, &x, 4);
      put_u32(out, raw);
    } else if (tag == kFloat && bits == 64) {
      const double d = x;
      std::uint64_t raw;
      std::memcpy(&raw, &d, 8);
      put_u32(out, static_cast<std::uint32_t>(raw));
      put_u32(out, static_cast<std::uint32_t>(raw >> 32));
    } else {
      const double scale = std::ldexp(1.0, bits - 1);
      const double lo = -scale, hi = scale - 1;
      const auto q = static_cast<std::int64_t>(std::clamp(std::nearbyint(x * scale), lo, hi));
      if (bits == 8) {
        out.push_back(static_cast<unsigned char>(q + 128));
      } else {
        const auto u = static_cast<std::uint32_t>(q);
        for (int i = 0; i < bits / 8; ++i) out.push_back(static_cast<unsigned char>((u >> (8 * i)) & 0xFF));
      }
    }
  }
  return out;
}

Bytes simple_wav(const std::vector<float>& interleaved, std::uint16_t tag, int bits, int channels,
                 int rate_hz) {
  return riff({chunk("fmt ", fmt_body(tag, static_cast<std::uint16_t>(channels),
                                      static_cast<std::uint32_t>(rate_hz), static_cast<std::uint16_t>(bits))),
               chunk("data", encode(interleaved, tag, bits))});
}

std::vector<float> sine(double freq_hz, double rate_hz, std::size_t count, double amplitude) {
  std::vector<float> out(count);
  for (std::size_t i = 0; i < count; ++i)
    out[i] = static_cast<float>(
        amplitude * std::sin(2.0 * std::numbers::pi * freq_hz * static_cast<double>(i) / rate_hz));
  return out;
}

std::vector<float> interleave(const std::vector<float>& left, const std::vector<float>& right) {
  std::vector<float> out;
  for (std::size_t i = 0; i < left.size(); ++i) {
    out.push_back(left[i]);
    out.push_back(right[i]);
  }
  return out;
}

// Amplitude of the freq_hz component over samples [begin, end) by correlation with sin and cos.
double tone_amplitude(const std::vector<float>& x, double freq_hz, double rate_hz, std::size_t begin,
                      std::size_t end) {
  double s = 0, c = 0;
  for (std::size_t i = begin; i < end; ++i) {
    const double phase = 2.0 * std::numbers::pi * freq_hz * static_cast<double>(i) / rate_hz;
    s += x[i] * std::sin(phase);
    c += x[i] * std::cos(phase);
  }
  return 2.0 * std::hypot(s, c) / static_cast<double>(end - begin);
}

std::size_t zero_crossings(const std::vector<float>& x, std::size_t begin, std::size_t end) {
  std::size_t count = 0;
  for (std::size_t i = begin + 1; i < end; ++i)
    if ((x[i - 1] < 0) != (x[i] < 0)) ++count;
  return count;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
  return worst;
}

// The npuscribe::Error message thrown by fn, or nothing if it did not throw.
std::optional<std::string> error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const npuscribe::Error& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

void write_file(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

QByteArray to_qbytes(const Bytes& bytes) {
  return QByteArray(reinterpret_cast<const char*>(bytes.data()), static_cast<qsizetype>(bytes.size()));
}

}  // namespace

class TestWavReader : public QObject {
  Q_OBJECT

 private slots:
  void jfkFixtureIsBitExact();
  void formatsRoundTrip_data();
  void formatsRoundTrip();
  void fullScaleValues();
  void stereoDownmix();
  void resamples44100StereoTo16k();
  void resamples8000To16k();
  void toWhisperMonoLeaves16kMonoUntouched();
  void oddChunkBeforeFmtAndData();
  void dataBeforeFmt();
  void truncatedDataChunk();
  void streamingDataSize();
  void absurdDeclaredDataSize();
  void zeroLengthData();
  void errors_data();
  void errors();
  void nonexistentPath();
  void directoryPath();
};

void TestWavReader::jfkFixtureIsBitExact() {
  const auto path = npuscribe::test::fixture("jfk.wav");
  std::ifstream in(path, std::ios::binary);
  QVERIFY2(in.good(), ("fixture missing: " + path.string()).c_str());
  const Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

  // Independent walk to the data chunk (the fixture has a LIST chunk between fmt and data).
  std::size_t offset = 12, data_offset = 0, data_bytes = 0;
  while (offset + 8 <= bytes.size()) {
    const std::uint32_t size = bytes[offset + 4] | (bytes[offset + 5] << 8) | (bytes[offset + 6] << 16) |
                               (static_cast<std::uint32_t>(bytes[offset + 7]) << 24);
    if (std::memcmp(&bytes[offset], "data", 4) == 0) {
      data_offset = offset + 8;
      data_bytes = size;
      break;
    }
    offset += 8 + size + (size & 1);
  }
  QVERIFY(data_offset > 0);
  QCOMPARE(data_bytes, std::size_t{176000 * 2});

  npuscribe::WavInfo info;
  const npuscribe::MonoAudio audio = npuscribe::read_wav_file(path, &info);
  QCOMPARE(audio.samples.size(), std::size_t{176000});
  QCOMPARE(audio.sample_rate_hz, 16000);
  QCOMPARE(info.sample_rate_hz, 16000);
  QCOMPARE(info.channel_count, 1);
  QCOMPARE(info.bits_per_sample, 16);
  QVERIFY(!info.is_float);
  QCOMPARE(info.frame_count, std::size_t{176000});
  QCOMPARE(info.frames_missing, std::size_t{0});

  std::size_t mismatches = 0, first_mismatch = 0;
  for (std::size_t i = 0; i < 176000; ++i) {
    const auto s =
        static_cast<std::int16_t>(bytes[data_offset + 2 * i] | (bytes[data_offset + 2 * i + 1] << 8));
    const float expected = static_cast<float>(s) / 32768.0f;
    if (std::memcmp(&expected, &audio.samples[i], sizeof(float)) != 0 && mismatches++ == 0)
      first_mismatch = i;
  }
  QVERIFY2(mismatches == 0, ("first differing sample " + std::to_string(first_mismatch)).c_str());
}

void TestWavReader::formatsRoundTrip_data() {
  QTest::addColumn<int>("tag");
  QTest::addColumn<int>("bits");
  QTest::addColumn<bool>("extensible");
  QTest::addColumn<double>("tolerance");
  // Half a quantisation step plus float rounding of the 1/2^(bits-1) scale.
  QTest::newRow("pcm8") << int{kPcm} << 8 << false << 0.5 / 128 + 1e-6;
  QTest::newRow("pcm16") << int{kPcm} << 16 << false << 0.5 / 32768 + 1e-7;
  QTest::newRow("pcm24") << int{kPcm} << 24 << false << 0.5 / 8388608 + 1e-7;
  QTest::newRow("pcm32") << int{kPcm} << 32 << false << 1e-7;
  QTest::newRow("float32") << int{kFloat} << 32 << false << 0.0;
  QTest::newRow("float64") << int{kFloat} << 64 << false << 0.0;
  QTest::newRow("extensible-pcm16") << int{kPcm} << 16 << true << 0.5 / 32768 + 1e-7;
  QTest::newRow("extensible-pcm24") << int{kPcm} << 24 << true << 0.5 / 8388608 + 1e-7;
  QTest::newRow("extensible-float32") << int{kFloat} << 32 << true << 0.0;
}

void TestWavReader::formatsRoundTrip() {
  QFETCH(int, tag);
  QFETCH(int, bits);
  QFETCH(bool, extensible);
  QFETCH(double, tolerance);
  // 16 kHz mono so the reader neither resamples nor mixes: output is the decoded samples themselves.
  const std::vector<float> signal = sine(440.0, 16000.0, 1600, 0.8);
  const auto tag16 = static_cast<std::uint16_t>(tag);
  const auto bits16 = static_cast<std::uint16_t>(bits);
  const Bytes fmt =
      extensible ? fmt_extensible_body(tag16, 1, 16000, bits16) : fmt_body(tag16, 1, 16000, bits16);
  const Bytes wav = riff({chunk("fmt ", fmt), chunk("data", encode(signal, tag16, bits))});

  npuscribe::WavInfo info;
  const npuscribe::MonoAudio audio = npuscribe::decode_wav(wav, &info);
  QCOMPARE(audio.samples.size(), signal.size());
  QCOMPARE(info.bits_per_sample, bits);
  QCOMPARE(info.is_float, tag == kFloat);
  QCOMPARE(info.channel_count, 1);
  QCOMPARE(info.frame_count, signal.size());
  const double error = max_abs_diff(audio.samples, signal);
  QVERIFY2(error <= tolerance, ("max error " + std::to_string(error)).c_str());
  // A wrong scale or byte order would also be caught by the tolerance; check the signal is not silence.
  QVERIFY(*std::max_element(audio.samples.begin(), audio.samples.end()) > 0.79f);
}

void TestWavReader::fullScaleValues() {
  const auto decode_raw = [](std::uint16_t tag, std::uint16_t bits, const Bytes& data) {
    return npuscribe::decode_wav(riff({chunk("fmt ", fmt_body(tag, 1, 16000, bits)), chunk("data", data)}))
        .samples;
  };
  // Exact equality: these are the conventions whisper.cpp and ffmpeg use.
  const auto s8 = decode_raw(kPcm, 8, {0, 128, 255});
  QVERIFY(s8 == (std::vector<float>{-1.0f, 0.0f, 127.0f / 128.0f}));
  const auto s16 = decode_raw(kPcm, 16, {0x00, 0x80, 0xFF, 0x7F, 0xFF, 0xFF});
  QVERIFY(s16 == (std::vector<float>{-1.0f, 32767.0f / 32768.0f, -1.0f / 32768.0f}));
  const auto s24 = decode_raw(kPcm, 24, {0x00, 0x00, 0x80, 0xFF, 0xFF, 0x7F, 0x01, 0x00, 0x00});
  QVERIFY(s24 == (std::vector<float>{-1.0f, 8388607.0f / 8388608.0f, 1.0f / 8388608.0f}));
  const auto s32 = decode_raw(kPcm, 32, {0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x40});
  QVERIFY(s32 == (std::vector<float>{-1.0f, 0.5f}));
}

void TestWavReader::stereoDownmix() {
  const std::vector<float> x = sine(300.0, 16000.0, 800, 0.6);
  std::vector<float> minus_x(x.size());
  std::transform(x.begin(), x.end(), minus_x.begin(), [](float v) { return -v; });

  for (int bits : {16, 32}) {
    const std::uint16_t tag = bits == 32 ? kFloat : kPcm;
    const auto opposite =
        npuscribe::decode_wav(simple_wav(interleave(x, minus_x), tag, bits, 2, 16000)).samples;
    QCOMPARE(opposite.size(), x.size());
    QVERIFY(max_abs_diff(opposite, std::vector<float>(x.size(), 0.0f)) < 1e-7);

    npuscribe::WavInfo info;
    const auto same = npuscribe::decode_wav(simple_wav(interleave(x, x), tag, bits, 2, 16000), &info).samples;
    QCOMPARE(info.channel_count, 2);
    QCOMPARE(same.size(), x.size());
    QVERIFY(max_abs_diff(same, x) <= (bits == 16 ? 0.5 / 32768 + 1e-7 : 0.0));
  }

  // Three channels: the plain average.
  const auto three = npuscribe::to_whisper_mono({0.3f, 0.6f, 0.0f, -0.9f, 0.0f, 0.0f}, 3, 16000);
  QCOMPARE(three.size(), std::size_t{2});
  QVERIFY(std::abs(three[0] - 0.3f) < 1e-7f);
  QVERIFY(std::abs(three[1] + 0.3f) < 1e-7f);
}

void TestWavReader::resamples44100StereoTo16k() {
  const std::vector<float> tone = sine(1000.0, 44100.0, 88200, 0.5);  // 2.0 s
  npuscribe::WavInfo info;
  const auto out =
      npuscribe::decode_wav(simple_wav(interleave(tone, tone), kPcm, 16, 2, 44100), &info).samples;
  QCOMPARE(info.sample_rate_hz, 44100);
  QCOMPARE(info.frame_count, std::size_t{88200});
  QVERIFY2(out.size() >= 31998 && out.size() <= 32002, std::to_string(out.size()).c_str());

  // Steady-state window away from the filter's edges: 30400 samples = 1900 whole 1 kHz periods.
  const std::size_t begin = 800, end = 31200;
  const double at_1k = tone_amplitude(out, 1000.0, 16000.0, begin, end);
  const double at_3k = tone_amplitude(out, 3000.0, 16000.0, begin, end);
  QVERIFY2(std::abs(at_1k - 0.5) < 0.5 * 0.02, std::to_string(at_1k).c_str());
  QVERIFY2(at_3k < at_1k / 100, std::to_string(at_3k).c_str());
  const float peak = *std::max_element(out.begin() + begin, out.begin() + end);
  QVERIFY2(std::abs(peak - 0.5f) < 0.5f * 0.02f, std::to_string(peak).c_str());
  const std::size_t crossings = zero_crossings(out, begin, end);
  QVERIFY2(crossings >= 3796 && crossings <= 3804, std::to_string(crossings).c_str());
}

void TestWavReader::resamples8000To16k() {
  const std::vector<float> tone = sine(1000.0, 8000.0, 8000, 0.5);  // 1.0 s
  const auto out = npuscribe::decode_wav(simple_wav(tone, kFloat, 32, 1, 8000)).samples;
  QVERIFY2(out.size() >= 15998 && out.size() <= 16002, std::to_string(out.size()).c_str());
  const std::size_t begin = 800, end = 15200;  // 900 whole periods
  const double at_1k = tone_amplitude(out, 1000.0, 16000.0, begin, end);
  const double image_7k = tone_amplitude(out, 7000.0, 16000.0, begin, end);  // what a missing filter leaves
  QVERIFY2(std::abs(at_1k - 0.5) < 0.5 * 0.02, std::to_string(at_1k).c_str());
  QVERIFY2(image_7k < at_1k / 100, std::to_string(image_7k).c_str());
}

void TestWavReader::toWhisperMonoLeaves16kMonoUntouched() {
  const std::vector<float> in = {0.1f, -0.25f, 1.0f / 3.0f, -1.0f};
  QVERIFY(npuscribe::to_whisper_mono(in, 1, 16000) == in);
  QVERIFY(npuscribe::to_whisper_mono({}, 2, 44100).empty());
}

void TestWavReader::oddChunkBeforeFmtAndData() {
  const std::vector<float> signal = {0.5f, -0.5f, 0.25f};
  Bytes odd_list_body;
  put_text(odd_list_body, "INFOabc");  // 7 bytes: must be padded to 8 or every later chunk is misread
  Bytes fact_body;
  put_u32(fact_body, 3);
  const Bytes wav = riff({chunk("junk", {1, 2, 3, 4, 5}), chunk("fmt ", fmt_body(kFloat, 1, 16000, 32)),
                          chunk("fact", fact_body), chunk("LIST", odd_list_body),
                          chunk("data", encode(signal, kFloat, 32)), chunk("LIST", odd_list_body)});
  QVERIFY(npuscribe::decode_wav(wav).samples == signal);

  // Odd-sized 8-bit data chunk followed by another chunk: the pad byte is not audio.
  const Bytes wav8 = riff({chunk("fmt ", fmt_body(kPcm, 1, 16000, 8)), chunk("data", {0, 128, 255}),
                           chunk("LIST", odd_list_body)});
  npuscribe::WavInfo info;
  QVERIFY(npuscribe::decode_wav(wav8, &info).samples == (std::vector<float>{-1.0f, 0.0f, 127.0f / 128.0f}));
  QCOMPARE(info.frame_count, std::size_t{3});
}

void TestWavReader::dataBeforeFmt() {
  const std::vector<float> signal = {0.5f, -0.5f, 0.25f, 0.125f};
  const Bytes wav =
      riff({chunk("data", encode(signal, kPcm, 16)), chunk("fmt ", fmt_body(kPcm, 1, 16000, 16))});
  QVERIFY(npuscribe::decode_wav(wav).samples == signal);
}

void TestWavReader::truncatedDataChunk() {
  const std::vector<float> signal = sine(440.0, 16000.0, 601, 0.5);
  Bytes present = encode(signal, kPcm, 16);
  present.pop_back();  // 600 whole frames and half of the 601st
  const Bytes wav = riff({chunk("fmt ", fmt_body(kPcm, 1, 16000, 16)), chunk("data", present, 1000 * 2)});

  npuscribe::WavInfo info;
  const auto samples = npuscribe::decode_wav(wav, &info).samples;
  QCOMPARE(info.frame_count, std::size_t{600});
  QCOMPARE(info.frames_missing, std::size_t{400});
  QCOMPARE(samples.size(), std::size_t{600});
  QVERIFY(max_abs_diff(samples, signal) <= 0.5 / 32768 + 1e-7);

  // Same through the file reader, stereo 24-bit cut mid-frame.
  const std::vector<float> tone = sine(440.0, 16000.0, 100, 0.5);
  Bytes stereo = encode(interleave(tone, tone), kPcm, 24);
  stereo.resize(stereo.size() - 4);  // 99 whole frames and 2 bytes of the 100th remain
  npuscribe::test::TempDir dir;
  write_file(dir.file("cut.wav"),
             riff({chunk("fmt ", fmt_body(kPcm, 2, 16000, 24)), chunk("data", stereo, 6 * 250)}));
  npuscribe::WavInfo file_info;
  const auto file_samples = npuscribe::read_wav_file(dir.file("cut.wav"), &file_info).samples;
  QCOMPARE(file_info.frame_count, std::size_t{99});
  QCOMPARE(file_info.frames_missing, std::size_t{250 - 99});
  QCOMPARE(file_samples.size(), std::size_t{99});
  QVERIFY(max_abs_diff(file_samples, tone) <= 0.5 / 8388608 + 1e-7);
}

void TestWavReader::streamingDataSize() {
  const std::vector<float> signal = sine(440.0, 16000.0, 500, 0.5);
  const Bytes wav = riff(
      {chunk("fmt ", fmt_body(kPcm, 1, 16000, 16)), chunk("data", encode(signal, kPcm, 16), 0xFFFFFFFF)});
  npuscribe::WavInfo info;
  info.frames_missing = 12345;  // must be overwritten
  const auto samples = npuscribe::decode_wav(wav, &info).samples;
  QCOMPARE(info.frame_count, std::size_t{500});
  QCOMPARE(info.frames_missing, std::size_t{0});
  QCOMPARE(samples.size(), std::size_t{500});
}

void TestWavReader::absurdDeclaredDataSize() {
  // A header claiming ~4 GB of audio in a tiny file must not allocate for the claim.
  const Bytes wav = riff({chunk("fmt ", fmt_body(kPcm, 1, 16000, 16)),
                          chunk("data", encode({0.5f, 0.25f}, kPcm, 16), 0xFFFFFFF0)});
  npuscribe::WavInfo info;
  const auto samples = npuscribe::decode_wav(wav, &info).samples;
  QCOMPARE(samples.size(), std::size_t{2});
  QCOMPARE(info.frames_missing, std::size_t{0xFFFFFFF0 / 2 - 2});
}

void TestWavReader::zeroLengthData() {
  npuscribe::WavInfo info;
  const auto mono =
      npuscribe::decode_wav(riff({chunk("fmt ", fmt_body(kPcm, 1, 16000, 16)), chunk("data", {})}), &info);
  QVERIFY(mono.samples.empty());
  QCOMPARE(info.frame_count, std::size_t{0});
  QCOMPARE(info.frames_missing, std::size_t{0});
  QCOMPARE(info.sample_rate_hz, 16000);
  // Also when resampling and downmixing would be needed.
  const auto stereo =
      npuscribe::decode_wav(riff({chunk("fmt ", fmt_body(kFloat, 2, 44100, 32)), chunk("data", {})}));
  QVERIFY(stereo.samples.empty());
}

void TestWavReader::errors_data() {
  QTest::addColumn<QByteArray>("bytes");
  QTest::addColumn<QString>("expected");
  const Bytes pcm_data = encode({0.1f, 0.2f}, kPcm, 16);
  const Bytes good_fmt = fmt_body(kPcm, 1, 16000, 16);
  Bytes garbage;
  put_text(garbage, "this is certainly not audio at all");
  Bytes mp3;
  put_text(mp3, "ID3\x04");
  mp3.resize(64, 0);
  Bytes short_fmt = good_fmt;
  short_fmt.resize(14);
  Bytes rf64 = riff({chunk("fmt ", good_fmt), chunk("data", pcm_data)});
  std::memcpy(rf64.data(), "RF64", 4);

  const auto row = [](const char* name, const Bytes& bytes, const char* expected) {
    QTest::newRow(name) << to_qbytes(bytes) << QString::fromUtf8(expected);
  };
  row("empty", {}, "empty file");
  row("garbage", garbage, "not a WAV");
  row("mp3", mp3, "looks like MP3");
  row("riff-not-wave", riff({chunk("fmt ", good_fmt)}, "AVI "), "'AVI '");
  row("rf64", rf64, "RF64");
  row("missing-fmt", riff({chunk("LIST", {1, 2}), chunk("data", pcm_data)}), "no fmt chunk");
  row("missing-data", riff({chunk("fmt ", good_fmt), chunk("LIST", {1, 2})}), "no data chunk");
  row("fmt-too-short", riff({chunk("fmt ", short_fmt), chunk("data", pcm_data)}), "fmt chunk too short");
  row("fmt-cut-off", riff({chunk("fmt ", good_fmt, 400)}), "cut off");
  row("mp3-tag", riff({chunk("fmt ", fmt_body(0x0055, 1, 16000, 16)), chunk("data", pcm_data)}), "0x0055");
  row("adpcm-tag", riff({chunk("fmt ", fmt_body(0x0002, 1, 16000, 4, 256)), chunk("data", pcm_data)}),
      "ADPCM");
  row("pcm12", riff({chunk("fmt ", fmt_body(kPcm, 1, 16000, 12, 2)), chunk("data", pcm_data)}), "12-bit");
  row("float16", riff({chunk("fmt ", fmt_body(kFloat, 1, 16000, 16)), chunk("data", pcm_data)}),
      "16-bit float");
  row("zero-channels", riff({chunk("fmt ", fmt_body(kPcm, 0, 16000, 16, 2)), chunk("data", pcm_data)}),
      "channel count 0");
  row("65-channels", riff({chunk("fmt ", fmt_body(kPcm, 65, 16000, 16)), chunk("data", pcm_data)}),
      "channel count 65");
  row("rate-zero", riff({chunk("fmt ", fmt_body(kPcm, 1, 0, 16)), chunk("data", pcm_data)}),
      "sample rate 0 Hz");
  row("rate-absurd", riff({chunk("fmt ", fmt_body(kPcm, 1, 10000000, 16)), chunk("data", pcm_data)}),
      "sample rate 10000000");
  row("block-align", riff({chunk("fmt ", fmt_body(kPcm, 2, 16000, 16, 2)), chunk("data", pcm_data)}),
      "block_align");
  row("extensible-short", riff({chunk("fmt ", fmt_body(kExtensible, 1, 16000, 16)), chunk("data", pcm_data)}),
      "EXTENSIBLE");
  row("extensible-mulaw",
      riff({chunk("fmt ", fmt_extensible_body(0x0007, 1, 16000, 8)), chunk("data", pcm_data)}), "0x0007");
}

void TestWavReader::errors() {
  QFETCH(QByteArray, bytes);
  QFETCH(QString, expected);
  npuscribe::test::TempDir dir;
  const auto path = dir.file("case.wav");
  write_file(path, Bytes(bytes.begin(), bytes.end()));
  const auto message = error_of([&] { npuscribe::read_wav_file(path); });
  QVERIFY2(message.has_value(), "no npuscribe::Error thrown");
  QVERIFY2(message->find(expected.toStdString()) != std::string::npos, message->c_str());
  QVERIFY2(message->find("case.wav") != std::string::npos, message->c_str());  // names the file

  // The in-memory entry point rejects the same bytes.
  QVERIFY(error_of([&] { npuscribe::decode_wav(Bytes(bytes.begin(), bytes.end())); }).has_value());
}

void TestWavReader::nonexistentPath() {
  npuscribe::test::TempDir dir;
  const auto message = error_of([&] { npuscribe::read_wav_file(dir.file("nope.wav")); });
  QVERIFY2(message.has_value(), "no npuscribe::Error thrown");
  QVERIFY2(message->find("nope.wav") != std::string::npos, message->c_str());
  QVERIFY2(message->find("No such file") != std::string::npos, message->c_str());
}

void TestWavReader::directoryPath() {
  npuscribe::test::TempDir dir;
  const auto message = error_of([&] { npuscribe::read_wav_file(dir.path()); });
  QVERIFY2(message.has_value(), "no npuscribe::Error thrown");
  QVERIFY2(message->find("directory") != std::string::npos, message->c_str());
}

QTEST_GUILESS_MAIN(TestWavReader)
#include "test_wav_reader.moc"
