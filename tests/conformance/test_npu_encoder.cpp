// The NPU backend on the emulator against the CPU fp32 encoder, layer by layer: each backend runs its own
// chain of layers from the same conv-stem output, and after every layer and at the output the NPU result must
// stay within cosine >= 0.995 and relative L2 <= 0.1 of fp32. Also: base.en-shaped and q8_0 random models,
// per-token vs per-tensor activation scales, and a device failure mid-run falling back to the CPU.
#include <QtTest>

#include <set>

#include "backend/cpu/cpu_backend.h"
#include "backend/npu/npu_backend.h"
#include "backend/npu/sim/sim_device.h"
#include "engine/encoder.h"
#include "model_writer.h"
#include "test_support.h"
#include "util/parallel.h"

using namespace npuscribe;

namespace {

struct LayerReport {
  std::vector<test::Difference> layers;
  test::Difference output;
};

Activations stem_with_positions(const std::shared_ptr<const WhisperModel>& model, const LogMel& mel) {
  Encoder encoder(model);
  Activations x = encoder.conv_stem(mel);
  const std::vector<float>& positional = model->encoder().positional_embedding;
  for (std::size_t i = 0; i < x.values.size(); ++i) x.values[i] += positional[i];
  return x;
}

LayerReport compare_layer_by_layer(const std::shared_ptr<const WhisperModel>& model, const Activations& input,
                                   EncoderBackend& npu) {
  CpuEncoderBackend cpu(model);
  Activations x_cpu = input, x_npu = input;
  LayerReport report;
  for (int layer = 0; layer < model->hparams().n_audio_layer; ++layer) {
    cpu.encoder_block(layer, x_cpu);
    npu.encoder_block(layer, x_npu);
    report.layers.push_back(test::compare(x_npu.values, x_cpu.values));
  }
  cpu.post_norm(x_cpu);
  cpu.post_norm(x_npu);  // the final LayerNorm runs on the host for both
  report.output = test::compare(x_npu.values, x_cpu.values);
  return report;
}

void check_report(const LayerReport& report, const char* what) {
  for (std::size_t i = 0; i < report.layers.size(); ++i) {
    const test::Difference& d = report.layers[i];
    qInfo("%s layer %zu: cosine %.6f, rel L2 %.4f, max abs %.4g", what, i, d.cosine, d.rel_l2, d.max_abs);
    QVERIFY2(d.cosine >= 0.995, qPrintable(QString("%1 layer %2 cosine %3").arg(what).arg(i).arg(d.cosine)));
    QVERIFY2(d.rel_l2 <= 0.1, qPrintable(QString("%1 layer %2 rel L2 %3").arg(what).arg(i).arg(d.rel_l2)));
  }
  qInfo("%s output: cosine %.6f, rel L2 %.4f, max abs %.4g", what, report.output.cosine, report.output.rel_l2,
        report.output.max_abs);
  QVERIFY2(report.output.cosine >= 0.995, qPrintable(QString::number(report.output.cosine)));
  QVERIFY2(report.output.rel_l2 <= 0.1, qPrintable(QString::number(report.output.rel_l2)));
}

LogMel fixture_mel() {
  LogMel mel;
  mel.n_mels = 80;
  mel.n_frames = 4100;
  mel.values = test::read_f32_file(test::fixture("jfk.mel.f32"), 80 * 4100);
  return mel;
}

// Random-weight ggml weights are uniform noise; a mel-like input of matching scale for shape-only models.
LogMel synthetic_mel(int n_mels) {
  LogMel mel;
  mel.n_mels = n_mels;
  mel.n_frames = 3000;
  mel.values.resize(static_cast<std::size_t>(n_mels) * 3000);
  std::uint32_t state = 12345;
  for (float& v : mel.values) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<float>(state >> 8) / static_cast<float>(1u << 24) * 2.0f - 1.0f;
  }
  return mel;
}

// A device that completes `fail_after` layers, then throws DeviceFailure (as XRT does on a timeout).
class FailingDevice final : public NpuDevice {
 public:
  FailingDevice(std::unique_ptr<NpuDevice> inner, int fail_after)
      : inner_(std::move(inner)), fail_after_(fail_after) {}
  std::string_view backend_name() const override { return "npu-test-double"; }
  std::string description() const override { return "failing test double"; }
  TimingSource timing_source() const override { return TimingSource::modelled; }
  NpuTopology topology() const override { return inner_->topology(); }
  void load(const NpuEncoderImage& image) override { inner_->load(image); }
  void run_layers(int first_layer, int layer_count, std::span<float> x, int* completed_layers,
                  ProfileSink* sink) override {
    const int runnable = std::max(0, std::min(layer_count, fail_after_ - first_layer));
    inner_->run_layers(first_layer, runnable, x, completed_layers, sink);
    if (runnable < layer_count) throw DeviceFailure("the test double timed out (simulated)");
  }

 private:
  std::unique_ptr<NpuDevice> inner_;
  int fail_after_;
};

}  // namespace

class TestNpuEncoder : public QObject {
  Q_OBJECT

 private:
  std::shared_ptr<const WhisperModel> tiny_;
  LogMel mel_;
  Activations input_;

