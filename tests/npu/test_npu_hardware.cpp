// The fixture encoder on a real Ryzen AI NPU through XRT, against the CPU fp32 encoder (cosine >= 0.995).
// Skips, saying why, on a machine without an NPU, without XRT, or without a built design for the shape.
#include <QObject>
#include <QTest>

#include <memory>
#include <string>

#include "audio/wav_reader.h"
#include "backend/npu/npu_backend.h"
#include "backend/npu/xrt/xrt_device.h"
#include "engine/transcriber.h"
#include "test_support.h"

using namespace npuscribe;

class TestNpuHardware : public QObject {
  Q_OBJECT

 private slots:
  void fixture_encoder_matches_the_cpu() {
    const auto model = WhisperModel::load(test::fixture("ggml-tiny.en-random.bin"));
    std::string why_unavailable;
    std::unique_ptr<NpuDevice> device =
        open_xrt_device(XrtDeviceOptions::for_model(model->hparams()), &why_unavailable);
    if (!device) QSKIP(("no NPU to test: " + why_unavailable).c_str());
    const std::string description = device->description();

    Transcriber cpu(model);
    const LogMel mel = cpu.mel().compute(read_wav_file(test::fixture("jfk.wav")).samples);
    const Activations reference = cpu.encoder().encode(mel);

    Encoder npu(model, make_npu_backend(model, std::move(device)));
    std::string notice;
    npu.set_notice_handler([&notice](const std::string& message) { notice = message; });
    const Activations encoded = npu.encode(mel);
    QVERIFY2(npu.device_failures() == 0, ("the NPU failed and the CPU took over: " + notice).c_str());
    QCOMPARE(encoded.values.size(), reference.values.size());

    const test::Difference difference = test::compare(encoded.values, reference.values);
    qInfo("%s: encoder cosine %.6f, relative L2 %.4f, max abs %.4f", description.c_str(), difference.cosine,
          difference.rel_l2, difference.max_abs);
    QVERIFY2(difference.cosine >= 0.995, ("cosine " + std::to_string(difference.cosine)).c_str());
  }
};

QTEST_GUILESS_MAIN(TestNpuHardware)
#include "test_npu_hardware.moc"
