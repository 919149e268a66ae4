// Quantised weights (core/model/quant, the quantised paths of core/ops): dequantisation bit-exact against
// ggml's own to_float dumps and against hand-built blocks evaluated with the fixture README's formulas,
// widen_rows and linear on quantised matrices, and the loader keeping quantised weights as stored.
#include <QObject>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "model/ggml_file.h"
#include "model/quant.h"
#include "model/whisper_model.h"
#include "ops/ops.h"
#include "test_support.h"
#include "util/error.h"
#include "util/f16.h"

namespace {

using npuscribe::GgmlType;
using npuscribe::WeightMatrix;

constexpr GgmlType kQuantTypes[] = {GgmlType::q4_0, GgmlType::q4_1, GgmlType::q5_0, GgmlType::q5_1,
                                    GgmlType::q8_0};
constexpr float kSentinel = 12345.678f;

std::uint32_t float_bits(float f) {
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  return bits;
}

int block_bytes(GgmlType type) {
  int elements = 0, bytes = 0;
  npuscribe::ggml_type_layout(static_cast<std::int32_t>(type), &elements, &bytes);
  return bytes;
}

bool has_offset(GgmlType type) {
  return type == GgmlType::q4_1 || type == GgmlType::q5_1;
}
bool has_fifth_bit(GgmlType type) {
  return type == GgmlType::q5_0 || type == GgmlType::q5_1;
}

// Independent binary16 -> value (no use of the library's converter).
double f16_value(std::uint16_t h) {
  const bool negative = (h & 0x8000u) != 0;
  const int e = (h >> 10) & 0x1F;
  const int m = h & 0x3FF;
  const double magnitude =
      e == 0 ? std::ldexp(static_cast<double>(m), -24) : std::ldexp(static_cast<double>(1024 + m), e - 25);
  return negative ? -magnitude : magnitude;
}

// Fields of one block, in README terms: q[j] is the stored unsigned integer (nibble, nibble + 16 x high bit,
// or the int8 of q8_0).
struct BlockFields {
  std::uint16_t d = 0;
  std::uint16_t m = 0;
  int q[32] = {};
};

// Lays the fields out as the README describes (little-endian, byte i: element i low nibble, i + 16 high).
void encode_block(GgmlType type, const BlockFields& fields, std::byte* out) {
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(block_bytes(type)), 0);
  bytes[0] = static_cast<std::uint8_t>(fields.d & 0xFF);
  bytes[1] = static_cast<std::uint8_t>(fields.d >> 8);
  std::size_t at = 2;
  if (has_offset(type)) {
    bytes[2] = static_cast<std::uint8_t>(fields.m & 0xFF);
    bytes[3] = static_cast<std::uint8_t>(fields.m >> 8);
    at = 4;
  }
  if (type == GgmlType::q8_0) {
    for (int j = 0; j < 32; ++j)
      bytes[at + j] = static_cast<std::uint8_t>(static_cast<std::int8_t>(fields.q[j]));
  } else {
    if (has_fifth_bit(type)) {
      std::uint32_t high = 0;
      for (int j = 0; j < 32; ++j) high |= static_cast<std::uint32_t>((fields.q[j] >> 4) & 1) << j;
      for (int b = 0; b < 4; ++b) bytes[at + b] = static_cast<std::uint8_t>(high >> (8 * b));
      at += 4;
    }
    for (int i = 0; i < 16; ++i)
      bytes[at + i] = static_cast<std::uint8_t>((fields.q[i] & 0x0F) | ((fields.q[i + 16] & 0x0F) << 4));
  }
  std::memcpy(out, bytes.data(), bytes.size());
}

// The README's formulas, evaluated exactly in double and rounded once to float32.
float reference_element(GgmlType type, const BlockFields& fields, int j) {
  const double d = f16_value(fields.d);
  switch (type) {
    case GgmlType::q8_0:
      return static_cast<float>(fields.q[j] * d);
    case GgmlType::q4_0:
      return static_cast<float>((fields.q[j] - 8) * d);
    case GgmlType::q5_0:
      return static_cast<float>((fields.q[j] - 16) * d);
    case GgmlType::q4_1:
    case GgmlType::q5_1:
      return static_cast<float>(fields.q[j] * d + f16_value(fields.m));
    default:
      return NAN;
  }
}

