// Every NPU tile kernel against the CPU fp32 reference with a normalised error tolerance, written once and
// run on every backend: "tile" = the host build of the tile kernels (the int8 GEMM block by block, as a
// compute tile runs it) and "sim" = the emulator's path (its exact float fast GEMM). The fast GEMM must also
// be bit-identical to the tile kernel, and a whole encoder layer must come out bit-identical on both.
#include <QtTest>

#include <cmath>
#include <cstring>
#include <random>

#include "attention.h"
#include "backend/npu/sim/sim_device.h"
#include "encoder_layer_program.h"
#include "gelu_bf16.h"
#include "layernorm.h"
#include "mm_int8.h"
#include "ops/ops.h"
#include "softmax_bf16.h"
#include "test_support.h"
#include "util/parallel.h"

using namespace npuscribe;
using namespace npuscribe::kernels;

Q_DECLARE_METATYPE(const npuscribe::kernels::GemmI8*)

namespace {

std::vector<float> random_floats(std::size_t count, float scale, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(count);
  for (float& x : v) x = normal(rng);
  return v;
}

std::vector<std::int8_t> random_int8(std::size_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> value(-127, 127);
  std::vector<std::int8_t> v(count);
  for (auto& x : v) x = static_cast<std::int8_t>(value(rng));
  return v;
}

const TiledGemmI8 kTiled;
const GemmI8* fast_gemm() {
  static const std::unique_ptr<GemmI8> gemm = make_sim_fast_gemm();
  return gemm.get();
}

void add_backend_rows() {
  QTest::addColumn<const GemmI8*>("gemm");
  QTest::addRow("tile") << static_cast<const GemmI8*>(&kTiled);
  QTest::addRow("sim") << fast_gemm();
}

}  // namespace

