// Weight quantisation at load (per-output-channel symmetric int8 from f32 and f16 weights) and the dynamic
// activation quantisation kernel (per token, per tensor), against values worked out independently here.
#include <QtTest>

#include <cmath>
#include <cstring>

#include "backend/npu/npu_backend.h"
#include "mm_int8.h"
#include "util/f16.h"

using namespace npuscribe;

class TestNpuQuantize : public QObject {
  Q_OBJECT

 private slots:
  void weights_per_output_channel_f32() {
    // Row 0: max |w| = 2.54 -> scale 0.02; row 1 all zero; row 2: max 127 -> scale 1.
    const std::vector<float> w = {2.54f,   -1.27f, 0.01f, 0.03f,  //
                                  0.0f,    0.0f,   0.0f,  0.0f,   //
                                  -127.0f, 63.5f,  0.5f,  1.5f};
    WeightMatrix m;
    m.type = GgmlType::f32;
    m.rows = 3;
    m.cols = 4;
    m.data = reinterpret_cast<const std::byte*>(w.data());
    std::vector<std::int8_t> q(12);
    std::vector<float> scales(3);
    quantize_weight_matrix(m, q.data(), scales.data());
    QCOMPARE(scales[0], 2.54f / 127.0f);
    QCOMPARE(scales[1], 0.0f);
    QCOMPARE(scales[2], 1.0f);
    const std::vector<std::int8_t> expected = {127,  -64, 0, 2,   //  -1.27/0.02 = -63.5 -> -64 (ties to even)
                                               0,    0,   0, 0,   //
                                               -127, 64,  0, 2};  // 63.5 -> 64, 0.5 -> 0, 1.5 -> 2
    for (int i = 0; i < 12; ++i)
      QVERIFY2(q[static_cast<std::size_t>(i)] == expected[static_cast<std::size_t>(i)],
               qPrintable(QString("%1: %2 vs %3")
                              .arg(i)
                              .arg(q[static_cast<std::size_t>(i)])
                              .arg(expected[static_cast<std::size_t>(i)])));
  }

  void weights_from_f16_reconstruct_within_half_a_step() {
    const int rows = 8, cols = 96;
    std::vector<std::uint16_t> halves(static_cast<std::size_t>(rows) * cols);
    std::vector<float> values(halves.size());
    for (std::size_t i = 0; i < halves.size(); ++i) {
      halves[i] = f32_to_f16(std::sin(static_cast<float>(i) * 0.37f) * (1.0f + static_cast<float>(i % rows)));
      values[i] = f16_to_f32(halves[i]);
    }
    WeightMatrix m;
    m.type = GgmlType::f16;
    m.rows = rows;
    m.cols = cols;
    m.data = reinterpret_cast<const std::byte*>(halves.data());
    std::vector<std::int8_t> q(halves.size());
    std::vector<float> scales(rows);
    quantize_weight_matrix(m, q.data(), scales.data());
    for (int r = 0; r < rows; ++r) {
      float max_abs = 0;
      for (int c = 0; c < cols; ++c)
        max_abs = std::max(max_abs, std::fabs(values[static_cast<std::size_t>(r) * cols + c]));
      QCOMPARE(scales[static_cast<std::size_t>(r)], max_abs / 127.0f);
      for (int c = 0; c < cols; ++c) {
        const std::size_t i = static_cast<std::size_t>(r) * cols + c;
        QVERIFY(q[i] >= -127);
        QVERIFY(std::fabs(q[i] * scales[static_cast<std::size_t>(r)] - values[i]) <=
                scales[static_cast<std::size_t>(r)] * 0.5001f);
      }
    }
  }

  void activations_per_token_and_per_tensor() {
    const std::vector<float> x = {1.0f,  -0.5f, 0.25f,  //
                                  10.0f, 5.0f,  -2.0f};
    std::vector<std::int8_t> q(6);
    std::vector<float> scales(2);
    kernels::quantize_rows_i8(x.data(), 2, 3, 3, q.data(), 3, scales.data(),
                              kernels::ActivationScaling::per_token);
    QCOMPARE(scales[0], 1.0f / 127.0f);
    QCOMPARE(scales[1], 10.0f / 127.0f);
    // 127 * -0.5 = -63.5 -> -64; 127 * 0.25 = 31.75 -> 32; 127 * 5 / 10 = 63.5 -> 64; 127 * -0.2 = -25.4 ->
    // -25.
    const std::vector<std::int8_t> per_token = {127, -64, 32, 127, 64, -25};
    QVERIFY(q == per_token);
    kernels::quantize_rows_i8(x.data(), 2, 3, 3, q.data(), 3, scales.data(),
                              kernels::ActivationScaling::per_tensor);
    QCOMPARE(scales[0], 10.0f / 127.0f);
    QCOMPARE(scales[1], 10.0f / 127.0f);
    // Row 0 at the tensor's scale: 12.7 -> 13, -6.35 -> -6, 3.175 -> 3 (the small row loses precision).
    const std::vector<std::int8_t> per_tensor = {13, -6, 3, 127, 64, -25};
    QVERIFY(q == per_tensor);
  }

  void zero_rows_quantise_to_zero() {
    const std::vector<float> x(8, 0.0f);
    std::vector<std::int8_t> q(8, 5);
    std::vector<float> scales(2, 1.0f);
    kernels::quantize_rows_i8(x.data(), 2, 4, 4, q.data(), 4, scales.data(),
                              kernels::ActivationScaling::per_token);
    QCOMPARE(scales[0], 0.0f);
    for (std::int8_t v : q) QCOMPARE(int(v), 0);
  }

  void placement_table_names_host_and_npu_ops() {
    int host = 0, npu = 0;
    for (const NpuOpPlacement& op : npu_op_placement()) {
      QVERIFY(op.where == "host" || op.where == "npu");
      (op.where == "host" ? host : npu)++;
    }
    QVERIFY(host >= 2);  // conv stem and final LayerNorm
    QVERIFY(npu >= 8);
  }
};

QTEST_GUILESS_MAIN(TestNpuQuantize)
#include "test_npu_quantize.moc"