std::uint16_t random_f16(std::mt19937_64& random, double low, double high, bool allow_negative) {
  std::uniform_real_distribution<double> magnitude(low, high);
  float value = static_cast<float>(magnitude(random));
  if (allow_negative && (random() & 1)) value = -value;
  return npuscribe::f32_to_f16(value);
}

BlockFields random_fields(GgmlType type, std::mt19937_64& random) {
  BlockFields fields;
  fields.d = random_f16(random, 0.001, 0.2, true);
  fields.m = random_f16(random, 0.001, 2.0, true);
  const int q_max = type == GgmlType::q8_0 ? 255 : has_fifth_bit(type) ? 31 : 15;
  for (int j = 0; j < 32; ++j) {
    fields.q[j] = static_cast<int>(random() % static_cast<std::uint64_t>(q_max + 1));
    if (type == GgmlType::q8_0) fields.q[j] -= 128;
  }
  return fields;
}

// A quantised matrix in owned storage at a chosen misalignment, with its exact values as double.
struct QuantWeights {
  std::vector<std::byte> storage;
  WeightMatrix matrix;
  std::vector<double> values;  // rows x cols
};

QuantWeights make_quant_weights(GgmlType type, int rows, int cols, std::size_t misalign, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  QuantWeights w;
  const int blocks_per_row = cols / 32;
  const std::size_t bytes = static_cast<std::size_t>(rows) * blocks_per_row * block_bytes(type);
  w.storage.resize(bytes + misalign + 16);
  w.values.resize(static_cast<std::size_t>(rows) * cols);
  std::byte* base = w.storage.data() + misalign;
  for (int r = 0; r < rows; ++r) {
    for (int b = 0; b < blocks_per_row; ++b) {
      BlockFields fields = random_fields(type, random);
      // Realistic offsets: m close to -q_mid d, as the quantizer makes them (the "+ m" then cancels).
      if (has_offset(type) && (b % 2 == 0)) {
        const double mid = type == GgmlType::q5_1 ? 15.5 : 7.5;
        fields.m = npuscribe::f32_to_f16(static_cast<float>(-mid * f16_value(fields.d)));
      }
      const std::size_t index = static_cast<std::size_t>(r) * blocks_per_row + b;
      encode_block(type, fields, base + index * block_bytes(type));
      for (int j = 0; j < 32; ++j)
        w.values[static_cast<std::size_t>(r) * cols + b * 32 + j] = reference_element(type, fields, j);
    }
  }
  w.matrix.type = type;
  w.matrix.rows = rows;
  w.matrix.cols = cols;
  w.matrix.data = base;
  w.matrix.name = "test.quantised.weight";
  return w;
}

std::vector<float> normal_values(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<float> values(count);
  for (float& v : values) v = static_cast<float>(normal(random));
  return values;
}

}  // namespace

class TestQuant : public QObject {
  Q_OBJECT

 private slots:
  void isQuantized();
  void dequantizeMatchesGgmlDumps_data();
  void dequantizeMatchesGgmlDumps();
  void handBuiltBlocksHandPicked();
  void handBuiltBlocksFollowTheFormulas_data();
  void handBuiltBlocksFollowTheFormulas();
  void dequantizeRejectsPartialBlocks();
  void widenRowsEqualsDequantizeRow_data();
  void widenRowsEqualsDequantizeRow();
  void linearMatchesReference_data();
  void linearMatchesReference();
  void quantisedModelKeepsWeightsAsStored_data();
  void quantisedModelKeepsWeightsAsStored();
};

void TestQuant::isQuantized() {
  for (GgmlType type : kQuantTypes) QVERIFY(npuscribe::is_quantized(type));
  QVERIFY(!npuscribe::is_quantized(GgmlType::f32));
  QVERIFY(!npuscribe::is_quantized(GgmlType::f16));
}

