// The Phoenix cost model reproduces the figures it is calibrated to (/work/shared/docs/npu.md, "Measured
// costs to model"), and its tiling never exceeds a compute tile's data memory.
#include <QtTest>

#include "backend/npu/npu_device.h"
#include "backend/npu/sim/phoenix_model.h"

using namespace npuscribe;

class TestNpuCostModel : public QObject {
  Q_OBJECT

 private slots:
  void noop_launch_is_110_to_160_us() {
    const double s = model_noop_launch_s(PhoenixParameters{});
    QVERIFY2(s >= 110e-6 && s <= 160e-6, qPrintable(QString::number(s * 1e6)));
  }

  void kernel_alone_reaches_about_80_percent() {
    // One 64x64x64 int8 block on one tile, operands already in local memory: MAC time only.
    const PhoenixParameters p;
    const double macs = 64.0 * 64 * 64;
    const double cycles =
        macs / (p.int8_macs_per_cycle * p.kernel_efficiency) + p.kernel_call_overhead_cycles;
    const double efficiency = macs / p.int8_macs_per_cycle / cycles;
    QVERIFY2(efficiency >= 0.75 && efficiency <= 0.81, qPrintable(QString::number(efficiency)));
  }

  void whole_array_gemm_efficiency_matches_npu_md() {
    // npu.md: whole-array GEMM at 64x64x64 blocks, up to about 75% of peak for int16, about 50% for bf16.
    const PhoenixParameters p;
    const GemmBlocking block{64, 64, 64};
    const GemmTiming int16 = model_gemm(p, 2048, 2048, 2048, NpuDataType::int16, 2, block);
    const GemmTiming bf16 = model_gemm(p, 2048, 2048, 2048, NpuDataType::bf16, 2, block);
    qInfo("array efficiency at 64x64x64: int16 %.3f, bf16 %.3f", int16.array_efficiency(),
          bf16.array_efficiency());
    QVERIFY(int16.array_efficiency() >= 0.68 && int16.array_efficiency() <= 0.80);
    QVERIFY(bf16.array_efficiency() >= 0.43 && bf16.array_efficiency() <= 0.57);
    // Compute-bound int8 at the chosen blocking never beats the kernel efficiency.
    const GemmTiming int8 = model_gemm(p, 2048, 2048, 2048, NpuDataType::int8, 1);
    qInfo("int8 at the chosen blocking %dx%dx%d: %.3f", int8.blocking.m, int8.blocking.k, int8.blocking.n,
          int8.array_efficiency());
    QVERIFY(int8.array_efficiency() > 0.3 && int8.array_efficiency() <= p.kernel_efficiency);
  }

  void small_matmul_per_call_is_dominated_by_launch() {
    // The prior effort's one 16x16 int8 matmul per call took ~0.45 ms with Python syncs: launch, not compute.
    const PhoenixParameters p;
    const double total = model_single_gemm_launch_s(p, 16, 16, 16);
    const double gemm = model_gemm(p, 16, 16, 16, NpuDataType::int8, 4).total_s;
    qInfo("16x16x16 per call: %.1f us, of which GEMM %.3f us", total * 1e6, gemm * 1e6);
    QVERIFY(total >= 110e-6 && total <= 450e-6);
    QVERIFY(gemm / total < 0.05);
  }

  void blocking_fits_tile_memory() {
    PhoenixParameters p;
    for (std::uint32_t memory : {65536u, 32768u, 16384u}) {
      p.tile_data_memory_bytes = memory;
      for (NpuDataType type : {NpuDataType::int8, NpuDataType::int16, NpuDataType::bf16}) {
        const GemmBlocking b = choose_gemm_blocking(p, type);
        const std::uint32_t bytes = gemm_tile_memory_bytes(b, type);
        QVERIFY2(
            bytes <= memory - p.tile_stack_reserve_bytes,
            qPrintable(QString("%1x%2x%3 needs %4 of %5").arg(b.m).arg(b.k).arg(b.n).arg(bytes).arg(memory)));
        QCOMPARE(b.m % 4, 0);  // aie::mmul<4, 8, 8>
        QCOMPARE(b.k % 8, 0);
        QCOMPARE(b.n % 8, 0);
      }
    }
    // Independent arithmetic for one case: 64x64x64 int8 = 2 x (4096 + 4096) + 64 * 64 * 4 bytes.
    QCOMPARE(gemm_tile_memory_bytes(GemmBlocking{64, 64, 64}, NpuDataType::int8), 32768u);
  }

  void base_en_encoder_estimate_is_consistent() {
    WhisperHparams h;
    h.n_audio_ctx = 1500;
    h.n_audio_state = 512;
    h.n_audio_head = 8;
    h.n_audio_layer = 6;
    const PhoenixEncoderEstimate e = estimate_encoder(h);
    qInfo("base.en: total %.2f ms (compute %.2f, data movement %.2f, launches %.2f), %.1f MB host traffic",
          e.total_s * 1e3, e.compute_s * 1e3, e.data_movement_s * 1e3, e.launch_s * 1e3, e.host_bytes / 1e6);
    QCOMPARE(e.layers, 6);
    QVERIFY(std::fabs(e.compute_s + e.data_movement_s + e.launch_s - e.total_s) <= 1e-9);
    QCOMPARE(e.launch_s, 6 * PhoenixParameters{}.launch_overhead_s);
    // GEMM work counted by hand: per layer 1500 x 512 x (4 x 512 + 2 x 2048) + 2 x 1500^2 x 512 MACs.
    const double macs = 6.0 * (1500.0 * 512 * (4 * 512 + 2 * 2048) + 2.0 * 1500 * 1500 * 512);
    QCOMPARE(e.operations, 2 * macs);
    // The model can never beat peak: total >= work at 16 tiles x 256 MACs x 1.6 GHz.
    QVERIFY(e.total_s >= macs / (16 * 256 * 1.6e9));
    for (double u : e.tile_utilisation) QVERIFY(u > 0.0 && u <= 1.0);
    // Stages run back to back after the launch.
    double at = e.layer.launch_s;
    for (const PhoenixStage& s : e.layer.stages) {
      QCOMPARE(s.start_s, at);
      at += s.duration_s;
    }
  }

  void tile_ids_follow_the_documented_numbering() {
    QCOMPARE(compute_tile_id(0, 2), 0);
    QCOMPARE(compute_tile_id(1, 2), 4);
    QCOMPARE(compute_tile_id(3, 5), 15);
    QCOMPARE(memtile_id(3), 103);
    QCOMPARE(shim_tile_id(0), 200);
    QCOMPARE(tile_column(6), 1);
    QCOMPARE(tile_row(6), 4);
    QCOMPARE(tile_kind(-1), NpuTileKind::host);
    QCOMPARE(tile_kind(102), NpuTileKind::memtile);
    QCOMPARE(tile_kind(201), NpuTileKind::shim);
  }
};

QTEST_GUILESS_MAIN(TestNpuCostModel)
#include "test_npu_cost_model.moc"
