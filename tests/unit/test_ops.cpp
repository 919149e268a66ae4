// CPU numeric kernels (core/ops, core/util/f16) against independent double-precision references:
// f16 conversions (exhaustive), exp, GELU, softmax, layer norm, linear (both kernels), widen_rows.
#include <QObject>
#include <QTest>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "model/whisper_model.h"
#include "ops/ops.h"
#include "util/f16.h"

namespace {

using npuscribe::GgmlType;
using npuscribe::WeightMatrix;

std::uint32_t float_bits(float f) {
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  return bits;
}

float bits_float(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// Independent binary16 -> value: (-1)^s * 2^(e-15) * (1 + m/1024), subnormals 2^-14 * m/1024. NaN for NaN.
double reference_f16_value(std::uint16_t h) {
  const bool negative = (h & 0x8000u) != 0;
  const int e = (h >> 10) & 0x1F;
  const int m = h & 0x3FF;
  double magnitude;
  if (e == 31) {
    magnitude = m == 0 ? INFINITY : NAN;
  } else if (e == 0) {
    magnitude = std::ldexp(static_cast<double>(m), -24);
  } else {
    magnitude = std::ldexp(static_cast<double>(1024 + m), e - 25);
  }
  return negative ? -magnitude : magnitude;
}

// Independent float32 -> binary16 with round-to-nearest-even, through exact double arithmetic.
// Not for NaN.
std::uint16_t reference_f32_to_f16(float f) {
  const std::uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  const double a = std::fabs(static_cast<double>(f));
  if (std::isinf(a)) return sign | 0x7C00;
  if (a == 0) return sign;
  int e;
  std::frexp(a, &e);                                             // a = mant * 2^e, mant in [0.5, 1)
  const int quantum_exp = std::max(e - 1, -14) - 10;             // spacing of binary16 values at a
  const double n = std::nearbyint(std::ldexp(a, -quantum_exp));  // exact scaling; default mode: ties to even
  const double r = std::ldexp(n, quantum_exp);
  if (r >= 65536.0) return sign | 0x7C00;
  if (r < std::ldexp(1.0, -14)) return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(n));
  int e2;
  std::frexp(r, &e2);
  const int lead = e2 - 1;
  const auto mantissa = static_cast<std::uint16_t>(std::ldexp(r, 10 - lead) - 1024.0);
  return static_cast<std::uint16_t>(sign | ((lead + 15) << 10) | mantissa);
}

bool is_f16_nan(std::uint16_t h) {
  return (h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0;
}

// Same float, with NaN equal to any NaN.
bool same_float(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return float_bits(a) == float_bits(b);
}

QByteArray hex16(std::uint16_t h) {
  return "0x" + QByteArray::number(h, 16).rightJustified(4, '0');
}

std::vector<float> normal_values(std::size_t count, double mean, double stddev, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(mean, stddev);
  std::vector<float> out(count);
  for (float& v : out) v = static_cast<float>(dist(rng));
  return out;
}

double reference_gelu(double x) {
  return 0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

constexpr float kSentinel = 12345.678f;

// Owns the bytes a WeightMatrix points into, at a chosen misalignment.
struct OwnedWeights {
  std::vector<std::byte> storage;
  WeightMatrix matrix;
  std::vector<double> widened;  // rows x cols, the exact values the matrix stands for
};

OwnedWeights make_weights(GgmlType type, int rows, int cols, std::size_t misalign, std::uint64_t seed) {
  OwnedWeights w;
  const std::size_t count = static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
  const std::size_t element_bytes = type == GgmlType::f16 ? 2 : 4;
  w.storage.resize(count * element_bytes + misalign + 16);
  const std::vector<float> values = normal_values(count, 0.0, 1.0, seed);
  w.widened.resize(count);
  std::byte* base = w.storage.data() + misalign;
  for (std::size_t i = 0; i < count; ++i) {
    if (type == GgmlType::f16) {
      const std::uint16_t h = npuscribe::f32_to_f16(values[i]);
      std::memcpy(base + 2 * i, &h, 2);
      w.widened[i] = reference_f16_value(h);
    } else {
      std::memcpy(base + 4 * i, &values[i], 4);
      w.widened[i] = values[i];
    }
  }
  w.matrix.type = type;
  w.matrix.rows = rows;
  w.matrix.cols = cols;
  w.matrix.data = base;
  w.matrix.name = "test.weight";
  return w;
}

}  // namespace

class TestOps : public QObject {
  Q_OBJECT

 private slots:
  void f16ToF32Exhaustive();
  void convertF16VectorMatchesScalar();
  void f32ToF16HandPicked_data();
  void f32ToF16HandPicked();
  void f32ToF16MidpointsAndSweep();

  void expAccuracy();
  void expCountsAndTails();
  void expUnderflowAndOverflow();

  void geluAccuracy();
  void geluCountsAndTails();
  void geluLargeInputs();

  void softmaxMatchesReference_data();
  void softmaxMatchesReference();
  void softmaxCausalMask();
  void softmaxFullyMaskedRow();

  void layerNormCentred();
  void layerNormLargeMean();
  void layerNormInPlace();

  void linearMatchesReference();
  void linearZeroRows();
  void linearDefaultStrides();
  void widenRows();
  void addBiasRows();
  void sgemmThroughput();
};

// ---------------------------------------------------------------------------------------------------------
// f16

void TestOps::f16ToF32Exhaustive() {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto half = static_cast<std::uint16_t>(h);
    const double expected = reference_f16_value(half);
    const float actual = npuscribe::f16_to_f32(half);
    if (std::isnan(expected)) {
      QVERIFY2(std::isnan(actual), hex16(half).constData());
      continue;
    }
    QVERIFY2(static_cast<double>(actual) == expected, hex16(half).constData());
    QVERIFY2(std::signbit(actual) == std::signbit(expected), hex16(half).constData());
  }
  // A few by hand.
  QCOMPARE(npuscribe::f16_to_f32(0x3C00), 1.0f);
  QCOMPARE(npuscribe::f16_to_f32(0xC000), -2.0f);
  QCOMPARE(npuscribe::f16_to_f32(0x7BFF), 65504.0f);
  QCOMPARE(npuscribe::f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  QCOMPARE(npuscribe::f16_to_f32(0x03FF), std::ldexp(1023.0f, -24));
  QCOMPARE(npuscribe::f16_to_f32(0x0400), std::ldexp(1.0f, -14));
  QVERIFY(std::isinf(npuscribe::f16_to_f32(0xFC00)) && npuscribe::f16_to_f32(0xFC00) < 0);
}

void TestOps::convertF16VectorMatchesScalar() {
  // Every bit pattern appears; unaligned source offsets; the tail after the 8-wide blocks.
  std::vector<std::uint16_t> patterns(65536 + 64);
  std::mt19937 rng(7);
  for (std::size_t i = 0; i < patterns.size(); ++i)
    patterns[i] = static_cast<std::uint16_t>(i < 65536 ? (i * 40503u) & 0xFFFFu : rng() & 0xFFFFu);
  std::vector<std::uint8_t> source(2 * patterns.size() + 8);
  for (std::size_t offset = 0; offset < 4; ++offset) {
    std::memcpy(source.data() + offset, patterns.data(), 2 * patterns.size());
    for (std::size_t start = 0; start < 6; ++start) {
      for (std::size_t count = 0; count <= 37; ++count) {
        std::vector<float> out(count + 1, kSentinel);
        npuscribe::convert_f16_to_f32(source.data() + offset + 2 * start, out.data(), count);
        for (std::size_t i = 0; i < count; ++i) {
          const float expected = npuscribe::f16_to_f32(patterns[start + i]);
          QVERIFY2(same_float(out[i], expected),
                   (hex16(patterns[start + i]) + " count " + QByteArray::number(static_cast<int>(count)))
                       .constData());
        }
        QCOMPARE(out[count], kSentinel);  // nothing written past count
      }
    }
    // One long run over every pattern.
    std::vector<float> all(patterns.size());
    npuscribe::convert_f16_to_f32(source.data() + offset, all.data(), all.size());
    for (std::size_t i = 0; i < all.size(); ++i)
      QVERIFY2(same_float(all[i], npuscribe::f16_to_f32(patterns[i])), hex16(patterns[i]).constData());
  }
}

void TestOps::f32ToF16HandPicked_data() {
  QTest::addColumn<float>("value");
  QTest::addColumn<int>("expected");
  QTest::newRow("1") << 1.0f << 0x3C00;
  QTest::newRow("-2") << -2.0f << 0xC000;
  QTest::newRow("0.5") << 0.5f << 0x3800;
  QTest::newRow("+0") << 0.0f << 0x0000;
  QTest::newRow("-0") << -0.0f << 0x8000;
  // 0.1f = 1.6 * 2^-4: exponent field 11, mantissa round(0.6 * 1024 = 614.4) = 614 = 0x266.
  QTest::newRow("0.1") << 0.1f << 0x2E66;
  // Ties between neighbours 2^-10 apart: to the even mantissa.
  QTest::newRow("1 + 2^-11 (tie, down to even 0x3C00)") << (1.0f + std::ldexp(1.0f, -11)) << 0x3C00;
  QTest::newRow("1 + 3*2^-11 (tie, up to even 0x3C02)") << (1.0f + 3 * std::ldexp(1.0f, -11)) << 0x3C02;
  QTest::newRow("1 + 5*2^-11 (tie, down to even 0x3C02)") << (1.0f + 5 * std::ldexp(1.0f, -11)) << 0x3C02;
  QTest::newRow("1 + 2^-11 + 2^-23 (above tie)")
      << (1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -23)) << 0x3C01;
  QTest::newRow("1 + 2^-11 - 2^-24 (below tie)")
      << (1.0f + std::ldexp(1.0f, -11) - std::ldexp(1.0f, -24)) << 0x3C00;
  QTest::newRow("2047/1024 + 2^-11 (tie into the next binade)")
      << (2047.0f / 1024 + std::ldexp(1.0f, -11)) << 0x4000;
  // Largest finite 65504; halfway to 65536 (ties to even = 2^16 = overflow) becomes inf.
  QTest::newRow("65504") << 65504.0f << 0x7BFF;
  QTest::newRow("65519") << 65519.0f << 0x7BFF;
  QTest::newRow("65520 (tie, overflows)") << 65520.0f << 0x7C00;
  QTest::newRow("1e6") << 1e6f << 0x7C00;
  QTest::newRow("-1e6") << -1e6f << 0xFC00;
  QTest::newRow("FLT_MAX") << FLT_MAX << 0x7C00;
  QTest::newRow("inf") << INFINITY << 0x7C00;
  QTest::newRow("-inf") << -INFINITY << 0xFC00;
  // Subnormals: quantum 2^-24.
  QTest::newRow("2^-14 smallest normal") << std::ldexp(1.0f, -14) << 0x0400;
  QTest::newRow("2^-24 smallest subnormal") << std::ldexp(1.0f, -24) << 0x0001;
  QTest::newRow("2^-25 (tie, to 0)") << std::ldexp(1.0f, -25) << 0x0000;
  QTest::newRow("-2^-25 (tie, to -0)") << -std::ldexp(1.0f, -25) << 0x8000;
  QTest::newRow("3*2^-25 (tie, to 2)") << 3 * std::ldexp(1.0f, -25) << 0x0002;
  QTest::newRow("2^-25 + 2^-40 (above tie)") << (std::ldexp(1.0f, -25) + std::ldexp(1.0f, -40)) << 0x0001;
  QTest::newRow("1023.5 * 2^-24 (tie, to min normal)") << (1023.5f * std::ldexp(1.0f, -24)) << 0x0400;
  QTest::newRow("1e-10 (underflow)") << 1e-10f << 0x0000;
}

void TestOps::f32ToF16HandPicked() {
  QFETCH(float, value);
  QFETCH(int, expected);
  QCOMPARE(hex16(npuscribe::f32_to_f16(value)), hex16(static_cast<std::uint16_t>(expected)));
  QCOMPARE(hex16(reference_f32_to_f16(value)),
           hex16(static_cast<std::uint16_t>(expected)));  // the reference too
}

void TestOps::f32ToF16MidpointsAndSweep() {
  // Every midpoint between adjacent finite binary16 values (exact in float32), and one float32 ulp either
  // side.
  for (std::uint32_t h = 0; h < 0x7C00; ++h) {
    const double low = reference_f16_value(static_cast<std::uint16_t>(h));
    const double high = reference_f16_value(static_cast<std::uint16_t>(h + 1));  // 0x7C00 = inf
    const double mid_d = std::isinf(high) ? 65520.0 : 0.5 * (low + high);
    const auto mid = static_cast<float>(mid_d);
    QVERIFY(static_cast<double>(mid) == mid_d);
    for (float sign : {1.0f, -1.0f}) {
      for (float v : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY)}) {
        const float value = sign * v;
        const std::uint16_t expected = reference_f32_to_f16(value);
        const std::uint16_t actual = npuscribe::f32_to_f16(value);
        if (actual != expected)
          QFAIL(("f32_to_f16(" + QByteArray::number(value, 'g', 9) + ") = " + hex16(actual) + ", expected " +
                 hex16(expected))
                    .constData());
      }
    }
    // Round trip of every finite value.
    QCOMPARE(hex16(npuscribe::f32_to_f16(static_cast<float>(low))), hex16(static_cast<std::uint16_t>(h)));
  }
  // A strided sweep over all float32 bit patterns (every exponent, sign and NaN).
  for (std::uint64_t bits = 0; bits < (1ull << 32); bits += 251) {
    const float value = bits_float(static_cast<std::uint32_t>(bits));
    const std::uint16_t actual = npuscribe::f32_to_f16(value);
    if (std::isnan(value)) {
      if (!is_f16_nan(actual)) QFAIL(("NaN became " + hex16(actual)).constData());
      continue;
    }
    const std::uint16_t expected = reference_f32_to_f16(value);
    if (actual != expected)
      QFAIL(("f32_to_f16(" + QByteArray::number(value, 'g', 9) + ") = " + hex16(actual) + ", expected " +
             hex16(expected))
                .constData());
  }
}

