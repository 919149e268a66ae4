// Emulator wall time against the CPU fp32 encoder, measured in the same run (ratio printed; goal: within 2x),
// and the modelled Phoenix time of a base.en-shaped encoder per 30-s window (goal <= 60 ms) with its
// breakdown and tile utilisation. Speed is printed, never asserted (the machine is shared); the modelled
// figures are deterministic and checked.
#include <QtTest>

#include <functional>

#include "backend/npu/npu_backend.h"
#include "backend/npu/sim/sim_device.h"
#include "engine/encoder.h"
#include "model_writer.h"
#include "test_support.h"
#include "util/parallel.h"

using namespace npuscribe;

namespace {

LogMel fixture_mel() {
  LogMel mel;
  mel.n_mels = 80;
  mel.n_frames = 4100;
  mel.values = test::read_f32_file(test::fixture("jfk.mel.f32"), 80 * 4100);
  return mel;
}

double best_of(int runs, const std::function<void()>& work) {
  double best = 1e30;
  for (int i = 0; i < runs; ++i) {
    const std::int64_t start = now_ns();
    work();
    best = std::min(best, static_cast<double>(now_ns() - start) * 1e-9);
  }
  return best;
}

void compare_speed(const std::shared_ptr<const WhisperModel>& model, const LogMel& mel, const char* what) {
  Encoder cpu(model);
  Encoder sim(model, make_npu_backend(model, make_sim_device()));
  Activations a, b;
  cpu.encode(mel);  // warm-up: BLAS threads, page faults
  sim.encode(mel);
  const double cpu_s = best_of(3, [&] { a = cpu.encode(mel); });
  const double sim_s = best_of(3, [&] { b = sim.encode(mel); });
  const test::Difference d = test::compare(b.values, a.values);
  qInfo("%s: CPU fp32 encoder %.3f s, npu-sim %.3f s: emulator / CPU = %.2fx (goal <= 2x); cosine %.5f", what,
        cpu_s, sim_s, sim_s / cpu_s, d.cosine);
  QVERIFY(d.cosine >= 0.995);
}

}  // namespace

class TestNpuSimBench : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { set_thread_count(0); }

  void emulator_vs_cpu_tiny() {
    compare_speed(WhisperModel::load(test::fixture("ggml-tiny.en-random.bin")), fixture_mel(),
                  "tiny.en fixture");
  }

  void emulator_vs_cpu_base_en() {
    test::TempDir dir;
    test::WriteOptions options;
    options.vocab_count = 1000;
    write_random_model(dir.file("base.en.bin"), test::official_shape("base.en"), options);
    compare_speed(WhisperModel::load(dir.file("base.en.bin")), fixture_mel(), "base.en shape");
  }

  void modelled_phoenix_base_en() {
    WhisperHparams h;
    h.n_audio_ctx = 1500;
    h.n_audio_state = 512;
    h.n_audio_head = 8;
    h.n_audio_layer = 6;
    const PhoenixEncoderEstimate e = estimate_encoder(h);
    qInfo("modelled Phoenix, base.en encoder per 30-s window: %.2f ms (%.0fx real time; goal <= 60 ms)",
          e.total_s * 1e3, 30.0 / e.total_s);
    qInfo(
        "  compute %.2f ms, data movement (not hidden) %.2f ms, launches %.2f ms; %.1f MB host traffic; "
        "%.2f TOP/s effective of %.2f peak",
        e.compute_s * 1e3, e.data_movement_s * 1e3, e.launch_s * 1e3, e.host_bytes / 1e6,
        e.operations / e.total_s / 1e12, PhoenixParameters{}.peak_int8_ops_per_second() / 1e12);
    for (const PhoenixStage& s : e.layer.stages) {
      const QString blocks =
          s.is_gemm ? QString(" blocks %1x%2x%3").arg(s.blocking.m).arg(s.blocking.k).arg(s.blocking.n)
                    : QString();
      qInfo("  %-20s %8.1f us/layer (compute %7.1f, data %7.1f)%s", s.kernel.c_str(), s.duration_s * 1e6,
            s.compute_s * 1e6, s.data_movement_s * 1e6, qPrintable(blocks));
    }
    QString utilisation;
    for (int t = 0; t < 16; ++t)
      utilisation += QString(" %1").arg(e.tile_utilisation[static_cast<std::size_t>(t)] * 100, 0, 'f', 0);
    qInfo("  tile utilisation %%:%s", qPrintable(utilisation));
    QVERIFY2(e.total_s <= 60e-3, qPrintable(QString::number(e.total_s * 1e3)));
  }
};

QTEST_GUILESS_MAIN(TestNpuSimBench)
#include "test_npu_sim_bench.moc"
