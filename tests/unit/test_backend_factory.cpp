// The backend factory: names, the CPU and emulator choices, and what happens without an NPU (this machine
// has none): npu is an error that says why, auto falls back to the CPU with the same reason.
#include <QtTest>

#include "backend/backend_factory.h"
#include "backend/npu/xrt/xrt_device.h"
#include "test_support.h"
#include "util/error.h"

using namespace npuscribe;

class TestBackendFactory : public QObject {
  Q_OBJECT

  std::shared_ptr<const WhisperModel> model_;

  // The reason open_xrt_device gives on this machine, or empty when an NPU is usable.
  std::string why_no_npu() const {
    std::string why;
    const auto device = open_xrt_device(XrtDeviceOptions::for_model(model_->hparams()), &why);
    return device ? std::string() : why;
  }

 private slots:
  void initTestCase() { model_ = WhisperModel::load(test::fixture("ggml-tiny.en-random.bin")); }

  void parses_every_name() {
    QCOMPARE(parse_backend_kind("cpu"), BackendKind::cpu);
    QCOMPARE(parse_backend_kind("npu"), BackendKind::npu);
    QCOMPARE(parse_backend_kind("npu-sim"), BackendKind::npu_sim);
    QCOMPARE(parse_backend_kind("auto"), BackendKind::automatic);
    for (BackendKind kind :
         {BackendKind::cpu, BackendKind::npu, BackendKind::npu_sim, BackendKind::automatic})
      QCOMPARE(parse_backend_kind(to_string(kind)), kind);
  }

  void unknown_name_lists_the_choices() {
    for (const char* bad : {"gpu", "", "CPU", "npu_sim"}) {
      bool threw = false;
      try {
        parse_backend_kind(bad);
      } catch (const Error& error) {
        threw = true;
        const std::string message = error.what();
        for (const char* choice : {"cpu", "npu", "npu-sim", "auto"})
          QVERIFY2(message.find(choice) != std::string::npos, error.what());
        QVERIFY2(message.find('"' + std::string(bad) + '"') != std::string::npos, error.what());
      }
      QVERIFY2(threw, bad);
    }
  }

  void cpu_is_the_encoders_own_backend() {
    const BackendChoice choice = make_encoder_backend(BackendKind::cpu, model_);
    QVERIFY(!choice.backend);
    QCOMPARE(choice.name, std::string("cpu"));
    QCOMPARE(choice.timing, TimingSource::measured);
    QVERIFY(!choice.reason.empty());
  }

  void npu_sim_is_the_emulator() {
    const BackendChoice choice = make_encoder_backend(BackendKind::npu_sim, model_);
    QVERIFY(choice.backend);
    QCOMPARE(choice.name, std::string("npu-sim"));
    QCOMPARE(std::string(choice.backend->name()), std::string("npu-sim"));
    QCOMPARE(choice.timing, TimingSource::modelled);
    QVERIFY(!choice.description.empty());
    QVERIFY(choice.backend->supports(EncoderStage::block));
  }

  void npu_without_a_device_says_why() {
    const std::string why = why_no_npu();
    if (why.empty()) QSKIP("an NPU is usable here");
    bool threw = false;
    try {
      make_encoder_backend(BackendKind::npu, model_);
    } catch (const Error& error) {
      threw = true;
      QVERIFY2(std::string(error.what()).find(why) != std::string::npos, error.what());
      QVERIFY2(std::string(error.what()).find("--backend cpu") != std::string::npos, error.what());
    }
    QVERIFY(threw);
  }

  void auto_without_a_device_is_the_cpu_with_the_reason() {
    const std::string why = why_no_npu();
    const BackendChoice choice = make_encoder_backend(BackendKind::automatic, model_);
    if (why.empty()) {
      QCOMPARE(choice.name, std::string("npu"));
      QVERIFY(choice.backend);
      return;
    }
    QVERIFY(!choice.backend);
    QCOMPARE(choice.name, std::string("cpu"));
    QVERIFY2(choice.reason.find(why) != std::string::npos, choice.reason.c_str());
  }
};

QTEST_GUILESS_MAIN(TestBackendFactory)
#include "test_backend_factory.moc"