// ---------------------------------------------------------------------------------------------------------
// exp

void TestOps::expAccuracy() {
  // Dense sweep of [-87, 88] (and its count is not a multiple of 8).
  const double step = 1.0 / 4096;
  std::vector<float> x;
  for (double v = -87.0; v <= 88.0; v += step) x.push_back(static_cast<float>(v));
  x.push_back(0.0f);
  x.push_back(-0.0f);
  x.push_back(88.0f);
  while (x.size() % 8 == 0) x.push_back(1.0f);
  const std::vector<float> input = x;
  npuscribe::ops::exp_inplace(x.data(), x.size());
  double worst = 0;
  float worst_at = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    QVERIFY2(std::isfinite(x[i]) && x[i] > 0, QByteArray::number(input[i]).constData());
    const double reference = std::exp(static_cast<double>(input[i]));
    const double relative = std::fabs(x[i] - reference) / reference;
    if (relative > worst) {
      worst = relative;
      worst_at = input[i];
    }
  }
  qInfo("exp_inplace: max relative error %.3g (%.2f x 2^-23) at x = %.9g over %zu values", worst,
        worst / std::ldexp(1.0, -23), static_cast<double>(worst_at), x.size());
  // Measured 8.4e-8 (0.70 x 2^-23) over every 7th float in [-87, 88]; bound 2e-7 = 1.7 x 2^-23.
  QVERIFY2(worst <= 2e-7, QByteArray::number(worst).constData());
}