void TestQuant::dequantizeMatchesGgmlDumps_data() {
  QTest::addColumn<QString>("model");
  QTest::addColumn<QString>("tensor");
  QTest::addColumn<int>("type_id");
  QTest::addColumn<int>("rows");
  for (const char* type : {"q8_0", "q5_1"}) {
    const int type_id = std::string(type) == "q8_0" ? 8 : 7;
    QTest::addRow("%s encoder.blocks.0.attn.query", type)
        << QString("ggml-tiny.en-random-%1.bin").arg(type) << "encoder.blocks.0.attn.query.weight" << type_id
        << 384;
    QTest::addRow("%s decoder.blocks.0.mlp.0", type) << QString("ggml-tiny.en-random-%1.bin").arg(type)
                                                     << "decoder.blocks.0.mlp.0.weight" << type_id << 1536;
  }
}

// ggml's to_float of two tensors per file: every bit must match, whole tensor at once and row by row from
// every source alignment.
void TestQuant::dequantizeMatchesGgmlDumps() {
  QFETCH(QString, model);
  QFETCH(QString, tensor);
  QFETCH(int, type_id);
  QFETCH(int, rows);
  const int cols = 384;
  const auto file = npuscribe::GgmlModelFile::open(npuscribe::test::fixture(model.toStdString()));
  const npuscribe::TensorRecord* record = file->find(tensor.toStdString());
  QVERIFY(record);
  QCOMPARE(static_cast<int>(record->type), type_id);
  QCOMPARE(record->ne[0], std::int64_t{cols});
  QCOMPARE(record->ne[1], std::int64_t{rows});
  const std::string type_name(npuscribe::ggml_type_name(record->type));
  const std::vector<float> reference = npuscribe::test::read_f32_file(
      npuscribe::test::fixture("deq-" + type_name + "." + tensor.toStdString() + ".f32"),
      static_cast<std::size_t>(rows) * cols);

  auto count_mismatches = [&](const std::vector<float>& ours) {
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < ours.size(); ++i)
      mismatches += float_bits(ours[i]) != float_bits(reference[i]);
    return mismatches;
  };

  std::vector<float> whole(reference.size(), kSentinel);
  npuscribe::dequantize_row(record->type, record->data, whole.data(), record->element_count());
  QCOMPARE(count_mismatches(whole), std::size_t{0});
  QVERIFY(std::memcmp(whole.data(), reference.data(), reference.size() * sizeof(float)) == 0);

  // Row by row from copies at every offset mod 8 (the mapping itself gives whatever the file layout gives).
  const std::size_t row_bytes = record->data_bytes / static_cast<std::size_t>(rows);
  for (std::size_t misalign = 0; misalign < 8; ++misalign) {
    std::vector<std::byte> copy(record->data_bytes + misalign);
    std::memcpy(copy.data() + misalign, record->data, record->data_bytes);
    std::vector<float> by_row(reference.size(), kSentinel);
    for (int r = 0; r < rows; ++r) {
      npuscribe::dequantize_row(record->type, copy.data() + misalign + r * row_bytes,
                                by_row.data() + static_cast<std::size_t>(r) * cols, cols);
    }
    QVERIFY2(
        std::memcmp(by_row.data(), reference.data(), reference.size() * sizeof(float)) == 0,
        qPrintable(QString("misalignment %1: %2 values differ").arg(misalign).arg(count_mismatches(by_row))));
  }
  double abs_sum = 0;
  for (float v : reference) abs_sum += std::fabs(v);
  qInfo("%s %s: %zu values bit-exact (abs sum %.3f)", type_name.c_str(), qPrintable(tensor), reference.size(),
        abs_sum);
}