 private slots:
  void initTestCase() {
    set_thread_count(2);
    tiny_ = WhisperModel::load(test::fixture("ggml-tiny.en-random.bin"));
    mel_ = fixture_mel();
    input_ = stem_with_positions(tiny_, mel_);
  }

  void tiny_fixture_every_layer_per_token() {
    NpuEncoderBackend npu(tiny_, make_sim_device());
    QCOMPARE(npu.name(), std::string_view("npu-sim"));
    check_report(compare_layer_by_layer(tiny_, input_, npu), "tiny per-token");
  }

  void per_token_beats_per_tensor() {
    // The reason per-token scales are the default: measured here on the fixture, both printed.
    NpuEncoderBackend per_token(tiny_, make_sim_device());
    NpuEncoderBackend per_tensor(tiny_, make_sim_device(),
                                 NpuBackendOptions{kernels::ActivationScaling::per_tensor});
    const LayerReport token = compare_layer_by_layer(tiny_, input_, per_token);
    const LayerReport tensor = compare_layer_by_layer(tiny_, input_, per_tensor);
    qInfo("output rel L2: per-token %.4f, per-tensor %.4f", token.output.rel_l2, tensor.output.rel_l2);
    QVERIFY(token.output.rel_l2 < tensor.output.rel_l2);
  }

  void full_encoder_through_encoder_blocks() {
    // The Encoder drives encoder_blocks() (one batch of launches); its output must match the layer-by-layer
    // run.
    Encoder cpu(tiny_);
    Encoder npu(tiny_, make_npu_backend(tiny_, make_sim_device()));
    ProfileRecorder recorder;
    npu.set_profile_sink(&recorder);
    const Activations reference = cpu.encode(mel_);
    const Activations ours = npu.encode(mel_);
    const test::Difference d = test::compare(ours.values, reference.values);
    qInfo("encoder output: cosine %.6f, rel L2 %.4f", d.cosine, d.rel_l2);
    QVERIFY(d.cosine >= 0.995);
    QVERIFY(d.rel_l2 <= 0.1);
    QCOMPARE(npu.device_failures(), 0);
    // One modelled launch per layer, kernel events on all 16 compute tiles, DMA on memtiles and shims.
    int launches = 0;
    std::set<int> tiles;
    for (const KernelEvent& e : recorder.events()) {
      if (e.backend != "npu-sim" || e.kernel.rfind("npu.", 0) != 0) continue;  // the device's events
      QCOMPARE(e.source, TimingSource::modelled);
      if (e.kernel == "npu.launch") ++launches;
      tiles.insert(e.tile);
    }
    QCOMPARE(launches, tiny_->hparams().n_audio_layer);
    for (int t = 0; t < 16; ++t) QVERIFY2(tiles.count(t), qPrintable(QString("tile %1").arg(t)));
    for (int c = 0; c < 4; ++c) QVERIFY(tiles.count(memtile_id(c)) && tiles.count(shim_tile_id(c)));
  }

  void device_failure_falls_back_to_cpu_with_identical_output() {
    Encoder cpu(tiny_);
    const Activations reference = cpu.encode(mel_);
    for (int fail_after : {0, 2}) {
      Encoder npu(tiny_,
                  make_npu_backend(tiny_, std::make_unique<FailingDevice>(make_sim_device(), fail_after)));
      std::vector<std::string> notices;
      npu.set_notice_handler([&](const std::string& message) { notices.push_back(message); });
      const Activations ours = npu.encode(mel_);
      QCOMPARE(npu.device_failures(), 1);
      QCOMPARE(notices.size(), std::size_t{1});
      QVERIFY2(notices[0].find("encoder layer " + std::to_string(fail_after)) != std::string::npos,
               notices[0].c_str());
      if (fail_after == 0) {
        // Nothing ran on the device: the CPU did the whole window, bit for bit.
        QVERIFY(ours.values == reference.values);
      } else {
        // Two layers on the NPU, two on the CPU: within the int8 tolerance.
        const test::Difference d = test::compare(ours.values, reference.values);
        QVERIFY(d.cosine >= 0.995);
      }
    }
  }

  void base_en_shaped_random_model() {
    test::TempDir dir;
    test::WriteOptions options;
    options.vocab_count = 1000;
    write_random_model(dir.file("base.en.bin"), test::official_shape("base.en"), options);
    const auto model = WhisperModel::load(dir.file("base.en.bin"));
    const Activations input = stem_with_positions(model, synthetic_mel(model->hparams().n_mels));
    NpuEncoderBackend npu(model, make_sim_device());
    check_report(compare_layer_by_layer(model, input, npu), "base.en");
  }

  void quantised_q8_0_model() {
    const auto model = WhisperModel::load(test::fixture("ggml-tiny.en-random-q8_0.bin"));
    const Activations input = stem_with_positions(model, mel_);
    NpuEncoderBackend npu(model, make_sim_device());
    check_report(compare_layer_by_layer(model, input, npu), "tiny q8_0");
  }

  void rejects_wrong_activation_shape() {
    NpuEncoderBackend npu(tiny_, make_sim_device());
    Activations wrong;
    wrong.resize(10, 384);
    QVERIFY_THROWS_EXCEPTION(Error, npu.encoder_block(0, wrong));
  }
};

QTEST_GUILESS_MAIN(TestNpuEncoder)
#include "test_npu_encoder.moc"