void TestOps::expCountsAndTails() {
  const std::vector<float> values = normal_values(64, 0.0, 10.0, 3);
  for (std::size_t offset = 0; offset < 3; ++offset) {
    for (std::size_t count = 0; count <= 37; ++count) {
      std::vector<float> x(offset + count + 3, kSentinel);
      std::copy_n(values.begin(), count, x.begin() + static_cast<std::ptrdiff_t>(offset));
      npuscribe::ops::exp_inplace(x.data() + offset, count);
      for (std::size_t i = 0; i < offset; ++i) QCOMPARE(x[i], kSentinel);
      for (std::size_t i = 0; i < count; ++i) {
        const double reference = std::exp(static_cast<double>(values[i]));
        QVERIFY2(std::fabs(x[offset + i] - reference) <= 2e-7 * reference,
                 ("count " + QByteArray::number(static_cast<int>(count)) + " i " +
                  QByteArray::number(static_cast<int>(i)))
                     .constData());
      }
      for (std::size_t i = offset + count; i < x.size(); ++i) QCOMPARE(x[i], kSentinel);
    }
  }
}

void TestOps::expUnderflowAndOverflow() {
  std::vector<float> x = {-88.0f, -88.5f, -89.0f, -100.0f, -1000.0f, -FLT_MAX, -INFINITY, -103.0f, -87.5f};
  npuscribe::ops::exp_inplace(x.data(), x.size());
  for (float v : x) {
    QVERIFY(!std::isnan(v));
    QVERIFY2(v >= 0 && v < 1e-37f, QByteArray::number(v).constData());
  }
  // Large inputs saturate to a huge finite value or inf (documented: "+inf-like"), never NaN.
  std::vector<float> big = {88.5f, 89.0f, 100.0f, 1e10f, FLT_MAX};
  npuscribe::ops::exp_inplace(big.data(), big.size());
  for (float v : big) QVERIFY2(!std::isnan(v) && v >= 1e38f, QByteArray::number(v).constData());
}