class TestNpuKernels : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { set_thread_count(2); }

  void bf16_rounds_to_nearest_even() {
    // Values chosen by hand: exactly halfway cases go to the even neighbour, others to the nearest.
    QCOMPARE(round_bf16(1.0f + 1.0f / 256.0f), 1.0f);                          // tie, 1.0 is even
    QCOMPARE(round_bf16(1.0f + 3.0f / 256.0f), 1.0f + 4.0f / 256.0f);          // tie, rounds up to even
    QCOMPARE(round_bf16(1.0f + 1.0f / 256.0f + 1e-6f), 1.0f + 2.0f / 256.0f);  // above the tie
    QCOMPARE(round_bf16(-2.0f - 3.0f / 128.0f), -2.0f - 4.0f / 128.0f);
    QVERIFY(std::isnan(round_bf16(std::nanf(""))));
    QCOMPARE(to_bf16(1.0f).bits, std::uint16_t{0x3F80});
  }

  void exp_bf16_matches_exp() {
    for (float x = -20.0f; x <= 0.0f; x += 0.013f) {
      const float expected = std::exp(round_bf16(x));
      // 8.8 fixed point (|error| <= 1/512 in x) and two bf16 roundings.
      QVERIFY2(std::fabs(exp_bf16(round_bf16(x)) - expected) <= expected * 0.012f,
               qPrintable(QString::number(x)));
    }
    QCOMPARE(exp_bf16(0.0f), 1.0f);
    QCOMPARE(exp_bf16(-200.0f), 0.0f);
  }

  void attention_softmax_row_vector_path_is_bit_exact() {
    // The host's 8-lane path against the element-by-element definition: random rows of every length
    // 1..40 (vector body and tail), a Whisper-length row, huge and tiny scales (exp underflow to 0,
    // saturating scores), negative and zero scales.
    std::mt19937 random(7);
    std::uniform_int_distribution<std::int32_t> score(-2'000'000, 2'000'000);
    std::uniform_real_distribution<float> scale(1e-7f, 1e-3f);
    auto check = [&](int n, float row_scale, float column_factor) {
      std::vector<std::int32_t> scores(static_cast<std::size_t>(n));
      std::vector<float> columns(static_cast<std::size_t>(n));
      for (int j = 0; j < n; ++j) {
        scores[static_cast<std::size_t>(j)] = score(random);
        columns[static_cast<std::size_t>(j)] = scale(random) * column_factor;
      }
      std::vector<std::int8_t> fast(static_cast<std::size_t>(n)), reference(static_cast<std::size_t>(n));
      const std::int32_t fast_sum =
          attention_softmax_row(scores.data(), n, row_scale, columns.data(), fast.data());
      const std::int32_t reference_sum =
          attention_softmax_row_reference(scores.data(), n, row_scale, columns.data(), reference.data());
      QCOMPARE(fast_sum, reference_sum);
      QVERIFY2(fast == reference, qPrintable(QString("n %1, row scale %2").arg(n).arg(row_scale)));
    };
    for (int n = 1; n <= 40; ++n) check(n, 0.01f, 1.0f);
    check(1500, 0.02f, 1.0f);
    check(1500, 50.0f, 1.0f);     // scores far apart: most probabilities underflow to 0
    check(1503, 1e-6f, 1.0f);     // all nearly equal
    check(64, 0.0f, 1.0f);        // zero scale: every probability is 1
    check(77, -0.5f, 1.0f);       // negative scale
    check(300, 3e4f, 1e3f);       // products overflow bf16's finite range to infinity
  }

  void gemm_matches_fp32_data() { add_backend_rows(); }
  void gemm_matches_fp32() {
    QFETCH(const GemmI8*, gemm);
    // Shapes off the 64-block grid, and a K beyond the fast path's 1040 chunk.
    const int shapes[][3] = {{1, 1, 1},      {37, 53, 71},   {64, 64, 64},
                             {130, 97, 200}, {70, 40, 1500}, {33, 65, 2100}};
    for (const auto& s : shapes) {
      const int m = s[0], n = s[1], k = s[2];
      const auto x = random_floats(static_cast<std::size_t>(m) * k, 1.0f, 1);
      const auto w = random_floats(static_cast<std::size_t>(n) * k, 0.05f, 2);
      std::vector<std::int8_t> xq(x.size()), wq(w.size());
      std::vector<float> xs(static_cast<std::size_t>(m)), ws(static_cast<std::size_t>(n));
      quantize_rows_i8(x.data(), m, k, k, xq.data(), k, xs.data(), ActivationScaling::per_token);
      quantize_rows_i8(w.data(), n, k, k, wq.data(), k, ws.data(), ActivationScaling::per_token);
      std::vector<std::int32_t> acc(static_cast<std::size_t>(m) * n);
      gemm->run(xq.data(), k, wq.data(), k, acc.data(), n, m, n, k);
      std::vector<float> ours(acc.size());
      requantize_rows(acc.data(), m, n, n, xs.data(), ws.data(), nullptr, ours.data(), n,
                      RequantOutput::store_f32);
      std::vector<float> reference(acc.size(), 0.0f);
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
          double sum = 0;
          for (int p = 0; p < k; ++p)
            sum += double(x[static_cast<std::size_t>(i) * k + p]) * w[static_cast<std::size_t>(j) * k + p];
          reference[static_cast<std::size_t>(i) * n + j] = static_cast<float>(sum);
        }
      const test::Difference d = test::compare(ours, reference);
      QVERIFY2(d.rel_l2 <= 0.02,
               qPrintable(QString("%1x%2x%3: rel L2 %4").arg(m).arg(n).arg(k).arg(d.rel_l2)));
    }
  }

  void fast_gemm_is_bit_identical_to_tile_kernel() {
    const int shapes[][3] = {{1, 1, 1},       {5, 7, 1039},    {65, 63, 1040},
                             {100, 33, 1041}, {129, 70, 2500}, {31, 200, 64}};
    for (const auto& s : shapes) {
      const int m = s[0], n = s[1], k = s[2];
      // Extremes as well as random values: all +-127 maximises every partial sum.
      for (int pattern = 0; pattern < 2; ++pattern) {
        auto a = random_int8(static_cast<std::size_t>(m) * k, 3);
        auto w = random_int8(static_cast<std::size_t>(n) * k, 4);
        if (pattern == 1) {
          std::fill(a.begin(), a.end(), std::int8_t{127});
          for (std::size_t i = 0; i < w.size(); ++i)
            w[i] = (i % 7 == 0) ? std::int8_t{127} : std::int8_t{-127};
        }
        std::vector<std::int32_t> tiled(static_cast<std::size_t>(m) * n), fast(tiled.size());
        kTiled.run(a.data(), k, w.data(), k, tiled.data(), n, m, n, k);
        fast_gemm()->run(a.data(), k, w.data(), k, fast.data(), n, m, n, k);
        QVERIFY2(tiled == fast, qPrintable(QString("%1x%2x%3 pattern %4").arg(m).arg(n).arg(k).arg(pattern)));
        // And both equal an independent 64-bit integer product at a few entries.
        for (int probe = 0; probe < 5; ++probe) {
          const int i = (probe * 7) % m, j = (probe * 13) % n;
          long long sum = 0;
          for (int p = 0; p < k; ++p)
            sum += (long long)a[static_cast<std::size_t>(i) * k + p] * w[static_cast<std::size_t>(j) * k + p];
          QCOMPARE((long long)tiled[static_cast<std::size_t>(i) * n + j], sum);
        }
      }
    }
  }

  void softmax_matches_fp32_data() { add_backend_rows(); }
  void softmax_matches_fp32() {
    // The softmax kernel is shared by both backends (the emulator calls it as is); run it on each anyway.
    QFETCH(const GemmI8*, gemm);
    QVERIFY(gemm);
    for (int n : {1, 7, 100, 1500}) {
      auto x = random_floats(static_cast<std::size_t>(n), 3.0f, static_cast<std::uint32_t>(n));
      for (float& v : x) v = round_bf16(v);
      std::vector<float> ours(x.size());
      softmax_bf16(x.data(), ours.data(), n);
      std::vector<float> reference = x;
      ops::softmax_rows(reference.data(), 1, n, 1.0f);
      const test::Difference d = test::compare(ours, reference);
      QVERIFY2(d.rel_l2 <= 0.01, qPrintable(QString("n %1: rel L2 %2").arg(n).arg(d.rel_l2)));
    }
  }

  void layernorm_matches_fp32_data() { add_backend_rows(); }
  void layernorm_matches_fp32() {
    QFETCH(const GemmI8*, gemm);
    QVERIFY(gemm);
    const int rows = 17, cols = 384;
    const auto x = random_floats(static_cast<std::size_t>(rows) * cols, 4.0f, 5);
    auto gamma = random_floats(cols, 1.0f, 6), beta = random_floats(cols, 0.5f, 7);
    std::vector<float> ours(x.size()), reference(x.size());
    layernorm_affine_rows(x.data(), rows, cols, cols, gamma.data(), beta.data(), ours.data(), cols);
    ops::layer_norm(x.data(), rows, cols, gamma.data(), beta.data(), reference.data());
    const test::Difference d = test::compare(ours, reference);
    QVERIFY2(d.rel_l2 <= 0.01, qPrintable(QString::number(d.rel_l2)));
    for (float v : ours) QCOMPARE(round_bf16(v), v);  // the output is bf16
  }

  void gelu_matches_fp32_data() { add_backend_rows(); }
  void gelu_matches_fp32() {
    QFETCH(const GemmI8*, gemm);
    QVERIFY(gemm);
    auto x = random_floats(10000, 2.0f, 8);
    x.push_back(-6.0f);
    x.push_back(6.0f);
    std::vector<float> ours = x, reference = x;
    gelu_rows_bf16(ours.data(), ours.size());
    ops::gelu(reference.data(), reference.size());
    const test::Difference d = test::compare(ours, reference);
    QVERIFY2(d.rel_l2 <= 0.01, qPrintable(QString::number(d.rel_l2)));
    QVERIFY2(d.max_abs <= 0.03, qPrintable(QString::number(d.max_abs)));
  }

  void attention_matches_fp32_data() { add_backend_rows(); }
  void attention_matches_fp32() {
    QFETCH(const GemmI8*, gemm);
    for (int n : {50, 257}) {
      const int hd = 64;
      const auto q = random_floats(static_cast<std::size_t>(n) * hd, 1.0f, 9);
      const auto k = random_floats(static_cast<std::size_t>(n) * hd, 1.0f, 10);
      const auto v = random_floats(static_cast<std::size_t>(n) * hd, 1.0f, 11);
      AttentionScratch scratch;
      std::vector<float> ours(static_cast<std::size_t>(n) * hd);
      attention_head(q.data(), k.data(), v.data(), hd, n, hd, *gemm, ActivationScaling::per_token, scratch,
                     ours.data(), hd);
      std::vector<float> reference(ours.size());
      std::vector<double> p(static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i) {
        double max_score = -1e300, sum = 0;
        for (int j = 0; j < n; ++j) {
          double s = 0;
          for (int c = 0; c < hd; ++c)
            s += double(q[static_cast<std::size_t>(i) * hd + c]) * k[static_cast<std::size_t>(j) * hd + c];
          p[static_cast<std::size_t>(j)] = s / 8.0;
          max_score = std::max(max_score, p[static_cast<std::size_t>(j)]);
        }
        for (double& e : p) sum += (e = std::exp(e - max_score));
        for (int c = 0; c < hd; ++c) {
          double o = 0;
          for (int j = 0; j < n; ++j)
            o += p[static_cast<std::size_t>(j)] * v[static_cast<std::size_t>(j) * hd + c];
          reference[static_cast<std::size_t>(i) * hd + c] = static_cast<float>(o / sum);
        }
      }
      const test::Difference d = test::compare(ours, reference);
      qInfo("attention n=%d: rel L2 %.4f, cosine %.5f", n, d.rel_l2, d.cosine);
      QVERIFY2(d.rel_l2 <= 0.05, qPrintable(QString::number(d.rel_l2)));
    }
  }

  void encoder_layer_is_identical_on_both_backends() {
    // A random layer image (int8 weights, scales, biases, LayerNorm) of a small shape, run through the layer
    // program with the tile GEMM and with the emulator's fast GEMM: every float of the result must agree.
    const int d = 64, d_ff = 256, heads = 2, n = 75;
    const EncoderLayerLayout l = encoder_layer_layout(d, d_ff);
    std::vector<std::byte> image(l.total_bytes);
    EncoderLayerHeader header;
    header.d_model = d;
    header.d_ff = d_ff;
    header.n_head = heads;
    header.total_bytes = static_cast<std::uint32_t>(l.total_bytes);
    std::memcpy(image.data(), &header, sizeof header);
    const std::uint64_t weights[] = {l.wq, l.wk, l.wv, l.wo, l.w_up, l.w_down};
    const std::size_t weight_sizes[] = {d * d, d * d, d * d, d * d, d_ff * d, d * d_ff};
    for (int i = 0; i < 6; ++i) {
      const auto w = random_int8(weight_sizes[i], 20 + i);
      std::memcpy(image.data() + weights[i], w.data(), w.size());
    }
    auto put_floats = [&](std::uint64_t offset, std::size_t count, float scale, float mean,
                          std::uint32_t seed) {
      auto v = random_floats(count, scale, seed);
      for (float& x : v) x = std::fabs(x) * (mean != 0 ? 1.0f : 0.0f) + (mean != 0 ? mean : x);
      std::memcpy(image.data() + offset, v.data(), count * sizeof(float));
    };
    for (std::uint64_t s : {l.sq, l.sk, l.sv, l.so, l.s_down})
      put_floats(s, d, 0.001f, 0.01f, static_cast<std::uint32_t>(s));
    put_floats(l.s_up, d_ff, 0.001f, 0.01f, 31);
    for (std::uint64_t b : {l.bq, l.bv, l.bo, l.b_down, l.ln1_beta, l.ln2_beta})
      put_floats(b, d, 0.1f, 0.0f, static_cast<std::uint32_t>(b));
    put_floats(l.b_up, d_ff, 0.1f, 0.0f, 32);
    put_floats(l.ln1_gamma, d, 0.1f, 1.0f, 33);
    put_floats(l.ln2_gamma, d, 0.1f, 1.0f, 34);
    EncoderLayerView view;
    QCOMPARE(QString::fromStdString(parse_encoder_layer(image.data(), image.size(), &view)), QString());
    const auto x = random_floats(static_cast<std::size_t>(n) * d, 1.0f, 40);
    std::vector<float> tiled = x, fast = x;
    EncoderLayerScratch scratch_a, scratch_b;
    run_encoder_layer(view, tiled.data(), n, kTiled, scratch_a);
    run_encoder_layer(view, fast.data(), n, *fast_gemm(), scratch_b);
    QVERIFY(tiled != x);
    QVERIFY(std::memcmp(tiled.data(), fast.data(), tiled.size() * sizeof(float)) == 0);
    // A damaged image is refused with a reason.
    image[0] = std::byte{0};
    QVERIFY(!parse_encoder_layer(image.data(), image.size(), &view).empty());
    QVERIFY(!parse_encoder_layer(image.data(), 10, &view).empty());
  }
};

QTEST_GUILESS_MAIN(TestNpuKernels)
#include "test_npu_kernels.moc"