// A few blocks with values worked out by hand from the README's formulas.
void TestQuant::handBuiltBlocksHandPicked() {
  // f16 0xB800 = -0.5, 0x3800 = 0.5, 0x3C00 = 1.0, 0xBC00 = -1.0, 0x3555 = 0.333251953125.
  std::byte block[34];
  float out[32];
  {
    // q4_0, d = -0.5: nibble 0 -> (0 - 8) * -0.5 = 4, nibble 15 -> (15 - 8) * -0.5 = -3.5, nibble 8 -> 0.
    BlockFields fields;
    fields.d = 0xB800;
    for (int j = 0; j < 32; ++j) fields.q[j] = 8;
    fields.q[0] = 0;
    fields.q[16] = 15;
    fields.q[5] = 3;  // (3 - 8) * -0.5 = 2.5
    encode_block(GgmlType::q4_0, fields, block);
    QCOMPARE(std::to_integer<int>(block[2]), 0xF0);  // byte 0: element 0 (low nibble 0), element 16 (high 15)
    npuscribe::dequantize_row(GgmlType::q4_0, block, out, 32);
    QCOMPARE(out[0], 4.0f);
    QCOMPARE(out[16], -3.5f);
    QCOMPARE(out[5], 2.5f);
    QCOMPARE(out[1], 0.0f);
  }
  {
    // q4_1, d = 0.5, m = -1: q * 0.5 - 1.
    BlockFields fields;
    fields.d = 0x3800;
    fields.m = 0xBC00;
    for (int j = 0; j < 32; ++j) fields.q[j] = j % 16;
    encode_block(GgmlType::q4_1, fields, block);
    npuscribe::dequantize_row(GgmlType::q4_1, block, out, 32);
    QCOMPARE(out[0], -1.0f);
    QCOMPARE(out[15], 6.5f);
    QCOMPARE(out[19], 0.5f);
  }
  {
    // q5_0, d = -1: (q - 16) * -1; the fifth bit lifts element 3 from 2 to 18 (-> -2) and element 20 from
    // 15 to 31 (-> -15); without it, 2 -> 14 and 15 -> 1.
    BlockFields fields;
    fields.d = 0xBC00;
    for (int j = 0; j < 32; ++j) fields.q[j] = 16;
    fields.q[3] = 18;
    fields.q[4] = 2;
    fields.q[20] = 31;
    fields.q[21] = 15;
    encode_block(GgmlType::q5_0, fields, block);
    std::uint32_t high;
    std::memcpy(&high, block + 2, 4);
    QCOMPARE(high & ((1u << 3) | (1u << 4) | (1u << 20) | (1u << 21)), (1u << 3) | (1u << 20));
    npuscribe::dequantize_row(GgmlType::q5_0, block, out, 32);
    QCOMPARE(out[3], -2.0f);
    QCOMPARE(out[4], 14.0f);
    QCOMPARE(out[20], -15.0f);
    QCOMPARE(out[21], 1.0f);
    QCOMPARE(out[0], 0.0f);
  }
  {
    // q5_1, d = 1/3 (f16 0x3555 = 0.333251953125), m = -0.5: 31 d + m = 9.830810546875 (exact in float).
    BlockFields fields;
    fields.d = 0x3555;
    fields.m = 0xB800;
    for (int j = 0; j < 32; ++j) fields.q[j] = 0;
    fields.q[31] = 31;
    fields.q[16] = 16;
    encode_block(GgmlType::q5_1, fields, block);
    npuscribe::dequantize_row(GgmlType::q5_1, block, out, 32);
    QCOMPARE(out[0], -0.5f);
    QCOMPARE(out[31], 9.830810546875f);
    QCOMPARE(out[16], 4.83203125f);  // 16 * 0.333251953125 - 0.5
  }
  {
    // q8_0, d = -0.5: -128 -> 64, 127 -> -63.5.
    BlockFields fields;
    fields.d = 0xB800;
    fields.q[0] = -128;
    fields.q[31] = 127;
    encode_block(GgmlType::q8_0, fields, block);
    npuscribe::dequantize_row(GgmlType::q8_0, block, out, 32);
    QCOMPARE(out[0], 64.0f);
    QCOMPARE(out[31], -63.5f);
    QCOMPARE(out[1], 0.0f);
  }
}

void TestQuant::handBuiltBlocksFollowTheFormulas_data() {
  QTest::addColumn<int>("type_id");
  for (GgmlType type : kQuantTypes)
    QTest::addRow("%s", std::string(npuscribe::ggml_type_name(type)).c_str()) << static_cast<int>(type);
}