// ---------------------------------------------------------------------------------------------------------
// GELU

void TestOps::geluAccuracy() {
  std::vector<float> x;
  for (double v = -12.0; v <= 12.0; v += 1.0 / 8192) x.push_back(static_cast<float>(v));
  const std::vector<float> random = normal_values(100003, 0.0, 3.0, 11);
  x.insert(x.end(), random.begin(), random.end());
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-3f, -1e-3f}) x.push_back(v);
  const std::vector<float> input = x;
  npuscribe::ops::gelu(x.data(), x.size());  // > 4 chunks of 4096: the OpenMP path
  double worst = 0;                          // of |error| / max(1, |x|)
  float worst_at = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    QVERIFY2(std::isfinite(x[i]), QByteArray::number(input[i]).constData());
    const double reference = reference_gelu(input[i]);
    const double scaled =
        std::fabs(x[i] - reference) / std::max(1.0, std::fabs(static_cast<double>(input[i])));
    if (scaled > worst) {
      worst = scaled;
      worst_at = input[i];
    }
  }
  qInfo("gelu: max |error| / max(1, |x|) %.3g at x = %.9g over %zu values", worst,
        static_cast<double>(worst_at), x.size());
  QVERIFY2(worst <= 1e-6, QByteArray::number(worst).constData());
}