// Many random blocks (negative and positive d and m, every fifth-bit pattern, extreme scales where the "+ m"
// rounds) against the README's formulas, bit for bit, from unaligned storage.
void TestQuant::handBuiltBlocksFollowTheFormulas() {
  QFETCH(int, type_id);
  const auto type = static_cast<GgmlType>(type_id);
  std::mt19937_64 random(4242 + static_cast<std::uint64_t>(type_id));
  const int block_count = 257;
  const std::size_t bytes = static_cast<std::size_t>(block_count) * block_bytes(type);
  std::vector<BlockFields> blocks(block_count);
  for (int b = 0; b < block_count; ++b) {
    blocks[b] = random_fields(type, random);
    if (b % 7 == 3) blocks[b].d = random_f16(random, 100.0, 60000.0, true);  // large scale
    if (b % 7 == 4)
      blocks[b].d = static_cast<std::uint16_t>(random() % 0x400 | (random() & 0x8000));  // subnormal
    if (b % 7 == 5) blocks[b].m = random_f16(random, 1e-4, 1e-3, true);  // tiny offset: rounds
    if (b % 7 == 6) blocks[b].d = 0;
  }
  // Fifth bits: all clear, all set, and each single bit.
  if (has_fifth_bit(type)) {
    for (int j = 0; j < 32; ++j) blocks[0].q[j] &= 0x0F, blocks[1].q[j] |= 0x10;
    for (int bit = 0; bit < 32; ++bit)
      for (int j = 0; j < 32; ++j)
        blocks[2 + bit].q[j] = (blocks[2 + bit].q[j] & 0x0F) | (j == bit ? 0x10 : 0);
  }
  std::size_t checked = 0, rounded = 0;
  for (std::size_t misalign : {std::size_t{0}, std::size_t{1}, std::size_t{3}}) {
    std::vector<std::byte> storage(bytes + misalign);
    for (int b = 0; b < block_count; ++b)
      encode_block(type, blocks[b],
                   storage.data() + misalign + static_cast<std::size_t>(b) * block_bytes(type));
    std::vector<float> out(static_cast<std::size_t>(block_count) * 32 + 1, kSentinel);
    npuscribe::dequantize_row(type, storage.data() + misalign, out.data(), block_count * 32);
    QCOMPARE(out.back(), kSentinel);
    for (int b = 0; b < block_count; ++b) {
      for (int j = 0; j < 32; ++j) {
        const float expected = reference_element(type, blocks[b], j);
        const float got = out[static_cast<std::size_t>(b) * 32 + j];
        if (float_bits(got) != float_bits(expected)) {
          QFAIL(qPrintable(QString("block %1 element %2 (q %3): got %4, expected %5")
                               .arg(b)
                               .arg(j)
                               .arg(blocks[b].q[j])
                               .arg(double{got}, 0, 'g', 9)
                               .arg(double{expected}, 0, 'g', 9)));
        }
        if (has_offset(type) && misalign == 0) {
          const double exact = blocks[b].q[j] * f16_value(blocks[b].d) + f16_value(blocks[b].m);
          rounded += double{expected} != exact;
        }
        ++checked;
      }
    }
  }
  if (has_offset(type)) QVERIFY2(rounded > 0, "no block exercised the rounding of q * d + m");
  qInfo("%zu elements bit-exact (%zu where q * d + m rounds)", checked, rounded);
}

void TestQuant::dequantizeRejectsPartialBlocks() {
  std::byte block[34] = {};
  float out[33];
  QVERIFY_THROWS_EXCEPTION(npuscribe::Error, npuscribe::dequantize_row(GgmlType::q8_0, block, out, 31));
}

void TestQuant::widenRowsEqualsDequantizeRow_data() {
  QTest::addColumn<int>("type_id");
  for (GgmlType type : kQuantTypes)
    QTest::addRow("%s", std::string(npuscribe::ggml_type_name(type)).c_str()) << static_cast<int>(type);
}

void TestQuant::widenRowsEqualsDequantizeRow() {
  QFETCH(int, type_id);
  const auto type = static_cast<GgmlType>(type_id);
  for (std::size_t misalign : {std::size_t{0}, std::size_t{1}, std::size_t{2}}) {
    for (int cols : {32, 64, 384}) {
      const int rows = 100;  // > 64 rows widened at once: the OpenMP path
      const QuantWeights w =
          make_quant_weights(type, rows, cols, misalign, 900 + static_cast<std::uint64_t>(cols));
      QCOMPARE(w.matrix.row_bytes(), static_cast<std::size_t>(cols / 32 * block_bytes(type)));
      for (auto [begin, end] : {std::pair{0, rows}, std::pair{3, 4}, std::pair{17, 90}, std::pair{5, 5}}) {
        const std::size_t count = static_cast<std::size_t>(end - begin) * static_cast<std::size_t>(cols);
        std::vector<float> out(count + 1, kSentinel);
        npuscribe::ops::widen_rows(w.matrix, begin, end, out.data());
        QCOMPARE(out[count], kSentinel);
        std::vector<float> expected(count + 1, kSentinel);
        for (int r = begin; r < end; ++r) {
          npuscribe::dequantize_row(type, w.matrix.data + static_cast<std::size_t>(r) * w.matrix.row_bytes(),
                                    expected.data() + static_cast<std::size_t>(r - begin) * cols, cols);
        }
        QVERIFY(std::memcmp(out.data(), expected.data(), count * sizeof(float)) == 0);
        for (std::size_t i = 0; i < count; ++i)
          QCOMPARE(double{out[i]}, w.values[static_cast<std::size_t>(begin) * cols + i]);
      }
    }
  }
}

void TestQuant::linearMatchesReference_data() {
  QTest::addColumn<int>("type_id");
  for (GgmlType type : kQuantTypes)
    QTest::addRow("%s", std::string(npuscribe::ggml_type_name(type)).c_str()) << static_cast<int>(type);
}

// y = x W^T + b with quantised W against a double product over the exactly dequantised weights: m = 1, 2
// (fused kernel), 5, 15 (dequantised row blocks), 16, 40 (sgemm on widened weights). The error of each
// output must stay below 1e-4 of sum_k |x_k w_k| + |b| + |y_before| (float32 rounding of the sum, with
// margin); a wrong block, scale, offset or row gives errors of order 1.
void TestQuant::linearMatchesReference() {
  QFETCH(int, type_id);
  const auto type = static_cast<GgmlType>(type_id);
  std::uint64_t seed = 7000 + static_cast<std::uint64_t>(type_id) * 1000;
  double worst_ratio = 0;
  int cases = 0;
  for (std::size_t misalign : {std::size_t{0}, std::size_t{1}}) {
    for (int k : {32, 384, 1536}) {
      for (int n : {1, 5, 64, 259}) {
        if (k == 1536 && n == 259) continue;
        const QuantWeights w = make_quant_weights(type, n, k, misalign, ++seed);
        const std::vector<float> bias = normal_values(static_cast<std::size_t>(n), ++seed);
        for (int m : {1, 2, 5, 15, 16, 40}) {
          for (bool padded : {false, true}) {
            const int x_stride = padded ? k + 3 : k;
            const int y_stride = padded ? n + 5 : n;
            std::vector<float> x(static_cast<std::size_t>(m) * x_stride,
                                 NAN);  // NaN padding must not be read
            const std::vector<float> values = normal_values(static_cast<std::size_t>(m) * k, ++seed);
            for (int r = 0; r < m; ++r)
              for (int c = 0; c < k; ++c)
                x[static_cast<std::size_t>(r) * x_stride + c] = values[static_cast<std::size_t>(r) * k + c];
            const std::vector<float> y0 = normal_values(static_cast<std::size_t>(m) * y_stride, ++seed);
            for (int variant = 0; variant < 3; ++variant) {
              const bool with_bias = variant != 0;
              const bool accumulate = variant == 2;
              std::vector<float> y = y0;
              for (int r = 0; r < m; ++r)
                for (int c = n; c < y_stride; ++c) y[static_cast<std::size_t>(r) * y_stride + c] = kSentinel;
              const std::vector<float> y_before = y;
              npuscribe::ops::linear(x.data(), m, x_stride, w.matrix, with_bias ? bias.data() : nullptr,
                                     y.data(), y_stride, accumulate);
              ++cases;
              for (int r = 0; r < m; ++r) {
                for (int j = 0; j < n; ++j) {
                  double reference = 0, scale = 0;
                  for (int c = 0; c < k; ++c) {
                    const double term = double{values[static_cast<std::size_t>(r) * k + c]} *
                                        w.values[static_cast<std::size_t>(j) * k + c];
                    reference += term;
                    scale += std::fabs(term);
                  }
                  if (with_bias) reference += bias[static_cast<std::size_t>(j)], scale += std::fabs(bias[j]);
                  const std::size_t at = static_cast<std::size_t>(r) * y_stride + j;
                  if (accumulate) reference += y_before[at], scale += std::fabs(y_before[at]);
                  const double ratio = std::fabs(y[at] - reference) / scale;
                  if (!(ratio <= 1e-4)) {
                    QFAIL(qPrintable(QString("m=%1 K=%2 N=%3%4%5%6%7: y[%8][%9] = %10, reference %11")
                                         .arg(m)
                                         .arg(k)
                                         .arg(n)
                                         .arg(misalign ? " odd-address" : "")
                                         .arg(padded ? " strided" : "")
                                         .arg(with_bias ? " bias" : "")
                                         .arg(accumulate ? " accumulate" : "")
                                         .arg(r)
                                         .arg(j)
                                         .arg(double{y[at]}, 0, 'g', 9)
                                         .arg(reference, 0, 'g', 9)));
                  }
                  worst_ratio = std::max(worst_ratio, ratio);
                }
                for (int c = n; c < y_stride; ++c)
                  QCOMPARE(y[static_cast<std::size_t>(r) * y_stride + c], kSentinel);
              }
            }
          }
        }
      }
    }
  }
  qInfo("%d cases; worst |error| / sum|x w| %.3g", cases, worst_ratio);
}