void TestOps::geluCountsAndTails() {
  const std::vector<float> values = normal_values(64, 0.0, 2.0, 5);
  for (std::size_t offset = 0; offset < 3; ++offset) {
    for (std::size_t count = 0; count <= 37; ++count) {
      std::vector<float> x(offset + count + 3, kSentinel);
      std::copy_n(values.begin(), count, x.begin() + static_cast<std::ptrdiff_t>(offset));
      npuscribe::ops::gelu(x.data() + offset, count);
      for (std::size_t i = 0; i < offset; ++i) QCOMPARE(x[i], kSentinel);
      for (std::size_t i = 0; i < count; ++i) {
        const double reference = reference_gelu(values[i]);
        QVERIFY(std::fabs(x[offset + i] - reference) <= 1e-6 * std::max(1.0, std::fabs(double{values[i]})));
      }
      for (std::size_t i = offset + count; i < x.size(); ++i) QCOMPARE(x[i], kSentinel);
    }
  }
}

void TestOps::geluLargeInputs() {
  std::vector<float> x = {50.0f, -50.0f, 13.0f, -13.0f, 100.0f, -100.0f, 1e4f, -1e4f, 1e6f, -1e6f, 30.0f};
  const std::vector<float> input = x;
  npuscribe::ops::gelu(x.data(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    QVERIFY2(std::isfinite(x[i]), QByteArray::number(input[i]).constData());
    const double expected = input[i] > 0 ? input[i] : 0.0;
    QVERIFY2(std::fabs(x[i] - expected) <= 1e-6 * std::fabs(double{input[i]}),
             (QByteArray::number(input[i]) + " -> " + QByteArray::number(x[i])).constData());
  }
}

// ---------------------------------------------------------------------------------------------------------
// softmax

void TestOps::softmaxMatchesReference_data() {
  QTest::addColumn<int>("rows");
  QTest::addColumn<int>("cols");
  QTest::addColumn<float>("scale");
  QTest::addColumn<double>("spread");
  QTest::newRow("1 col") << 5 << 1 << 1.0f << 3.0;
  QTest::newRow("7 cols") << 5 << 7 << 1.0f << 3.0;
  QTest::newRow("8 cols") << 5 << 8 << 0.125f << 3.0;
  QTest::newRow("9 cols") << 5 << 9 << 0.3f << 3.0;
  QTest::newRow("448 cols, 40 rows (parallel)") << 40 << 448 << 0.125f << 8.0;
  QTest::newRow("1500 cols") << 6 << 1500 << 0.125f << 8.0;
  QTest::newRow("1501 cols, 20 rows") << 20 << 1501 << 0.3f << 4.0;
  QTest::newRow("1501 cols, peaked") << 3 << 1501 << 1.0f << 20.0;
}

void TestOps::softmaxMatchesReference() {
  QFETCH(int, rows);
  QFETCH(int, cols);
  QFETCH(float, scale);
  QFETCH(double, spread);
  const auto n = static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
  std::vector<float> x = normal_values(n, 2.0, spread, static_cast<std::uint64_t>(rows * 7919 + cols));
  const std::vector<float> input = x;
  npuscribe::ops::softmax_rows(x.data(), rows, cols, scale);
  double worst = 0;
  for (int r = 0; r < rows; ++r) {
    const float* in = input.data() + static_cast<std::size_t>(r) * cols;
    const float* out = x.data() + static_cast<std::size_t>(r) * cols;
    double max_value = -INFINITY;
    for (int c = 0; c < cols; ++c) max_value = std::max(max_value, double{scale} * in[c]);
    double sum = 0;
    for (int c = 0; c < cols; ++c) sum += std::exp(double{scale} * in[c] - max_value);
    double out_sum = 0;
    for (int c = 0; c < cols; ++c) {
      const double reference = std::exp(double{scale} * in[c] - max_value) / sum;
      worst = std::max(worst, std::fabs(out[c] - reference));
      QVERIFY(out[c] >= 0);
      out_sum += out[c];
    }
    QVERIFY2(std::fabs(out_sum - 1.0) <= 1e-6, QByteArray::number(out_sum, 'g', 12).constData());
  }
  QVERIFY2(worst <= 1e-6, QByteArray::number(worst).constData());
}

void TestOps::softmaxCausalMask() {
  // Row r may see columns 0..r+offset; the rest are -inf and must come out exactly 0.
  for (int cols : {1, 7, 9, 24, 1501}) {
    const int rows = std::min(cols, 24);
    const int offset = cols - rows;
    std::vector<float> x = normal_values(static_cast<std::size_t>(rows) * cols, 0.0, 2.0, 99);
    for (int r = 0; r < rows; ++r)
      for (int c = r + offset + 1; c < cols; ++c) x[static_cast<std::size_t>(r) * cols + c] = -INFINITY;
    const std::vector<float> input = x;
    npuscribe::ops::softmax_rows(x.data(), rows, cols, 0.125f);
    for (int r = 0; r < rows; ++r) {
      const float* in = input.data() + static_cast<std::size_t>(r) * cols;
      const float* out = x.data() + static_cast<std::size_t>(r) * cols;
      const int visible = r + offset + 1;
      double max_value = -INFINITY, sum = 0;
      for (int c = 0; c < visible; ++c) max_value = std::max(max_value, 0.125 * in[c]);
      for (int c = 0; c < visible; ++c) sum += std::exp(0.125 * in[c] - max_value);
      for (int c = 0; c < visible; ++c)
        QVERIFY(std::fabs(out[c] - std::exp(0.125 * in[c] - max_value) / sum) <= 1e-6);
      for (int c = visible; c < cols; ++c) {
        if (out[c] != 0.0f)
          QFAIL(("masked entry " + QByteArray::number(r) + "," + QByteArray::number(c) + " = " +
                 QByteArray::number(out[c]))
                    .constData());
      }
    }
  }
}

void TestOps::softmaxFullyMaskedRow() {
  // Documented in ops.cpp: an all -inf row yields zeros (no NaN).
  for (int cols : {1, 8, 13}) {
    std::vector<float> x(static_cast<std::size_t>(cols), -INFINITY);
    npuscribe::ops::softmax_rows(x.data(), 1, cols, 0.125f);
    for (float v : x) QCOMPARE(v, 0.0f);
  }
}

// ---------------------------------------------------------------------------------------------------------
// layer norm

namespace {
// Max |out - reference| of layer_norm over rows x cols with eps 1e-5, all in double.
double layer_norm_error(const std::vector<float>& x, const std::vector<float>& out, int rows, int cols,
                        const std::vector<float>& gamma, const std::vector<float>& beta) {
  double worst = 0;
  for (int r = 0; r < rows; ++r) {
    const float* in = x.data() + static_cast<std::size_t>(r) * cols;
    double mean = 0;
    for (int c = 0; c < cols; ++c) mean += in[c];
    mean /= cols;
    double var = 0;
    for (int c = 0; c < cols; ++c) var += (in[c] - mean) * (in[c] - mean);
    var /= cols;
    const double inv_std = 1.0 / std::sqrt(var + 1e-5);
    for (int c = 0; c < cols; ++c) {
      const double reference =
          (in[c] - mean) * inv_std * gamma[static_cast<std::size_t>(c)] + beta[static_cast<std::size_t>(c)];
      const double actual = out[static_cast<std::size_t>(r) * cols + c];
      if (!std::isfinite(actual)) return INFINITY;
      worst = std::max(worst, std::fabs(actual - reference));
    }
  }
  return worst;
}
}  // namespace

void TestOps::layerNormCentred() {
  for (int cols : {1, 7, 384, 1280}) {
    const int rows = 20;  // > 16: the OpenMP path
    const std::vector<float> x = normal_values(static_cast<std::size_t>(rows) * cols, 0.3, 2.0, 21);
    const std::vector<float> gamma = normal_values(static_cast<std::size_t>(cols), 1.0, 0.2, 22);
    const std::vector<float> beta = normal_values(static_cast<std::size_t>(cols), 0.0, 0.2, 23);
    std::vector<float> out(x.size(), kSentinel);
    npuscribe::ops::layer_norm(x.data(), rows, cols, gamma.data(), beta.data(), out.data());
    const double worst = layer_norm_error(x, out, rows, cols, gamma, beta);
    QVERIFY2(worst <= 1e-5, (QByteArray::number(cols) + " cols: " + QByteArray::number(worst)).constData());
  }
}

void TestOps::layerNormLargeMean() {
  // Rows 1000 + N(0, 1): the mean must be subtracted without losing the digits that matter.
  const int rows = 24, cols = 384;
  const std::vector<float> x = normal_values(static_cast<std::size_t>(rows) * cols, 1000.0, 1.0, 31);
  const std::vector<float> gamma = normal_values(static_cast<std::size_t>(cols), 1.0, 0.2, 32);
  const std::vector<float> beta = normal_values(static_cast<std::size_t>(cols), 0.0, 0.2, 33);
  std::vector<float> out(x.size(), kSentinel);
  npuscribe::ops::layer_norm(x.data(), rows, cols, gamma.data(), beta.data(), out.data());
  const double worst = layer_norm_error(x, out, rows, cols, gamma, beta);
  qInfo("layer_norm, rows 1000 + N(0,1): max abs error %.3g", worst);
  QVERIFY2(worst <= 1e-5, QByteArray::number(worst).constData());
}

void TestOps::layerNormInPlace() {
  const int rows = 3, cols = 37;
  const std::vector<float> x = normal_values(static_cast<std::size_t>(rows) * cols, -1.0, 0.5, 41);
  const std::vector<float> gamma = normal_values(static_cast<std::size_t>(cols), 1.0, 0.2, 42);
  const std::vector<float> beta = normal_values(static_cast<std::size_t>(cols), 0.0, 0.2, 43);
  std::vector<float> inout = x;
  npuscribe::ops::layer_norm(inout.data(), rows, cols, gamma.data(), beta.data(), inout.data());
  QVERIFY(layer_norm_error(x, inout, rows, cols, gamma, beta) <= 1e-5);
}

// ---------------------------------------------------------------------------------------------------------
// linear

void TestOps::linearMatchesReference() {
  double worst_ratio = 0;  // max over cases of max_abs_error / sqrt(K)
  QByteArray worst_case;
  std::vector<QByteArray> failures;
  int cases = 0;
  std::uint64_t seed = 1000;
  for (GgmlType type : {GgmlType::f16, GgmlType::f32}) {
    for (std::size_t misalign : {std::size_t{0}, std::size_t{1}}) {
      for (int k : {8, 37, 384}) {
        for (int n : {1, 5, 64}) {
          const OwnedWeights w = make_weights(type, n, k, misalign, ++seed);
          const std::vector<float> bias = normal_values(static_cast<std::size_t>(n), 0.0, 1.0, ++seed);
          for (int m : {1, 3, 4, 5, 15, 16, 17, 64}) {
            for (bool padded : {false, true}) {
              const int x_stride = padded ? k + 3 : k;
              const int y_stride = padded ? n + 5 : n;
              // x: the padding between rows is NaN, so reading it shows up in the result.
              std::vector<float> x(static_cast<std::size_t>(m) * x_stride, NAN);
              const std::vector<float> values =
                  normal_values(static_cast<std::size_t>(m) * k, 0.0, 1.0, ++seed);
              for (int r = 0; r < m; ++r)
                for (int c = 0; c < k; ++c)
                  x[static_cast<std::size_t>(r) * x_stride + c] = values[static_cast<std::size_t>(r) * k + c];
              const std::vector<float> y0 =
                  normal_values(static_cast<std::size_t>(m) * y_stride, 0.0, 1.0, ++seed);
              for (bool with_bias : {false, true}) {
                for (bool accumulate : {false, true}) {
                  std::vector<float> y = y0;
                  for (int r = 0; r < m; ++r)
                    for (int c = n; c < y_stride; ++c)
                      y[static_cast<std::size_t>(r) * y_stride + c] = kSentinel;
                  std::vector<float> y_before = y;
                  npuscribe::ops::linear(x.data(), m, x_stride, w.matrix, with_bias ? bias.data() : nullptr,
                                         y.data(), y_stride, accumulate);
                  ++cases;
                  const QByteArray label = QByteArray(type == GgmlType::f16 ? "f16" : "f32") +
                                           (misalign ? " odd-address" : "") + " m=" + QByteArray::number(m) +
                                           " K=" + QByteArray::number(k) + " N=" + QByteArray::number(n) +
                                           (padded ? " strided" : "") + (with_bias ? " bias" : "") +
                                           (accumulate ? " accumulate" : "");
                  double max_error = 0;
                  bool padding_intact = true;
                  for (int r = 0; r < m; ++r) {
                    for (int j = 0; j < n; ++j) {
                      double reference = 0;
                      for (int c = 0; c < k; ++c)
                        reference += double{values[static_cast<std::size_t>(r) * k + c]} *
                                     w.widened[static_cast<std::size_t>(j) * k + c];
                      if (with_bias) reference += bias[static_cast<std::size_t>(j)];
                      const std::size_t at = static_cast<std::size_t>(r) * y_stride + j;
                      if (accumulate) reference += y_before[at];
                      const double error = std::fabs(y[at] - reference);
                      max_error = std::isfinite(y[at]) ? std::max(max_error, error) : INFINITY;
                    }
                    for (int c = n; c < y_stride; ++c)
                      padding_intact =
                          padding_intact && y[static_cast<std::size_t>(r) * y_stride + c] == kSentinel;
                  }
                  const double ratio = max_error / std::sqrt(static_cast<double>(k));
                  if (ratio > 1e-4 || !padding_intact) {
                    failures.push_back(label + ": max abs error " + QByteArray::number(max_error) +
                                       (padding_intact ? "" : ", wrote into y's row padding"));
                  } else if (ratio > worst_ratio) {
                    worst_ratio = ratio;
                    worst_case = label;
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  qInfo("linear: %d cases, %zu failed; max abs error / sqrt(K) of the others %.3g (%s)", cases,
        failures.size(), worst_ratio, worst_case.constData());
  for (std::size_t i = 0; i < std::min<std::size_t>(failures.size(), 6); ++i)
    qWarning("%s", failures[i].constData());
  QVERIFY2(failures.empty(),
           (QByteArray::number(static_cast<int>(failures.size())) + " of " + QByteArray::number(cases) +
            " cases wrong, e.g. " + (failures.empty() ? QByteArray() : failures.front()))
               .constData());
}

void TestOps::linearZeroRows() {
  const OwnedWeights w = make_weights(GgmlType::f16, 5, 8, 0, 77);
  std::vector<float> y(5, kSentinel);
  const float x[8] = {};
  npuscribe::ops::linear(x, 0, 8, w.matrix, nullptr, y.data(), 5);
  for (float v : y) QCOMPARE(v, kSentinel);
}

void TestOps::linearDefaultStrides() {
  // The overload without strides: x stride K, y stride N; sgemm (m = 20) and small-m (m = 2).
  const int k = 24, n = 10;
  const OwnedWeights w = make_weights(GgmlType::f16, n, k, 0, 78);
  const std::vector<float> bias = normal_values(static_cast<std::size_t>(n), 0.0, 1.0, 79);
  for (int m : {2, 20}) {
    const std::vector<float> x = normal_values(static_cast<std::size_t>(m) * k, 0.0, 1.0, 80);
    std::vector<float> y(static_cast<std::size_t>(m) * n, kSentinel);
    npuscribe::ops::linear(x.data(), m, w.matrix, bias.data(), y.data());
    for (int r = 0; r < m; ++r) {
      for (int j = 0; j < n; ++j) {
        double reference = bias[static_cast<std::size_t>(j)];
        for (int c = 0; c < k; ++c)
          reference +=
              double{x[static_cast<std::size_t>(r) * k + c]} * w.widened[static_cast<std::size_t>(j) * k + c];
        QVERIFY(std::fabs(y[static_cast<std::size_t>(r) * n + j] - reference) <= 1e-4 * std::sqrt(double{k}));
      }
    }
  }
}

void TestOps::widenRows() {
  for (GgmlType type : {GgmlType::f16, GgmlType::f32}) {
    for (std::size_t misalign : {std::size_t{0}, std::size_t{1}, std::size_t{2}}) {
      for (int cols : {1, 7, 8, 37, 384}) {
        const int rows = 100;  // > 64 rows widened at once: the OpenMP path
        const OwnedWeights w =
            make_weights(type, rows, cols, misalign, 500 + static_cast<std::uint64_t>(cols));
        for (auto [begin, end] : {std::pair{0, rows}, std::pair{3, 4}, std::pair{17, 90}, std::pair{5, 5}}) {
          const std::size_t count = static_cast<std::size_t>(end - begin) * static_cast<std::size_t>(cols);
          std::vector<float> out(count + 1, kSentinel);
          npuscribe::ops::widen_rows(w.matrix, begin, end, out.data());
          for (std::size_t i = 0; i < count; ++i) {
            const std::size_t source = static_cast<std::size_t>(begin) * static_cast<std::size_t>(cols) + i;
            float expected;
            if (type == GgmlType::f16) {
              std::uint16_t h;
              std::memcpy(&h, w.matrix.data + 2 * source, 2);
              expected = npuscribe::f16_to_f32(h);
            } else {
              std::memcpy(&expected, w.matrix.data + 4 * source, 4);
            }
            QVERIFY(float_bits(out[i]) == float_bits(expected));
            QVERIFY(double{out[i]} == w.widened[source]);
          }
          QCOMPARE(out[count], kSentinel);
        }
      }
    }
  }
}

void TestOps::addBiasRows() {
  for (int rows : {1, 3, 70}) {
    const int cols = 13;
    const std::vector<float> x0 = normal_values(static_cast<std::size_t>(rows) * cols, 0.0, 1.0, 61);
    const std::vector<float> bias = normal_values(static_cast<std::size_t>(cols), 0.0, 1.0, 62);
    std::vector<float> x = x0;
    npuscribe::ops::add_bias_rows(x.data(), rows, cols, bias.data());
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) {
        const std::size_t at = static_cast<std::size_t>(r) * cols + c;
        QCOMPARE(x[at], x0[at] + bias[static_cast<std::size_t>(c)]);  // one float addition: exact expectation
      }
  }
}

void TestOps::sgemmThroughput() {
  const double gflops = npuscribe::ops::measure_sgemm_gflops(64, 96, 128, 3);
  qInfo("measure_sgemm_gflops(64, 96, 128, 3) = %.2f GFLOP/s", gflops);
  QVERIFY(std::isfinite(gflops));
  QVERIFY(gflops > 0);
}

QTEST_GUILESS_MAIN(TestOps)
#include "test_ops.moc"