void TestQuant::quantisedModelKeepsWeightsAsStored_data() {
  QTest::addColumn<QString>("model");
  QTest::addColumn<int>("type_id");
  QTest::addRow("q5_1") << "ggml-tiny.en-random-q5_1.bin" << 7;
  QTest::addRow("q8_0") << "ggml-tiny.en-random-q8_0.bin" << 8;
}

// Loading must not widen anything: every weight matrix keeps its stored type and points into the mapping.
void TestQuant::quantisedModelKeepsWeightsAsStored() {
  QFETCH(QString, model);
  QFETCH(int, type_id);
  const auto loaded = npuscribe::WhisperModel::load(npuscribe::test::fixture(model.toStdString()));
  const auto expected_type = static_cast<GgmlType>(type_id);
  int quantised = 0;
  auto check = [&](const WeightMatrix& w, GgmlType type) {
    const npuscribe::TensorRecord* record = loaded->file().find(w.name);
    QVERIFY2(record, w.name.c_str());
    QCOMPARE(w.type, type);
    QCOMPARE(record->type, type);
    QVERIFY2(w.data == record->data, w.name.c_str());
    QCOMPARE(static_cast<std::uint64_t>(w.row_bytes()) * static_cast<std::uint64_t>(w.rows),
             record->data_bytes);
    quantised += npuscribe::is_quantized(type);
  };
  auto check_attention = [&](const npuscribe::AttentionWeights& a) {
    for (const WeightMatrix* w : {&a.query, &a.key, &a.value, &a.out}) check(*w, expected_type);
  };
  const auto& encoder = loaded->encoder();
  check(encoder.conv1, GgmlType::f16);
  check(encoder.conv2, GgmlType::f16);
  for (const auto& block : encoder.blocks) {
    check_attention(block.attn);
    check(block.mlp.up, expected_type);
    check(block.mlp.down, expected_type);
  }
  const auto& decoder = loaded->decoder();
  check(decoder.token_embedding, expected_type);
  for (const auto& block : decoder.blocks) {
    check_attention(block.attn);
    check_attention(block.cross_attn);
    check(block.mlp.up, expected_type);
    check(block.mlp.down, expected_type);
  }
  QCOMPARE(quantised, 65);  // README: 1 + 4 x 6 + 4 x 10 quantised tensors in tiny.en
  // The token-embedding lookup (widen_rows on one row) gives ggml's dequantisation of that row.
  const WeightMatrix& embedding = decoder.token_embedding;
  std::vector<float> row(static_cast<std::size_t>(embedding.cols)), expected(row.size());
  for (int token : {0, 50257, embedding.rows - 1}) {
    npuscribe::ops::widen_rows(embedding, token, token + 1, row.data());
    npuscribe::dequantize_row(embedding.type,
                              embedding.data + static_cast<std::size_t>(token) * embedding.row_bytes(),
                              expected.data(), embedding.cols);
    QVERIFY(std::memcmp(row.data(), expected.data(), row.size() * sizeof(float)) == 0);
  }
}

QTEST_GUILESS_MAIN(TestQuant)
#include "test_quant.moc"
